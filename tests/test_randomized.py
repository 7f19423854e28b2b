"""The randomized ablation (eq. 13): θ = S(z; α), z ~ N(0, 1) from 16 bits.

z is quantised to the 2¹⁶ quantile midpoints of N(0, 1) (see
``adadecay._standard_normal``). The checks: the quantile table against
scipy, the moments of z, a Kolmogorov–Smirnov test of θ against the CDF of
S(N(0, 1); α) that is shown to reject a 1% error in z's scale, and
independence across elements, steps and (vmapped) trials.

Under independence a sample correlation of n pairs has standard deviation
1/√n; the bounds below are 5/√n (a false alarm once in ~10⁶ per pair), and
the seeds are fixed, so the tests are deterministic.
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

import adadecay_optax as ad

# The module (its name is shadowed by the function adadecay in the package).
adadecay_module = sys.modules['adadecay_optax.adadecay']


def draw_theta(tx, n, steps=1, key_state=None):
  """θ of `steps` consecutive updates on g = 0, λ = 1, w = 1 (so u = θ)."""
  params = jnp.ones(n)
  state = tx.init(params) if key_state is None else key_state
  out = []
  for _ in range(steps):
    u, state = tx.update(jnp.zeros(n), state, params)
    out.append(np.asarray(u, np.float64))
  return np.stack(out)


def z_of_theta(theta, alpha):
  return np.log(theta / (2 - theta)) / alpha  # eq. 12 inverted


def max_abs_offdiagonal_correlation(rows):
  c = np.corrcoef(rows)
  return np.max(np.abs(c[~np.eye(len(c), dtype=bool)]))


def test_quantile_table_is_the_normal_quantile_midpoints():
  table = adadecay_module._normal_quantiles()  # pylint: disable=protected-access
  k = np.arange(2**16)
  reference = scipy.stats.norm.ppf((k + 0.5) / 2**16)
  assert table.dtype == np.float32 and table.shape == (65536,)
  np.testing.assert_allclose(table, reference, rtol=2**-24, atol=1e-12)
  np.testing.assert_array_equal(table[::-1], -table)  # mean exactly 0
  t = table.astype(np.float64)
  # Discretisation: variance 1 - 2.0e-5, kurtosis 3 - 8.7e-4, max |z| 4.325.
  assert abs(np.mean(t**2) - (1 - 2.03e-5)) < 1e-6
  assert abs(np.mean(t**4) - (3 - 8.75e-4)) < 1e-5
  assert 4.32 < t.max() < 4.33


def test_z_has_standard_normal_moments_and_uses_all_16_bits():
  n = 4_000_000
  z = np.asarray(
    adadecay_module._standard_normal(  # pylint: disable=protected-access
      jax.random.key(0), (n,)
    ),
    np.float64,
  )
  se = 1 / np.sqrt(n)
  assert abs(z.mean()) < 5 * se
  assert abs(z.var() - 1) < 5 * np.sqrt(2) * se
  assert abs(scipy.stats.skew(z)) < 5 * np.sqrt(6) * se
  assert abs(scipy.stats.kurtosis(z)) < 5 * np.sqrt(24) * se  # excess
  # ~61 draws per level: every one of the 2^16 levels appears (P(miss)
  # ~ 65536·e^-61), so no bit of the 16 is stuck.
  assert len(np.unique(z)) == 2**16


def test_z_of_any_shape_odd_sizes_included():
  key = jax.random.key(5)
  z = adadecay_module._standard_normal(key, (3, 5, 7))  # pylint: disable=protected-access
  assert z.shape == (3, 5, 7) and z.dtype == jnp.float32
  assert len(np.unique(np.asarray(z))) > 100  # not one value repeated
  scalar = adadecay_module._standard_normal(key, ())  # pylint: disable=protected-access
  assert scalar.shape == () and np.isfinite(scalar)
  assert adadecay_module._standard_normal(key, (0, 4)).shape == (0, 4)  # pylint: disable=protected-access
  # Keys of another implementation only seed the Threefry stream.
  rbg = adadecay_module._standard_normal(  # pylint: disable=protected-access
    jax.random.key(5, impl='rbg'), (1000,)
  )
  assert len(np.unique(np.asarray(rbg))) > 900


def _theta_cdf(alpha):
  def cdf(t):
    with np.errstate(divide='ignore'):
      return scipy.stats.norm.cdf(np.log(t / (2 - t)) / alpha)

  return cdf


def test_theta_passes_ks_against_s_of_a_normal_and_the_test_has_power():
  alpha, n = 4.0, 1_000_000
  theta = draw_theta(ad.randomized_decay(1.0, alpha, key=11), n)[0]
  assert np.all((theta >= 0) & (theta <= 2))
  assert scipy.stats.kstest(theta, _theta_cdf(alpha)).pvalue > 1e-3
  # The same test rejects θ whose z is 1% too wide (KS distance ~0.0024).
  z = z_of_theta(np.clip(theta, 1e-7, 2 - 1.2e-7), alpha)
  biased = 2 / (1 + np.exp(-alpha * 1.01 * z))
  assert scipy.stats.kstest(biased, _theta_cdf(alpha)).pvalue < 1e-3


def test_trials_draw_independently_from_their_own_keys():
  # As the harness: one optimizer per trial from the trial's key, vmapped.
  alpha, n, trials = 1.0, 100_000, 8
  keys = jax.random.split(jax.random.key(3), trials)
  params = jnp.ones(n)

  def one_trial(key):
    tx = ad.randomized_decay(1.0, alpha, key=key)
    return tx.update(jnp.zeros(n), tx.init(params), params)[0]

  theta = np.asarray(jax.jit(jax.vmap(one_trial))(keys), np.float64)
  z = z_of_theta(theta, alpha)
  assert max_abs_offdiagonal_correlation(z) < 5 / np.sqrt(n)
  # Trial i's draws depend on key i alone: the same as drawn without vmap.
  for i in (0, 5):
    np.testing.assert_array_equal(theta[i], np.asarray(one_trial(keys[i]), np.float64))


def test_steps_and_neighbouring_elements_draw_independently():
  alpha, n, steps = 1.0, 100_000, 6
  z = z_of_theta(draw_theta(ad.randomized_decay(1.0, alpha, key=4), n, steps), alpha)
  assert max_abs_offdiagonal_correlation(z) < 5 / np.sqrt(n)
  # Two neighbours share one 32-bit word (high and low 16 bits).
  for step in z:
    assert abs(np.corrcoef(step[0::2], step[1::2])[0, 1]) < 5 / np.sqrt(n / 2)
    assert abs(np.corrcoef(step[1:-1:2], step[2::2])[0, 1]) < 5 / np.sqrt(n / 2)


def test_leaves_draw_independently_and_reproducibly():
  alpha, n = 1.0, 50_000
  params = {'a': jnp.ones(n), 'b': jnp.ones(n)}
  zeros = jax.tree.map(jnp.zeros_like, params)
  tx = ad.randomized_decay(1.0, alpha, key=9)
  u, _ = tx.update(zeros, tx.init(params), params)
  z = z_of_theta(np.stack([u['a'], u['b']]).astype(np.float64), alpha)
  assert max_abs_offdiagonal_correlation(z) < 5 / np.sqrt(n)
  again, _ = tx.update(zeros, tx.init(params), params)
  jax.tree.map(np.testing.assert_array_equal, u, again)
