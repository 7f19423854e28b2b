"""The library's optimizers through optax's machinery.

In the spirit of optax/contrib/_common_test.py: every optimizer listed in
``OPTIMIZERS`` runs through the same checks (convergence, dtypes, MultiSteps,
lax.cond stability, apply_if_finite, no recompilation, map_params), and every
transform in ``TRANSFORMS`` through inject_hyperparams. An optimizer whose
``update`` needs extra arguments (Entropy-SGD's ``grad_fn``) names a function
that builds them from the test's loss.
"""

import os
import re
import subprocess
import sys
import textwrap

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import adadecay_optax as ad

# Entropy-SGD's outer and Langevin step sizes for the test problems.
ENTROPY_SGD_KWARGS = {
  'learning_rate': 0.5,
  'momentum': 0.9,
  'langevin_learning_rate': 1e-3,
  'key': 7,
}


def no_extra_args(loss):
  del loss
  return {}


def grad_fn_of(loss):
  """``entropy_sgd``'s extra argument: the loss's gradient at its iterate."""
  return {'grad_fn': lambda params, langevin_step: jax.grad(loss)(params)}


# (name, factory, kwargs, extra arguments of update as a function of the loss)
OPTIMIZERS = [
  ('adadecay_sgd', ad.adadecay_sgd, {'learning_rate': 1e-3}, no_extra_args),
  (
    'adadecay_sgd_nesterov',
    ad.adadecay_sgd,
    {'learning_rate': 1e-3, 'nesterov': True, 'alpha': 8.0},
    no_extra_args,
  ),
  ('sgd_with_weight_decay', ad.sgd_with_weight_decay, {'learning_rate': 1e-3}, no_extra_args),
  (
    'adadecay',
    lambda **kw: optax.chain(ad.adadecay(**kw), optax.sgd(1e-3)),
    {'weight_decay': 5e-4, 'alpha': 4.0},
    no_extra_args,
  ),
  (
    'adadecay_adam',
    lambda **kw: optax.chain(ad.adadecay(**kw), optax.adam(1e-2)),
    {'weight_decay': 5e-4, 'alpha': 4.0},
    no_extra_args,
  ),
  (
    'randomized_decay',
    lambda **kw: optax.chain(ad.randomized_decay(**kw), optax.sgd(1e-3)),
    {'weight_decay': 5e-4, 'alpha': 4.0, 'key': 0},
    no_extra_args,
  ),
  ('entropy_sgd', ad.entropy_sgd, ENTROPY_SGD_KWARGS, grad_fn_of),
  ('accelerated_sgd', ad.accelerated_sgd, {'learning_rate': 1e-3}, no_extra_args),
]
IDS = [o[0] for o in OPTIMIZERS]
# Params-shaped buffers in each one's state: momentum (Adam: two moments).
BUFFERS_PER_PARAM = {
  'adadecay_sgd': 1,
  'adadecay_sgd_nesterov': 1,
  'sgd_with_weight_decay': 1,
  'adadecay': 0,
  'adadecay_adam': 2,
  'randomized_decay': 0,
  'entropy_sgd': 1,
  'accelerated_sgd': 1,
}
# The transforms themselves, for inject_hyperparams on their own arguments:
# (name, factory, kwargs, static_args, extra arguments of update).
TRANSFORMS = [
  ('adadecay', ad.adadecay, {'weight_decay': 5e-4, 'alpha': 4.0}, (), no_extra_args),
  (
    'adadecay_schedule',
    ad.adadecay,
    {'weight_decay': optax.linear_schedule(1e-3, 1e-4, 10), 'alpha': 2.0},
    (),
    no_extra_args,
  ),
  (
    'randomized_decay',
    ad.randomized_decay,
    {'weight_decay': 5e-4, 'alpha': 4.0, 'key': 3},
    ('key',),
    no_extra_args,
  ),
  (
    'adadecay_sgd',
    ad.adadecay_sgd,
    {'learning_rate': 0.1, 'momentum': 0.9, 'alpha': 4.0},
    (),
    no_extra_args,
  ),
  (
    'sgd_with_weight_decay',
    ad.sgd_with_weight_decay,
    {'learning_rate': 0.1, 'momentum': 0.9},
    (),
    no_extra_args,
  ),
  (
    'entropy_sgd',
    ad.entropy_sgd,
    dict(ENTROPY_SGD_KWARGS, L=3, eps=1e-2, weight_decay=1e-3, g1=0.01),
    ('key',),
    grad_fn_of,
  ),
  (
    'accelerated_sgd',
    ad.accelerated_sgd,
    {'learning_rate': 0.05, 'kappa': 100.0, 'xi': 5.0, 'weight_decay': 1e-3},
    (),
    no_extra_args,
  ),
]


def parabola(dtype):
  x0 = jnp.array([-1.0, 10.0, 1.0], dtype)
  target = jnp.array([1.0, -1.0, 1.0], dtype)
  return x0, target, lambda x: jnp.sum(jnp.square(x - target))


def rosenbrock(dtype):
  x0 = jnp.array([0.0, 0.0], dtype)
  target = jnp.array([1.0, 1.0], dtype)
  return x0, target, lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def matrix_parabola(dtype):
  x0 = jnp.zeros((2, 2), dtype)
  target = jnp.array([[3.0, -2.0], [1.0, 4.0]], dtype)
  return x0, target, lambda x: jnp.sum(jnp.square(x - target))


@pytest.mark.parametrize('problem', [parabola, rosenbrock, matrix_parabola])
@pytest.mark.parametrize('name, factory, kwargs, extra', OPTIMIZERS, ids=IDS)
def test_converges(name, factory, kwargs, extra, problem):
  opt = factory(**kwargs)
  x0, target, f = problem(jnp.float32)

  def body(carry, _):
    x, state = carry
    updates, state = opt.update(jax.grad(f)(x), state, x, **extra(f))
    return (optax.apply_updates(x, updates), state), None

  (x, _), _ = jax.jit(lambda c: jax.lax.scan(body, c, length=30_000))((x0, opt.init(x0)))
  # λ = 5e-4 moves the fixed point by about λ·|x|/2 (< 3e-3 here).
  np.testing.assert_allclose(x, target, rtol=3e-2, atol=3e-2, err_msg=name)


def _key_data(tree):
  """Typed PRNG keys as their integer data, so they can be compared."""
  return jax.tree.map(
    lambda x: jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x, tree
  )


@pytest.mark.parametrize(
  'name, factory, kwargs, static_args, extra', TRANSFORMS, ids=[t[0] for t in TRANSFORMS]
)
def test_inject_hyperparams_gives_identical_updates_and_state(
  name, factory, kwargs, static_args, extra
):
  opt = factory(**kwargs)
  injected = optax.inject_hyperparams(factory, static_args=static_args)(**kwargs)
  params = [jnp.linspace(-1, 1, 6).reshape(2, 3), jnp.ones((2, 5, 2))]
  grads = [jnp.array([[1.0, -2.0, 3.0], [0.5, 0.1, -4.0]]), -jnp.arange(20.0).reshape(2, 5, 2)]
  loss = lambda ps: sum(jnp.vdot(g, p) for g, p in zip(grads, ps))
  update = jax.jit(lambda g, s, p: opt.update(g, s, p, **extra(loss)))
  update_inj = jax.jit(lambda g, s, p: injected.update(g, s, p, **extra(loss)))
  state, state_inj = jax.jit(opt.init)(params), jax.jit(injected.init)(params)
  for _ in range(3):
    updates, state = update(grads, state, params)
    updates_inj, state_inj = update_inj(grads, state_inj, params)
    chex.assert_trees_all_close(updates_inj, updates, rtol=1e-6, atol=0)
    if callable(kwargs.get('weight_decay')):
      # inject_hyperparams evaluates the schedule itself and keeps the count
      # (the inner transform then sees a plain number and keeps none).
      assert int(state_inj.count) == int(state.count)
    else:
      chex.assert_trees_all_close(_key_data(state_inj.inner_state), _key_data(state), rtol=1e-6)
    params = optax.apply_updates(params, updates)


def test_inject_hyperparams_changes_alpha_and_weight_decay_in_place():
  opt = optax.inject_hyperparams(ad.adadecay)(weight_decay=0.1, alpha=4.0)
  params = jnp.ones(4)
  grads = jnp.array([1.0, 2.0, 3.0, 10.0])
  state = opt.init(params)
  state.hyperparams['alpha'] = jnp.asarray(0.0)
  state.hyperparams['weight_decay'] = jnp.asarray(0.5)
  updates, _ = jax.jit(opt.update)(grads, state, params)
  np.testing.assert_allclose(updates, grads + 0.5, rtol=1e-6)


@pytest.mark.parametrize('dtype', [jnp.bfloat16, jnp.float32])
@pytest.mark.parametrize('name, factory, kwargs, extra', OPTIMIZERS, ids=IDS)
def test_preserves_dtype(name, factory, kwargs, extra, dtype):
  opt = factory(**kwargs)
  params = jnp.array([1.0, 2.0, -3.0], dtype)
  f = lambda x: jnp.sum(x**2 * jnp.arange(1, 4))
  update = jax.jit(lambda g, s, p: opt.update(g, s, p, **extra(f)))
  updates, _ = update(jax.grad(f)(params), jax.jit(opt.init)(params), params)
  assert updates.dtype == dtype, name


@pytest.mark.parametrize('dtype', [jnp.bfloat16, jnp.float32])
@pytest.mark.parametrize('name, factory, kwargs, extra', OPTIMIZERS, ids=IDS)
def test_multi_steps(name, factory, kwargs, extra, dtype):
  opt = optax.MultiSteps(factory(**kwargs), every_k_schedule=4)
  params = jnp.array([1.0, 2.0, -3.0], dtype)
  grads = jnp.array([0.5, -1.0, 2.0], dtype)
  f = lambda x: jnp.vdot(grads, x)
  state = jax.jit(opt.init)(params)
  update = jax.jit(lambda g, s, p: opt.update(g, s, p, **extra(f)))
  for step in range(8):
    updates, state = update(grads, state, params)
    assert updates.dtype == dtype
    if step % 4 != 3:  # accumulating: no update yet
      chex.assert_trees_all_equal(updates, jnp.zeros_like(params))
    else:
      assert np.all(np.asarray(updates, np.float32) != 0), name


@pytest.mark.parametrize('dtype', [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64])
@pytest.mark.parametrize('name, factory, kwargs, extra', OPTIMIZERS, ids=IDS)
def test_state_shape_and_dtype_stable_under_cond(name, factory, kwargs, extra, dtype):
  with jax.enable_x64(dtype == jnp.float64):
    opt = factory(**kwargs)
    x0, _, f = parabola(dtype)

    @jax.jit
    def step(x, state):
      grads = jax.grad(f)(x)
      # lax.cond demands both branches have identical types: it fails if
      # the update changes a state's shape or dtype.
      flip = jax.random.randint(jax.random.key(0), (), 0, 2) == 0
      updates, state = jax.lax.cond(
        flip, lambda: opt.update(grads, state, x, **extra(f)), lambda: (x, state)
      )
      return optax.apply_updates(x, updates), state

    x, state = x0, opt.init(x0)
    for _ in range(2):
      x, new_state = step(x, state)
      assert x.dtype == dtype
      chex.assert_trees_all_equal_shapes_and_dtypes(new_state, state)
      state = new_state


@pytest.mark.parametrize('name, factory, kwargs, extra', OPTIMIZERS, ids=IDS)
def test_apply_if_finite_skips_nan_step(name, factory, kwargs, extra):
  opt = optax.apply_if_finite(factory(**kwargs), max_consecutive_errors=3)
  params = jnp.array([1.0, 2.0, -3.0])
  grads = jnp.array([0.5, -1.0, 2.0])
  f = lambda x: jnp.vdot(grads, x)
  state = opt.init(params)
  updates, state = opt.update(grads, state, params, **extra(f))  # good step
  good_inner = state.inner_state
  updates, state = opt.update(grads.at[1].set(jnp.nan), state, params, **extra(f))
  chex.assert_trees_all_equal(updates, jnp.zeros_like(params))
  chex.assert_trees_all_equal(state.inner_state, good_inner)
  assert int(state.notfinite_count) == 1
  assert not bool(state.last_finite)


@pytest.mark.parametrize('name, factory, kwargs, extra', OPTIMIZERS, ids=IDS)
def test_no_recompilation_on_second_call(name, factory, kwargs, extra):
  chex.clear_trace_counter()
  opt = factory(**kwargs)
  x0, _, f = rosenbrock(jnp.float32)

  @jax.jit
  @chex.assert_max_traces(n=1)
  def step(x, state):
    updates, state = opt.update(jax.grad(f)(x), state, x, **extra(f))
    return optax.apply_updates(x, updates), state

  x, state = step(x0, opt.init(x0))
  x, state = step(x, state)  # a retrace would raise here
  step(x, state)


def test_learning_rate_schedule_equals_constant():
  x0, _, f = parabola(jnp.float32)
  for factory in (ad.adadecay_sgd, ad.sgd_with_weight_decay):
    a = factory(optax.constant_schedule(1e-2))
    b = factory(1e-2)
    xa, sa, xb, sb = x0, a.init(x0), x0, b.init(x0)
    for _ in range(5):
      ua, sa = a.update(jax.grad(f)(xa), sa, xa)
      ub, sb = b.update(jax.grad(f)(xb), sb, xb)
      xa, xb = optax.apply_updates(xa, ua), optax.apply_updates(xb, ub)
    np.testing.assert_allclose(xa, xb, rtol=1e-6)


@pytest.mark.parametrize('name, factory, kwargs, extra', OPTIMIZERS, ids=IDS)
def test_map_params_maps_the_params_shaped_state_only(name, factory, kwargs, extra):
  # optax.tree.map_params finds the state's params-shaped parts (momentum
  # buffers) by the state's structure: it must change those and leave counts
  # and PRNG keys as they are.
  opt = factory(**kwargs)
  params = {'w': jnp.ones((3, 2)), 'b': jnp.full((5,), -0.5)}
  f = lambda p: jnp.sum(jnp.square(p['w'] - 2)) + jnp.sum(p['b'])
  _, state = opt.update(jax.grad(f)(params), opt.init(params), params, **extra(f))
  mapped = optax.tree.map_params(opt, lambda v: jnp.full_like(v, 7.0), state)
  pairs = list(zip(jax.tree.leaves(_key_data(state)), jax.tree.leaves(_key_data(mapped))))
  param_shapes = {(3, 2), (5,)}
  changed = [np.all(np.asarray(new) == 7.0) for old, new in pairs if old.shape in param_shapes]
  kept = [np.array_equal(old, new) for old, new in pairs if old.shape not in param_shapes]
  assert len(changed) == 2 * BUFFERS_PER_PARAM[name], name
  assert all(changed) and all(kept), name


_SHARDED_SCRIPT = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np, optax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    import adadecay_optax as ad
    assert jax.device_count() == 8, jax.devices()
    mesh = Mesh(np.array(jax.devices()).reshape(8), ('d',))
    rng = np.random.default_rng(0)
    shapes = {'conv': (3, 3, 16, 32), 'dense': (64, 128), 'bias': (128,),
              'odd': (5, 3)}
    params = {k: jnp.asarray(rng.normal(size=s), jnp.float32)
              for k, s in shapes.items()}
    grads = {k: jnp.asarray(rng.standard_t(2, size=s), jnp.float32)
             for k, s in shapes.items()}
    def spec(x):  # shard the last axis when it divides by 8
      return P(*([None] * (x.ndim - 1) + ['d'])) if x.shape[-1] % 8 == 0 else P()
    shard = lambda t: jax.tree.map(
        lambda x: jax.device_put(x, NamedSharding(mesh, spec(x))), t)
    for tx in (ad.adadecay_sgd(0.1), ad.adadecay(5e-4, 8.0)):
      step = jax.jit(tx.update)
      u1, _ = step(grads, tx.init(params), params)
      sp, sg = shard(params), shard(grads)
      assert len(sp['conv'].sharding.device_set) == 8
      u2, _ = step(sg, tx.init(sp), sp)
      assert len(u2['conv'].sharding.device_set) == 8
      for k in shapes:
        np.testing.assert_allclose(np.asarray(u2[k]), np.asarray(u1[k]),
                                   rtol=1e-6, atol=1e-9, err_msg=k)
    print('sharded ok')
""")


@pytest.mark.slow
def test_sharded_over_8_cpu_devices_equals_unsharded():
  env = dict(os.environ)
  env['XLA_FLAGS'] = (
    env.get('XLA_FLAGS', '') + ' --xla_force_host_platform_device_count=8'
  ).strip()
  env['JAX_PLATFORMS'] = 'cpu'
  out = subprocess.run(
    [sys.executable, '-c', _SHARDED_SCRIPT], env=env, capture_output=True, text=True, timeout=300
  )
  assert out.returncode == 0, out.stderr[-3000:]
  assert 'sharded ok' in out.stdout


# -- masks: callables under inject_hyperparams, NNX state masks ---------------


def _no_decay_on_biases(params):
  return jax.tree.map(lambda x: x.ndim > 1, params)


def _kernel_and_bias():
  params = {'kernel': jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), 'bias': jnp.array([0.5, -1.0, 2.0])}
  grads = {
    'kernel': jnp.array([[1.0, -2.0, 3.0], [0.5, 0.1, -4.0]]),
    'bias': jnp.array([0.25, -0.5, 1.0]),
  }
  return params, grads


@pytest.mark.parametrize('jit', [False, True])
@pytest.mark.parametrize(
  'factory, kwargs',
  [
    (ad.adadecay, {'weight_decay': 0.1, 'alpha': 1.0}),
    (ad.adadecay_sgd, {'learning_rate': 0.1, 'weight_decay': 0.1}),
    (ad.sgd_with_weight_decay, {'learning_rate': 0.1, 'weight_decay': 0.1}),
    (ad.randomized_decay, {'weight_decay': 0.1, 'alpha': 1.0, 'key': 0}),
  ],
  ids=['adadecay', 'adadecay_sgd', 'sgd_with_weight_decay', 'randomized_decay'],
)
def test_callable_mask_under_inject_hyperparams_without_static_args_raises(factory, kwargs, jit):
  # inject_hyperparams takes the callable for a schedule and calls it with
  # the step count: the mask would be False, decaying nothing.
  tx = optax.inject_hyperparams(factory)(mask=_no_decay_on_biases, **kwargs)
  params, _ = _kernel_and_bias()
  init = jax.jit(tx.init) if jit else tx.init
  with pytest.raises(TypeError, match=re.escape("static_args=('mask',)")):
    init(params)


@pytest.mark.parametrize('jit', [False, True])
def test_callable_mask_under_inject_hyperparams_with_static_args(jit):
  tx = optax.inject_hyperparams(ad.adadecay, static_args=('mask',))(
    weight_decay=0.1, alpha=1.0, mask=_no_decay_on_biases
  )
  params, grads = _kernel_and_bias()
  init, update = tx.init, tx.update
  if jit:
    init, update = jax.jit(init), jax.jit(update)
  updates, _ = update(grads, init(params), params)
  np.testing.assert_array_equal(updates['bias'], grads['bias'])
  unmasked = ad.adadecay(0.1, alpha=1.0)
  want, _ = unmasked.update(grads, unmasked.init(params), params)
  np.testing.assert_allclose(updates['kernel'], want['kernel'], rtol=1e-6)
  assert not np.allclose(updates['kernel'], grads['kernel'])


def test_mask_tree_with_one_child_wrappers_is_stripped():
  """A wrapper node around a bool (as nnx.Param is) masks like the bool."""

  @jax.tree_util.register_pytree_node_class
  class Box:  # a stand-in for nnx.Variable: one child, not a container
    def __init__(self, value):
      self.value = value

    def tree_flatten(self):
      return (self.value,), None

    @classmethod
    def tree_unflatten(cls, aux, children):
      del aux
      return cls(*children)

  params, grads = _kernel_and_bias()
  boxed = ad.adadecay(0.1, alpha=1.0, mask={'kernel': Box(True), 'bias': Box(False)})
  plain = ad.adadecay(0.1, alpha=1.0, mask={'kernel': True, 'bias': False})
  got, _ = boxed.update(grads, boxed.init(params), params)
  want, _ = plain.update(grads, plain.init(params), params)
  chex.assert_trees_all_equal(got, want)
  np.testing.assert_array_equal(got['bias'], grads['bias'])
  # A callable mask's result is stripped too.
  boxed_fn = ad.adadecay(0.1, alpha=1.0, mask=lambda p: jax.tree.map(lambda x: Box(x.ndim > 1), p))
  got_fn, _ = boxed_fn.update(grads, boxed_fn.init(params), params)
  chex.assert_trees_all_equal(got_fn, want)


def test_nnx_state_mask_in_nnx_optimizer():
  from flax import nnx  # pylint: disable=g-import-not-at-top

  class Model(nnx.Module):
    def __init__(self, rngs):
      self.hidden = nnx.Linear(3, 4, rngs=rngs)
      self.head = nnx.Linear(4, 2, rngs=rngs)
      self.calls = nnx.Variable(jnp.array([5.0, 6.0]))  # not an nnx.Param

  model = Model(nnx.Rngs(0))
  model.hidden.bias[...] = jnp.ones(4)  # zero biases would not show decay
  model.head.bias[...] = jnp.full(2, -2.0)
  mask = jax.tree.map(lambda x: x.ndim > 1, nnx.state(model, nnx.Param))
  tx = ad.adadecay_sgd(0.1, weight_decay=0.1, mask=mask)
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
  before = jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.state(model)))
  # Zero gradients: |g| constant, θ = 1; a decayed w moves by -η λ w.
  grads = jax.tree.map(jnp.zeros_like, nnx.state(model, nnx.Param))
  optimizer.update(model, grads)
  after = nnx.to_pure_dict(nnx.state(model))
  for layer in ('hidden', 'head'):
    np.testing.assert_allclose(
      after[layer]['kernel'], before[layer]['kernel'] * (1 - 0.1 * 0.1), rtol=1e-6
    )
    np.testing.assert_array_equal(after[layer]['bias'], before[layer]['bias'])
  np.testing.assert_array_equal(after['calls'], [5.0, 6.0])


def test_library_does_not_import_flax():
  out = subprocess.run(
    [
      sys.executable,
      '-c',
      'import sys, adadecay_optax;'
      ' print(sorted(m for m in sys.modules if m.split(".")[0] == "flax"))',
    ],
    capture_output=True,
    text=True,
    timeout=120,
    cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
  )
  assert out.returncode == 0, out.stderr[-2000:]
  assert out.stdout.strip() == '[]'
