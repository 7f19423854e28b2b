"""Tests of train/stats.py: the paper's statistics and the paired differences."""

import json
import math

import numpy as np
import pytest

from train import stats

# --------------------------------------------------------------------------
# A hand-built experiment: 10 trials x 20 epochs, so "last 10%" = last 2.
# Trial i (i = 0..8) ends with epochs (0.49 + 0.01 i, 0.51 + 0.01 i), i.e. a
# last-2 mean of 0.50 + 0.01 i; trial 9 ends with (0.94, 0.96), mean 0.95 (an
# outlier). All earlier epochs are 0.30, except trial 3 epoch index 5 = 0.97.
PER_TRIAL_AVE = [0.50, 0.51, 0.52, 0.53, 0.54, 0.55, 0.56, 0.57, 0.58, 0.95]


def _hand_acc():
  acc = np.full((10, 20), 0.30)
  for i, m in enumerate(PER_TRIAL_AVE):
    acc[i, -2:] = (m - 0.01, m + 0.01)
  acc[3, 5] = 0.97
  return acc


def _realistic_acc(trials=20, epochs=30, seed=1):
  rng = np.random.default_rng(seed)
  curve = 0.99 - 0.2 * np.exp(-np.arange(epochs) / 5.0)
  noise = 0.002 * rng.standard_normal((trials, epochs))
  return np.clip(curve + noise, 0.0, 1.0)


class TestLastFractionMean:
  def test_hand_values(self):
    np.testing.assert_allclose(
      stats.last_fraction_mean(_hand_acc()), PER_TRIAL_AVE, rtol=0, atol=1e-12
    )

  @pytest.mark.parametrize(
    'epochs, expected', [(100, 10), (95, 10), (30, 3), (11, 2), (10, 1), (5, 1), (1, 1)]
  )
  def test_ceil_rounding(self, epochs, expected):
    assert stats.last_epochs_count(epochs, 0.1) == expected

  def test_ceil_rounding_in_the_mean(self):
    # 11 epochs 0.00, 0.01, ..., 0.10: ceil(1.1) = 2 -> (0.09 + 0.10) / 2.
    acc = (np.arange(11) / 100)[None, :]
    assert stats.last_fraction_mean(acc) == pytest.approx([0.095], abs=1e-12)
    # 5 epochs: ceil(0.5) = 1 -> the last epoch only.
    assert stats.last_fraction_mean(acc[:, :5]) == pytest.approx([0.04], abs=1e-12)

  def test_fraction_one_is_the_full_mean(self):
    acc = np.array([[0.2, 0.4, 0.6]])
    assert stats.last_fraction_mean(acc, fraction=1.0) == pytest.approx([0.4])

  @pytest.mark.parametrize('fraction', [0.0, -0.1, 1.5])
  def test_bad_fraction(self, fraction):
    with pytest.raises(ValueError, match='fraction'):
      stats.last_fraction_mean(_hand_acc(), fraction=fraction)


class TestSummarize:
  def test_hand_values(self):
    s = stats.summarize(_hand_acc())
    # trim_mean(0.1) of 10 values drops 0.50 and 0.95: mean(0.51..0.58) = 0.545
    # (the untrimmed mean would be 0.581).
    assert s.ave == pytest.approx(0.545, abs=1e-12)
    assert s.max == pytest.approx(0.97, abs=1e-12)
    # Deviations from 0.581: -0.081, -0.071, ..., -0.001, +0.369; squares sum
    # to 0.021129 + 0.136161 = 0.15729; ddof=1 -> / 9.
    assert s.std == pytest.approx(math.sqrt(0.15729 / 9), abs=1e-12)
    assert (s.trials, s.epochs, s.last_epochs) == (10, 20, 2)
    np.testing.assert_allclose(s.per_trial_ave, PER_TRIAL_AVE, atol=1e-12)
    expected_max = [m + 0.01 for m in PER_TRIAL_AVE]
    expected_max[3] = 0.97
    np.testing.assert_allclose(s.per_trial_max, expected_max, atol=1e-12)

  def test_ci_contains_estimate_and_is_reproducible(self):
    acc = _realistic_acc()
    s1 = stats.summarize(acc, seed=3)
    s2 = stats.summarize(acc, seed=3)
    assert s1.ci_method == 'BCa'
    assert s1.ci_low < s1.ave < s1.ci_high
    assert (s1.ci_low, s1.ci_high) == (s2.ci_low, s2.ci_high)
    s3 = stats.summarize(acc, seed=4)
    assert (s3.ci_low, s3.ci_high) != (s1.ci_low, s1.ci_high)

  @pytest.mark.parametrize('trials', [1, 2])
  def test_too_few_trials_gives_nan_interval(self, trials):
    s = stats.summarize(_realistic_acc(trials=trials))
    assert math.isnan(s.ci_low) and math.isnan(s.ci_high)
    assert s.ci_method == 'none'
    assert math.isnan(s.std) == (trials == 1)
    d = s.to_dict()
    json.dumps(d, allow_nan=False)  # NaN is stored as None: strict JSON
    assert d['ci_low'] is None
    back = stats.Summary.from_dict(d)
    assert math.isnan(back.ci_low) and back.ave == s.ave

  def test_constant_trials_give_zero_width_interval(self):
    s = stats.summarize(np.full((5, 10), 0.9))
    assert s.ci_low == s.ci_high == s.ave == pytest.approx(0.9)
    assert s.ci_method == 'constant'

  def test_to_dict_is_json(self):
    d = stats.summarize(_hand_acc()).to_dict()
    assert set(d) >= {
      'ave',
      'max',
      'std',
      'ci_low',
      'ci_high',
      'trials',
      'epochs',
      'per_trial_ave',
      'per_trial_max',
    }
    assert json.loads(json.dumps(d, allow_nan=False)) == d

  def test_validation(self):
    acc = _hand_acc()
    acc[2, 3] = np.nan
    with pytest.raises(ValueError, match='acc contains NaN'):
      stats.summarize(acc)
    with pytest.raises(ValueError, match=r'acc must be accuracy fractions in \[0, 1\]'):
      stats.summarize(_hand_acc() * 100)  # percentages
    with pytest.raises(ValueError, match='acc must be accuracy fractions'):
      stats.summarize(np.where(_hand_acc() > 0.9, np.inf, _hand_acc()))
    with pytest.raises(ValueError, match=r'shape \(trials, epochs\)'):
      stats.summarize(np.full(10, 0.5))
    with pytest.raises(ValueError, match='at least one trial'):
      stats.summarize(np.zeros((0, 10)))
    with pytest.raises(ValueError, match='trim'):
      stats.summarize(_hand_acc(), trim=0.5)
    with pytest.raises(ValueError, match='confidence'):
      stats.summarize(_hand_acc(), confidence=95)


class TestPairedDifference:
  def test_identical_runs(self):
    acc = _realistic_acc()
    d = stats.paired_difference(acc, acc)
    assert d.mean == 0.0 and d.trimmed_mean == 0.0
    assert d.ci_low == 0.0 and d.ci_high == 0.0
    assert d.ci_method == 'constant'
    assert d.trials == 20

  def test_known_shift(self):
    b = _hand_acc()  # max 0.97, so + 0.01 stays in [0, 1]
    d = stats.paired_difference(b + 0.01, b)
    assert d.mean == pytest.approx(0.01, abs=1e-12)
    assert d.trimmed_mean == pytest.approx(0.01, abs=1e-12)
    assert d.ci_low == pytest.approx(0.01, abs=1e-12)
    assert d.ci_high == pytest.approx(0.01, abs=1e-12)
    # Direction: A - B.
    assert stats.paired_difference(b, b + 0.01).mean == pytest.approx(-0.01, abs=1e-12)

  def test_hand_values(self):
    b = _hand_acc()
    shifts = [-0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.03]
    a = b.copy()
    a[:, -2:] += np.array(shifts)[:, None]
    d = stats.paired_difference(a, b)
    # mean = (-0.02 + 8 * 0.01 + 0.03) / 10 = 0.009; trimming one value at
    # each end leaves eight 0.01.
    assert d.mean == pytest.approx(0.009, abs=1e-12)
    assert d.trimmed_mean == pytest.approx(0.01, abs=1e-12)
    np.testing.assert_allclose(d.per_trial, shifts, atol=1e-12)
    assert d.ci_low <= d.mean <= d.ci_high
    again = stats.paired_difference(a, b)
    assert (again.ci_low, again.ci_high) == (d.ci_low, d.ci_high)

  def test_ci_contains_estimate(self):
    a, b = _realistic_acc(seed=1), _realistic_acc(seed=2)
    d = stats.paired_difference(a, b, seed=0)
    assert d.ci_method == 'BCa'
    assert d.ci_low < d.mean < d.ci_high

  def test_two_trials(self):
    acc = _realistic_acc(trials=2)
    d = stats.paired_difference(acc + 0.001, acc)
    assert math.isnan(d.ci_low) and math.isnan(d.ci_high)
    assert d.mean == pytest.approx(0.001, abs=1e-12)

  def test_shape_mismatch(self):
    with pytest.raises(ValueError) as e:
      stats.paired_difference(_realistic_acc(trials=5), _realistic_acc(trials=4))
    msg = str(e.value)
    assert '(5, 30)' in msg and '(4, 30)' in msg and 'same trials' in msg and 'epochs' in msg

  def test_validation_names_argument(self):
    bad = _hand_acc()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match='acc_b contains NaN'):
      stats.paired_difference(_hand_acc(), bad)
    with pytest.raises(ValueError, match='acc_a must be accuracy fractions'):
      stats.paired_difference(_hand_acc() - 0.5, _hand_acc())


# --------------------------------------------------------------------------
# results.py
