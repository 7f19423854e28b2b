"""Tests of the Entropy-SGD and Accelerated-SGD baselines.

The reference tests run the optax transformations next to float64 NumPy
transcriptions of the authors' PyTorch optimizers, written here line by line
from the original code (in-place ops included, so aliasing behaves as in
PyTorch) and independent of the JAX code:

* ``EntropySGD.step`` of ucla-vision/entropy-sgd, python/optim.py;
* ``AccSGD.step`` of rahulkidambi/AccSGD, AccSGD.py.

Convergence, dtypes, jitted inject_hyperparams, MultiSteps, lax.cond and
recompilation checks come from the shared suite in test_optax_integration.py.
"""

import copy
import importlib
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from adadecay_optax import AcceleratedSGDState
from adadecay_optax import accelerated_sgd
from adadecay_optax import EntropySGDState
from adadecay_optax import entropy_sgd

# The package re-exports the functions under the modules' names, so fetch the
# modules themselves.
accelerated_sgd_lib = importlib.import_module('adadecay_optax.accelerated_sgd')
entropy_sgd_lib = importlib.import_module('adadecay_optax.entropy_sgd')

NO_PARAMS_MSG = 'needs the current parameters: call update(updates, state, params)'
RTOL = 1e-10
ATOL = 1e-12


# -- a small least-squares problem, gradients written out in NumPy ------------

_N, _D_IN, _D_OUT = 6, 3, 2


def _make_batches(num_batches, seed=0):
  rng = np.random.default_rng(seed)
  xs = rng.normal(size=(num_batches, _N, _D_IN))
  ys = rng.normal(size=(num_batches, _N, _D_OUT))
  return xs, ys


def _initial_params(seed=1):
  rng = np.random.default_rng(seed)
  return (rng.normal(size=(_D_IN, _D_OUT)), rng.normal(size=(_D_OUT,)))


def _np_grad(params, x, y):
  """Gradient of 0.5 * sum((x W + b - y)^2) / n, by hand."""
  w, b = params
  r = x @ w + b - y
  return [x.T @ r / _N, r.sum(axis=0) / _N]


def _jax_loss(params, x, y):
  w, b = params
  return 0.5 * jnp.sum((x @ w + b - y) ** 2) / _N


# -- NumPy transcription of EntropySGD.step (python/optim.py) -----------------


class NumpyEntropySGD:
  """EntropySGD of ucla-vision/entropy-sgd python/optim.py, in NumPy float64.

  ``closure(i)`` stands for the PyTorch closure: it writes the minibatch
  gradient at the current weights into ``self.grads`` in place (as
  ``zero_grad(); backward()`` does with ``w.grad``); ``i is None`` for the
  first call of a step, ``i = 0..L-1`` for the Langevin steps. ``etas[i][j]``
  replaces ``eta.normal_()`` of Langevin step ``i`` for tensor ``j``.
  """

  def __init__(self, params, config):
    defaults = dict(
      lr=0.01, momentum=0, damp=0, weight_decay=0, nesterov=True, L=0, eps=1e-4, g0=1e-2, g1=0
    )
    for k in defaults:
      if config.get(k, None) is None:
        config[k] = defaults[k]
    self.config = config
    self.params = [np.array(p, np.float64) for p in params]
    self.grads = [np.zeros_like(p) for p in self.params]
    self.state = {}

  def step(self, closure, etas):
    closure(None)  # mf,merr = closure()

    c = self.config
    lr = c['lr']
    mom = c['momentum']
    wd = c['weight_decay']
    damp = c['damp']
    nesterov = c['nesterov']
    L = int(c['L'])  # pylint: disable=invalid-name
    eps = c['eps']
    g0 = c['g0']
    g1 = c['g1']

    params = self.params
    grads = self.grads  # w.grad.data, one per parameter tensor

    state = self.state
    # initialize
    if 't' not in state:
      state['t'] = 0
      state['wc'], state['mdw'] = [], []
      for w, dw in zip(params, grads):
        state['wc'].append(copy.deepcopy(w))
        state['mdw'].append(copy.deepcopy(dw))

      state['langevin'] = dict(
        mw=copy.deepcopy(state['wc']),
        mdw=copy.deepcopy(state['mdw']),
        eta=copy.deepcopy(state['mdw']),
        lr=0.1,
        beta1=0.75,
      )

    lp = state['langevin']
    for i, w in enumerate(params):
      state['wc'][i][...] = w
      lp['mw'][i][...] = w
      lp['mdw'][i][...] = 0
      # lp['eta'][i].normal_(): overwritten before use below.

    llr, beta1 = lp['lr'], lp['beta1']
    g = g0 * (1 + g1) ** state['t']

    for i in range(L):
      closure(i)  # f,_ = closure()
      for j, (wc, w, mw, mdw, eta) in enumerate(
        zip(state['wc'], params, lp['mw'], lp['mdw'], lp['eta'])
      ):
        dw = grads[j]

        if wd > 0:
          dw += wd * w
        if mom > 0:
          mdw *= mom
          mdw += (1 - damp) * dw
          if nesterov:
            dw += mom * mdw
          else:
            dw = mdw

        # add noise
        eta[...] = etas[i][j]  # eta.normal_()
        dw += -g * (wc - w)
        dw += eps / np.sqrt(0.5 * llr) * eta

        # update weights
        w += -llr * dw
        mw *= beta1
        mw += (1 - beta1) * w

    if L > 0:
      # copy model back
      for i, w in enumerate(params):
        w[...] = state['wc'][i]
        grads[i][...] = w - lp['mw'][i]

    for j, (w, mdw) in enumerate(zip(params, state['mdw'])):
      dw = grads[j]

      if wd > 0:
        dw += wd * w
      if mom > 0:
        mdw *= mom
        mdw += (1 - damp) * dw
        if nesterov:
          dw += mom * mdw
        else:
          dw = mdw

      w += -lr * dw

    # Not in optim.py, which never increments t (so g1 has no effect there):
    # the README's scoping gamma * (1 + scoping)^t, t = parameter updates.
    state['t'] += 1


# -- NumPy transcription of AccSGD.step (AccSGD.py) ---------------------------


class NumpyAccSGD:
  """AccSGD of rahulkidambi/AccSGD AccSGD.py, in NumPy float64 (one group)."""

  def __init__(
    self,
    params,
    lr,
    kappa=1000.0,
    xi=10.0,
    smallConst=0.7,  # pylint: disable=invalid-name
    weight_decay=0,
  ):
    self.group = dict(
      params=[np.array(p, np.float64) for p in params],
      lr=lr,
      kappa=kappa,
      xi=xi,
      smallConst=smallConst,
      weight_decay=weight_decay,
    )
    self.state = [{} for _ in self.group['params']]

  def step(self, grads):
    group = self.group
    weight_decay = group['weight_decay']
    large_lr = (group['lr'] * group['kappa']) / (group['smallConst'])
    Alpha = 1.0 - (
      (group['smallConst'] * group['smallConst'] * group['xi'])  # pylint: disable=invalid-name
      / group['kappa']
    )
    Beta = 1.0 - Alpha  # pylint: disable=invalid-name
    zeta = group['smallConst'] / (group['smallConst'] + Beta)
    for p, grad, param_state in zip(group['params'], grads, self.state):
      d_p = np.array(grad, np.float64)
      if weight_decay != 0:
        d_p += weight_decay * p
      if 'momentum_buffer' not in param_state:
        param_state['momentum_buffer'] = copy.deepcopy(p)
      buf = param_state['momentum_buffer']
      buf *= (1.0 / Beta) - 1.0
      buf += -large_lr * d_p
      buf += p
      buf *= Beta

      p += -group['lr'] * d_p
      p *= zeta
      p += (1.0 - zeta) * buf


# -- reference tests ----------------------------------------------------------

_ESGD_CONFIGS = [
  # noise off: the deterministic part of the rule
  dict(lr=0.5, L=5, eps=0.0),
  dict(lr=0.3, L=5, eps=0.0, momentum=0.9, nesterov=True, weight_decay=1e-2, g0=0.05, g1=0.1),
  dict(
    lr=0.3,
    L=4,
    eps=0.0,
    momentum=0.8,
    nesterov=False,
    damp=0.2,
    weight_decay=1e-2,
    g0=0.03,
    g1=0.05,
  ),
  # noise on, same Gaussian draws fed to both
  dict(lr=0.3, L=5, eps=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3, g0=0.05, g1=0.1),
  dict(lr=0.3, L=3, eps=0.05, momentum=0.7, nesterov=False, damp=0.1, weight_decay=1e-3, g0=0.02),
  # momentum 0 skips the momentum code even with damp and nesterov=False
  dict(lr=0.4, L=2, eps=0.02, damp=0.5, nesterov=False),
]


def _esgd_kwargs(cfg):
  names = dict(lr='learning_rate')
  return {names.get(k, k): v for k, v in cfg.items()}


def _run_entropy_sgd_pair(cfg, num_steps, zero_reference_noise=False):
  """Runs entropy_sgd and NumpyEntropySGD side by side; yields both."""
  num_langevin = cfg['L']
  xs, ys = _make_batches(num_langevin + 1)
  params = tuple(jnp.asarray(p) for p in _initial_params())
  tx = entropy_sgd(**_esgd_kwargs(cfg), key=jax.random.key(42))
  state = tx.init(params)
  xs_j, ys_j = jnp.asarray(xs), jnp.asarray(ys)

  def grad_fn(p, k):  # minibatch k for Langevin step k
    return jax.grad(_jax_loss)(p, xs_j[k], ys_j[k])

  @jax.jit
  def step(params, state):
    grads = jax.grad(_jax_loss)(params, xs_j[num_langevin], ys_j[num_langevin])
    updates, state = tx.update(grads, state, params, grad_fn=grad_fn)
    return optax.apply_updates(params, updates), state

  ref = NumpyEntropySGD(_initial_params(), dict(cfg))

  def closure(i):
    b = num_langevin if i is None else i
    for g, new in zip(ref.grads, _np_grad(ref.params, xs[b], ys[b])):
      g[...] = new

  for _ in range(num_steps):
    noise_key = jax.random.split(state.key)[1]
    draw = entropy_sgd_lib._langevin_noise  # pylint: disable=protected-access
    etas = [
      [np.asarray(e) for e in jax.tree.leaves(draw(noise_key, jnp.int32(i), params))]
      for i in range(num_langevin)
    ]
    if zero_reference_noise:
      etas = [[np.zeros_like(e) for e in row] for row in etas]
    params, state = step(params, state)
    ref.step(closure, etas)
    yield params, state, ref


@pytest.mark.parametrize('cfg', _ESGD_CONFIGS)
def test_entropy_sgd_matches_pytorch_reference(cfg):
  with jax.enable_x64(True):
    count = 0
    for params, state, ref in _run_entropy_sgd_pair(cfg, num_steps=6):
      count += 1
      assert all(p.dtype == jnp.float64 for p in params)
      for got, want in zip(params, ref.params):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
      if cfg.get('momentum', 0) > 0:  # otherwise optim.py never uses 'mdw'
        for got, want in zip(state.momentum, ref.state['mdw']):
          np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
      assert int(state.count) == count == ref.state['t']
    # the parameters did move
    assert not np.allclose(ref.params[0], _initial_params()[0], atol=1e-3)


@pytest.mark.parametrize('cfg', [c for c in _ESGD_CONFIGS if c['eps'] > 0])
def test_entropy_sgd_noise_matters_in_reference_comparison(cfg):
  """Without the shared draws the comparison above would fail: it is real."""
  with jax.enable_x64(True):
    *_, (params, _, ref) = _run_entropy_sgd_pair(cfg, num_steps=3, zero_reference_noise=True)
    diff = max(float(np.max(np.abs(np.asarray(a) - b))) for a, b in zip(params, ref.params))
    assert diff > 1e-4


_ACC_CONFIGS = [
  dict(lr=0.01),
  dict(lr=0.05, kappa=100.0, xi=2.0, small_const=0.5, weight_decay=1e-2),
  # a step schedule (halved every 3 steps): exact in float64
  dict(
    lr=lambda count: 0.02 * 0.5 ** (count // 3),
    kappa=1e4,
    xi=10.0,
    small_const=0.7,
    weight_decay=5e-4,
  ),
  dict(lr=0.1, kappa=1.0, xi=1.0, small_const=1.0),  # Beta = 1
]


@pytest.mark.parametrize('cfg', _ACC_CONFIGS)
def test_accelerated_sgd_matches_pytorch_reference(cfg):
  cfg = dict(cfg)
  lr = cfg.pop('lr')
  with jax.enable_x64(True):
    (x,), (y,) = _make_batches(1, seed=3)
    params = tuple(jnp.asarray(p) for p in _initial_params(seed=4))
    tx = accelerated_sgd(lr, **cfg)
    state = tx.init(params)
    step = jax.jit(lambda p, s: tx.update(jax.grad(_jax_loss)(p, x, y), s, p))
    torch_kwargs = {('smallConst' if k == 'small_const' else k): v for k, v in cfg.items()}
    ref = NumpyAccSGD(_initial_params(seed=4), lr=None, **torch_kwargs)
    for t in range(10):
      updates, state = step(params, state)
      params = optax.apply_updates(params, updates)
      # As a PyTorch LR scheduler would. float(): a jax.Array operand would
      # make the NumPy `p += ...` rebind p instead of updating in place.
      ref.group['lr'] = float(lr(jnp.int32(t))) if callable(lr) else lr
      ref.step(_np_grad(ref.group['params'], x, y))
      for got, want in zip(params, ref.group['params']):
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
      for got, st in zip(state.momentum, ref.state):
        np.testing.assert_allclose(got, st['momentum_buffer'], rtol=RTOL, atol=ATOL)
      assert int(state.count) == t + 1
    assert not np.allclose(ref.group['params'][0], _initial_params(seed=4)[0], atol=1e-3)


# -- optax plumbing -----------------------------------------------------------


def _quadratic_grad_fn(p, k):
  """Gradient of sum((p - 1)^2) leafwise; also works on masked trees."""
  del k
  return jax.tree.map(lambda x: 2 * (x - 1), p)


def _tx_and_kwargs(name, **overrides):
  if name == 'entropy_sgd':
    kw = dict(
      learning_rate=0.5,
      momentum=0.9,
      L=3,
      eps=1e-2,
      weight_decay=1e-3,
      g1=0.01,
      key=jax.random.key(7),
    )
    kw.update(overrides)
    return entropy_sgd, kw, dict(grad_fn=_quadratic_grad_fn)
  kw = dict(learning_rate=0.05, kappa=100.0, xi=5.0, weight_decay=1e-3)
  kw.update(overrides)
  return accelerated_sgd, kw, {}


def _tree_params(dtype):
  return {
    'w': jnp.linspace(-1.0, 2.0, 6, dtype=dtype).reshape(2, 3),
    'b': jnp.array([0.5, -0.25], dtype),
  }


def _strip_keys(tree):
  return jax.tree.map(
    lambda x: jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x, tree
  )


def _assert_trees_identical(a, b):
  chex.assert_trees_all_equal(_strip_keys(a), _strip_keys(b))


@pytest.mark.parametrize('name', ['entropy_sgd', 'accelerated_sgd'])
def test_inject_hyperparams_is_identical_eagerly(name):
  """Injected hyper-parameters give the plain transformation's results.

  Eagerly the two run the same arithmetic on the same float32 values and must
  agree bit for bit. (Jitted, where XLA may fold the plain version's
  constants, the shared suite in test_optax_integration.py compares them.)
  """
  factory, kw, extra = _tx_and_kwargs(name)
  plain = factory(**kw)
  injected = optax.inject_hyperparams(factory)(**kw)
  params = _tree_params(jnp.float32)
  p_state, i_state = plain.init(params), injected.init(params)
  _assert_trees_identical(p_state, i_state.inner_state)
  if name == 'entropy_sgd':  # L is injected too (a traced loop bound)
    assert 'L' in i_state.hyperparams
  p_step = lambda p, s: plain.update(_quadratic_grad_fn(p, 0), s, p, **extra)
  i_step = lambda p, s: injected.update(_quadratic_grad_fn(p, 0), s, p, **extra)
  p_params = i_params = params
  for _ in range(4 if name == 'accelerated_sgd' else 2):
    p_updates, p_state = p_step(p_params, p_state)
    i_updates, i_state = i_step(i_params, i_state)
    _assert_trees_identical(p_updates, i_updates)
    _assert_trees_identical(p_state, i_state.inner_state)
    p_params = optax.apply_updates(p_params, p_updates)
    i_params = optax.apply_updates(i_params, i_updates)


@pytest.mark.parametrize('name', ['entropy_sgd', 'accelerated_sgd'])
def test_inject_hyperparams_schedule_and_change(name):
  """A scheduled learning rate, and a changed injected value, take effect."""
  factory, kw, extra = _tx_and_kwargs(name)
  schedule = optax.linear_schedule(kw['learning_rate'], 0.0, 4)
  plain = factory(**dict(kw, learning_rate=schedule))
  injected = optax.inject_hyperparams(factory)(**dict(kw, learning_rate=schedule))
  params = _tree_params(jnp.float32)
  p_state, i_state = plain.init(params), injected.init(params)
  p_step = jax.jit(lambda s: plain.update(_quadratic_grad_fn(params, 0), s, params, **extra))
  i_step = jax.jit(lambda s: injected.update(_quadratic_grad_fn(params, 0), s, params, **extra))
  for _ in range(5):
    p_updates, p_state = p_step(p_state)
    i_updates, i_state = i_step(i_state)
    chex.assert_trees_all_close(p_updates, i_updates, rtol=1e-6, atol=1e-7)
  if name == 'entropy_sgd':  # at lr = 0 the step is 0 (not so for AccSGD,
    # whose parameters still move towards the buffer)
    chex.assert_trees_all_close(p_updates, jax.tree.map(jnp.zeros_like, params))
  # Setting the injected learning rate by hand.
  plain = factory(**kw)
  injected = optax.inject_hyperparams(factory)(**dict(kw, learning_rate=1.0))
  p_state, i_state = plain.init(params), injected.init(params)
  i_state.hyperparams['learning_rate'] = jnp.asarray(kw['learning_rate'], jnp.float32)
  p_step = jax.jit(lambda s: plain.update(_quadratic_grad_fn(params, 0), s, params, **extra))
  i_step = jax.jit(lambda s: injected.update(_quadratic_grad_fn(params, 0), s, params, **extra))
  chex.assert_trees_all_close(p_step(p_state)[0], i_step(i_state)[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize('name', ['entropy_sgd', 'accelerated_sgd'])
def test_masked(name):
  factory, kw, extra = _tx_and_kwargs(name)
  params = _tree_params(jnp.float32)
  mask = {'w': True, 'b': False}
  masked = optax.masked(factory(**kw), mask)
  alone = factory(**kw)
  m_state = masked.init(params)
  a_params = {'w': params['w']}
  a_state = alone.init(a_params)
  for _ in range(3):
    grads = _quadratic_grad_fn(params, 0)
    m_updates, m_state = masked.update(grads, m_state, params, **extra)
    a_updates, a_state = alone.update({'w': grads['w']}, a_state, a_params, **extra)
    # masked-out leaves pass through untouched
    np.testing.assert_array_equal(m_updates['b'], grads['b'])
    np.testing.assert_allclose(m_updates['w'], a_updates['w'], rtol=1e-6)
    params = optax.apply_updates(params, m_updates)
    a_params = optax.apply_updates(a_params, a_updates)
  assert isinstance(
    m_state.inner_state, EntropySGDState if name == 'entropy_sgd' else AcceleratedSGDState
  )


@pytest.mark.parametrize('name', ['entropy_sgd', 'accelerated_sgd'])
def test_update_needs_params(name):
  factory, kw, extra = _tx_and_kwargs(name)
  tx = factory(**kw)
  params = _tree_params(jnp.float32)
  state = tx.init(params)
  with pytest.raises(ValueError, match=re.escape(NO_PARAMS_MSG)):
    tx.update(params, state, None, **extra)


def test_entropy_sgd_needs_grad_fn():
  tx = entropy_sgd()
  params = _tree_params(jnp.float32)
  with pytest.raises(ValueError, match='grad_fn'):
    tx.update(params, tx.init(params), params)


def test_entropy_sgd_langevin_step_indices_and_dtype():
  """grad_fn gets int32 indices 0..L-1, in order, and x' in params' dtype."""
  seen = []

  def grad_fn(p, k):
    assert k.dtype == jnp.int32 and k.shape == ()
    assert p['w'].dtype == jnp.bfloat16
    jax.debug.callback(lambda k: seen.append(int(k)), k, ordered=True)
    return _quadratic_grad_fn(p, k)

  tx = entropy_sgd(L=4)
  params = _tree_params(jnp.bfloat16)
  state = tx.init(params)
  jax.jit(lambda p, s: tx.update(p, s, p, grad_fn=grad_fn))(params, state)
  jax.effects_barrier()
  assert seen == [0, 1, 2, 3]


def test_entropy_sgd_key_forms():
  """Typed key, raw key data and an integer seed give the same draws."""
  params = _tree_params(jnp.float32)
  outs = []
  for key in (jax.random.key(3), jax.random.PRNGKey(3), 3):
    tx = entropy_sgd(eps=0.1, L=1, key=key)
    updates, _ = tx.update(params, tx.init(params), params, grad_fn=_quadratic_grad_fn)
    outs.append(updates)
  _assert_trees_identical(outs[0], outs[1])
  _assert_trees_identical(outs[0], outs[2])
  tx = entropy_sgd(eps=0.1, L=1, key=4)
  other, _ = tx.update(params, tx.init(params), params, grad_fn=_quadratic_grad_fn)
  assert not np.allclose(other['w'], outs[0]['w'])


# -- constructor errors -------------------------------------------------------


@pytest.mark.parametrize(
  'kwargs,message',
  [
    (dict(L=2.5), r'L \(the number of Langevin steps\) must be an integer'),
    (dict(L=True), r'L \(the number of Langevin steps\) must be an integer'),
    (dict(nesterov='yes'), r'nesterov must be True or False'),
    (dict(momentum='0.9'), r'momentum must be a real number'),
  ],
)
def test_entropy_sgd_constructor_type_errors(kwargs, message):
  with pytest.raises(TypeError, match=message):
    entropy_sgd(**kwargs)


@pytest.mark.parametrize(
  'kwargs,message',
  [
    (dict(L=0), r'L \(the number of Langevin steps\) must be an integer >= 1'),
    (dict(L=-3), r'L \(the number of Langevin steps\) must be an integer >= 1'),
    (dict(learning_rate=-0.1), r'learning_rate must be a float >= 0'),
    (dict(learning_rate=float('nan')), r'learning_rate must be a float >= 0'),
    (dict(momentum=-0.9), r'momentum must be a float >= 0'),
    (dict(damp=1.5), r'damp must be in \[0, 1\]'),
    (dict(weight_decay=-1e-4), r'weight_decay must be a float >= 0'),
    (dict(eps=-1e-4), r'eps must be a float >= 0'),
    (dict(g0=-1e-2), r'g0 must be a float >= 0'),
    (dict(g1=-1.0), r'g1 must be a float > -1'),
    (dict(langevin_learning_rate=0.0), r'langevin_learning_rate must be a float > 0'),
    (dict(langevin_beta1=1.0), r'langevin_beta1 must be in \[0, 1\)'),
  ],
)
def test_entropy_sgd_constructor_errors(kwargs, message):
  with pytest.raises(ValueError, match=message):
    entropy_sgd(**kwargs)


@pytest.mark.parametrize(
  'kwargs,message',
  [
    (dict(learning_rate=-0.1), r'learning_rate must be a float >= 0'),
    (dict(learning_rate=float('inf')), r'learning_rate must be a float >= 0'),
    (dict(learning_rate=0.1, kappa=0.0), r'kappa must be a float > 0'),
    (dict(learning_rate=0.1, xi=-1.0), r'xi must be a float > 0'),
    (dict(learning_rate=0.1, small_const=0.0), r'small_const must be in'),
    (dict(learning_rate=0.1, small_const=1.5), r'small_const must be in'),
    (dict(learning_rate=0.1, weight_decay=-1e-4), r'weight_decay must be a float >= 0'),
    (
      dict(learning_rate=0.1, kappa=1.0, xi=10.0),
      r'kappa and xi must satisfy small_const\*\*2 \* xi <= kappa',
    ),
  ],
)
def test_accelerated_sgd_constructor_errors(kwargs, message):
  with pytest.raises(ValueError, match=message):
    accelerated_sgd(**kwargs)


def test_constructors_accept_schedules_and_defaults():
  schedule = optax.constant_schedule(0.1)
  entropy_sgd(learning_rate=schedule)
  accelerated_sgd(schedule)
  tx = entropy_sgd()
  assert isinstance(tx, optax.GradientTransformationExtraArgs)
  assert isinstance(accelerated_sgd(0.1), optax.GradientTransformation)
  assert accelerated_sgd_lib.__all__ == ['AcceleratedSGDState', 'accelerated_sgd']
  assert entropy_sgd_lib.__all__ == ['EntropySGDState', 'entropy_sgd']
  assert accelerated_sgd_lib.accelerated_sgd is accelerated_sgd
  assert entropy_sgd_lib.entropy_sgd is entropy_sgd
