"""The paper's summary statistics of per-epoch test accuracies.

Protocol (Nakamura & Hong 2019, arXiv 1907.08931): every optimizer is trained
for N trials (independent seeds) of E epochs, and the full test-set accuracy of
every trial is recorded after every epoch. Per trial we take the mean over the
last 10% of the epochs and the maximum over all epochs. Across trials the
paper's "ave" row is the 10%-trimmed mean of the per-trial last-10% means and
its "max" row is the maximum over trials of the per-trial maxima.

On top of the paper we report the standard deviation across trials, a
bootstrap confidence interval of "ave", and the paired difference between two
optimizers whose trial i used the same seed.

All accuracies are fractions in [0, 1]; conversion to percent happens only
when tables are printed (``train/report.py``).

Bootstrap choice: ``scipy.stats.bootstrap`` with ``method='BCa'``. Test
accuracies near the ceiling are skewed (bounded above, with occasional poor
trials), and BCa corrects the percentile interval for bias and skewness at a
cost of one jackknife pass. The jackknife is well behaved for trimmed means and
means (unlike for the median). Two degenerate cases are handled explicitly:

* Fewer than ``MIN_TRIALS_FOR_CI`` trials: the interval is NaN (resampling one
  or two values says nothing about the sampling distribution).
* A sample whose values are all equal (up to ``CONSTANT_ATOL``): every
  resample has the same statistic, so the interval is ``[stat, stat]``
  (zero width). BCa itself would return NaN here (0/0 in the acceleration).

If BCa still yields a non-finite bound (possible for tiny samples with many
ties), the percentile interval from the same resamples is used instead and
``ci_method`` records ``'percentile'``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import warnings
from typing import Any, Callable

import numpy as np
from scipy import stats as scipy_stats

__all__ = [
  'MIN_TRIALS_FOR_CI',
  'paired_difference_by_epoch',
  'PairedDifference',
  'Summary',
  'last_epochs_count',
  'last_fraction_mean',
  'nan_to_none',
  'none_to_nan',
  'paired_difference',
  'summarize',
  'validate_accuracy',
]

# Below this many trials no bootstrap interval is computed (NaN bounds).
MIN_TRIALS_FOR_CI = 3
# Number of bootstrap resamples (scipy's default).
N_RESAMPLES = 9999
# Samples whose spread (max - min) is at most this are treated as constant.
# Accuracies on a 10k-image test set move in steps of 1e-4 (1e-5 after
# averaging 10 epochs), so 1e-12 is float rounding noise, e.g. from
# (x + 0.01) - x.
CONSTANT_ATOL = 1e-12

# scipy >= 1.15 takes `rng`; older versions (pyproject allows >= 1.11) take
# `random_state`.
_RNG_KW = 'rng' if 'rng' in inspect.signature(scipy_stats.bootstrap).parameters else 'random_state'


def nan_to_none(x: float) -> float | None:
  """Strict JSON has no NaN; results files store missing numbers as null."""
  return None if isinstance(x, float) and not math.isfinite(x) else x


def none_to_nan(x: Any) -> float:
  """The inverse of `nan_to_none`: a results file's null read back as NaN."""
  return math.nan if x is None else float(x)


class _JsonRecord:
  """``to_dict`` / ``from_dict`` for the frozen result dataclasses below."""

  _NULLABLE: tuple[str, ...] = ()

  def to_dict(self) -> dict[str, Any]:
    """Returns a strict-JSON-serialisable dict (NaN becomes None)."""
    d = dataclasses.asdict(self)
    return {k: nan_to_none(v) for k, v in d.items()}

  @classmethod
  def from_dict(cls, d: dict[str, Any]):
    """Inverse of `to_dict` (None becomes NaN)."""
    kw = dict(d)
    for k in cls._NULLABLE:
      kw[k] = none_to_nan(kw[k])
    return cls(**kw)


@dataclasses.dataclass(frozen=True)
class Summary(_JsonRecord):
  """Statistics of one optimizer's trials; accuracies as fractions in [0, 1].

  Attributes:
    ave: 10%-trimmed mean (``trim``) over trials of the per-trial mean of the
      last ``last_epochs`` epochs: the paper's "ave" row.
    max: Maximum over trials of the per-trial maximum over epochs: the
      paper's "max" row.
    std: Sample standard deviation (ddof=1) across trials of the per-trial
      last-epochs means; NaN for a single trial.
    ci_low: Lower bound of the ``confidence`` bootstrap interval of ``ave``;
      NaN for fewer than ``MIN_TRIALS_FOR_CI`` trials.
    ci_high: Upper bound, as ``ci_low``.
    trials: Number of trials N.
    epochs: Number of epochs E per trial.
    per_trial_ave: Per-trial mean of the last ``last_epochs`` epochs, length N.
    per_trial_max: Per-trial maximum over epochs, length N.
    fraction: Fraction of epochs averaged per trial.
    last_epochs: ceil(fraction * epochs), at least 1.
    trim: Proportion cut from each end for the trimmed mean.
    confidence: Confidence level of the interval.
    ci_method: 'BCa', 'percentile' (BCa fallback), 'constant' (zero-width
      interval of a constant sample) or 'none' (too few trials).
  """

  ave: float
  max: float
  std: float
  ci_low: float
  ci_high: float
  trials: int
  epochs: int
  per_trial_ave: list[float]
  per_trial_max: list[float]
  fraction: float
  last_epochs: int
  trim: float
  confidence: float
  ci_method: str

  # Fields that may be NaN (stored as null in JSON).
  _NULLABLE = ('ave', 'max', 'std', 'ci_low', 'ci_high')


@dataclasses.dataclass(frozen=True)
class PairedDifference(_JsonRecord):
  """Paired difference A - B of per-trial last-epochs means (same seeds).

  Differences are in accuracy fractions: 0.01 is one percentage point.

  Attributes:
    mean: Mean over trials of the per-trial differences; equals the
      difference of the untrimmed means of A and B.
    trimmed_mean: Trimmed mean (``trim``) of the per-trial differences.
    ci_low: Lower bound of the ``confidence`` bootstrap interval of ``mean``;
      NaN for fewer than ``MIN_TRIALS_FOR_CI`` trials.
    ci_high: Upper bound, as ``ci_low``.
    trials: Number of paired trials N.
    per_trial: The N per-trial differences.
    fraction: Fraction of epochs averaged per trial.
    last_epochs: ceil(fraction * epochs), at least 1.
    trim: Proportion cut from each end for ``trimmed_mean``.
    confidence: Confidence level of the interval.
    ci_method: As `Summary.ci_method`; 'constant' e.g. for identical runs.
  """

  mean: float
  trimmed_mean: float
  ci_low: float
  ci_high: float
  trials: int
  per_trial: list[float]
  fraction: float
  last_epochs: int
  trim: float
  confidence: float
  ci_method: str

  _NULLABLE = ('mean', 'trimmed_mean', 'ci_low', 'ci_high')


def validate_accuracy(acc: Any, name: str = 'acc') -> np.ndarray:
  """Checks and converts an accuracy array.

  Args:
    acc: Array-like of shape (trials, epochs), fractions in [0, 1].
    name: Argument name used in error messages.

  Returns:
    float64 array of shape (trials, epochs).

  Raises:
    ValueError: If ``acc`` is not 2-D, is empty, or contains NaN, inf or
      values outside [0, 1] (e.g. percentages).
  """
  a = np.asarray(acc, dtype=np.float64)
  if a.ndim != 2:
    raise ValueError(f'{name} must have shape (trials, epochs), got shape {a.shape}')
  if a.shape[0] < 1 or a.shape[1] < 1:
    raise ValueError(f'{name} needs at least one trial and one epoch, got shape {a.shape}')
  if np.isnan(a).any():
    raise ValueError(f'{name} contains NaN ({int(np.isnan(a).sum())} entries)')
  if ((a < 0.0) | (a > 1.0)).any():  # also catches +-inf
    raise ValueError(
      f'{name} must be accuracy fractions in [0, 1], got values in '
      f'[{a.min()}, {a.max()}] (percentages must be divided by 100)'
    )
  return a


def _check_fraction(fraction: float) -> None:
  if not 0.0 < fraction <= 1.0:
    raise ValueError(f'fraction must be in (0, 1], got {fraction}')


def _check_trim(trim: float) -> None:
  if not 0.0 <= trim < 0.5:
    raise ValueError(f'trim must be in [0, 0.5), got {trim}')


def _check_confidence(confidence: float) -> None:
  if not 0.0 < confidence < 1.0:
    raise ValueError(f'confidence must be in (0, 1), got {confidence}')


def last_epochs_count(epochs: int, fraction: float = 0.1) -> int:
  """Number of final epochs averaged: ceil(fraction * epochs), at least 1.

  Examples: 100 epochs -> 10, 95 -> 10, 10 -> 1, 5 -> 1 (0.5 rounds up).
  ``fraction * epochs`` is rounded to 12 decimals first so that float error
  cannot push an exact product over an integer (e.g. 0.1 * 30 = 3.0000000000000004
  would otherwise give 4).
  """
  _check_fraction(fraction)
  return max(1, math.ceil(round(fraction * epochs, 12)))


def last_fraction_mean(acc: np.ndarray, fraction: float = 0.1) -> np.ndarray:
  """Per-trial mean over the last ceil(fraction * epochs) epochs (at least 1).

  Args:
    acc: Accuracies, shape (trials, epochs), fractions in [0, 1].
    fraction: Fraction of the epochs to average, in (0, 1]. With 0.1, 100
      epochs -> last 10 epochs; 5 epochs -> last 1 epoch.

  Returns:
    Array of shape (trials,).
  """
  a = validate_accuracy(acc, 'acc')
  k = last_epochs_count(a.shape[1], fraction)
  return a[:, -k:].mean(axis=1)


def _bootstrap_ci(
  x: np.ndarray, statistic: Callable[..., np.ndarray], point: float, confidence: float, seed: int
) -> tuple[float, float, str]:
  """Bootstrap interval of ``statistic`` over the 1-D sample ``x``.

  Returns:
    (low, high, method); see the module docstring for the degenerate cases.
  """
  if x.size < MIN_TRIALS_FOR_CI:
    return math.nan, math.nan, 'none'
  if np.ptp(x) <= CONSTANT_ATOL:
    return point, point, 'constant'
  kw = {_RNG_KW: np.random.default_rng(seed)}
  with warnings.catch_warnings():
    # Degenerate BCa is handled below by falling back to percentile.
    warnings.simplefilter('ignore', RuntimeWarning)
    warnings.simplefilter('ignore', getattr(scipy_stats, 'DegenerateDataWarning', RuntimeWarning))
    res = scipy_stats.bootstrap(
      (x,),
      statistic,
      n_resamples=N_RESAMPLES,
      vectorized=True,
      confidence_level=confidence,
      method='BCa',
      **kw,
    )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if math.isfinite(low) and math.isfinite(high):
      return low, high, 'BCa'
    # Reuse the BCa resamples; no extra randomness, so still reproducible.
    res = scipy_stats.bootstrap(
      (x,),
      statistic,
      n_resamples=0,
      vectorized=True,
      confidence_level=confidence,
      method='percentile',
      bootstrap_result=res,
      **kw,
    )
  return float(res.confidence_interval.low), float(res.confidence_interval.high), 'percentile'


def summarize(
  acc: np.ndarray, fraction: float = 0.1, trim: float = 0.1, confidence: float = 0.95, seed: int = 0
) -> Summary:
  """The paper's "ave" and "max" plus std and a bootstrap interval of "ave".

  Args:
    acc: Test accuracies, shape (trials, epochs), fractions in [0, 1].
    fraction: Fraction of final epochs averaged per trial (ceil, at least 1).
    trim: Proportion cut from each end for ``scipy.stats.trim_mean`` (0.1 with
      10 trials drops the lowest and the highest).
    confidence: Confidence level of the bootstrap interval.
    seed: Seed of the bootstrap resampling (same seed, same interval).

  Returns:
    A `Summary`.
  """
  a = validate_accuracy(acc, 'acc')
  _check_trim(trim)
  _check_confidence(confidence)
  per_ave = last_fraction_mean(a, fraction)
  per_max = a.max(axis=1)
  n = a.shape[0]
  ave = float(scipy_stats.trim_mean(per_ave, trim))
  std = float(np.std(per_ave, ddof=1)) if n > 1 else math.nan
  low, high, method = _bootstrap_ci(
    per_ave, lambda x, axis: scipy_stats.trim_mean(x, trim, axis=axis), ave, confidence, seed
  )
  return Summary(
    ave=ave,
    max=float(per_max.max()),
    std=std,
    ci_low=low,
    ci_high=high,
    trials=n,
    epochs=a.shape[1],
    per_trial_ave=[float(v) for v in per_ave],
    per_trial_max=[float(v) for v in per_max],
    fraction=float(fraction),
    last_epochs=last_epochs_count(a.shape[1], fraction),
    trim=float(trim),
    confidence=float(confidence),
    ci_method=method,
  )


def paired_difference(
  acc_a: np.ndarray,
  acc_b: np.ndarray,
  fraction: float = 0.1,
  confidence: float = 0.95,
  seed: int = 0,
  trim: float = 0.1,
) -> PairedDifference:
  """Paired difference A - B of the per-trial last-fraction means.

  Trial i of ``acc_a`` and trial i of ``acc_b`` must share a seed (same
  initialisation and data order), so the per-trial difference removes the
  seed-to-seed variance that both optimizers share.

  Args:
    acc_a: Accuracies of optimizer A, shape (trials, epochs), in [0, 1].
    acc_b: Accuracies of optimizer B (e.g. the SGD baseline), same shape.
    fraction: Fraction of final epochs averaged per trial (ceil, at least 1).
    confidence: Confidence level of the bootstrap interval of the mean.
    seed: Seed of the bootstrap resampling.
    trim: Proportion cut from each end for ``trimmed_mean``.

  Returns:
    A `PairedDifference`; positive values mean A is more accurate. Identical
    inputs give mean 0 and the zero-width interval [0, 0].

  Raises:
    ValueError: If the shapes differ or an input is invalid.
  """
  a = validate_accuracy(acc_a, 'acc_a')
  b = validate_accuracy(acc_b, 'acc_b')
  if a.shape != b.shape:
    raise ValueError(
      f'acc_a has shape {a.shape} but acc_b has shape {b.shape}: paired '
      'differences need the same trials (same seeds, same order) and the same epochs'
    )
  _check_trim(trim)
  _check_confidence(confidence)
  d = last_fraction_mean(a, fraction) - last_fraction_mean(b, fraction)
  mean = float(d.mean())
  low, high, method = _bootstrap_ci(
    d, lambda x, axis: np.mean(x, axis=axis), mean, confidence, seed
  )
  return PairedDifference(
    mean=mean,
    trimmed_mean=float(scipy_stats.trim_mean(d, trim)),
    ci_low=low,
    ci_high=high,
    trials=a.shape[0],
    per_trial=[float(v) for v in d],
    fraction=float(fraction),
    last_epochs=last_epochs_count(a.shape[1], fraction),
    trim=float(trim),
    confidence=float(confidence),
    ci_method=method,
  )


def paired_difference_by_epoch(
  acc_a: np.ndarray, acc_b: np.ndarray, confidence: float = 0.95, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Mean paired difference A - B at every epoch, with its bootstrap interval.

  Where in training a difference appears, grows or vanishes; the tables
  only show the last epochs. Trial i of both inputs must share a seed.

  Args:
    acc_a: Accuracies of optimizer A, shape (trials, epochs), in [0, 1].
    acc_b: Accuracies of the baseline, same shape.
    confidence: Confidence level of the interval at each epoch.
    seed: Seed of the bootstrap resampling (one resampling of the trials,
      shared by all epochs).

  Returns:
    (mean, low, high), each of shape (epochs,), in accuracy fractions; the
    interval is BCa per epoch (percentile where BCa is undefined, the point
    itself where all trials agree) and NaN below ``MIN_TRIALS_FOR_CI``
    trials.

  Raises:
    ValueError: If the shapes differ or an input is invalid.
  """
  a = validate_accuracy(acc_a, 'acc_a')
  b = validate_accuracy(acc_b, 'acc_b')
  if a.shape != b.shape:
    raise ValueError(
      f'acc_a has shape {a.shape} but acc_b has shape {b.shape}: paired '
      'differences need the same trials and epochs'
    )
  _check_confidence(confidence)
  d = a - b
  mean = d.mean(axis=0)
  if d.shape[0] < MIN_TRIALS_FOR_CI:
    nan = np.full_like(mean, np.nan)
    return mean, nan, nan.copy()
  kw = {_RNG_KW: np.random.default_rng(seed)}
  with warnings.catch_warnings():
    warnings.simplefilter('ignore', RuntimeWarning)
    warnings.simplefilter('ignore', getattr(scipy_stats, 'DegenerateDataWarning', RuntimeWarning))
    res = scipy_stats.bootstrap(
      (d,),
      np.mean,
      axis=0,
      n_resamples=N_RESAMPLES,
      vectorized=True,
      confidence_level=confidence,
      method='BCa',
      **kw,
    )
    low = np.asarray(res.confidence_interval.low, dtype=np.float64)
    high = np.asarray(res.confidence_interval.high, dtype=np.float64)
    bad = ~(np.isfinite(low) & np.isfinite(high))
    if bad.any():
      pct = scipy_stats.bootstrap(
        (d,),
        np.mean,
        axis=0,
        n_resamples=0,
        vectorized=True,
        confidence_level=confidence,
        method='percentile',
        bootstrap_result=res,
        **kw,
      )
      low = np.where(bad, pct.confidence_interval.low, low)
      high = np.where(bad, pct.confidence_interval.high, high)
  constant = np.ptp(d, axis=0) <= CONSTANT_ATOL
  return mean, np.where(constant, mean, low), np.where(constant, mean, high)
