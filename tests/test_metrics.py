"""Tests of train/metrics.py (the paper's statistics) and train/results.py."""

import csv
import json
import math
import os

import numpy as np
import pytest

from train import metrics
from train import results

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
    np.testing.assert_allclose(metrics.last_fraction_mean(_hand_acc()), PER_TRIAL_AVE,
                               rtol=0, atol=1e-12)

  @pytest.mark.parametrize('epochs, expected', [
      (100, 10), (95, 10), (30, 3), (11, 2), (10, 1), (5, 1), (1, 1)])
  def test_ceil_rounding(self, epochs, expected):
    assert metrics.last_epochs_count(epochs, 0.1) == expected

  def test_ceil_rounding_in_the_mean(self):
    # 11 epochs 0.00, 0.01, ..., 0.10: ceil(1.1) = 2 -> (0.09 + 0.10) / 2.
    acc = (np.arange(11) / 100)[None, :]
    assert metrics.last_fraction_mean(acc) == pytest.approx([0.095], abs=1e-12)
    # 5 epochs: ceil(0.5) = 1 -> the last epoch only.
    assert metrics.last_fraction_mean(acc[:, :5]) == pytest.approx([0.04], abs=1e-12)

  def test_fraction_one_is_the_full_mean(self):
    acc = np.array([[0.2, 0.4, 0.6]])
    assert metrics.last_fraction_mean(acc, fraction=1.0) == pytest.approx([0.4])

  @pytest.mark.parametrize('fraction', [0.0, -0.1, 1.5])
  def test_bad_fraction(self, fraction):
    with pytest.raises(ValueError, match='fraction'):
      metrics.last_fraction_mean(_hand_acc(), fraction=fraction)


class TestSummarize:

  def test_hand_values(self):
    s = metrics.summarize(_hand_acc())
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
    s1 = metrics.summarize(acc, seed=3)
    s2 = metrics.summarize(acc, seed=3)
    assert s1.ci_method == 'BCa'
    assert s1.ci_low < s1.ave < s1.ci_high
    assert (s1.ci_low, s1.ci_high) == (s2.ci_low, s2.ci_high)
    s3 = metrics.summarize(acc, seed=4)
    assert (s3.ci_low, s3.ci_high) != (s1.ci_low, s1.ci_high)

  @pytest.mark.parametrize('trials', [1, 2])
  def test_too_few_trials_gives_nan_interval(self, trials):
    s = metrics.summarize(_realistic_acc(trials=trials))
    assert math.isnan(s.ci_low) and math.isnan(s.ci_high)
    assert s.ci_method == 'none'
    assert math.isnan(s.std) == (trials == 1)
    d = s.to_dict()
    json.dumps(d, allow_nan=False)  # NaN is stored as None: strict JSON
    assert d['ci_low'] is None
    back = metrics.Summary.from_dict(d)
    assert math.isnan(back.ci_low) and back.ave == s.ave

  def test_constant_trials_give_zero_width_interval(self):
    s = metrics.summarize(np.full((5, 10), 0.9))
    assert s.ci_low == s.ci_high == s.ave == pytest.approx(0.9)
    assert s.ci_method == 'constant'

  def test_to_dict_is_json(self):
    d = metrics.summarize(_hand_acc()).to_dict()
    assert set(d) >= {'ave', 'max', 'std', 'ci_low', 'ci_high', 'trials', 'epochs',
                      'per_trial_ave', 'per_trial_max'}
    assert json.loads(json.dumps(d, allow_nan=False)) == d

  def test_validation(self):
    acc = _hand_acc()
    acc[2, 3] = np.nan
    with pytest.raises(ValueError, match='acc contains NaN'):
      metrics.summarize(acc)
    with pytest.raises(ValueError, match=r'acc must be accuracy fractions in \[0, 1\]'):
      metrics.summarize(_hand_acc() * 100)  # percentages
    with pytest.raises(ValueError, match='acc must be accuracy fractions'):
      metrics.summarize(np.where(_hand_acc() > 0.9, np.inf, _hand_acc()))
    with pytest.raises(ValueError, match=r'shape \(trials, epochs\)'):
      metrics.summarize(np.full(10, 0.5))
    with pytest.raises(ValueError, match='at least one trial'):
      metrics.summarize(np.zeros((0, 10)))
    with pytest.raises(ValueError, match='trim'):
      metrics.summarize(_hand_acc(), trim=0.5)
    with pytest.raises(ValueError, match='confidence'):
      metrics.summarize(_hand_acc(), confidence=95)


class TestPairedDifference:

  def test_identical_runs(self):
    acc = _realistic_acc()
    d = metrics.paired_difference(acc, acc)
    assert d.mean == 0.0 and d.trimmed_mean == 0.0
    assert d.ci_low == 0.0 and d.ci_high == 0.0
    assert d.ci_method == 'constant'
    assert d.trials == 20

  def test_known_shift(self):
    b = _hand_acc()  # max 0.97, so + 0.01 stays in [0, 1]
    d = metrics.paired_difference(b + 0.01, b)
    assert d.mean == pytest.approx(0.01, abs=1e-12)
    assert d.trimmed_mean == pytest.approx(0.01, abs=1e-12)
    assert d.ci_low == pytest.approx(0.01, abs=1e-12)
    assert d.ci_high == pytest.approx(0.01, abs=1e-12)
    # Direction: A - B.
    assert metrics.paired_difference(b, b + 0.01).mean == pytest.approx(-0.01, abs=1e-12)

  def test_hand_values(self):
    b = _hand_acc()
    shifts = [-0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.03]
    a = b.copy()
    a[:, -2:] += np.array(shifts)[:, None]
    d = metrics.paired_difference(a, b)
    # mean = (-0.02 + 8 * 0.01 + 0.03) / 10 = 0.009; trimming one value at
    # each end leaves eight 0.01.
    assert d.mean == pytest.approx(0.009, abs=1e-12)
    assert d.trimmed_mean == pytest.approx(0.01, abs=1e-12)
    np.testing.assert_allclose(d.per_trial, shifts, atol=1e-12)
    assert d.ci_low <= d.mean <= d.ci_high
    again = metrics.paired_difference(a, b)
    assert (again.ci_low, again.ci_high) == (d.ci_low, d.ci_high)

  def test_ci_contains_estimate(self):
    a, b = _realistic_acc(seed=1), _realistic_acc(seed=2)
    d = metrics.paired_difference(a, b, seed=0)
    assert d.ci_method == 'BCa'
    assert d.ci_low < d.mean < d.ci_high

  def test_two_trials(self):
    acc = _realistic_acc(trials=2)
    d = metrics.paired_difference(acc + 0.001, acc)
    assert math.isnan(d.ci_low) and math.isnan(d.ci_high)
    assert d.mean == pytest.approx(0.001, abs=1e-12)

  def test_shape_mismatch(self):
    with pytest.raises(ValueError) as e:
      metrics.paired_difference(_realistic_acc(trials=5), _realistic_acc(trials=4))
    msg = str(e.value)
    assert '(5, 30)' in msg and '(4, 30)' in msg and 'same trials' in msg and 'epochs' in msg

  def test_validation_names_argument(self):
    bad = _hand_acc()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match='acc_b contains NaN'):
      metrics.paired_difference(_hand_acc(), bad)
    with pytest.raises(ValueError, match='acc_a must be accuracy fractions'):
      metrics.paired_difference(_hand_acc() - 0.5, _hand_acc())


# --------------------------------------------------------------------------
# results.py


def _runs():
  sgd = _realistic_acc(trials=4, epochs=10, seed=1)
  ada = np.clip(sgd + 0.003, 0, 1)
  other = _realistic_acc(trials=3, epochs=10, seed=5)
  loss = lambda a: 1.0 - a
  return {
      'nn2/mnist/sgd': {'test_accuracy': sgd, 'train_loss': loss(sgd), 'seeds': [0, 1, 2, 3],
                        'group': 'nn2 / mnist'},
      'nn2/mnist/adadecay': {'test_accuracy': ada, 'train_loss': loss(ada),
                             'seeds': [0, 1, 2, 3], 'group': 'nn2 / mnist'},
      'nn2/mnist/reseeded': {'test_accuracy': ada, 'train_loss': loss(ada),
                             'seeds': [9, 1, 2, 3], 'group': 'nn2 / mnist'},
      'nn4/cifar10/adadecay': {'test_accuracy': other, 'train_loss': loss(other),
                               'seeds': [0, 1, 2], 'group': 'nn4 / cifar10'},
  }


class TestResults:

  def test_round_trip_and_pairing(self, tmp_path):
    runs = _runs()
    written = results.write_results(tmp_path, experiment='exp', config={'lr': np.float32(0.1),
                                                                       'sizes': (1, 2)},
                                    runs=runs, data_source='synthetic', machine='cpu')
    loaded = results.load_results(tmp_path)
    assert loaded == written
    assert sorted(os.listdir(tmp_path)) == ['accuracy.csv', 'results.json']
    assert list(loaded['runs']) == list(runs)  # column order kept
    assert loaded['config'] == {'lr': pytest.approx(0.1), 'sizes': [1, 2]}
    assert loaded['trials'] is None and loaded['epochs'] == 10  # 4 vs 3 trials
    r = loaded['runs']
    # The file alone suffices: raw data are exact and the numbers recompute.
    for label, run in runs.items():
      np.testing.assert_array_equal(np.array(r[label]['test_accuracy']), run['test_accuracy'])
      assert r[label]['summary'] == metrics.summarize(np.array(r[label]['test_accuracy'])).to_dict()
    assert r['nn2/mnist/sgd']['vs_baseline'] is None
    vs = r['nn2/mnist/adadecay']['vs_baseline']
    assert vs['baseline_run'] == 'nn2/mnist/sgd'
    assert vs['mean'] == pytest.approx(0.003, abs=1e-9)
    assert 'seeds differ' in r['nn2/mnist/reseeded']['vs_baseline']['skipped']
    assert r['nn4/cifar10/adadecay']['vs_baseline'] is None  # no sgd in that group
    assert r['nn4/cifar10/adadecay']['summary']['ci_method'] == 'BCa'

  def test_csv(self, tmp_path):
    runs = _runs()
    results.write_results(tmp_path, experiment='exp', config={}, runs=runs,
                          data_source='synthetic')
    with open(tmp_path / 'accuracy.csv', newline='') as f:
      rows = list(csv.reader(f))
    assert rows[0] == ['run', 'trial', 'seed', 'epoch', 'test_accuracy', 'train_loss']
    body = rows[1:]
    for label, run in runs.items():
      mine = [row for row in body if row[0] == label]
      assert len(mine) == run['test_accuracy'].size  # trials x epochs
    # Epochs numbered from 1, trials from 0; values exact.
    first = body[0]
    assert first[:4] == ['nn2/mnist/sgd', '0', '0', '1']
    assert float(first[4]) == runs['nn2/mnist/sgd']['test_accuracy'][0, 0]
    reseeded = [row for row in body if row[0] == 'nn2/mnist/reseeded']
    assert reseeded[-1][1:4] == ['3', '3', '10']

  def test_single_trial_and_nan_loss(self, tmp_path):
    acc = _realistic_acc(trials=1, epochs=5)
    loss = np.array([[1.0, np.nan, np.inf, 0.5, 0.4]])
    results.write_results(tmp_path, experiment='one', config={}, data_source='synthetic',
                          runs={'sgd': {'test_accuracy': acc, 'train_loss': loss, 'seeds': [7]},
                                'adadecay': {'test_accuracy': acc, 'train_loss': loss,
                                             'seeds': [7]}})
    text = (tmp_path / 'results.json').read_text()

    def reject(c):
      raise AssertionError(f'non-strict JSON constant {c}')

    loaded = json.loads(text, parse_constant=reject)
    assert loaded['runs']['sgd']['train_loss'] == [[1.0, None, None, 0.5, 0.4]]
    assert loaded['runs']['sgd']['summary']['std'] is None
    assert loaded['runs']['adadecay']['vs_baseline']['mean'] == 0.0
    table = results.format_table(loaded)
    assert 'n/a' in table and '+0.00 [n/a]' in table

  def test_bad_runs(self, tmp_path):
    runs = _runs()
    runs['nn2/mnist/sgd']['seeds'] = [0, 1]
    with pytest.raises(ValueError, match='seeds'):
      results.write_results(tmp_path, experiment='e', config={}, runs=runs,
                            data_source='synthetic')
    runs = _runs()
    runs['nn2/mnist/sgd']['test_accuracy'] = runs['nn2/mnist/sgd']['test_accuracy'] * 100
    with pytest.raises(ValueError, match=r"runs\['nn2/mnist/sgd'\]\['test_accuracy'\]"):
      results.write_results(tmp_path, experiment='e', config={}, runs=runs,
                            data_source='synthetic')
    assert os.listdir(tmp_path) == []  # validation precedes any write

  def test_extra_keys_warn_and_ambiguous_baseline(self, tmp_path):
    runs = _runs()
    runs['nn2/mnist/sgd']['wall_time'] = 1.0
    with pytest.warns(UserWarning, match='wall_time'):
      r = results.write_results(tmp_path, experiment='e', config={}, runs=runs,
                                data_source='synthetic')
    assert 'wall_time' not in r['runs']['nn2/mnist/sgd']
    runs = _runs()
    runs['x/sgd'] = dict(runs['nn2/mnist/sgd'])  # a second '.../sgd' in group nn2 / mnist
    with pytest.raises(ValueError, match='ambiguous baseline'):
      results.write_results(tmp_path / 'b', experiment='e', config={}, runs=runs,
                            data_source='synthetic')

  def test_atomic_write_keeps_old_file(self, tmp_path, monkeypatch):
    path = tmp_path / 'x.json'
    results.write_json_atomic(path, {'a': 1})
    old = path.read_bytes()
    with pytest.raises(TypeError):
      results.write_json_atomic(path, {'b': object()})
    with pytest.raises(ValueError):
      results.write_json_atomic(path, {'b': float('nan')})
    assert path.read_bytes() == old

    # A failure after the temp file was written (here: fsync) must not touch
    # the old file nor leave the temp file behind.
    def failing_fsync(fd):
      raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', failing_fsync)
    with pytest.raises(OSError, match='disk full'):
      results.write_text_atomic(path, '{"half": ')
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ['x.json']
    assert json.loads(old) == {'a': 1}

  def test_atomic_write_replaces(self, tmp_path):
    path = tmp_path / 't.txt'
    results.write_text_atomic(path, 'one\n')
    results.write_text_atomic(path, 'two ünïcode\n')
    assert path.read_text(encoding='utf-8') == 'two ünïcode\n'
    assert os.listdir(tmp_path) == ['t.txt']


def test_format_table_hand_made():
  summary = lambda ave, mx, std: {'ave': ave, 'max': mx, 'std': std, 'trials': 50, 'epochs': 100}
  res = {
      'experiment': 'table1',
      'data_source': 'synthetic',
      'config': {},
      'statistics': {'fraction': 0.1, 'trim': 0.1, 'confidence': 0.95, 'baseline': 'sgd'},
      'runs': {
          'sgd': {'group': 'nn2 / fashion_mnist', 'trials': 50, 'epochs': 100,
                  'summary': summary(0.98533, 0.9871, 0.0005), 'vs_baseline': None},
          'adadecay': {'group': 'nn2 / fashion_mnist', 'trials': 50, 'epochs': 100,
                       'summary': summary(0.98653, 0.9902, 0.0004),
                       'vs_baseline': {'baseline_run': 'sgd', 'mean': 0.0012,
                                       'ci_low': 0.0003, 'ci_high': 0.0021}},
          'adadecay(alpha=8)': {'group': 'nn2 / fashion_mnist', 'trials': 50, 'epochs': 100,
                                'summary': summary(0.98401, 0.9880, 0.0011),
                                'vs_baseline': {'baseline_run': 'sgd', 'mean': -0.0013,
                                                'ci_low': -0.0025, 'ci_high': -0.0001}},
          'nn4|adadecay': {'group': 'nn4 / cifar10', 'trials': 50, 'epochs': 100,
                           'summary': summary(0.7012, 0.7233, 0.004), 'vs_baseline': None},
      },
  }
  table = results.format_table(res)
  lines = table.splitlines()
  assert ('### Model nn2, dataset fashion_mnist (data: synthetic; 50 trials × 100 epochs)'
          in lines)
  assert '| | sgd | adadecay | adadecay(alpha=8) |' in lines
  assert '| ave | 98.53 | 98.65 | 98.40 |' in lines
  assert '| max | 98.71 | 99.02 | 98.80 |' in lines
  assert '| ± std | 0.05 | 0.04 | 0.11 |' in lines
  assert '| Δ vs sgd |  | +0.12 [+0.03, +0.21] | -0.13 [-0.25, -0.01] |' in lines
  # Second group: no sgd run -> blank delta; '|' in a label is escaped.
  assert '### Model nn4, dataset cifar10 (data: synthetic; 50 trials × 100 epochs)' in lines
  assert '| | nn4\\|adadecay |' in lines
  assert '| ave | 70.12 |' in lines
  assert '| Δ vs sgd |  |' in lines
