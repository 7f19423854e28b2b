"""Tests of train/diagnostics.py (θ statistics, samples, plots) and train/tensorboard.py."""

import math
import pathlib
import struct

import jax
import jax.numpy as jnp
import matplotlib.image
import numpy as np
import pytest
from flax import nnx

from adadecay_optax import adadecay_theta
from train import diagnostics
from train import tensorboard

ALPHA = 4.0
LAMBDA = 5e-4
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def _theta_np(g, alpha=ALPHA):
  """Eqs. 10-12 in float64 NumPy, independently of the library."""
  a = np.abs(np.asarray(g, np.float64))
  if a.max() == a.min():
    return np.ones_like(a)
  z = (a - a.mean()) / a.std()
  return 2.0 / (1.0 + np.exp(-alpha * z))


def _tree():
  """A hand-made (grads, params) pair with nested dict/list keys."""
  rng = np.random.default_rng(0)
  grads = {
    'const': jnp.array([0.5, -0.5, 0.5, 0.5], jnp.float32),  # |g| constant
    'two': jnp.array([1.0, -3.0], jnp.float32),  # |g| = [1, 3]
    'hidden_layers': [
      {
        'kernel': jnp.asarray(rng.normal(size=(7, 5)), jnp.float32),
        'bias': jnp.asarray(rng.normal(size=(5,)), jnp.float32),
      }
    ],
  }
  params = {
    'const': jnp.array([1.0, -2.0, 3.0, 0.0], jnp.float32),
    'two': jnp.array([2.0, -4.0], jnp.float32),
    'hidden_layers': [
      {
        'kernel': jnp.asarray(rng.normal(size=(7, 5)), jnp.float32),
        'bias': jnp.asarray(rng.normal(size=(5,)), jnp.float32),
      }
    ],
  }
  return grads, params


def _stats_np(theta, w, lam=LAMBDA):
  theta, absw = np.ravel(theta), np.abs(np.ravel(w))
  return {
    'theta_mean': theta.mean(),
    'theta_std': theta.std(),
    'frac_theta_above_1.5': np.mean(theta > 1.5),
    'frac_theta_below_0.5': np.mean(theta < 0.5),
    'decay_rate_mean': lam * theta.mean(),
    'decay_abs_w_mean': lam * np.mean(theta * absw),
  }


# -- statistics ---------------------------------------------------------------


def test_layer_names_and_keys():
  grads, params = _tree()
  stats = diagnostics.theta_statistics(grads, params, alpha=ALPHA, weight_decay=LAMBDA)
  assert sorted(stats) == sorted(['const', 'two', 'hidden_layers/0/kernel', 'hidden_layers/0/bias'])
  for by_stat in stats.values():
    assert tuple(by_stat) == diagnostics.STATISTICS
    for v in by_stat.values():
      assert v.shape == () and v.dtype == jnp.float32


def test_constant_gradient_gives_theta_one():
  grads, params = _tree()
  s = diagnostics.theta_statistics(grads, params, alpha=ALPHA, weight_decay=LAMBDA)['const']
  assert float(s['theta_mean']) == 1.0
  assert float(s['theta_std']) == 0.0
  assert float(s['frac_theta_above_1.5']) == 0.0
  assert float(s['frac_theta_below_0.5']) == 0.0
  np.testing.assert_allclose(float(s['decay_rate_mean']), LAMBDA, rtol=1e-6)
  # mean |w| = (1 + 2 + 3 + 0) / 4 = 1.5.
  np.testing.assert_allclose(float(s['decay_abs_w_mean']), 1.5 * LAMBDA, rtol=1e-6)


def test_two_values_by_hand():
  # |g| = [1, 3]: mean 2, population std 1, ĝ = [-1, +1],
  # θ = 2 / (1 + e^{±α}): θ_lo = 2/(1+e^4) = 0.03597, θ_hi = 2/(1+e^-4) = 1.96403.
  theta_lo = 2 / (1 + math.exp(ALPHA))
  theta_hi = 2 / (1 + math.exp(-ALPHA))
  assert theta_lo == pytest.approx(0.0359724, abs=1e-6)
  grads, params = _tree()
  s = diagnostics.theta_statistics(grads, params, alpha=ALPHA, weight_decay=LAMBDA)['two']
  np.testing.assert_allclose(float(s['theta_mean']), 1.0, rtol=1e-6)  # θ(-x)+θ(x) = 2
  np.testing.assert_allclose(float(s['theta_std']), (theta_hi - theta_lo) / 2, rtol=1e-5)
  assert float(s['frac_theta_above_1.5']) == 0.5
  assert float(s['frac_theta_below_0.5']) == 0.5
  np.testing.assert_allclose(float(s['decay_rate_mean']), LAMBDA, rtol=1e-6)
  # w = [2, -4]: λ (2 θ_lo + 4 θ_hi) / 2.
  np.testing.assert_allclose(
    float(s['decay_abs_w_mean']), LAMBDA * (2 * theta_lo + 4 * theta_hi) / 2, rtol=1e-5
  )


def test_statistics_match_numpy_and_library():
  grads, params = _tree()
  stats = diagnostics.theta_statistics(grads, params, alpha=ALPHA, weight_decay=LAMBDA)
  thetas = adadecay_theta(grads, ALPHA)
  for layer, g, theta_lib, w in [
    (
      'hidden_layers/0/kernel',
      grads['hidden_layers'][0]['kernel'],
      thetas['hidden_layers'][0]['kernel'],
      params['hidden_layers'][0]['kernel'],
    ),
    (
      'hidden_layers/0/bias',
      grads['hidden_layers'][0]['bias'],
      thetas['hidden_layers'][0]['bias'],
      params['hidden_layers'][0]['bias'],
    ),
  ]:
    np.testing.assert_allclose(np.asarray(theta_lib), _theta_np(g), rtol=1e-5, atol=1e-6)
    expected = _stats_np(np.asarray(theta_lib, np.float64), w)
    for key, value in expected.items():
      np.testing.assert_allclose(
        float(stats[layer][key]), value, rtol=1e-5, atol=1e-7, err_msg=f'{layer} {key}'
      )


def test_jit_and_vmap_over_three_trials():
  grads, params = _tree()
  scale = jnp.array([1.0, 2.0, 0.5])
  rng = np.random.default_rng(1)
  # Trial t: a fresh random kernel gradient; the rest scaled per trial.
  stacked_g = jax.tree.map(lambda x: jnp.stack([x * s for s in scale]), grads)
  kernels = jnp.asarray(rng.normal(size=(3, 7, 5)), jnp.float32)
  stacked_g['hidden_layers'][0]['kernel'] = kernels
  stacked_w = jax.tree.map(lambda x: jnp.stack([x, 2 * x, -x]), params)

  fn = jax.jit(
    jax.vmap(
      lambda g, w, lam: diagnostics.theta_statistics(g, w, alpha=ALPHA, weight_decay=lam),
      in_axes=(0, 0, None),
    )
  )
  stats = fn(stacked_g, stacked_w, jnp.float32(LAMBDA))
  for by_stat in stats.values():
    for v in by_stat.values():
      assert v.shape == (3,) and v.dtype == jnp.float32
  # θ is invariant to rescaling g, so 'two' is the same in every trial.
  np.testing.assert_allclose(stats['two']['theta_mean'], [1.0] * 3, rtol=1e-6)
  for t in range(3):
    w = np.asarray(stacked_w['hidden_layers'][0]['kernel'][t])
    expected = _stats_np(_theta_np(kernels[t]), w)
    for key, value in expected.items():
      np.testing.assert_allclose(
        float(stats['hidden_layers/0/kernel'][key][t]),
        value,
        rtol=1e-5,
        atol=1e-7,
        err_msg=f'{t} {key}',
      )

  flat = diagnostics.flatten_statistics(stats, prefix='theta')
  assert flat['theta/two/theta_mean'].shape == (3,)
  tags = tensorboard.trial_scalars(flat, prefix='adadecay')
  assert tags['adadecay/theta/two/theta_mean/trial_mean'] == pytest.approx(1.0, rel=1e-6)


def test_nnx_state_names_and_mismatch():
  class Net(nnx.Module):
    def __init__(self, rngs):
      self.hidden_layers = nnx.List([nnx.Linear(4, 3, rngs=rngs)])
      self.head = nnx.Linear(3, 2, rngs=rngs)

  params = nnx.state(Net(nnx.Rngs(0)), nnx.Param)
  grads = jax.tree.map(lambda x: jnp.arange(x.size, dtype=jnp.float32).reshape(x.shape) + 1, params)
  stats = diagnostics.theta_statistics(grads, params, alpha=ALPHA, weight_decay=LAMBDA)
  assert set(stats) == {
    'hidden_layers/0/kernel',
    'hidden_layers/0/bias',
    'head/kernel',
    'head/bias',
  }
  samples = diagnostics.theta_samples(grads, params, alpha=ALPHA)
  assert set(samples) == set(stats)
  with pytest.raises(ValueError):
    diagnostics.theta_statistics(grads, {'x': jnp.ones(3)}, alpha=ALPHA, weight_decay=LAMBDA)


# -- samples ------------------------------------------------------------------


def test_sample_shapes_strided_and_random():
  grads, params = _tree()
  samples = diagnostics.theta_samples(grads, params, alpha=ALPHA, max_per_layer=8)
  shapes = {k: (t.shape, a.shape) for k, (t, a) in samples.items()}
  assert shapes == {
    'const': ((4,), (4,)),
    'two': ((2,), (2,)),
    'hidden_layers/0/kernel': ((8,), (8,)),
    'hidden_layers/0/bias': ((5,), (5,)),
  }
  # Strided: flat[(i * 35) // 8] = flat[0, 4, 8, 13, 17, 21, 26, 30].
  g = grads['hidden_layers'][0]['kernel']
  w = params['hidden_layers'][0]['kernel']
  idx = np.array([0, 4, 8, 13, 17, 21, 26, 30])
  theta, absw = samples['hidden_layers/0/kernel']
  assert theta.dtype == jnp.float32 and absw.dtype == jnp.float32
  np.testing.assert_allclose(theta, _theta_np(g).ravel()[idx], rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(absw, np.abs(np.asarray(w)).ravel()[idx])
  # Small leaves come whole and in order.
  np.testing.assert_array_equal(samples['two'][1], [2.0, 4.0])

  fn = jax.jit(
    jax.vmap(lambda g, w, k: diagnostics.theta_samples(g, w, alpha=ALPHA, max_per_layer=8, key=k))
  )
  stacked_g = jax.tree.map(lambda x: jnp.stack([x] * 3), grads)
  stacked_w = jax.tree.map(lambda x: jnp.stack([x] * 3), params)
  rand = fn(stacked_g, stacked_w, jax.random.split(jax.random.key(0), 3))
  theta_r, absw_r = rand['hidden_layers/0/kernel']
  assert theta_r.shape == absw_r.shape == (3, 8)
  all_absw = np.abs(np.asarray(w)).ravel()
  for t in range(3):  # distinct elements of the layer, pairs kept together
    pos = [int(np.flatnonzero(all_absw == v)[0]) for v in np.asarray(absw_r[t])]
    assert len(set(pos)) == 8
    np.testing.assert_allclose(theta_r[t], _theta_np(g).ravel()[pos], rtol=1e-5, atol=1e-6)
  assert not np.array_equal(absw_r[0], absw_r[1])  # different keys, different subsets


# -- plots --------------------------------------------------------------------


def _assert_nonblank_png(path):
  path = pathlib.Path(path)
  assert path.read_bytes()[:8] == PNG_SIGNATURE
  image = matplotlib.image.imread(path)
  assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
  assert np.ptp(image[..., :3]) > 0.5  # not one colour
  assert not list(path.parent.glob('.*.tmp'))  # the temporary file is gone


def test_plots_are_written(tmp_path):
  grads, params = _tree()
  by_epoch = {}
  for epoch in range(8):
    g = jax.tree.map(
      lambda x: x * (1 + epoch) ** np.linspace(0, 1, x.size).reshape(x.shape).astype(np.float32),
      grads,
    )
    by_epoch[epoch] = jax.device_get(diagnostics.theta_samples(g, params, alpha=ALPHA))
  out = diagnostics.plot_theta_histograms(by_epoch, tmp_path / 'sub' / 'hist.png')
  assert out == tmp_path / 'sub' / 'hist.png'
  _assert_nonblank_png(out)
  # With a trial axis (pooled) and a zero weight (left out of the log axis).
  stacked = jax.tree.map(lambda x: np.stack([x, x]), by_epoch[3])
  out = diagnostics.plot_theta_vs_weight(stacked, tmp_path / 'scatter.png')
  _assert_nonblank_png(out)
  # Replacing an existing file works.
  diagnostics.plot_theta_vs_weight(by_epoch[0], tmp_path / 'scatter.png')
  _assert_nonblank_png(tmp_path / 'scatter.png')


# -- TensorBoard --------------------------------------------------------------


def _masked_crc(data: bytes) -> int:
  from tensorboardX.crc32c import crc32c

  crc = crc32c(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _read_events(path):
  """Reads a TFRecord event file (checking its CRCs) into Event protos."""
  from tensorboardX.proto import event_pb2

  data, events, pos = pathlib.Path(path).read_bytes(), [], 0
  while pos < len(data):
    header = data[pos : pos + 8]
    (length,) = struct.unpack('<Q', header)
    assert struct.unpack('<I', data[pos + 8 : pos + 12])[0] == _masked_crc(header)
    body = data[pos + 12 : pos + 12 + length]
    assert struct.unpack('<I', data[pos + 12 + length : pos + 16 + length])[0] == _masked_crc(body)
    events.append(event_pb2.Event.FromString(body))
    pos += 16 + length
  return events


def test_tensorboard_logger_writes_scalars_and_histograms(tmp_path):
  pytest.importorskip('tensorboardX')
  logged = {
    0: {'sgd/test_accuracy/trial_mean': 0.5, 'sgd/train_loss/trial_mean': 2.25},
    1: {
      'sgd/test_accuracy/trial_mean': np.float32(0.75),
      'sgd/train_loss/trial_mean': jnp.asarray(1.125),
    },
    7: {'sgd/test_accuracy/trial_mean': 0.875},
  }
  with tensorboard.TensorBoardLogger(tmp_path / 'tb') as tb:
    for step, values in logged.items():
      tb.scalars(step, values)
    tb.histogram(7, 'adadecay/theta/head/kernel', np.array([[0.1, 1.0], [1.9, np.nan]]))
    tb.flush()
    with pytest.raises(ValueError):
      tb.scalars(8, {'x': np.ones(3)})
  tb.close()  # a second close is harmless
  files = list((tmp_path / 'tb').glob('events.out.tfevents.*'))
  assert len(files) == 1
  events = _read_events(files[0])
  assert events[0].file_version.startswith('brain.Event')
  scalars, histograms = {}, {}
  for e in events:
    for v in e.summary.value:
      if v.HasField('histo'):
        histograms[(e.step, v.tag)] = v.histo
      else:
        scalars[(e.step, v.tag)] = v.simple_value
  expected = {(s, t): float(v) for s, vs in logged.items() for t, v in vs.items()}
  assert scalars == pytest.approx(expected)  # values are exact in float32
  histo = histograms[(7, 'adadecay/theta/head/kernel')]
  assert histo.num == 3  # NaN dropped
  assert histo.min == pytest.approx(0.1) and histo.max == pytest.approx(1.9)


def test_null_logger_does_nothing(tmp_path):
  for tb in (tensorboard.NullLogger(), tensorboard.make_logger(None)):
    with tb as t:
      t.scalars(0, {'sgd/test_accuracy/trial_mean': 0.5})
      t.scalars(1, {'bad': np.ones(3)})  # not even checked
      t.histogram(0, 'h', np.ones(10))
      t.flush()
    tb.close()
  assert isinstance(tensorboard.make_logger(None), tensorboard.NullLogger)
  with tensorboard.make_logger(tmp_path / 'x') as tb:
    assert isinstance(tb, tensorboard.TensorBoardLogger)


def test_trial_scalars():
  tags = tensorboard.trial_scalars(
    {'test_accuracy': np.array([0.5, 1.0]), 'lr': 0.1},
    prefix='sgd',
    reductions=('mean', 'min', 'max'),
  )
  assert tags == {
    'sgd/test_accuracy/trial_mean': 0.75,
    'sgd/test_accuracy/trial_min': 0.5,
    'sgd/test_accuracy/trial_max': 1.0,
    'sgd/lr': 0.1,
  }
  with pytest.raises(ValueError):
    tensorboard.trial_scalars({'x': np.ones((2, 2))})
