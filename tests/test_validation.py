"""Arguments of every constructor: accepted types and the errors for bad ones.

bf16/f16 and NumPy-integer arguments must work like the Python numbers of the
same value (issue 12, items 1 and 7); wrong types raise TypeError, bad values
ValueError, with a message naming the argument (issue 13, item 2).
"""

import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import adadecay_optax as ad
from adadecay_optax import _validation


def _quadratic_grad_fn(p, k):
  del k
  return jax.tree.map(lambda x: 2 * (x - 1), p)


def _run(tx, params, grads, steps=2, **extra):
  state = tx.init(params)
  for _ in range(steps):
    updates, state = tx.update(grads, state, params, **extra)
    params = optax.apply_updates(params, updates)
  return updates, params


def _tree(dtype):
  return {
    'w': jnp.linspace(-1.0, 2.0, 6, dtype=dtype).reshape(2, 3),
    'b': jnp.array([0.5, -0.25], dtype),
  }


def _grads(dtype):
  return {
    'w': jnp.array([[1.0, -2.0, 3.0], [0.5, 0.125, -4.0]], dtype),
    'b': jnp.array([0.25, -1.0], dtype),
  }


# -- issue 12 item 1: bf16 / f16 hyper-parameters -----------------------------


@pytest.mark.parametrize('low', [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize('leaf_dtype', [jnp.float32, jnp.bfloat16])
def test_adadecay_takes_low_precision_hyperparameters(low, leaf_dtype):
  # λ = 0.5 and α = 1.5 are exact in bf16 and f16: the same update as floats
  # (up to one rounding of bf16 leaves: bf16 and f16 meet in float32).
  params, grads = _tree(leaf_dtype), _grads(leaf_dtype)
  tx = ad.adadecay(low(0.5), alpha=low(1.5))
  want = ad.adadecay(0.5, alpha=1.5)
  got_u = tx.update(grads, tx.init(params), params)[0]
  want_u = want.update(grads, want.init(params), params)[0]
  rtol = 2.0**-7 if leaf_dtype == jnp.bfloat16 else 0
  for k in params:
    assert got_u[k].dtype == leaf_dtype
    np.testing.assert_allclose(
      np.asarray(got_u[k], np.float32), np.asarray(want_u[k], np.float32), rtol=rtol
    )
  # θ is not 1 everywhere here: the decay differs from constant decay.
  const = optax.add_decayed_weights(0.5).update(grads, None, params)[0]
  assert not np.allclose(np.asarray(got_u['w'], np.float32), np.asarray(const['w'], np.float32))


def test_adadecay_bf16_weight_decay_as_in_issue():
  tx = ad.adadecay(jnp.bfloat16(1e-4), alpha=1.0)
  params = {'w': jnp.ones(4)}
  grads = {'w': jnp.full(4, 0.5)}  # constant |g|: θ = 1
  updates, _ = tx.update(grads, tx.init(params), params)
  assert updates['w'].dtype == jnp.float32
  # bf16(1e-4) is 1.0001659e-4.
  np.testing.assert_allclose(updates['w'], 0.5 + float(jnp.bfloat16(1e-4)), rtol=1e-7)
  for factory in (ad.randomized_decay,):
    factory(jnp.bfloat16(1e-4), jnp.float16(1.0), key=0)
  ad.sgd_with_weight_decay(jnp.bfloat16(0.1), weight_decay=jnp.bfloat16(1e-4))
  ad.adadecay_theta(grads, jnp.bfloat16(2.0))


@pytest.mark.parametrize('jit', [False, True])
def test_inject_hyperparams_adadecay_sgd_on_all_bf16_tree(jit):
  """inject_hyperparams casts every numeric hyper-parameter to bf16."""
  kwargs = dict(learning_rate=0.1, momentum=0.9, weight_decay=0.01, alpha=4.0)
  injected = optax.inject_hyperparams(ad.adadecay_sgd)(**kwargs)
  # The plain optimizer with the same values rounded to bf16.
  plain = ad.adadecay_sgd(**{k: float(jnp.bfloat16(v)) for k, v in kwargs.items()})
  params, grads = _tree(jnp.bfloat16), _grads(jnp.bfloat16)
  init = jax.jit(injected.init) if jit else injected.init
  state = init(params)
  assert all(v.dtype == jnp.bfloat16 for v in state.hyperparams.values())
  p_state = plain.init(params)
  for _ in range(3):
    updates, state = injected.update(grads, state, params)
    p_updates, p_state = plain.update(grads, p_state, params)
    for k in params:
      assert updates[k].dtype == jnp.bfloat16
    chex.assert_trees_all_equal(updates, p_updates)
    params = optax.apply_updates(params, updates)


def test_updates_keep_each_leafs_dtype_in_a_mixed_tree():
  params = {
    'a': jnp.ones((2, 3), jnp.bfloat16),
    'b': jnp.ones(3, jnp.float16),
    'c': jnp.ones(3, jnp.float32),
  }
  grads = jax.tree.map(lambda p: p * jnp.arange(1, p.shape[-1] + 1, dtype=p.dtype), params)
  # optax's scaling alone would promote bf16 x f16 and bf16 x f32 to float32.
  # (inject_hyperparams cannot pick a dtype for bf16 with f16 leaves by
  # itself: optax.tree.dtype raises; hence hyperparam_dtype.)
  injected = optax.inject_hyperparams(ad.adadecay_sgd, hyperparam_dtype=jnp.float32)(
    learning_rate=0.5, weight_decay=0.25
  )
  cases = [  # (optimizer, the same with Python floats)
    (injected, ad.adadecay_sgd(0.5, weight_decay=0.25)),
    (
      ad.adadecay_sgd(jnp.bfloat16(0.5), weight_decay=jnp.float16(0.25), alpha=np.int32(4)),
      ad.adadecay_sgd(0.5, weight_decay=0.25, alpha=4.0),
    ),
    (
      ad.sgd_with_weight_decay(jnp.float32(0.5), weight_decay=jnp.bfloat16(0.25)),
      ad.sgd_with_weight_decay(0.5, weight_decay=0.25),
    ),
  ]
  for tx, ref in cases:
    updates, _ = tx.update(grads, tx.init(params), params)
    want, _ = ref.update(grads, ref.init(params), params)
    for k in params:
      assert updates[k].dtype == params[k].dtype, k
      # The same values, within one rounding to the leaf's dtype.
      np.testing.assert_allclose(
        np.asarray(updates[k], np.float32), np.asarray(want[k], np.float32), rtol=2.0**-7
      )


@pytest.mark.parametrize('leaf_dtype', [jnp.float32, jnp.bfloat16])
def test_accelerated_sgd_takes_low_precision_hyperparameters(leaf_dtype):
  # Values exact in bf16 and f16 (0.0625, 512, 8, 0.5, 2^-10): same results.
  exact = dict(learning_rate=0.0625, kappa=512.0, xi=8.0, small_const=0.5, weight_decay=2.0**-10)
  low = dict(
    learning_rate=jnp.bfloat16(0.0625),
    kappa=jnp.float16(512),
    xi=np.int64(8),
    small_const=jnp.bfloat16(0.5),
    weight_decay=jnp.float16(2.0**-10),
  )
  params = _tree(leaf_dtype)
  grads = _quadratic_grad_fn(params, 0)
  got = _run(ad.accelerated_sgd(**low), params, grads)
  want = _run(ad.accelerated_sgd(**exact), params, grads)
  chex.assert_trees_all_equal(got, want)
  assert all(x.dtype == leaf_dtype for x in jax.tree.leaves(got))


@pytest.mark.parametrize('leaf_dtype', [jnp.float32, jnp.bfloat16])
def test_entropy_sgd_takes_low_precision_hyperparameters(leaf_dtype):
  exact = dict(
    learning_rate=0.5,
    momentum=0.75,
    damp=0.125,
    weight_decay=2**-10,
    L=3,
    eps=2**-7,
    g0=2**-7,
    g1=0.0625,
    langevin_learning_rate=0.125,
    langevin_beta1=0.75,
    key=5,
  )
  low = {k: (jnp.bfloat16(v) if isinstance(v, float) else np.int16(v)) for k, v in exact.items()}
  low['momentum'] = jnp.float16(0.75)
  params = _tree(leaf_dtype)
  grads = _quadratic_grad_fn(params, 0)
  got = _run(ad.entropy_sgd(**low), params, grads, grad_fn=_quadratic_grad_fn)
  want = _run(ad.entropy_sgd(**exact), params, grads, grad_fn=_quadratic_grad_fn)
  chex.assert_trees_all_equal(got, want)
  assert all(x.dtype == leaf_dtype for x in jax.tree.leaves(got))


@pytest.mark.parametrize(
  'factory, kwargs, extra',
  [
    (ad.accelerated_sgd, dict(learning_rate=0.05, kappa=100.0, xi=5.0), {}),
    (ad.entropy_sgd, dict(learning_rate=0.5, momentum=0.9, L=2), dict(grad_fn=_quadratic_grad_fn)),
  ],
)
def test_inject_hyperparams_baselines_on_all_bf16_tree(factory, kwargs, extra):
  injected = optax.inject_hyperparams(factory)(**kwargs)
  params = _tree(jnp.bfloat16)
  state = injected.init(params)
  assert state.hyperparams['learning_rate'].dtype == jnp.bfloat16
  updates, state = injected.update(_quadratic_grad_fn(params, 0), state, params, **extra)
  assert all(u.dtype == jnp.bfloat16 for u in jax.tree.leaves(updates))
  # Every parameter moves towards its minimum at 1.
  moved = jax.tree.map(
    lambda p, u: np.sign(np.asarray(u, np.float32)) == np.sign(1 - np.asarray(p, np.float32)),
    params,
    updates,
  )
  assert all(np.all(m) for m in jax.tree.leaves(moved))


def test_sigmoid_schedule_takes_low_precision_values():
  got = ad.sigmoid_decay_schedule(
    jnp.bfloat16(0.5), jnp.float16(0.125), np.int32(100), steepness=jnp.bfloat16(8.0)
  )
  want = ad.sigmoid_decay_schedule(0.5, 0.125, 100, steepness=8.0)
  steps = jnp.arange(0, 110, 7)
  np.testing.assert_array_equal(jax.vmap(got)(steps), jax.vmap(want)(steps))


# -- issue 12 item 7: integer types for step counts ---------------------------


def test_sigmoid_schedule_np_int64_steps_as_in_issue():
  sched = ad.sigmoid_decay_schedule(1.0, 0.0, np.int64(10))
  ref = ad.sigmoid_decay_schedule(1.0, 0.0, 10)
  for t in range(-1, 13):
    assert float(sched(t)) == float(ref(t)), t
  assert float(sched(0)) == 1.0 and float(sched(10)) == 0.0
  np.testing.assert_allclose(float(sched(5)), 0.5, rtol=1e-6)  # the midpoint


@pytest.mark.parametrize(
  'int_type',
  [
    np.int64,
    np.uint16,
    np.int8,
    lambda v: jnp.asarray(v, jnp.int32),
    lambda v: np.asarray(v, np.int64),
  ],
)
def test_sigmoid_schedule_any_integer_type(int_type):
  sched = ad.sigmoid_decay_schedule(0.1, 0.001, int_type(100), transition_begin=int_type(20))
  ref = ad.sigmoid_decay_schedule(0.1, 0.001, 100, transition_begin=20)
  for t in (0, 19, 20, 45, 70, 119, 120, 127):
    # The step count itself may be any integer type too.
    assert float(sched(int_type(t))) == float(ref(t)), t
  assert float(sched(np.int64(20))) == np.float32(0.1)
  np.testing.assert_allclose(float(sched(np.int64(70))), 0.0505, rtol=1e-6)


def test_entropy_sgd_integer_types_for_num_steps():
  params = _tree(jnp.float32)
  grads = _quadratic_grad_fn(params, 0)
  want = _run(ad.entropy_sgd(L=3, eps=0.1), params, grads, grad_fn=_quadratic_grad_fn)
  for L in (np.int64(3), np.uint8(3), jnp.asarray(3)):  # pylint: disable=invalid-name
    got = _run(ad.entropy_sgd(L=L, eps=0.1), params, grads, grad_fn=_quadratic_grad_fn)
    chex.assert_trees_all_equal(got, want)


# -- issue 13 item 2: one validation, one style --------------------------------


_BAD_TYPES = [
  (ad.adadecay, dict(weight_decay='5e-4'), 'weight_decay'),
  (ad.adadecay, dict(weight_decay=True), 'weight_decay'),
  (ad.adadecay, dict(alpha='four'), 'alpha'),
  (ad.adadecay, dict(alpha=1 + 2j), 'alpha'),
  (ad.adadecay, dict(alpha=None), 'alpha'),
  (ad.adadecay, dict(mask=True), 'mask'),
  (ad.adadecay, dict(mask=jnp.asarray(False)), 'mask'),
  (ad.sgd_with_weight_decay, dict(learning_rate=0.1, mask=False), 'mask'),
  (ad.randomized_decay, dict(weight_decay=1e-4, alpha=1.0, key='seed'), 'key'),
  (ad.randomized_decay, dict(weight_decay=1e-4, alpha=1.0, key=1.5), 'key'),
  (ad.randomized_decay, dict(weight_decay=1e-4, alpha=1.0, key=True), 'key'),
  (ad.accelerated_sgd, dict(learning_rate='0.1'), 'learning_rate'),
  (ad.accelerated_sgd, dict(learning_rate=0.1, kappa=lambda t: 1000.0), 'kappa'),
  (ad.entropy_sgd, dict(L=2.5), 'L'),
  (ad.entropy_sgd, dict(L=True), 'L'),
  (ad.entropy_sgd, dict(L=np.array([2, 3])), 'L'),
  (ad.entropy_sgd, dict(nesterov='yes'), 'nesterov'),
  (ad.entropy_sgd, dict(momentum=[0.9, 'a']), 'momentum'),
  (ad.entropy_sgd, dict(key=jnp.zeros(2, jnp.float32)), 'key'),
  (
    ad.sigmoid_decay_schedule,
    dict(init_value=0.1, end_value=0.0, transition_steps=10.0),
    'transition_steps',
  ),
  (
    ad.sigmoid_decay_schedule,
    dict(init_value=0.1, end_value=0.0, transition_steps=10, transition_begin=1.5),
    'transition_begin',
  ),
  (
    ad.sigmoid_decay_schedule,
    dict(init_value=np.ones(2), end_value=0.0, transition_steps=10),
    'init_value',
  ),
]


@pytest.mark.parametrize(
  'factory, kwargs, name', _BAD_TYPES, ids=[f'{f.__name__}-{n}' for f, _, n in _BAD_TYPES]
)
def test_wrong_types_raise_type_error_naming_the_argument(factory, kwargs, name):
  with pytest.raises(TypeError, match=rf'^{re.escape(name)}( \(.*\))? must be'):
    factory(**kwargs)


_BAD_VALUES = [
  (ad.adadecay, dict(weight_decay=jnp.bfloat16(-1e-4)), 'weight_decay must be finite and >= 0'),
  (ad.adadecay, dict(alpha=jnp.float16(np.inf)), 'alpha must be a finite'),
  (
    ad.accelerated_sgd,
    dict(learning_rate=jnp.bfloat16(-0.1)),
    'learning_rate must be a float >= 0',
  ),
  (ad.accelerated_sgd, dict(learning_rate=0.1, kappa=np.int64(0)), 'kappa must be a float > 0'),
  (
    ad.entropy_sgd,
    dict(L=np.int64(0)),
    r'L \(the number of Langevin steps\) must be an integer >= 1',
  ),
  (
    ad.sigmoid_decay_schedule,
    dict(init_value=0.1, end_value=0.0, transition_steps=np.int64(0)),
    'transition_steps must be an integer >= 1',
  ),
  (
    ad.sigmoid_decay_schedule,
    dict(init_value=jnp.bfloat16(np.nan), end_value=0.0, transition_steps=10),
    'init_value must be finite',
  ),
]


@pytest.mark.parametrize('factory, kwargs, match', _BAD_VALUES)
def test_bad_values_raise_value_error_naming_the_argument(factory, kwargs, match):
  with pytest.raises(ValueError, match=match):
    factory(**kwargs)


def test_update_without_params_names_the_fix():
  params = _tree(jnp.float32)
  for tx, extra in (
    (ad.adadecay(), {}),
    (ad.randomized_decay(1e-4, 1.0, key=0), {}),
    (ad.accelerated_sgd(0.1), {}),
    (ad.entropy_sgd(), dict(grad_fn=_quadratic_grad_fn)),
  ):
    with pytest.raises(ValueError, match=re.escape('call update(updates, state, params)')):
      tx.update(params, tx.init(params), None, **extra)


def test_no_private_optax_names_in_the_library():
  import pathlib  # pylint: disable=g-import-not-at-top

  root = pathlib.Path(ad.__file__).parent
  for path in root.glob('*.py'):
    assert '_src' not in path.read_text(), path


@pytest.mark.parametrize(
  'factory, extra',
  [
    (lambda key: ad.randomized_decay(1.0, 1.0, key=key), {}),
    (lambda key: ad.entropy_sgd(eps=0.1, L=1, key=key), dict(grad_fn=_quadratic_grad_fn)),
  ],
  ids=['randomized_decay', 'entropy_sgd'],
)
def test_key_forms_give_the_same_draws(factory, extra):
  """A typed key, raw key data and an int seed are one key, one way."""
  params = _tree(jnp.float32)
  grads = _quadratic_grad_fn(params, 0)
  want = _run(factory(jax.random.key(3)), params, grads, **extra)
  for key in (jax.random.PRNGKey(3), 3, np.int64(3)):
    tx = factory(key)
    key_leaf = jax.tree.leaves(tx.init(params))[-1]
    assert jnp.issubdtype(key_leaf.dtype, jax.dtypes.prng_key)
    chex.assert_trees_all_equal(_run(tx, params, grads, **extra), want)
  other = _run(factory(4), params, grads, **extra)
  assert not np.allclose(other[0]['w'], want[0]['w'])


def test_compute_dtype():
  assert _validation.compute_dtype({}) == jnp.float32
  assert _validation.compute_dtype(_tree(jnp.bfloat16)) == jnp.float32
  assert (
    _validation.compute_dtype([jnp.ones(2, jnp.float16), jnp.ones(2, jnp.int32)]) == jnp.float32
  )
  with jax.enable_x64(True):
    assert (
      _validation.compute_dtype([jnp.ones(2, jnp.bfloat16), jnp.ones(2, jnp.float64)])
      == jnp.float64
    )
