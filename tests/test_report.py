"""Tests of train/report.py (tables.md, figures and the command line)."""

import os
import pathlib
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import stats

from train import paper
from train import report
from train import results

REPO = pathlib.Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
SEEDS = [0, 1, 2, 3]

# --------------------------------------------------------------------------
# Hand-made experiment: 4 trials x 10 epochs; every epoch of trial i has
# accuracy 0.90 + 0.01 i for sgd and 0.905 + 0.01 i for adadecay. The last
# 10% of 10 epochs is the last epoch, so the per-trial aves are 0.90..0.93.
# trim_mean(x, 0.1) of 4 values cuts int(0.1 * 4) = 0 from each end, i.e. it
# is the plain mean: ave = 0.915 (sgd), 0.920 (adadecay); max = best trial:
# 0.93, 0.935. std (ddof=1) of 0.90..0.93 = 0.0129 -> '1.29'. The per-trial
# differences are all 0.005, so the paired interval is [+0.50, +0.50].


def _acc(offset=0.0, trials=4, epochs=10):
  return np.array([[0.90 + 0.01 * i + offset] * epochs for i in range(trials)])


def _run(acc, group='nn2 / fashion_mnist'):
  return {
    'test_accuracy': acc,
    'train_loss': np.zeros_like(acc),
    'seeds': list(range(acc.shape[0])),
    'group': group,
  }


def _write(workdir, runs, experiment='exp'):
  results.write_results(
    workdir, experiment=experiment, config={'model': 'nn2'}, runs=runs, data_source='synthetic'
  )
  return workdir


@pytest.fixture(scope='module')
def basic(tmp_path_factory):
  return _write(
    tmp_path_factory.mktemp('basic'),
    {'sgd': _run(_acc()), 'adadecay': _run(_acc(0.005))},
    'table2_fashion',
  )


@pytest.fixture(scope='module')
def alpha_sweep(tmp_path_factory):
  # Given out of order: the sweep table must sort the values.
  runs = {'sgd': _run(_acc())}
  for a in (8, -1, 2, 0):
    runs[f'adadecay(alpha={a})'] = _run(_acc(0.001 * (a + 2)))  # ave 91.5 + 0.1 (a + 2)
  return _write(tmp_path_factory.mktemp('alpha'), runs, 'table1_alpha')


@pytest.fixture(scope='module')
def wd_sweep(tmp_path_factory):
  runs = {}
  for wd in ('1e-2', '1e-4', '0.001'):
    runs[f'sgd(weight_decay={wd})'] = _run(_acc())
    runs[f'adadecay(weight_decay={wd})'] = _run(_acc(0.005))
  return _write(tmp_path_factory.mktemp('wd'), runs, 'fig1_weight_decay')


def _check_png(path):
  data = pathlib.Path(path).read_bytes()
  assert data[:8] == PNG_SIGNATURE, path
  img = matplotlib.image.imread(path)
  assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
  assert np.var(img[..., :3]) > 0, f'{path} is blank'


def _table_rows(md):
  """Markdown table rows -> {row name: cells}; later tables override."""
  rows = {}
  for line in md.splitlines():
    if line.startswith('| ') and not line.startswith('|:'):
      cells = [c.strip() for c in line.strip().strip('|').split('|')]
      rows[cells[0]] = cells[1:]
  return rows


# --------------------------------------------------------------------------
# Tables.


def test_tables_hand_values(basic, tmp_path):
  paths = report.make_report([basic], tmp_path)
  assert paths[0] == tmp_path / 'tables.md'
  md = paths[0].read_text()
  assert '## table2_fashion' in md
  assert 'data: synthetic; 4 trials × 10 epochs' in md
  rows = _table_rows(md)
  assert rows[''] == ['sgd', 'adadecay']
  assert rows['ave'] == ['91.50', '92.00']
  assert rows['max'] == ['93.00', '93.50']
  assert rows['± std'] == ['1.29', '1.29']
  assert rows['Δ vs sgd'] == ['', '+0.50 [+0.50, +0.50]']
  assert 'sweep' not in md  # no variants, no sweep table


def test_trim_mean_of_four_trims_nothing():
  # The hand values above rely on this scipy behaviour.
  x = [0.90, 0.91, 0.92, 0.93]
  assert stats.trim_mean(x, 0.1) == pytest.approx(np.mean(x))
  ten = [0.5] + x + [0.91] * 4 + [0.99]  # 10 values: the lowest and highest go
  assert stats.trim_mean(ten, 0.1) == pytest.approx(np.mean(sorted(ten)[1:-1]))


def test_plain_adadecay_is_the_alpha_4_column(tmp_path):
  # Table I's α = 4 column is the plain adadecay run (α at its default); a
  # plain optimizer without an α series (randomized here) adds no series.
  runs = {
    'sgd': _run(_acc()),
    'adadecay(alpha=-1)': _run(_acc(0.001)),  # ave 91.6
    'adadecay': _run(_acc(0.006)),  # ave 92.1
    'randomized': _run(_acc(0.002)),
  }
  res = results.load_results(_write(tmp_path, runs, 'table1_alpha'))
  rows = _table_rows(report.sweep_table(res, 'alpha'))
  assert rows[''] == ['α=-1', 'α=4']
  assert rows['ave'] == ['91.60', '92.10']
  assert rows['Δ vs sgd'] == ['+0.10 [+0.10, +0.10]', '+0.60 [+0.60, +0.60]']
  ax = report.plot_sweep(res, 'alpha', Figure().subplots())
  lines = {c.get_label(): c.lines[0] for c in ax.containers}
  assert list(lines) == ['adadecay']
  np.testing.assert_allclose(lines['adadecay'].get_xdata().astype(float), [-1.0, 4.0])
  np.testing.assert_allclose(lines['adadecay'].get_ydata().astype(float), [91.6, 92.1])

  # An explicit α = 4 run keeps the column; the plain run does not replace it.
  runs['adadecay(alpha=4)'] = _run(_acc(0.003))  # ave 91.8
  res = results.load_results(_write(tmp_path / 'b', runs, 'table1_alpha'))
  assert _table_rows(report.sweep_table(res, 'alpha'))['ave'] == ['91.60', '91.80']


def test_alpha_sweep_table_in_order(alpha_sweep):
  res = results.load_results(alpha_sweep)
  assert report.swept_keys(res) == ['alpha']
  md = report.sweep_table(res, 'alpha')
  assert 'α sweep (alpha)' in md
  rows = _table_rows(md)
  assert rows[''] == ['α=-1', 'α=0', 'α=2', 'α=8']
  assert rows['ave'] == ['91.60', '91.70', '91.90', '92.50']
  assert rows['max'] == ['93.10', '93.20', '93.40', '94.00']
  # Against plain sgd (stored vs_baseline): +0.1 (a + 2) points.
  assert rows['Δ vs sgd'] == [
    '+0.10 [+0.10, +0.10]',
    '+0.20 [+0.20, +0.20]',
    '+0.40 [+0.40, +0.40]',
    '+1.00 [+1.00, +1.00]',
  ]


def test_weight_decay_sweep_table_in_order(wd_sweep):
  res = results.load_results(wd_sweep)
  md = report.sweep_table(res, 'weight_decay')
  rows = _table_rows(md)
  assert rows[''] == ['λ=0.0001', 'λ=0.001', 'λ=0.01']
  assert rows['sgd: ave'] == ['91.50'] * 3
  assert rows['adadecay: ave'] == ['92.00'] * 3
  assert rows['adadecay: max'] == ['93.50'] * 3
  # No plain 'sgd' run: Δ is paired with the sgd run of the same λ.
  assert rows['adadecay: Δ vs sgd'] == ['+0.50 [+0.50, +0.50]'] * 3
  assert 'sgd: Δ vs sgd' not in rows


def test_sweep_from_variant_key(basic):
  # The variant is read from the run's field, whatever its label says.
  res = results.load_results(basic)
  res['runs']['sgd']['variant'] = {'dropout_rate': 0.25}
  res['runs']['adadecay']['variant'] = {'dropout_rate': 0.125}
  assert report.swept_keys(res) == ['dropout_rate']
  rows = _table_rows(report.sweep_table(res, 'dropout_rate'))
  assert rows[''] == ['P=0.125', 'P=0.25']
  assert rows['adadecay: ave'] == ['92.00', '']
  assert rows['sgd: ave'] == ['', '91.50']


def test_sweep_table_unknown_key(basic):
  with pytest.raises(ValueError, match="'alpha'"):
    report.sweep_table(results.load_results(basic), 'alpha')


# --------------------------------------------------------------------------
# Figures.


def test_epoch_figure_is_trimmed_mean(tmp_path):
  # 10 trials: trim 0.1 drops the lowest and the highest trial per epoch.
  acc = _acc(trials=10)
  acc[9] = 0.50  # outlier, trimmed away
  acc[0, 4] = 0.99  # the highest at epoch 5, trimmed away
  wd = _write(tmp_path, {'sgd': _run(acc)})
  ax = report.plot_accuracy_vs_epoch(results.load_results(wd), Figure().subplots())
  (line,) = ax.get_lines()
  np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 11))
  expected = 100 * np.sort(acc, axis=0)[1:-1].mean(axis=0)
  np.testing.assert_allclose(line.get_ydata(), expected, rtol=0, atol=1e-9)
  assert '10 trials × 10 epochs' in ax.get_title()
  assert 'synthetic' in ax.get_title()
  assert any('percentile' in t.get_text() for t in ax.get_legend().get_texts())


def test_report_figures(basic, alpha_sweep, wd_sweep, tmp_path):
  out = tmp_path / 'out'
  paths = report.make_report([alpha_sweep], out)
  assert [p.name for p in paths] == [
    'tables.md',
    'accuracy_vs_epoch_nn2_fashion_mnist.png',
    'difference_vs_epoch_nn2_fashion_mnist.png',
    'accuracy_vs_alpha.png',
  ]
  paths += report.make_report(wd_sweep, out)[1:]
  assert paths[-1].name == 'accuracy_vs_weight_decay.png'
  for p in paths[1:]:
    _check_png(p)
  assert sorted(os.listdir(out)) == sorted({p.name for p in paths})  # no temp files left


def test_weight_decay_axis_is_log(wd_sweep):
  ax = report.plot_sweep(results.load_results(wd_sweep), 'weight_decay', Figure().subplots())
  assert ax.get_xscale() == 'log'
  # errorbar() labels its container, whose first line is the data line.
  lines = {c.get_label(): c.lines[0] for c in ax.containers}
  assert list(lines) == ['sgd', 'adadecay']
  np.testing.assert_allclose(lines['adadecay'].get_xdata().astype(float), [1e-4, 1e-3, 1e-2])
  np.testing.assert_allclose(lines['adadecay'].get_ydata().astype(float), [92.0] * 3)


def test_several_workdirs_are_merged(basic, alpha_sweep, tmp_path):
  # Both hold the same 'sgd' run (same seeds, same accuracies): kept once.
  paths = report.make_report([basic, alpha_sweep], tmp_path)
  assert [p.name for p in paths] == [
    'tables.md',
    'accuracy_vs_epoch_nn2_fashion_mnist.png',
    'difference_vs_epoch_nn2_fashion_mnist.png',
    'accuracy_vs_alpha.png',
    'results.json',
    'accuracy.csv',
  ]
  merged = results.load_results(tmp_path)
  assert list(merged['runs']) == [
    'sgd',
    'adadecay',
    'adadecay(alpha=8)',
    'adadecay(alpha=-1)',
    'adadecay(alpha=2)',
    'adadecay(alpha=0)',
  ]
  rows = (tmp_path / 'accuracy.csv').read_text().splitlines()
  assert len(rows) == 1 + 6 * 4 * 10  # runs x trials x epochs
  md = paths[0].read_text()
  assert '## table2_fashion + table1_alpha' in md


def test_split_experiment_merges_to_the_whole(tmp_path):
  # One workdir with two groups, and the same runs split one per workdir.
  rng = np.random.default_rng(0)
  runs = {}
  for group in ('nn2 / mnist', 'nn2 / fashion_mnist'):
    prefix = group.replace(' ', '')
    for name in ('sgd', 'randomized', 'adadecay'):
      acc = rng.uniform(0.85, 0.95, (5, 10))
      runs[f'{prefix}/{name}'] = {**_run(acc, group), 'variant': {}}
  whole = results.load_results(_write(tmp_path / 'whole', runs, 'table2_theta'))
  parts = []
  for i, (label, run) in enumerate(runs.items()):
    parts.append(_write(tmp_path / f'part{i}', {label.rsplit('/', 1)[1]: run}, 'table2_theta'))
  merged = results.merge_results([results.load_results(p) for p in parts])
  assert results.format_table(merged) == results.format_table(whole)
  assert list(merged['runs']) == list(whole['runs'])
  for label, run in whole['runs'].items():
    assert merged['runs'][label]['vs_baseline'] == run['vs_baseline']
    assert merged['runs'][label]['summary'] == run['summary']
  assert report.claims_table(merged) == report.claims_table(whole)
  # The report of the parts equals the report of the whole.
  a = report.make_report(parts, tmp_path / 'ra')[0].read_text().split('\n')
  b = report.make_report(whole_dir := tmp_path / 'whole', tmp_path / 'rb')[0].read_text()
  assert a[6:] == b.split('\n')[6:]  # all but the list of workdirs
  del whole_dir


def test_merge_refuses_a_run_that_differs(basic, tmp_path):
  other = _write(tmp_path / 'other', {'sgd': _run(_acc(0.01))})
  with pytest.raises(report.ReportError, match='different results'):
    report.make_report([basic, other], tmp_path / 'out')
  assert not (tmp_path / 'out').exists()


# --------------------------------------------------------------------------
# The paper beside ours. Hand-made: 5 trials x 10 epochs, every epoch of a
# trial the same accuracy. trim_mean(x, 0.1) of 5 values cuts int(0.5) = 0:
# the plain mean. sgd: 89.03 ... 89.43 -> ave 89.23 = the paper's SGD cell
# (NN-2 / Fashion-MNIST), and a bootstrap interval of a mean cannot exclude
# the sample's own mean: 'yes'. adadecay = sgd + 1.00 per trial: ave 90.23,
# every resampled mean lies in [90.03, 90.43], so the paper's 89.49 is
# outside: 'no'; its paired differences are all +1.00 (interval [+1.00,
# +1.00]), so the paper's +0.26 (89.49 - 89.23) is outside too.
# adadecay(alpha=-1) = adadecay - 0.48: Δ vs α=4 is -0.48 = the paper's
# 89.01 - 89.49. randomized = sgd + 0.50; rmsprop = adadecay - d with
# d = (-1, 1, -0.5, 0.5, 0) points: AdaDecay - rmsprop has mean 0 and an
# interval around it.


@pytest.fixture(scope='module')
def paper_like(tmp_path_factory):
  sgd = np.repeat(np.array([0.8903, 0.8913, 0.8923, 0.8933, 0.8943])[:, None], 10, axis=1)
  d = np.array([-0.01, 0.01, -0.005, 0.005, 0.0])[:, None]
  runs = {
    'sgd': sgd,
    'randomized': sgd + 0.005,
    'adadecay': sgd + 0.01,
    'adadecay(alpha=-1)': sgd + 0.01 - 0.0048,
    'rmsprop': sgd + 0.01 - d,
  }
  return results.load_results(
    _write(
      tmp_path_factory.mktemp('paper'),
      {k: _run(v, 'nn2 / fashion_mnist') for k, v in runs.items()},
      'table2_theta',
    )
  )


def _row(md, first):
  return next(l for l in md.splitlines() if l.startswith(f'| {first} |')).split(' | ')


def test_paper_table_hand_values(paper_like):
  md = report.paper_table(paper_like)
  sgd = _row(md, 'sgd')
  assert sgd[1] == '89.23' and sgd[2].startswith('89.23 [') and sgd[3] == 'yes'
  low, high = (float(x) for x in sgd[2][len('89.23 [') : -1].split(', '))
  assert 89.03 <= low < 89.23 < high <= 89.43
  assert sgd[4] == '89.50' and sgd[5] == '89.43'  # paper max; ours: best trial
  ada = _row(md, 'adadecay')
  assert ada[1] == '89.49' and ada[2].startswith('90.23 [') and ada[3] == 'no'
  assert ada[6:] == ['+0.26', '+1.00 [+1.00, +1.00]', 'no |']
  low, high = (float(x) for x in ada[2][len('90.23 [') : -1].split(', '))
  assert 90.03 <= low <= 90.23 <= high <= 90.43
  assert 'randomized' not in md  # the paper prints no Table II cells
  assert _row(md, 'rmsprop')[1] == '88.89'
  alpha = _row(md.split('paper Δ vs α=4')[1], 'adadecay(alpha=-1)')
  assert alpha[1:] == ['-0.48', '-0.48 [-0.48, -0.48]', 'yes |']


def test_claims_hand_values(paper_like):
  md = report.claims_table(paper_like)
  rows = {l.split(' | ')[0][2:]: l.split(' | ') for l in md.splitlines() if l.startswith('| ')}
  assert rows['AdaDecay beats constant decay'][1] == 'Table II, Table III'
  assert rows['AdaDecay beats constant decay'][2] == '89.49 vs 89.23'
  assert rows['AdaDecay beats constant decay'][3].endswith('+1.00 [+1.00, +1.00]')
  assert rows['AdaDecay beats constant decay'][4] == '**supported** |'
  assert rows['AdaDecay beats randomized θ (eq. 13)'][2:] == [
    'stated',
    'adadecay − randomized: +0.50 [+0.50, +0.50]',
    '**supported** |',
  ]
  rms = rows['AdaDecay beats rmsprop']
  assert rms[3].startswith('adadecay − rmsprop: +0.00 [')
  assert rms[4] == 'not shown: the interval contains 0 |'
  assert rows['α = 4 beats α = -1'][3].endswith('+0.48 [+0.48, +0.48]')


def test_paper_numbers_as_printed():
  cells = paper.cells()
  # Table III: 12 (model, data) pairs x 6 optimizers; Table I: 3 data sets x
  # the 4 values of α other than 4 (its α = 4 column repeats Table III).
  assert len(cells) == 12 * 6 + 3 * 4
  assert (
    paper.cell('nn2', 'fashion_mnist', 'sgd').ave,
    paper.cell('nn2', 'fashion_mnist', 'sgd').max,
  ) == (89.23, 89.50)
  assert paper.cell('nn2', 'mnist', 'adadecay', {'alpha': 4.0}) == paper.cell(
    'nn2', 'mnist', 'adadecay'
  )
  assert paper.cell('densenet121', 'cifar10', 'rmsprop').ave == 83.17
  assert paper.cell('resnet18', 'cifar10', 'adadecay', {'alpha': -1}).ave == 93.92
  assert paper.cell('nn2', 'fashion_mnist', 'sgd', {'weight_decay': 1e-3}) is None
  assert paper.cell('nn2', 'cifar10_jpeg', 'sgd') is None


def test_difference_figure_is_paired_mean(paper_like):
  ax = report.plot_difference_vs_epoch(paper_like, Figure().subplots(), group='nn2 / fashion_mnist')
  lines = {l.get_label(): l for l in ax.get_lines() if not l.get_label().startswith('_')}
  assert list(lines) == [
    'randomized − sgd',
    'adadecay − sgd',
    'adadecay(alpha=-1) − sgd',
    'rmsprop − sgd',
  ]
  np.testing.assert_allclose(lines['adadecay − sgd'].get_ydata(), [1.0] * 10, atol=1e-9)
  np.testing.assert_allclose(lines['adadecay(alpha=-1) − sgd'].get_ydata(), [0.52] * 10, atol=1e-9)


# --------------------------------------------------------------------------
# Command line.


def test_run_default_out(basic, capsys):
  assert report.run([str(basic)]) == 0
  out = capsys.readouterr().out
  assert (basic / 'report' / 'tables.md').is_file()
  assert f'wrote {basic / "report" / "tables.md"}' in out
  assert '| ave | 91.50 | 92.00 |' in out


def test_run_missing_workdir(basic, tmp_path, capsys):
  missing = tmp_path / 'nope'
  assert report.run([str(basic), str(missing)], str(tmp_path / 'o')) != 0
  err = capsys.readouterr().err
  assert str(missing) in err and 'not found' in err
  assert not (tmp_path / 'o').exists()  # nothing written

  empty = tmp_path / 'empty'
  empty.mkdir()
  assert report.run([str(empty)]) != 0
  assert f'no results.json in {empty}' in capsys.readouterr().err

  (empty / 'results.json').write_text('{not json')
  assert report.run([str(empty)]) != 0
  assert str(empty / 'results.json') in capsys.readouterr().err


@pytest.mark.slow
def test_cli_subprocess(basic, tmp_path):
  env = {**os.environ, 'MPLBACKEND': 'Agg'}
  out = tmp_path / 'cli'
  ok = subprocess.run(
    [sys.executable, '-m', 'train.report', str(basic), '--out', str(out)],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=60,
  )
  assert ok.returncode == 0, ok.stderr
  assert (out / 'tables.md').is_file()
  _check_png(out / 'accuracy_vs_epoch_nn2_fashion_mnist.png')
  assert str(out / 'tables.md') in ok.stdout

  missing = tmp_path / 'missing_workdir'
  bad = subprocess.run(
    [sys.executable, '-m', 'train.report', str(missing)],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=60,
  )
  assert bad.returncode != 0
  assert str(missing) in bad.stderr
  assert 'Traceback' not in bad.stderr

  none = subprocess.run(
    [sys.executable, '-m', 'train.report', '--out', str(out)],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=60,
  )
  assert none.returncode == 2
  assert 'give at least one WORKDIR' in none.stderr
  assert 'Traceback' not in none.stderr


def test_importing_defines_no_flags():
  # The flags are the command line's: a program importing train.report keeps its own.
  from absl import flags  # pylint: disable=g-import-not-at-top

  assert 'out' not in flags.FLAGS


def test_headings_name_each_groups_data_without_machine_paths(tmp_path):
  # Two workdirs, one data set each, found under this machine's folders.
  sources = {
    'fashion_mnist': 'fashion_mnist: original IDX files in /home/me/data/fashion-mnist'
    ' ($ADADECAY_DATA_DIR; decoded content verified)',
    'mnist': 'mnist: original IDX files in /home/me/data/mnist'
    ' ($ADADECAY_DATA_DIR; decoded content verified)',
  }
  dirs = []
  for dataset, source in sources.items():
    dirs.append(tmp_path / dataset)
    results.write_results(
      dirs[-1],
      experiment='t2',
      config={},
      data_source=source,
      runs={'sgd': _run(_acc(), group=f'nn2 / {dataset}')},
    )
  merged = results.merge_results([results.load_results(d) for d in dirs])
  table = results.format_table(merged)
  assert '/home/me' not in table
  fashion, mnist = table.split('### ')[1:3]
  assert fashion.startswith(
    'Model nn2, dataset fashion_mnist (data: fashion_mnist: original IDX'
    ' files in …/fashion-mnist ($ADADECAY_DATA_DIR; decoded content'
    ' verified); 4 trials × 10 epochs)'
  )
  assert 'mnist: original IDX files in …/mnist (' in mnist and 'fashion' not in mnist
  # A source without a path is left as it is.
  assert results.data_source_text({'data_source': 'synthetic'}, 'nn2 / mnist') == 'synthetic'
