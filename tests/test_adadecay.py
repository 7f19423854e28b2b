"""AdaDecay against an independent float64 NumPy transcription of eqs. 10-13."""

import numpy as np
import optax
import pytest
import jax
import jax.numpy as jnp
import scipy.stats

import adadecay_optax as ad


# -- the reference: eqs. 10-12 of the paper, in float64 NumPy ----------------


def reference_theta(g: np.ndarray, alpha: float) -> np.ndarray:
  a = np.abs(np.asarray(g, np.float64))  # eq. 10
  std = a.std()  # population std (ddof=0)
  ghat = np.zeros_like(a) if std == 0 else (a - a.mean()) / std  # eq. 11
  return 2.0 / (1.0 + np.exp(-alpha * ghat))  # eq. 12


def reference_update(g, w, weight_decay, alpha):
  return np.asarray(g, np.float64) + weight_decay * reference_theta(g, alpha) * np.asarray(
    w, np.float64
  )  # eq. 9


def random_tree(seed: int, big: bool = True):
  """Conv and dense kernels, biases, a scalar, and a heavy-tailed 10^6 leaf."""
  rng = np.random.default_rng(seed)
  shapes = {
    'conv': (3, 3, 16, 32),
    'conv_bias': (32,),
    'dense': (512, 10),
    'dense_bias': (10,),
    'scalar': (),
  }
  grads = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
  params = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
  if big:
    # Heavy tails over many orders of magnitude: |g| = 10^U(-8, 2) times a
    # Student-t(1.5) draw, with random signs.
    n = 10**6
    mag = 10.0 ** rng.uniform(-8, 2, n) * np.abs(rng.standard_t(1.5, n))
    grads['heavy'] = (mag * rng.choice([-1, 1], n)).astype(np.float32)
    params['heavy'] = rng.normal(size=n).astype(np.float32)
  return grads, params


def assert_theta_close(got, want, name=''):
  """Relative error <= 1e-5 wherever θ is a normal float32 number.

  Far outliers (ĝ ~ 1e3 under Student-t tails) with α < 0 have θ below
  float32's smallest normal number, 1.2e-38, in float64 too: there θ must
  underflow to (nearly) zero as well.
  """
  got = np.asarray(got, np.float64)
  normal = want > np.finfo(np.float32).tiny
  np.testing.assert_allclose(got[normal], want[normal], rtol=1e-5, atol=0, err_msg=name)
  assert np.all(got[~normal] <= np.finfo(np.float32).tiny), name


@pytest.mark.parametrize('alpha', [-1.0, 1.0, 4.0, 8.0])
def test_theta_and_update_match_float64_reference(alpha):
  grads, params = random_tree(seed=int(alpha) + 10)
  thetas = jax.jit(ad.adadecay_theta)(grads, alpha)
  tx = ad.adadecay(weight_decay=0.1, alpha=alpha)
  updates, _ = jax.jit(tx.update)(grads, tx.init(params), params)
  for name in grads:
    assert_theta_close(thetas[name], reference_theta(grads[name], alpha), name)
    np.testing.assert_allclose(
      updates[name],
      reference_update(grads[name], params[name], 0.1, alpha),
      rtol=1e-5,
      atol=1e-7,
      err_msg=name,
    )


def test_theta_extreme_magnitudes_match_reference():
  # Squares of 1e-25 underflow and of 1e25 overflow float32: the
  # implementation must not depend on them.
  rng = np.random.default_rng(3)
  base = rng.normal(size=1000)
  for scale in (1e-30, 1e-25, 1e25, 1e30):
    g = (base * scale).astype(np.float32)
    np.testing.assert_allclose(
      ad.adadecay_theta(jnp.asarray(g), 4.0), reference_theta(g, 4.0), rtol=1e-5, err_msg=str(scale)
    )


@pytest.mark.parametrize('cv, alphas', [(0.1, (1.0, 4.0, 8.0)), (0.03, (4.0,)), (0.01, (8.0,))])
def test_theta_low_spread_leaf_matches_reference(cv, alphas):
  # |g| = 1 ± cv: the one-pass variance E[a²] - E[a]² cancels here (its error
  # grows like 1/cv², measured 3e-5 to 3e-3 in float32); so does a plain
  # two-pass mean, less (measured 1e-5 at cv = 0.03, 2.4e-5 at 0.01, α = 8),
  # unless corrected. 65,536 elements, random signs.
  rng = np.random.default_rng(5)
  shape = (256, 256)
  g = ((1 + cv * rng.normal(size=shape)) * rng.choice([-1, 1], shape)).astype(np.float32)
  for alpha in alphas:
    assert_theta_close(
      ad.adadecay_theta(jnp.asarray(g), alpha), reference_theta(g, alpha), f'cv={cv} alpha={alpha}'
    )


def test_theta_structured_conv_kernel_matches_reference():
  # A structured kernel: one dead output channel (|g| = 0, a ReLU unit that
  # never fires) and one 1e4 times hotter than the rest.
  rng = np.random.default_rng(6)
  g = rng.normal(size=(3, 3, 64, 128)).astype(np.float32)
  g[..., 0] = 0
  g[..., 1] *= 1e4
  for alpha in (-1.0, 4.0, 8.0):
    assert_theta_close(
      ad.adadecay_theta(jnp.asarray(g), alpha), reference_theta(g, alpha), f'alpha={alpha}'
    )


@pytest.mark.parametrize('first', ['typical', 'outlier'])
def test_theta_with_large_values_at_regular_positions_matches_reference(first):
  # Large values on a regular grid of a 4M-element leaf (every 2^18-th
  # element from 2^17, nearly 1000 times the rest), where evenly spaced
  # sample points would all land, and in one case also the first element:
  # a mean summed about one of them, uncorrected, is off by 5e-5 to 2e-4.
  n = 2**22
  g = np.full(n, 1e-3, np.float32)
  g[2**17 :: 2**18] = 1.1
  if first == 'outlier':
    g[0] = 1.1
  for alpha in (4.0, 8.0):
    assert_theta_close(
      ad.adadecay_theta(jnp.asarray(g), alpha), reference_theta(g, alpha), f'alpha={alpha}'
    )


def test_theta_tiny_magnitudes_match_reference():
  # |g| ~ 1e-35 with a 10% spread: the squared deviations (~1e-72) underflow
  # float32 unless rescaled first, and at 1e-37 differences of |g| fall
  # under float32's least normal number (1.2e-38) unless rescaled first.
  rng = np.random.default_rng(7)
  for scale in (1e-33, 1e-35, 1e-37):
    g = (scale * (1 + 0.1 * rng.normal(size=10_000))).astype(np.float32)
    assert_theta_close(ad.adadecay_theta(jnp.asarray(g), 4.0), reference_theta(g, 4.0), str(scale))


def test_theta_float64_extreme_magnitudes_match_reference():
  # ĝ does not depend on the gradient's scale, so θ(base·1e±200) must match
  # the reference on base itself (where NumPy's own std would underflow).
  rng = np.random.default_rng(8)
  base = rng.normal(size=1000)
  with jax.enable_x64(True):
    for scale in (1e-200, 1e200):
      theta = ad.adadecay_theta(jnp.asarray(base * scale), 4.0)
      assert theta.dtype == jnp.float64
      np.testing.assert_allclose(theta, reference_theta(base, 4.0), rtol=1e-12, err_msg=str(scale))


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize('alpha', [0.0, 4.0])
def test_non_finite_gradient_gives_add_decayed_weights_on_its_leaf(bad, alpha):
  # The leaf's statistics are then undefined: θ = 1 on it, so its update is
  # optax.add_decayed_weights' bit for bit, non-finite only where g is
  # (optax.apply_if_finite can then skip the step).
  g = jnp.arange(1.0, 9.0).at[3].set(bad)
  w = jnp.linspace(-1.0, 1.0, 8)
  grads, params = {'bad': g, 'ok': jnp.arange(1.0, 9.0)}, {'bad': w, 'ok': w}
  tx = ad.adadecay(weight_decay=0.1, alpha=alpha)
  updates, _ = tx.update(grads, tx.init(params), params)
  base = optax.add_decayed_weights(0.1)
  want, _ = base.update(grads, base.init(params), params)
  np.testing.assert_array_equal(updates['bad'], want['bad'])
  assert np.isfinite(np.asarray(updates['bad'])).sum() == 7
  # The other leaf keeps its adaptive θ.
  theta_ok = ad.adadecay_theta(grads['ok'], alpha)
  np.testing.assert_allclose(updates['ok'], grads['ok'] + 0.1 * theta_ok * w, rtol=1e-6)


def test_theta_is_in_open_interval_and_centred():
  grads, _ = random_tree(seed=1, big=False)
  # (0, 2) exactly; in float32, 2/(1+e^-x) rounds to 2 for x > 17, and to 0
  # below x = -88 (α = 4 and ĝ = 5 already reaches 2.0).
  for theta in jax.tree.leaves(ad.adadecay_theta(grads, 4.0)):
    assert np.all((theta >= 0) & (theta <= 2))
  for theta in jax.tree.leaves(ad.adadecay_theta(grads, 1.0)):
    assert np.all((theta > 0) & (theta < 2))
  # θ is 2·sigmoid(α ĝ) with ĝ antisymmetric around the mean: for a leaf whose
  # |g| is symmetric about its mean, θ averages to exactly 1.
  g = jnp.array([1.0, 2.0, 3.0, 4.0, 5.0])
  theta = ad.adadecay_theta(g, 4.0)
  np.testing.assert_allclose(theta + theta[::-1], 2.0, rtol=1e-6)
  assert theta[2] == 1.0


@pytest.mark.parametrize(
  'g',
  [
    jnp.float32(3.0),
    jnp.array([0.7]),
    jnp.zeros((4, 5)),
    jnp.full((3, 3, 8, 8), 0.1),
    jnp.array([0.1, -0.1, 0.1, -0.1]),
    jnp.full((1000,), 1e-30),
    jnp.full((7,), 1e30),
  ],
)
def test_constant_magnitude_gives_theta_exactly_one(g):
  theta = ad.adadecay_theta(g, 8.0)
  assert theta.shape == g.shape
  assert np.all(np.asarray(theta) == 1.0)


def test_empty_leaf_gives_empty_theta_and_update():
  g = jnp.zeros((0, 3))
  assert ad.adadecay_theta({'e': g, 'w': jnp.ones(2)}, 4.0)['e'].shape == (0, 3)
  tx = ad.adadecay()
  updates, _ = tx.update(g, tx.init(g), g)
  assert updates.shape == (0, 3)


@pytest.mark.parametrize('exponent', [-100, -103, -126])
def test_tiny_leaf_with_one_ulp_spread_matches_reference(exponent):
  # 999 equal magnitudes 2^e and one a single ulp above: ĝ of that one is
  # (n-1)/sqrt(n-1) = 31.6, so θ = 2/(1 + e^-126) rounds to 2.0 in float32.
  # 1/std is ~1e40 here, past float32's range, and from 2^-103 on the ulp
  # is below float32's least normal number, which the CPU flushes to zero:
  # ĝ must be formed in rescaled units.
  g = np.full(1000, 2.0**exponent, np.float32)
  g[0] = np.nextafter(g[0], np.float32(1))
  theta = np.asarray(ad.adadecay_theta(jnp.asarray(g), 4.0))
  assert theta[0] == 2.0
  assert_theta_close(theta, reference_theta(g, 4.0))
  assert np.all(np.asarray(ad.adadecay_theta(jnp.asarray(g), 0.0)) == 1.0)


def test_scale_and_sign_invariance():
  grads, _ = random_tree(seed=2, big=False)
  theta = ad.adadecay_theta(grads, 4.0)
  # Powers of two scale exactly in floating point: bit-equal θ.
  for c in (2.0**-40, 0.5, 8.0, 2.0**40, -1.0, -4.0):
    scaled = jax.tree.map(lambda g, c=c: g * c, grads)
    jax.tree.map(np.testing.assert_array_equal, ad.adadecay_theta(scaled, 4.0), theta)
  # Any other positive factor: equal up to float32 rounding.
  for c in (1e-20, 3.7, 1e20):
    scaled = jax.tree.map(lambda g, c=c: g * c, grads)
    jax.tree.map(
      lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5),
      ad.adadecay_theta(scaled, 4.0),
      theta,
    )


@pytest.mark.parametrize('dtype', [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize('scheduled', [False, True])
def test_alpha_zero_is_add_decayed_weights_bit_for_bit(dtype, scheduled):
  grads, params = random_tree(seed=4, big=False)
  grads = jax.tree.map(lambda x: jnp.asarray(x, dtype), grads)
  params = jax.tree.map(lambda x: jnp.asarray(x, dtype), params)
  wd = optax.linear_schedule(1e-3, 1e-4, 10) if scheduled else 5e-4
  ours, theirs = ad.adadecay(wd, alpha=0.0), optax.add_decayed_weights(wd)
  s1, s2 = ours.init(params), theirs.init(params)
  for _ in range(3):
    u1, s1 = jax.jit(ours.update)(grads, s1, params)
    u2, s2 = jax.jit(theirs.update)(grads, s2, params)
    assert jax.tree.map(lambda x: x.dtype, u1) == jax.tree.map(lambda x: x.dtype, grads)
    # optax promotes bf16 updates to float32 when λ comes from a (float32)
    # schedule; we keep the updates' dtype, i.e. optax's result rounded once.
    u2 = jax.tree.map(lambda x: x.astype(dtype), u2)
    jax.tree.map(np.testing.assert_array_equal, u1, u2)
  jax.tree.map(np.testing.assert_array_equal, jax.tree.leaves(s1), jax.tree.leaves(s2))


def test_bf16_statistics_in_float32():
  g32 = jnp.asarray(random_tree(5, big=False)[0]['conv'])
  g16 = g32.astype(jnp.bfloat16)
  p16 = jnp.ones_like(g16)
  u, _ = ad.adadecay(0.5, 4.0).update(g16, optax.EmptyState(), p16)
  assert u.dtype == jnp.bfloat16
  # θ from the bf16 gradient, computed in float64: the update must match it to
  # bf16 precision (statistics in bf16 would be far off for 4608 elements).
  want = reference_update(np.asarray(g16, np.float32), 1.0, 0.5, 4.0)
  np.testing.assert_allclose(np.asarray(u, np.float32), want, rtol=1e-2, atol=1e-2)
  theta = ad.adadecay_theta(g16, 4.0)
  assert theta.dtype == jnp.float32
  np.testing.assert_allclose(theta, reference_theta(np.asarray(g16, np.float32), 4.0), rtol=1e-5)


def test_weight_decay_schedule_is_applied_per_step():
  sched = lambda count: 0.1 * (count + 1)  # 0.1, 0.2, 0.3, ...
  tx = ad.adadecay(sched, alpha=0.0)
  params = jnp.array([1.0, 2.0])
  grads = jnp.zeros(2)
  state = tx.init(params)
  for step in range(3):
    updates, state = tx.update(grads, state, params)
    np.testing.assert_allclose(updates, 0.1 * (step + 1) * params, rtol=1e-6)
  assert int(state.count) == 3


def test_none_leaves_pass_through():
  params = {'a': jnp.ones(3), 'b': jnp.ones(2)}
  grads = {'a': jnp.array([1.0, 2.0, 3.0]), 'b': None}
  updates, _ = ad.adadecay(0.1).update(grads, optax.EmptyState(), params)
  assert updates['b'] is None
  np.testing.assert_allclose(updates['a'], reference_update(grads['a'], 1.0, 0.1, 4.0), rtol=1e-6)
  assert ad.adadecay_theta(grads)['b'] is None


@pytest.mark.parametrize('mask_kind', ['tree', 'callable'])
def test_mask_skips_leaves(mask_kind):
  params = {'kernel': jnp.ones((4, 3)), 'bias': jnp.ones(3)}
  grads = {'kernel': jnp.arange(12.0).reshape(4, 3), 'bias': jnp.arange(3.0)}
  mask = {'kernel': True, 'bias': False}
  if mask_kind == 'callable':
    mask = lambda p: jax.tree.map(lambda x: x.ndim > 1, p)
  tx = ad.adadecay(0.1, 4.0, mask=mask)
  updates, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_array_equal(updates['bias'], grads['bias'])
  np.testing.assert_allclose(
    updates['kernel'], reference_update(grads['kernel'], 1.0, 0.1, 4.0), rtol=1e-6
  )
  # The same through optax.masked around the unmasked transform.
  tx2 = optax.masked(ad.adadecay(0.1, 4.0), mask)
  updates2, _ = tx2.update(grads, tx2.init(params), params)
  jax.tree.map(np.testing.assert_array_equal, updates, updates2)


# -- errors -------------------------------------------------------------------


def test_update_without_params_raises():
  for tx in (ad.adadecay(), ad.randomized_decay(5e-4, 4.0, key=0)):
    with pytest.raises(ValueError, match='needs the current parameters'):
      tx.update({'w': jnp.ones(2)}, tx.init({'w': jnp.ones(2)}))


@pytest.mark.parametrize('bad', [-1e-4, float('nan'), float('inf')])
def test_bad_weight_decay_raises_at_construction(bad):
  for factory in (ad.adadecay, ad.adadecay_sgd, ad.sgd_with_weight_decay, ad.randomized_decay):
    kwargs = {'learning_rate': 0.1} if 'sgd' in factory.__name__ else {}
    if factory is ad.randomized_decay:
      kwargs = {'alpha': 4.0, 'key': 0}
    with pytest.raises(ValueError, match='weight_decay must be finite and >= 0'):
      factory(weight_decay=bad, **kwargs)


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_bad_alpha_raises_at_construction(bad):
  with pytest.raises(ValueError, match='alpha must be a finite number'):
    ad.adadecay(alpha=bad)
  with pytest.raises(ValueError, match='alpha must be a finite number'):
    ad.adadecay_sgd(0.1, alpha=bad)
  with pytest.raises(ValueError, match='alpha must be a finite number'):
    ad.randomized_decay(5e-4, bad, key=0)
  with pytest.raises(ValueError, match='alpha must be a finite number'):
    ad.adadecay_theta(jnp.ones(3), bad)


def test_bad_types_raise():
  with pytest.raises(TypeError, match='weight_decay must be a real number'):
    ad.adadecay(weight_decay='5e-4')
  with pytest.raises(TypeError, match='alpha must be a real number'):
    ad.adadecay(alpha='four')


# -- the randomized ablation (eq. 13) ----------------------------------------


def test_randomized_theta_has_the_distribution_of_s_of_a_normal():
  # α = 1 keeps every θ strictly inside (0, 2) in float32 (|z| < 16).
  alpha, n = 1.0, 200_000
  params = jnp.ones(n)
  tx = ad.randomized_decay(weight_decay=1.0, alpha=alpha, key=7)
  state = tx.init(params)
  updates, state = tx.update(jnp.zeros(n), state, params)
  theta = np.asarray(updates, np.float64)  # g = 0, λ = 1, w = 1: u = θ
  assert np.all((theta > 0) & (theta < 2))
  # Invert eq. 12: z = logit(θ/2) / α must be standard normal.
  z = np.log(theta / (2 - theta)) / alpha
  assert scipy.stats.kstest(z, 'norm').pvalue > 1e-3
  # A fresh draw each step, reproducible from the key, independent of g.
  updates2, _ = tx.update(jnp.zeros(n), state, params)
  assert not np.allclose(updates, updates2)
  again, _ = tx.update(jnp.full(n, 3.0), tx.init(params), params)
  np.testing.assert_allclose(np.asarray(again) - 3.0, theta, atol=1e-5)


def test_randomized_with_typed_key_and_alpha_zero():
  params = {'w': jnp.ones((5, 5))}
  grads = {'w': jnp.full((5, 5), 0.25)}
  tx = ad.randomized_decay(0.01, 0.0, key=jax.random.key(3))
  updates, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_array_equal(
    updates['w'], optax.add_decayed_weights(0.01).update(grads, optax.EmptyState(), params)[0]['w']
  )


# -- the optimizers and the schedule -------------------------------------------


def test_adadecay_sgd_matches_pytorch_style_recursion():
  # d = g + λθw ; m = μm + d ; w -= η m   (torch.optim.SGD, dampening 0)
  rng = np.random.default_rng(0)
  w = rng.normal(size=(6, 4))
  target = rng.normal(size=(6, 4))
  lr, mu, lam, alpha = 0.05, 0.9, 0.01, 4.0
  tx = ad.adadecay_sgd(lr, momentum=mu, weight_decay=lam, alpha=alpha)
  params = jnp.asarray(w, jnp.float32)
  state = tx.init(params)
  m = np.zeros_like(w)
  for _ in range(5):
    g = 2 * (w - target) * np.arange(1, 5)  # uneven gradient magnitudes
    d = reference_update(g, w, lam, alpha)
    m = mu * m + d
    w = w - lr * m
    updates, state = tx.update(
      jnp.asarray(2 * (np.asarray(params) - target) * np.arange(1, 5), jnp.float32), state, params
    )
    params = optax.apply_updates(params, updates)
  np.testing.assert_allclose(params, w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('nesterov', [False, True])
def test_constant_counterpart_equals_adadecay_sgd_at_alpha_zero(nesterov):
  grads, params = random_tree(6, big=False)
  a = ad.adadecay_sgd(0.1, nesterov=nesterov, alpha=0.0)
  b = ad.sgd_with_weight_decay(0.1, nesterov=nesterov)
  sa, sb = a.init(params), b.init(params)
  for _ in range(3):
    ua, sa = a.update(grads, sa, params)
    ub, sb = b.update(grads, sb, params)
    jax.tree.map(np.testing.assert_array_equal, ua, ub)


def test_sigmoid_schedule_values():
  sched = ad.sigmoid_decay_schedule(0.1, 0.001, transition_steps=1000)
  assert float(sched(0)) == np.float32(0.1)
  assert float(sched(-5)) == np.float32(0.1)
  assert float(sched(1000)) == np.float32(0.001)
  assert float(sched(10**6)) == np.float32(0.001)
  # σ(x) + σ(-x) = 1 makes the midpoint exactly halfway.
  np.testing.assert_allclose(float(sched(500)), (0.1 + 0.001) / 2, rtol=1e-6)
  # The formula at a quarter, evaluated here independently in float64.
  k, s = 10.0, lambda x: 1 / (1 + np.exp(-x))
  r = (s(k * 0.25) - s(-k / 2)) / (s(k / 2) - s(-k / 2))
  np.testing.assert_allclose(float(sched(250)), 0.001 + 0.099 * r, rtol=1e-6)
  values = np.asarray(jax.vmap(sched)(jnp.arange(0, 1001)))
  diffs = np.diff(values)
  assert np.all(diffs <= 0), 'not monotone'
  # Smooth: the steepest step is the midpoint's slope, 0.099·k/4/(span)/T.
  steepest = 0.099 * k / 4 / (s(k / 2) - s(-k / 2)) / 1000
  assert np.max(-diffs) <= steepest * 1.01
  # transition_begin shifts the curve.
  later = ad.sigmoid_decay_schedule(0.1, 0.001, 1000, transition_begin=200)
  assert float(later(200)) == np.float32(0.1)
  np.testing.assert_allclose(float(later(700)), float(sched(500)), rtol=1e-6)


@pytest.mark.parametrize(
  'kwargs, error, match',
  [
    ({'transition_steps': 0}, ValueError, 'transition_steps must be an integer >= 1'),
    ({'transition_steps': 10.5}, TypeError, 'transition_steps must be an integer'),
    ({'transition_steps': 10, 'steepness': 0.0}, ValueError, 'steepness must be > 0'),
    (
      {'transition_steps': 10, 'transition_begin': -1},
      ValueError,
      'transition_begin must be an integer >= 0',
    ),
    ({'transition_steps': 10, 'init_value': float('nan')}, ValueError, 'init_value must be finite'),
  ],
)
def test_sigmoid_schedule_errors(kwargs, error, match):
  kwargs = {'init_value': 0.1, 'end_value': 0.001, **kwargs}
  with pytest.raises(error, match=match):
    ad.sigmoid_decay_schedule(**kwargs)
