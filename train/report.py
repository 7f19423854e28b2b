"""Markdown tables and figures of finished experiments (the paper's layout).

Usage::

  python -m train.report WORKDIR [WORKDIR ...] [--out DIR]

reads ``WORKDIR/results.json`` (written by `train.results.write_results`) of
every workdir. Several workdirs are one experiment split over jobs (e.g. one
run each): they are merged (`train.results.merge_results`) into exactly the
tables one workdir training all their runs, in the order given, would give.
It writes into ``DIR`` (default: ``<first WORKDIR>/report``):

* with several workdirs, ``results.json`` and ``accuracy.csv`` of the
  merged experiment, as one workdir would hold them;
* ``tables.md``: `train.results.format_table` (Tables II-IV of the paper);
  the paper's printed numbers beside ours (`paper_table`); the paper's
  claims and whether our paired intervals support them (`claims_table`);
  and, for every variant key whose value differs between runs, a sweep
  table (`sweep_table`; Table I for ``alpha``).
* ``accuracy_vs_epoch_<group>.png``: per group, the 10%-trimmed mean over
  trials of the test accuracy at every epoch with a 10th-90th percentile band
  across trials (Fig. 3).
* ``difference_vs_epoch_<group>.png``: per group with a baseline run, the
  paired difference of every other run to it at every epoch, with its 95%
  bootstrap band.
* ``accuracy_vs_weight_decay.png`` (Fig. 1), ``accuracy_vs_dropout.png``
  (Fig. 2), ``accuracy_vs_alpha.png`` (Table I) and ``accuracy_vs_<key>.png``
  for any other numeric swept key: "ave" with its bootstrap interval against
  the variant value, one line per optimizer.

Every file is replaced atomically.

Runs are identified by their fields (results.json schema 2): ``model``,
``dataset``, ``optimizer`` and ``variant`` (what the run sets beyond the
paper, e.g. ``{'alpha': 8.0}``); labels are only printed. Schema 1 files
are read through `train.results.load_results`, which derives the fields.
"""

from __future__ import annotations

import math
import os
import pathlib
import re
import sys
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from absl import app
from absl import flags
import numpy as np
from scipy import stats as scipy_stats

from train import files
from train import stats
from train import paper
from train import results as results_lib

__all__ = [
  'ReportError',
  'claims_table',
  'main',
  'make_report',
  'paper_table',
  'plot_accuracy_vs_epoch',
  'plot_difference_vs_epoch',
  'plot_sweep',
  'run_identity',
  'run_variant',
  'swept_keys',
  'sweep_table',
]

TABLES_MD = 'tables.md'
# Band of the accuracy-vs-epoch figures: percentiles across trials.
BAND_PERCENTILES = (10, 90)
# Paper notation for the keys of its sweeps.
_SYMBOLS = {'alpha': 'α', 'weight_decay': 'λ', 'dropout_rate': 'P'}
_FIGURE_STEMS = {
  'weight_decay': 'accuracy_vs_weight_decay',
  'dropout_rate': 'accuracy_vs_dropout',
  'alpha': 'accuracy_vs_alpha',
}
# Selects all runs in the plotting functions (None is a valid group: no group).
_ALL = object()


class ReportError(Exception):
  """A workdir or output folder that cannot be used (message names the path)."""


# ----------------------------------------------------------------------------
# Variants.


def run_variant(run: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
  """(optimizer name, variant) of one run of results.json (schema 2 fields)."""
  return run['optimizer'], dict(run.get('variant') or {})


def _is_number(v: Any) -> bool:
  return isinstance(v, (int, float)) and not isinstance(v, bool)


def _sorted_values(values: Sequence[Any]) -> list[Any]:
  """Distinct values; ascending when all numeric, else in first-seen order."""
  distinct: list[Any] = []
  for v in values:
    if v not in distinct:
      distinct.append(v)
  if all(_is_number(v) for v in distinct):
    return sorted(distinct)
  return distinct


def swept_keys(results: Mapping[str, Any]) -> list[str]:
  """Variant keys that take at least two distinct values across the runs.

  Returns:
    Keys in first-seen order.
  """
  seen: dict[str, list[Any]] = {}
  for run in results['runs'].values():
    for k, v in run_variant(run)[1].items():
      seen.setdefault(k, [])
      if v not in seen[k]:
        seen[k].append(v)
  return [k for k, vs in seen.items() if len(vs) >= 2]


def _fmt_value(v: Any) -> str:
  return f'{v:g}' if _is_number(v) else str(v)


def _series_name(name: str, variant: Mapping[str, Any], key: str) -> str:
  """The run's label without ``key``: one line / row block of a sweep."""
  rest = ', '.join(f'{k}={_fmt_value(v)}' for k, v in variant.items() if k != key)
  return f'{name}({rest})' if rest else name


def _sweep_series(results: Mapping[str, Any], key: str, group: Any) -> dict[str, dict[Any, str]]:
  """Series name -> {value of ``key``: run label} for one group.

  For ``key='alpha'``, a run that leaves α at its default (plain
  ``adadecay``: α = 4, Table I's α = 4 column) joins the series of runs of
  that optimizer that set α, unless one of them sets α to the default.
  """
  series: dict[str, dict[Any, str]] = {}
  implicit = []
  for label, run in results['runs'].items():
    if run.get('group') != group:
      continue
    name, variant = run_variant(run)
    if key not in variant:
      if key == 'alpha' and name in _ALPHA_DEFAULTS:
        implicit.append((label, _series_name(name, variant, key), _ALPHA_DEFAULTS[name]))
      continue
    s = _series_name(name, variant, key)
    if variant[key] in series.get(s, {}):
      s = label  # two runs with the same variant: keep both, by label
    series.setdefault(s, {})[variant[key]] = label
  for label, s, default in implicit:
    if s in series and default not in series[s]:
      series[s][default] = label
  return series


def _groups(results: Mapping[str, Any]) -> list[Any]:
  groups: list[Any] = []
  for run in results['runs'].values():
    if run.get('group') not in groups:
      groups.append(run.get('group'))
  return groups


# ----------------------------------------------------------------------------
# Tables.


def _shape_text(results: Mapping[str, Any], labels: Sequence[str]) -> str:
  runs = results['runs']
  shapes = {(runs[l]['trials'], runs[l]['epochs']) for l in labels}
  if len(shapes) == 1:
    t, e = shapes.pop()
    return f'{t} trials × {e} epochs'
  return 'trials × epochs differ between runs'


def _delta_cell(results: Mapping[str, Any], label: str, group: Any) -> str:
  """Δ vs the baseline: against the baseline run with the same variant when
  there is one (computed here: e.g. adadecay vs sgd at the same λ), else the
  stored ``vs_baseline`` (e.g. against plain 'sgd')."""
  runs = results['runs']
  st = results.get('statistics', {})
  baseline = st.get('baseline', 'sgd')
  name, variant = run_variant(runs[label])
  if name == baseline:
    return ''
  match = [
    l
    for l, r in runs.items()
    if r.get('group') == group and l != label and run_variant(r) == (baseline, variant)
  ]
  if match:
    a, b = runs[label], runs[match[0]]
    if a['seeds'] != b['seeds'] or a['trials'] != b['trials'] or a['epochs'] != b['epochs']:
      return 'n/a'
    d = stats.paired_difference(
      a['test_accuracy'],
      b['test_accuracy'],
      fraction=st.get('fraction', 0.1),
      confidence=st.get('confidence', 0.95),
      seed=st.get('bootstrap_seed', 0),
      trim=st.get('trim', 0.1),
    )
    vs: Mapping[str, Any] | None = d.to_dict()
  else:
    vs = runs[label].get('vs_baseline')
  return results_lib.delta_text(vs)


def sweep_table(results: Mapping[str, Any], key: str) -> str:
  """Markdown table of a variant sweep, one per group (the paper's Table I).

  Columns are the values of ``key`` in ascending order; rows are ``ave``,
  ``max`` (percent) and ``Δ vs <baseline>`` (percentage points, with the
  bootstrap interval). The Δ of a run is taken against the baseline run with
  the same variant when the group has one (e.g. adadecay vs sgd at the same
  λ), else against the group's plain baseline run. When several optimizers
  (or optimizers with different other variant keys) vary ``key``, each gets
  its own block of rows, prefixed by its name. Runs without ``key`` are left
  out.

  Args:
    results: A dict as returned by `train.results.load_results`.
    key: Variant key, e.g. 'alpha', 'weight_decay', 'dropout_rate'.

  Returns:
    Markdown text ending in a newline.

  Raises:
    ValueError: If no run has ``key`` in its variant.
  """
  st = results.get('statistics', {})
  baseline = st.get('baseline', 'sgd')
  sym = _SYMBOLS.get(key, key)
  blocks = []
  for group in _groups(results):
    series = _sweep_series(results, key, group)
    if not series:
      continue
    values = _sorted_values([v for by_value in series.values() for v in by_value])
    labels = [l for by_value in series.values() for l in by_value.values()]
    title = results_lib._group_title(
      group, results.get('config') or {}, results.get('experiment', '')
    )
    head = (
      f'### {sym} sweep ({key}): {title} '
      f'(data: {results_lib.data_source_text(results, group)};'
      f' {_shape_text(results, labels)})'
    )
    lines = [
      head,
      '',
      '| | ' + ' | '.join(results_lib._cell(f'{sym}={_fmt_value(v)}') for v in values) + ' |',
      '|:--|' + '--:|' * len(values),
    ]
    for s, by_value in series.items():
      prefix = f'{results_lib._cell(s)}: ' if len(series) > 1 else ''
      sums = {v: results['runs'][l]['summary'] for v, l in by_value.items()}
      rows = {
        'ave': [results_lib._pct(sums[v]['ave']) if v in sums else '' for v in values],
        'max': [results_lib._pct(sums[v]['max']) if v in sums else '' for v in values],
        f'Δ vs {baseline}': [
          _delta_cell(results, by_value[v], group) if v in by_value else '' for v in values
        ],
      }
      for row, cells in rows.items():
        if any(cells):  # e.g. no Δ row for the baseline's own series
          lines.append(f'| {prefix}{row} | ' + ' | '.join(cells) + ' |')
    blocks.append('\n'.join(lines))
  if not blocks:
    raise ValueError(f'no run has variant key {key!r}; swept keys: {swept_keys(results)}')
  legend = (
    f'Columns: {key}; runs without it are left out'
    + (
      f' (a run at the default α is its α = {paper.DEFAULT_ALPHA:g} column)'
      if key == 'alpha'
      else ''
    )
    + f'. Δ vs {baseline}: paired mean '
    f'difference (same seeds) in percentage points with its '
    f'{100 * st.get("confidence", 0.95):g}% bootstrap interval, against the '
    f'{baseline} run with the same variant when there is one, else against the '
    f'run {baseline!r}. Accuracies in %.'
  )
  return '\n\n'.join(blocks) + '\n\n' + legend + '\n'


# ----------------------------------------------------------------------------
# The paper beside ours.

#: Optimizers whose α is a hyper-parameter (default: the paper's 4).
_ALPHA_DEFAULTS = {'adadecay': paper.DEFAULT_ALPHA, 'randomized': paper.DEFAULT_ALPHA}


def run_identity(run: Mapping[str, Any]) -> tuple[str | None, str | None, str, dict[str, Any]]:
  """(model, dataset, optimizer name, variant) of one run of results.json."""
  return (run.get('model'), run.get('dataset'), *run_variant(run))


def _alpha_key(name: str, variant: Mapping[str, Any]) -> tuple[str, float | None] | None:
  """(name, α) of a run on the paper's settings but α, else None."""
  rest = {k: v for k, v in variant.items() if k != 'alpha'}
  if rest:
    return None
  alpha = variant.get('alpha', _ALPHA_DEFAULTS.get(name))
  return name, (float(alpha) if alpha is not None else None)


def _paired(results: Mapping[str, Any], a: str, b: str) -> dict[str, Any] | None:
  """Paired difference run a - run b (stats.PairedDifference as a dict), or
  None when they are not paired (other seeds or shapes)."""
  ra, rb = results['runs'][a], results['runs'][b]
  if ra['seeds'] != rb['seeds'] or (ra['trials'], ra['epochs']) != (rb['trials'], rb['epochs']):
    return None
  st = results.get('statistics', {})
  return stats.paired_difference(
    ra['test_accuracy'],
    rb['test_accuracy'],
    fraction=st.get('fraction', 0.1),
    confidence=st.get('confidence', 0.95),
    seed=st.get('bootstrap_seed', 0),
    trim=st.get('trim', 0.1),
  ).to_dict()


def _inside(value: float | None, low: float | None, high: float | None) -> str:
  """'yes' / 'no' for a paper value (%) against our interval (fractions)."""
  if (
    value is None or low is None or high is None or not (math.isfinite(low) and math.isfinite(high))
  ):
    return 'n/a'
  # Printed with 2 decimals: compare at that resolution.
  return 'yes' if round(100 * low, 2) <= value <= round(100 * high, 2) else 'no'


def _ci_text(point: float | None, low: float | None, high: float | None, signed: bool) -> str:
  fmt = results_lib._pp if signed else results_lib._pct
  if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
    return f'{fmt(point)} [n/a]'
  return f'{fmt(point)} [{fmt(low)}, {fmt(high)}]'


def _verdict(vs: Mapping[str, Any] | None) -> str:
  if vs is None or 'mean' not in vs:
    return 'not paired'
  lo, hi = vs.get('ci_low'), vs.get('ci_high')
  if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
    return 'no interval (too few trials)'
  if lo > 0:
    return '**supported**'
  if hi < 0:
    return '**contradicted** (the other way round)'
  return 'not shown: the interval contains 0'


def _group_runs(results: Mapping[str, Any], group: Any) -> dict[str, tuple]:
  """label -> (model, dataset, name, variant) for the runs of one group."""
  return {l: run_identity(r) for l, r in results['runs'].items() if r.get('group') == group}


def paper_table(results: Mapping[str, Any]) -> str:
  """The paper's numbers beside ours, per group with printed cells.

  Per run with a printed cell (`train.paper.cell`): the paper's ave and max,
  ours with our bootstrap interval of ave, whether the paper's ave lies
  inside it; then the paired difference to the baseline (ours, with its
  interval) beside the paper's (the difference of its printed aves), and
  whether the paper's lies inside ours. Runs that vary α get a second table
  of the same kind against α = 4 (Table I).

  Args:
    results: A dict as returned by `train.results.load_results`.

  Returns:
    Markdown text ending in a newline; empty when no run has a printed cell.
  """
  runs = results['runs']
  st = results.get('statistics', {})
  baseline = st.get('baseline', 'sgd')
  conf = f'{100 * st.get("confidence", 0.95):g}%'
  blocks = []
  for group in _groups(results):
    ids = _group_runs(results, group)
    printed = {l: paper.cell(m, d, n, v) for l, (m, d, n, v) in ids.items() if m is not None}
    printed = {l: c for l, c in printed.items() if c is not None}
    if not printed:
      continue
    base = next((l for l, (_, _, n, v) in ids.items() if n == baseline and not v), None)
    base_cell = printed.get(base) if base else None
    lines = [
      f'### Paper vs ours: {results_lib._group_title(group, {}, "")} '
      f'(ours: {_shape_text(results, list(printed))}; paper: 50 trials × 100 epochs, '
      '32 trials on CIFAR-10)',
      '',
      f'| run | paper ave | ours ave [{conf} CI] | paper in CI | paper max | ours max '
      f'| paper Δ vs {baseline} | ours Δ vs {baseline} [{conf} CI] | paper Δ in CI |',
      '|:--|--:|--:|:-:|--:|--:|--:|--:|:-:|',
    ]
    for label, c in printed.items():
      s = runs[label]['summary']
      row = [
        results_lib._cell(results_lib.run_name(label, group)),
        f'{c.ave:.2f}',
        _ci_text(s['ave'], s['ci_low'], s['ci_high'], signed=False),
        _inside(c.ave, s['ci_low'], s['ci_high']),
        f'{c.max:.2f}',
        results_lib._pct(s['max']),
      ]
      vs = _paired(results, label, base) if base and label != base else None
      if vs is not None and base_cell is not None:
        paper_d = round(c.ave - base_cell.ave, 2)
        row += [
          f'{paper_d:+.2f}',
          _ci_text(vs['mean'], vs['ci_low'], vs['ci_high'], True),
          _inside(paper_d, vs['ci_low'], vs['ci_high']),
        ]
      else:
        row += ['', '', '']
      lines.append('| ' + ' | '.join(row) + ' |')
    blocks.append('\n'.join(lines))

    # Table I: against α = 4.
    alpha4 = next(
      (
        l
        for l, (_, _, n, v) in ids.items()
        if _alpha_key(n, v) == ('adadecay', paper.DEFAULT_ALPHA)
      ),
      None,
    )
    swept = [
      l
      for l, (_, _, n, v) in ids.items()
      if n == 'adadecay' and l != alpha4 and _alpha_key(n, v) is not None and l in printed
    ]
    if alpha4 in printed and swept:
      lines = [
        f'| run | paper Δ vs α=4 | ours Δ vs α=4 [{conf} CI] | paper Δ in CI |',
        '|:--|--:|--:|:-:|',
      ]
      for label in swept:
        vs = _paired(results, label, alpha4)
        paper_d = round(printed[label].ave - printed[alpha4].ave, 2)
        cells = (
          ['', '', '']
          if vs is None
          else [
            f'{paper_d:+.2f}',
            _ci_text(vs['mean'], vs['ci_low'], vs['ci_high'], True),
            _inside(paper_d, vs['ci_low'], vs['ci_high']),
          ]
        )
        lines.append(
          f'| {results_lib._cell(results_lib.run_name(label, group))} | ' + ' | '.join(cells) + ' |'
        )
      blocks.append('\n'.join(lines))
  if not blocks:
    return ''
  legend = (
    'Accuracies in %, Δ in percentage points. The paper prints no intervals: "paper in '
    f'CI" asks whether its number lies inside our {conf} bootstrap interval. The paper\'s '
    'Δ is the difference of its printed aves (its runs are not paired); ours is paired '
    "(same seeds). Our runs use fewer trials than the paper's where the heading says so."
  )
  return '\n\n'.join(blocks) + '\n\n' + legend + '\n'


def claims_table(results: Mapping[str, Any]) -> str:
  """The paper's comparisons and whether our paired intervals support them.

  Per group: the claims the paper states in words (`train.paper.CLAIMS`,
  Table II) and those its printed numbers make (AdaDecay above every other
  optimizer of Table III; α = 4 above α = -1 in Table I), each where both
  runs are present, with our paired difference and its interval.
  "supported": the interval lies above 0; "contradicted": below 0; else
  not shown either way.

  Args:
    results: A dict as returned by `train.results.load_results`.

  Returns:
    Markdown text ending in a newline; empty when no claim applies.
  """
  conf = f'{100 * results.get("statistics", {}).get("confidence", 0.95):g}%'
  blocks = []
  for group in _groups(results):
    ids = _group_runs(results, group)
    by_key = {}
    for label, (_, _, name, variant) in ids.items():
      key = _alpha_key(name, variant)
      if key is not None:
        by_key.setdefault(key, label)
    model, dataset = next(iter(ids.values()))[:2]
    if model is None:
      continue
    rows: dict[tuple, list[str]] = {}  # (better, worse) -> [text, sources, paper]
    for c in paper.claims_for(model, dataset):
      rows.setdefault((c.better, c.worse), [c.text, c.source, 'stated'])
    ours = ('adadecay', paper.DEFAULT_ALPHA)
    ours_cell = paper.cell(model, dataset, 'adadecay')
    for (name, alpha), label in by_key.items():
      other = paper.cell(
        model, dataset, name, {} if alpha is None or name != 'adadecay' else {'alpha': alpha}
      )
      if ours_cell is None or other is None or (name, alpha) == ours:
        continue
      if name == 'adadecay' and alpha != -1.0:
        continue  # the paper claims robustness for α > 0, not an order
      what = f'α = 4 beats α = {alpha:g}' if name == 'adadecay' else f'AdaDecay beats {name}'
      printed = f'{ours_cell.ave:.2f} vs {other.ave:.2f}'
      key = (ours, (name, alpha))
      if key in rows:
        rows[key][1] += f', Table {other.table}'
        rows[key][2] = printed
      else:
        rows[key] = [what, f'Table {other.table}', printed]
    lines = []
    for (better, worse), (text, source, printed) in rows.items():
      if better not in by_key or worse not in by_key:
        continue
      vs = _paired(results, by_key[better], by_key[worse])
      ours_text = (
        'not paired'
        if vs is None
        else _ci_text(vs['mean'], vs['ci_low'], vs['ci_high'], signed=True)
      )
      lines.append(
        f'| {text} | {source} | {printed} | '
        f'{results_lib._cell(results_lib.run_name(by_key[better], group))} − '
        f'{results_lib._cell(results_lib.run_name(by_key[worse], group))}: '
        f'{ours_text} | {_verdict(vs)} |'
      )
    if lines:
      blocks.append(
        '\n'.join(
          [
            f"### The paper's claims: {results_lib._group_title(group, {}, '')} "
            f'(ours: {_shape_text(results, list(ids))})',
            '',
            f'| claim | source | paper (ave) | ours: paired Δ [{conf} CI] | verdict |',
            '|:--|:--|:--|:--|:--|',
          ]
          + lines
        )
      )
  if not blocks:
    return ''
  legend = (
    f'Δ in percentage points, paired (same seeds), with its {conf} bootstrap interval. '
    '"stated": the paper states the claim without printing the numbers.'
  )
  return '\n\n'.join(blocks) + '\n\n' + legend + '\n'


# ----------------------------------------------------------------------------
# Figures.


def _new_axes(ax: Any) -> Any:
  if ax is not None:
    return ax
  # pyplot only here: a notebook then shows the figure; make_report uses
  # plain Figures (no global state, no display backend).
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  _, ax = plt.subplots(figsize=(7, 4.5))
  return ax


def _select(results: Mapping[str, Any], group: Any) -> list[str]:
  labels = [l for l, r in results['runs'].items() if group is _ALL or r.get('group') == group]
  if not labels:
    raise ValueError(f'no runs in group {group!r}; groups: {_groups(results)}')
  return labels


def _subtitle(results: Mapping[str, Any], labels: Sequence[str]) -> str:
  groups = {results['runs'][l].get('group') for l in labels}
  group = groups.pop() if len(groups) == 1 else None  # one group: its data only
  text = (
    f'{results.get("experiment", "")}; data: {results_lib.data_source_text(results, group)}; '
    f'{_shape_text(results, labels)}'
  )
  # Long data sources: wrap so the figure keeps its width.
  return '\n'.join(textwrap.wrap(text, 90))


def plot_accuracy_vs_epoch(results: Mapping[str, Any], ax: Any = None, group: Any = _ALL) -> Any:
  """Test accuracy against epoch, one line per run (the paper's Fig. 3).

  The line is the trimmed mean over trials (``statistics.trim`` of
  results.json, 10%) at every epoch; the band spans the 10th to 90th
  percentile across trials.

  Args:
    results: A dict as returned by `train.results.load_results`.
    ax: Matplotlib Axes to draw on; None makes a new pyplot figure.
    group: Only the runs of this group (None: runs without a group);
      default all runs, labelled with their group when there are several.

  Returns:
    The Axes.
  """
  from matplotlib.patches import Patch  # pylint: disable=g-import-not-at-top

  ax = _new_axes(ax)
  labels = _select(results, group)
  trim = results.get('statistics', {}).get('trim', 0.1)
  several = group is _ALL and len(_groups(results)) > 1
  for label in labels:
    run = results['runs'][label]
    acc = 100 * np.asarray(run['test_accuracy'], dtype=np.float64)
    epochs = np.arange(1, acc.shape[1] + 1)
    lo, hi = np.percentile(acc, BAND_PERCENTILES, axis=0)
    name = f'{run.get("group")}: {label}' if several else label
    (line,) = ax.plot(epochs, scipy_stats.trim_mean(acc, trim, axis=0), label=name, lw=1.5)
    ax.fill_between(epochs, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
  handles, names = ax.get_legend_handles_labels()
  handles.append(Patch(color='gray', alpha=0.3))
  names.append(f'band: {BAND_PERCENTILES[0]}th–{BAND_PERCENTILES[1]}th percentile of trials')
  # Outside the axes: the bands cover most of the plot area.
  ax.legend(handles, names, fontsize='small', loc='upper left', bbox_to_anchor=(1.01, 1))
  title = (
    'all groups'
    if group is _ALL
    else results_lib._group_title(group, results.get('config') or {}, results.get('experiment', ''))
  )
  ax.set_title(f'Test accuracy vs epoch: {title}\n{_subtitle(results, labels)}', fontsize='medium')
  ax.set_xlabel('epoch')
  ax.set_ylabel(f'test accuracy (%), {100 * trim:g}%-trimmed mean over trials')
  ax.grid(alpha=0.3)
  return ax


def plot_difference_vs_epoch(results: Mapping[str, Any], ax: Any = None, group: Any = None) -> Any:
  """Paired difference to the baseline at every epoch, with its interval band.

  One line per run of ``group`` paired with the group's baseline run (same
  seeds): the mean over trials of the per-trial difference in test accuracy,
  and its bootstrap interval at each epoch
  (`train.stats.paired_difference_by_epoch`), in percentage points.

  Args:
    results: A dict as returned by `train.results.load_results`.
    ax: Matplotlib Axes to draw on; None makes a new pyplot figure.
    group: The group (e.g. 'nn2 / fashion_mnist'; None: runs without one).

  Returns:
    The Axes.

  Raises:
    ValueError: If the group has no baseline run or nothing paired with it.
  """
  ax = _new_axes(ax)
  labels = _select(results, group)
  st = results.get('statistics', {})
  baseline = st.get('baseline', 'sgd')
  conf = st.get('confidence', 0.95)
  runs = results['runs']
  base = next((l for l in labels if run_identity(runs[l])[2:] == (baseline, {})), None)
  if base is None:
    raise ValueError(f'group {group!r} has no {baseline!r} run to pair with')
  drawn = []
  for label in labels:
    a, b = runs[label], runs[base]
    if (
      label == base
      or a['seeds'] != b['seeds']
      or (a['trials'], a['epochs']) != (b['trials'], b['epochs'])
    ):
      continue
    mean, low, high = stats.paired_difference_by_epoch(
      a['test_accuracy'], b['test_accuracy'], confidence=conf, seed=st.get('bootstrap_seed', 0)
    )
    epochs = np.arange(1, mean.size + 1)
    name = results_lib.run_name(label, group)
    (line,) = ax.plot(epochs, 100 * mean, lw=1.5, label=f'{name} − {baseline}')
    ax.fill_between(epochs, 100 * low, 100 * high, color=line.get_color(), alpha=0.2, lw=0)
    drawn.append(label)
  if not drawn:
    raise ValueError(f'no run of group {group!r} is paired with {base!r} (same seeds, shape)')
  ax.axhline(0, color='gray', lw=1, ls='--')
  ax.legend(
    fontsize='small', title=f'band: {100 * conf:g}% bootstrap interval', title_fontsize='small'
  )
  title = results_lib._group_title(
    group, results.get('config') or {}, results.get('experiment', '')
  )
  ax.set_title(
    f'Paired difference to {baseline} per epoch: {title}\n{_subtitle(results, drawn + [base])}',
    fontsize='medium',
  )
  ax.set_xlabel('epoch')
  ax.set_ylabel(f'test accuracy − {baseline} (points),\nmean over trials (same seeds)')
  ax.grid(alpha=0.3)
  return ax


def plot_sweep(results: Mapping[str, Any], key: str, ax: Any = None, group: Any = _ALL) -> Any:
  """ "ave" against a variant value, one line per optimizer (Figs. 1, 2).

  Error bars are the bootstrap interval of "ave" stored in results.json
  (none for runs with too few trials). ``weight_decay`` gets a log x axis
  (symlog when a value is <= 0). The baseline run without ``key`` (e.g.
  plain sgd in an α sweep) is drawn as a dashed reference line.

  Args:
    results: A dict as returned by `train.results.load_results`.
    key: Numeric variant key, e.g. 'weight_decay', 'dropout_rate', 'alpha'.
    ax: Matplotlib Axes to draw on; None makes a new pyplot figure.
    group: Only this group (None: runs without a group); default all
      groups, labelled with their group when there are several.

  Returns:
    The Axes.

  Raises:
    ValueError: If no run in the selection has ``key`` or a value of ``key``
      is not a number.
  """
  ax = _new_axes(ax)
  groups = _groups(results) if group is _ALL else [group]
  st = results.get('statistics', {})
  baseline = st.get('baseline', 'sgd')
  sym = _SYMBOLS.get(key, key)
  xs_all: list[float] = []
  labels_all: list[str] = []
  for g in groups:
    prefix = f'{g}: ' if len(groups) > 1 else ''
    for s, by_value in _sweep_series(results, key, g).items():
      bad = [v for v in by_value if not _is_number(v)]
      if bad:
        raise ValueError(f'{key} has non-numeric values {bad}')
      xs = sorted(by_value)
      sums = [results['runs'][by_value[x]]['summary'] for x in xs]
      y = np.array([100 * stats.none_to_nan(s_['ave']) for s_ in sums])
      lo = np.array([100 * stats.none_to_nan(s_['ci_low']) for s_ in sums])
      hi = np.array([100 * stats.none_to_nan(s_['ci_high']) for s_ in sums])
      # No bar where there is no interval (too few trials).
      yerr = np.nan_to_num(np.stack([y - lo, hi - y]), nan=0.0)
      ax.errorbar(xs, y, yerr=yerr, marker='o', capsize=3, label=prefix + s)
      xs_all += xs
      labels_all += list(by_value.values())
    for label, run in results['runs'].items():
      name, variant = run_variant(run)
      if run.get('group') == g and name == baseline and not variant:
        ax.axhline(
          100 * stats.none_to_nan(run['summary']['ave']),
          ls='--',
          color='gray',
          lw=1,
          label=f'{prefix}{label} (no {key} given)',
        )
        labels_all.append(label)
  if not xs_all:
    raise ValueError(f'no run has variant key {key!r}; swept keys: {swept_keys(results)}')
  scale = ''
  if key == 'weight_decay':
    positive = [x for x in xs_all if x > 0]
    if len(positive) == len(xs_all):
      ax.set_xscale('log')
      scale = ', log scale'
    else:  # λ = 0 has no place on a log axis
      ax.set_xscale('symlog', linthresh=min(positive) if positive else 1.0)
      scale = ', symlog scale (linear below the smallest λ > 0)'
  trim, fraction = st.get('trim', 0.1), st.get('fraction', 0.1)
  conf = st.get('confidence', 0.95)
  title = (
    ''
    if group is _ALL or group is None
    else ': '
    + results_lib._group_title(group, results.get('config') or {}, results.get('experiment', ''))
  )
  ax.set_title(
    f'Test accuracy vs {sym} ({key}){title}\n{_subtitle(results, labels_all)}', fontsize='medium'
  )
  ax.set_xlabel(f'{sym} ({key}){scale}')
  ax.set_ylabel(
    f'ave test accuracy (%), bars: {100 * conf:g}% CI\n'
    f'({100 * trim:g}%-trimmed mean of last {100 * fraction:g}% epochs)',
    fontsize='small',
  )
  ax.legend(fontsize='small')
  ax.grid(alpha=0.3)
  return ax


# ----------------------------------------------------------------------------
# The report.


def _slug(text: str) -> str:
  return re.sub(r'[^A-Za-z0-9.-]+', '_', text).strip('_') or 'x'


def _load(workdir: pathlib.Path) -> dict[str, Any]:
  if not workdir.exists():
    raise ReportError(f'workdir not found: {workdir}')
  if not workdir.is_dir():
    raise ReportError(f'not a directory: {workdir}')
  path = workdir / results_lib.RESULTS_JSON
  if not path.is_file():
    raise ReportError(f'no {results_lib.RESULTS_JSON} in {workdir} (not a finished experiment?)')
  try:
    res = results_lib.load_results(workdir)
    if not isinstance(res.get('runs'), dict) or not res['runs']:
      raise ValueError('no runs')
  except (OSError, ValueError) as e:  # JSONDecodeError is a ValueError
    raise ReportError(f'cannot read {path}: {e}') from e
  return res


def make_report(
  workdirs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
  out_dir: str | os.PathLike[str] | None = None,
) -> list[pathlib.Path]:
  """Writes tables.md and the figures of an experiment, possibly split.

  All workdirs are read, and merged when there are several
  (`train.results.merge_results`), before anything is written.

  Args:
    workdirs: One workdir or a sequence of them (each with results.json).
    out_dir: Output folder, created if missing; None: ``<first workdir>/report``.

  Returns:
    The paths written, tables.md first.

  Raises:
    ReportError: If a workdir is missing or unreadable, the workdirs cannot
      be merged (a run with different results in two of them, different
      statistics settings), or ``out_dir`` cannot be created.
  """
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top

  if isinstance(workdirs, (str, os.PathLike)):
    workdirs = [workdirs]
  workdirs = [pathlib.Path(w) for w in workdirs]
  if not workdirs:
    raise ReportError('no workdir given')
  loaded = [_load(w) for w in workdirs]
  try:
    merged = (
      loaded[0]
      if len(loaded) == 1
      else results_lib.merge_results(loaded, [str(w) for w in workdirs])
    )
  except ValueError as e:
    raise ReportError(str(e)) from e
  out = pathlib.Path(out_dir) if out_dir is not None else workdirs[0] / 'report'
  try:
    out.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise ReportError(f'cannot create output folder {out}: {e}') from e

  used: set[str] = set()

  def unique(stem: str) -> str:
    name, i = stem, 2
    while name in used:
      name, i = f'{stem}_{i}', i + 1
    used.add(name)
    return name

  written: list[pathlib.Path] = []
  res = merged
  title = res.get('experiment') or workdirs[0].name
  md = [
    '# Results',
    '',
    f'## {title}',
    '',
    'From: ' + ', '.join(f'`{w}`' for w in workdirs),
    '',
    results_lib.format_table(res),
  ]
  md += [t for t in (paper_table(res), claims_table(res)) if t]
  keys = swept_keys(res)
  md += [sweep_table(res, k) for k in keys]

  for group in _groups(res):
    slug = _slug(group) if group is not None else 'all'
    fig = Figure(figsize=(7.5, 5))
    plot_accuracy_vs_epoch(res, fig.subplots(), group=group)
    fig.tight_layout()
    path = out / f'{unique("accuracy_vs_epoch_" + slug)}.png'
    files.save_figure(fig, path)
    written.append(path)
    try:
      fig = Figure(figsize=(7.5, 5))
      plot_difference_vs_epoch(res, fig.subplots(), group=group)
    except ValueError:
      continue  # no baseline in this group, or nothing paired with it
    fig.tight_layout()
    path = out / f'{unique("difference_vs_epoch_" + slug)}.png'
    files.save_figure(fig, path)
    written.append(path)

  for key in keys:
    groups = [g for g in _groups(res) if _sweep_series(res, key, g)]
    values = [v for g in groups for by_v in _sweep_series(res, key, g).values() for v in by_v]
    if not all(_is_number(v) for v in values):
      continue  # e.g. schedule=cosine vs linear: table only
    fig = Figure(figsize=(6.5 * len(groups), 5))
    axes = np.atleast_1d(fig.subplots(1, len(groups)))
    for ax, g in zip(axes, groups):
      plot_sweep(res, key, ax, group=g)
    fig.tight_layout()
    stem = _FIGURE_STEMS.get(key, f'accuracy_vs_{_slug(key)}')
    path = out / f'{unique(stem)}.png'
    files.save_figure(fig, path)
    written.append(path)

  if len(loaded) > 1:
    # The files one workdir holding all the runs would hold.
    st = res['statistics']
    results_lib.write_results(
      out,
      experiment=res['experiment'],
      config=res['config'],
      data_source=res['data_source'],
      machine=res['machine'],
      runs={
        l: {k: r[k] for k in ('test_accuracy', 'train_loss', 'seeds', 'group', 'variant')}
        for l, r in res['runs'].items()
      },
      **{k: st[k] for k in ('fraction', 'trim', 'confidence', 'bootstrap_seed', 'baseline')},
    )
    written += [out / results_lib.RESULTS_JSON, out / results_lib.ACCURACY_CSV]
  tables = out / TABLES_MD
  files.write_text_atomic(tables, '\n'.join(md).rstrip('\n') + '\n')
  return [tables] + written


def run(workdirs: Sequence[str | os.PathLike], out: str | os.PathLike | None = None) -> int:
  """The command line's work: `make_report`, printing tables.md and the files written.

  Args:
    workdirs: Experiment folders holding results.json.
    out: Output folder; ``<first WORKDIR>/report`` when None.

  Returns:
    The exit status: 0, or 2 after printing the `ReportError` (a workdir
    without readable results) on stderr.
  """
  try:
    paths = make_report(workdirs, out)
  except ReportError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print(paths[0].read_text(encoding='utf-8'))
  for p in paths:
    print(f'wrote {p}')
  return 0


def main(argv: Sequence[str]) -> int:
  """absl main of ``python -m train.report WORKDIR [WORKDIR ...] [--out DIR]``.

  Args:
    argv: The program name, then the workdirs.

  Returns:
    The exit status of `run`.

  Raises:
    app.UsageError: when no workdir is given (exit status 2).
  """
  if len(argv) < 2:
    raise app.UsageError('give at least one WORKDIR (a folder holding results.json)', exitcode=2)
  return run(argv[1:], flags.FLAGS.out)


if __name__ == '__main__':
  # Defined only when run as a program: a program importing this module keeps
  # its own flags.
  flags.DEFINE_string('out', None, 'Output folder (default: <first WORKDIR>/report).')
  app.run(main)
