"""Tests of train/results.py: the results file, its schema and its table."""

import csv
import json
import os

import numpy as np
import pytest

from train import results
from train import stats


def _realistic_acc(trials=20, epochs=30, seed=1):
  rng = np.random.default_rng(seed)
  curve = 0.99 - 0.2 * np.exp(-np.arange(epochs) / 5.0)
  noise = 0.002 * rng.standard_normal((trials, epochs))
  return np.clip(curve + noise, 0.0, 1.0)


def _runs():
  sgd = _realistic_acc(trials=4, epochs=10, seed=1)
  ada = np.clip(sgd + 0.003, 0, 1)
  other = _realistic_acc(trials=3, epochs=10, seed=5)
  loss = lambda a: 1.0 - a
  return {
    'nn2/mnist/sgd': {
      'test_accuracy': sgd,
      'train_loss': loss(sgd),
      'seeds': [0, 1, 2, 3],
      'group': 'nn2 / mnist',
    },
    'nn2/mnist/adadecay': {
      'test_accuracy': ada,
      'train_loss': loss(ada),
      'seeds': [0, 1, 2, 3],
      'group': 'nn2 / mnist',
    },
    'nn2/mnist/reseeded': {
      'test_accuracy': ada,
      'train_loss': loss(ada),
      'seeds': [9, 1, 2, 3],
      'group': 'nn2 / mnist',
    },
    'nn4/cifar10/adadecay': {
      'test_accuracy': other,
      'train_loss': loss(other),
      'seeds': [0, 1, 2],
      'group': 'nn4 / cifar10',
    },
  }


class TestResults:
  def test_round_trip_and_pairing(self, tmp_path):
    runs = _runs()
    written = results.write_results(
      tmp_path,
      experiment='exp',
      config={'lr': np.float32(0.1), 'sizes': (1, 2)},
      runs=runs,
      data_source='synthetic',
      machine='cpu',
    )
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
      assert r[label]['summary'] == stats.summarize(np.array(r[label]['test_accuracy'])).to_dict()
    assert r['nn2/mnist/sgd']['vs_baseline'] is None
    vs = r['nn2/mnist/adadecay']['vs_baseline']
    assert vs['baseline_run'] == 'nn2/mnist/sgd'
    assert vs['mean'] == pytest.approx(0.003, abs=1e-9)
    assert 'seeds differ' in r['nn2/mnist/reseeded']['vs_baseline']['skipped']
    assert r['nn4/cifar10/adadecay']['vs_baseline'] is None  # no sgd in that group
    assert r['nn4/cifar10/adadecay']['summary']['ci_method'] == 'BCa'

  def test_csv(self, tmp_path):
    runs = _runs()
    results.write_results(tmp_path, experiment='exp', config={}, runs=runs, data_source='synthetic')
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
    results.write_results(
      tmp_path,
      experiment='one',
      config={},
      data_source='synthetic',
      runs={
        'sgd': {'test_accuracy': acc, 'train_loss': loss, 'seeds': [7]},
        'adadecay': {'test_accuracy': acc, 'train_loss': loss, 'seeds': [7]},
      },
    )
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
      results.write_results(tmp_path, experiment='e', config={}, runs=runs, data_source='synthetic')
    runs = _runs()
    runs['nn2/mnist/sgd']['test_accuracy'] = runs['nn2/mnist/sgd']['test_accuracy'] * 100
    with pytest.raises(ValueError, match=r"runs\['nn2/mnist/sgd'\]\['test_accuracy'\]"):
      results.write_results(tmp_path, experiment='e', config={}, runs=runs, data_source='synthetic')
    assert os.listdir(tmp_path) == []  # validation precedes any write

  def test_extra_keys_warn_and_ambiguous_baseline(self, tmp_path):
    runs = _runs()
    runs['nn2/mnist/sgd']['wall_time'] = 1.0
    with pytest.warns(UserWarning, match='wall_time'):
      r = results.write_results(
        tmp_path, experiment='e', config={}, runs=runs, data_source='synthetic'
      )
    assert 'wall_time' not in r['runs']['nn2/mnist/sgd']
    runs = _runs()
    runs['x/sgd'] = dict(runs['nn2/mnist/sgd'])  # a second '.../sgd' in group nn2 / mnist
    with pytest.raises(ValueError, match='ambiguous baseline'):
      results.write_results(
        tmp_path / 'b', experiment='e', config={}, runs=runs, data_source='synthetic'
      )


def test_format_table_hand_made():
  summary = lambda ave, mx, std: {'ave': ave, 'max': mx, 'std': std, 'trials': 50, 'epochs': 100}
  res = {
    'experiment': 'table1',
    'data_source': 'synthetic',
    'config': {},
    'statistics': {'fraction': 0.1, 'trim': 0.1, 'confidence': 0.95, 'baseline': 'sgd'},
    'runs': {
      'sgd': {
        'group': 'nn2 / fashion_mnist',
        'trials': 50,
        'epochs': 100,
        'summary': summary(0.98533, 0.9871, 0.0005),
        'vs_baseline': None,
      },
      'adadecay': {
        'group': 'nn2 / fashion_mnist',
        'trials': 50,
        'epochs': 100,
        'summary': summary(0.98653, 0.9902, 0.0004),
        'vs_baseline': {'baseline_run': 'sgd', 'mean': 0.0012, 'ci_low': 0.0003, 'ci_high': 0.0021},
      },
      'adadecay(alpha=8)': {
        'group': 'nn2 / fashion_mnist',
        'trials': 50,
        'epochs': 100,
        'summary': summary(0.98401, 0.9880, 0.0011),
        'vs_baseline': {
          'baseline_run': 'sgd',
          'mean': -0.0013,
          'ci_low': -0.0025,
          'ci_high': -0.0001,
        },
      },
      'nn4|adadecay': {
        'group': 'nn4 / cifar10',
        'trials': 50,
        'epochs': 100,
        'summary': summary(0.7012, 0.7233, 0.004),
        'vs_baseline': None,
      },
    },
  }
  table = results.format_table(res)
  lines = table.splitlines()
  assert '### Model nn2, dataset fashion_mnist (data: synthetic; 50 trials × 100 epochs)' in lines
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


# --------------------------------------------------------------------------
# Runs as data (schema 2) and schema 1 files.


@pytest.mark.parametrize(
  'label, expected',
  [
    ('sgd', ('sgd', {})),
    ('adadecay(alpha=-1)', ('adadecay', {'alpha': -1})),
    ('adadecay(alpha=8)', ('adadecay', {'alpha': 8})),
    ('sgd(weight_decay=0.001)', ('sgd', {'weight_decay': 0.001})),
    ('sgd(weight_decay=1e-3)', ('sgd', {'weight_decay': 0.001})),
    ('adadecay(dropout_rate=0.0625)', ('adadecay', {'dropout_rate': 0.0625})),
    ('adadecay(alpha=2, dropout_rate=0.5)', ('adadecay', {'alpha': 2, 'dropout_rate': 0.5})),
    (
      'adadecay(schedule=cosine, nesterov=true)',
      ('adadecay', {'schedule': 'cosine', 'nesterov': True}),
    ),
    ('nn2/mnist/sgd(weight_decay=0.01)', ('sgd', {'weight_decay': 0.01})),
    ('sgd (v2)', ('sgd (v2)', {})),  # not variant syntax: kept whole
    ('sgd()', ('sgd', {})),
  ],
)
def test_label_fields(label, expected):
  fields = results.label_fields(label, 'nn2 / mnist')
  assert (fields['optimizer'], fields['variant']) == expected
  assert (fields['model'], fields['dataset']) == ('nn2', 'mnist')
  assert results.label_fields(label, None)['model'] is None


def _acc_of(offset):
  return np.array([[0.90 + 0.01 * i + offset] * 10 for i in range(4)])


def _spec_run(offset, optimizer, variant=None, **extra):
  acc = _acc_of(offset)
  return {
    'test_accuracy': acc,
    'train_loss': np.zeros_like(acc),
    'seeds': [0, 1, 2, 3],
    'group': 'nn2 / mnist',
    'model': 'nn2',
    'dataset': 'mnist',
    'optimizer': optimizer,
    'variant': variant or {},
    **extra,
  }


def test_runs_are_identified_by_fields_not_labels(tmp_path):
  # Labels that say nothing: the baseline is the run whose fields say sgd with
  # the paper's settings, not the one labelled 'sgd'.
  runs = {
    'constant decay': _spec_run(0.0, 'sgd'),
    'sgd': _spec_run(0.002, 'sgd', {'weight_decay': 1e-3}),
    'ours': _spec_run(0.005, 'adadecay', {'alpha': 8.0}),
  }
  r = results.write_results(tmp_path, experiment='e', config={}, runs=runs, data_source='synthetic')
  assert r['schema_version'] == 2
  assert r['runs']['constant decay']['vs_baseline'] is None
  assert r['runs']['ours']['vs_baseline']['baseline_run'] == 'constant decay'
  assert r['runs']['ours']['vs_baseline']['mean'] == pytest.approx(0.005)
  assert r['runs']['sgd']['vs_baseline']['mean'] == pytest.approx(0.002)
  ours = r['runs']['ours']
  assert (ours['model'], ours['dataset'], ours['optimizer'], ours['variant']) == (
    'nn2',
    'mnist',
    'adadecay',
    {'alpha': 8.0},
  )
  # A run's own variant wins over what its label would say.
  runs = {
    'sgd': _spec_run(0.0, 'sgd'),
    'adadecay(dropout_rate=0.5)': {
      k: v for k, v in _spec_run(0.0, '').items() if k not in ('optimizer', 'model', 'dataset')
    },
  }
  runs['adadecay(dropout_rate=0.5)']['variant'] = {'dropout_rate': 0.125}
  r = results.write_results(
    tmp_path / 'b', experiment='e', config={}, runs=runs, data_source='synthetic'
  )
  run = r['runs']['adadecay(dropout_rate=0.5)']
  assert (run['optimizer'], run['variant'], run['model']) == (
    'adadecay',
    {'dropout_rate': 0.125},
    'nn2',
  )


def test_schema_1_files_still_load(tmp_path):
  runs = {
    'sgd': _spec_run(0.0, 'sgd'),
    'adadecay(alpha=8)': _spec_run(0.005, 'adadecay', {'alpha': 8.0}),
  }
  r = results.write_results(tmp_path, experiment='e', config={}, runs=runs, data_source='synthetic')
  # The same file as schema 1 wrote it: no model, dataset, optimizer.
  old = json.loads((tmp_path / 'results.json').read_text())
  old['schema_version'] = 1
  for run in old['runs'].values():
    for key in ('model', 'dataset', 'optimizer'):
      del run[key]
  old['runs']['sgd']['variant'] = {}
  (tmp_path / 'results.json').write_text(json.dumps(old))
  loaded = results.load_results(tmp_path)
  assert loaded == r
  old['schema_version'] = 3
  (tmp_path / 'results.json').write_text(json.dumps(old))
  with pytest.raises(ValueError, match='schema_version 3'):
    results.load_results(tmp_path)


def test_committed_schema_1_results_load():
  import pathlib  # pylint: disable=g-import-not-at-top

  workdir = pathlib.Path(__file__).resolve().parents[1] / 'results/runs/nn2-mnist-adadecay'
  assert json.loads((workdir / 'results.json').read_text())['schema_version'] == 1
  run = results.load_results(workdir)['runs']['adadecay']
  assert (run['model'], run['dataset'], run['optimizer'], run['variant']) == (
    'nn2',
    'mnist',
    'adadecay',
    {},
  )
