"""Result files of an experiment and the paper-style Markdown tables.

`write_results` writes two files into an experiment's workdir:

``results.json`` (schema_version 2; numbers that are NaN/inf are stored as
null so the file is strict JSON)::

  {
    "schema_version": 2,
    "experiment": str,
    "data_source": str,           # e.g. "tfds", "synthetic"
    "machine": str | null,
    "created": str,               # ISO 8601, UTC
    "config": {...},              # the experiment config, as given
    "trials": int | null,         # null when runs differ in trials
    "epochs": int | null,         # null when runs differ in epochs
    "statistics": {               # everything needed to redo the numbers
      "fraction": 0.1, "trim": 0.1, "confidence": 0.95, "bootstrap_seed": 0,
      "n_resamples": 9999, "ci_method": "BCa", "baseline": "sgd"
    },
    "runs": {                     # in the order given (= table column order)
      "<label>": {                # the column label, e.g. "adadecay(alpha=8)": display only
        "model": str | null,      # e.g. "nn2"
        "dataset": str | null,    # e.g. "fashion_mnist"
        "optimizer": str,         # e.g. "adadecay"
        "variant": {str: float},  # what the run sets beyond the paper: hyper-parameters
                                  # and dropout_rate, e.g. {"alpha": 8.0}
        "group": str | null,      # "model / dataset": one table of the report
        "trials": int, "epochs": int,
        "seeds": [int, ...],                       # length trials
        "summary": {...},                          # stats.Summary.to_dict()
        "vs_baseline": null                        # the baseline itself / none
                     | {"baseline_run": str, ...stats.PairedDifference.to_dict()}
                     | {"baseline_run": str, "skipped": str},   # not pairable
        "test_accuracy": [[float, ...], ...],      # (trials, epochs), in [0, 1]
        "train_loss": [[float | null, ...], ...]   # (trials, epochs)
      }
    }
  }

``accuracy.csv``: long format with header
``run,trial,seed,epoch,test_accuracy,train_loss``, one row per run x trial x
epoch; trials are numbered from 0 (the row index in results.json), epochs
from 1 (epoch 1 = after the first pass over the data); accuracies are
fractions in [0, 1].

Schema 1 (before 2026-12) had no ``model``, ``dataset`` and ``optimizer``
fields: `load_results` reads such a file by deriving them once from the group
and the label (`label_fields`), so older results still render; nothing else
reads labels.

Both files are replaced atomically (`train.files.write_text_atomic`). They are two
separate replacements: a crash between them leaves a new ``accuracy.csv``
next to the previous ``results.json`` (the JSON is written last and is the
complete record).
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import math
import os
import pathlib
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from train import files
from train import stats

__all__ = [
  'SCHEMA_VERSION',
  'build_results',
  'merge_results',
  'run_name',
  'delta_text',
  'format_table',
  'load_results',
  'write_results',
]

SCHEMA_VERSION = 2
RESULTS_JSON = 'results.json'
ACCURACY_CSV = 'accuracy.csv'
CSV_HEADER = ('run', 'trial', 'seed', 'epoch', 'test_accuracy', 'train_loss')
_RUN_KEYS = (
  'test_accuracy',
  'train_loss',
  'seeds',
  'group',
  'variant',
  'model',
  'dataset',
  'optimizer',
)


# ----------------------------------------------------------------------------
# Writing and reading results.


# A label 'name(key=value, ...)', optionally after a group prefix 'model/dataset/'.
_LABEL_RE = re.compile(r'^(?:[^()]*/)?\s*(?P<name>[^/()]+?)\s*(?:\((?P<args>[^()]*)\))?\s*$')
_KEY_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_.]*$')


def _parse_value(text: str) -> Any:
  text = text.strip()
  if len(text) >= 2 and text[0] == text[-1] and text[0] in '\'"':
    return text[1:-1]
  low = text.lower()
  if low in ('true', 'false'):
    return low == 'true'
  if low == 'none':
    return None
  for kind in (int, float):
    try:
      return kind(text)
    except ValueError:
      pass
  return text


def label_fields(label: str, group: str | None) -> dict[str, Any]:
  """The fields of a run that has only a label and a group (schema 1).

  For results written before schema 2, and for hand-made runs passed to
  `write_results` without ``optimizer``: 'nn2 / mnist' gives the model and
  data set; 'adadecay(alpha=-1)' (after an optional 'model/dataset/' prefix)
  the optimizer and variant ({'alpha': -1}; numbers become int or float,
  'true'/'false' bools, other text str). A label that does not follow that
  syntax, e.g. 'sgd (v2)', is its own optimizer name with no variant.

  Returns:
    ``{'model', 'dataset', 'optimizer', 'variant'}``.
  """
  model = dataset = None
  if isinstance(group, str):
    parts = [p.strip() for p in group.split('/')]
    if len(parts) == 2 and all(parts):
      model, dataset = parts
  name, variant = label, {}
  m = _LABEL_RE.match(label)
  if m is not None:
    name, args = m.group('name'), m.group('args')
    for part in (args or '').split(',') if (args or '').strip() else ():
      key, sep, value = part.partition('=')
      key = key.strip()
      if not sep or not _KEY_RE.match(key):
        name, variant = label, {}  # e.g. 'sgd (v2)': not variant syntax
        break
      variant[key] = _parse_value(value)
  return {'model': model, 'dataset': dataset, 'optimizer': name, 'variant': variant}


def _fields(label: str, run: Mapping[str, Any]) -> dict[str, Any]:
  """The run's fields; derived from its label only where it has none."""
  if 'optimizer' in run:
    return {
      'model': run.get('model'),
      'dataset': run.get('dataset'),
      'optimizer': run['optimizer'],
      'variant': dict(run.get('variant') or {}),
    }
  fields = label_fields(label, run.get('group'))
  if run.get('variant'):
    fields['variant'] = dict(run['variant'])
  return fields


def _baseline_run(fields: Mapping[str, Mapping[str, Any]], baseline: str) -> str | None:
  """The run of one group that is the baseline, or None.

  The baseline is the run of optimizer ``baseline`` with the paper's settings
  (an empty variant): 'sgd', not 'sgd(weight_decay=0.001)'.

  Raises:
    ValueError: If the group has two such runs.
  """
  found = [l for l, f in fields.items() if f['optimizer'] == baseline and not f['variant']]
  if len(found) > 1:
    raise ValueError(f'ambiguous baseline {baseline!r} within one group: runs {found}')
  return found[0] if found else None


def _finite_or_none(a: np.ndarray) -> list[list[float | None]]:
  return [[float(v) if math.isfinite(v) else None for v in row] for row in a.tolist()]


def _check_run(
  label: Any, run: Any
) -> tuple[np.ndarray, np.ndarray, list[int], str | None, dict[str, Any]]:
  if not isinstance(label, str):
    raise ValueError(f'run labels must be str, got {label!r}')
  if not isinstance(run, Mapping):
    raise ValueError(f'runs[{label!r}] must be a dict, got {type(run).__name__}')
  for key in ('test_accuracy', 'train_loss', 'seeds'):
    if key not in run:
      raise ValueError(f'runs[{label!r}] lacks {key!r}')
  unknown = sorted(set(run) - set(_RUN_KEYS))
  if unknown:
    # Do not lose a finished experiment over an extra key; say it is dropped.
    warnings.warn(f'runs[{label!r}]: ignoring keys {unknown} (not stored)', stacklevel=3)
  acc = stats.validate_accuracy(run['test_accuracy'], f"runs[{label!r}]['test_accuracy']")
  loss = np.asarray(run['train_loss'], dtype=np.float64)
  if loss.shape != acc.shape:
    raise ValueError(
      f"runs[{label!r}]['train_loss'] has shape {loss.shape}, test_accuracy has {acc.shape}"
    )
  seeds = [int(s) for s in run['seeds']]
  if len(seeds) != acc.shape[0]:
    raise ValueError(f"runs[{label!r}]['seeds'] has {len(seeds)} entries for {acc.shape[0]} trials")
  group = run.get('group')
  if group is not None and not isinstance(group, str):
    raise ValueError(f"runs[{label!r}]['group'] must be str or None, got {group!r}")
  fields = _fields(label, run)
  if not isinstance(fields['optimizer'], str):
    raise ValueError(f"runs[{label!r}]['optimizer'] must be str, got {fields['optimizer']!r}")
  return acc, loss, seeds, group, fields


def build_results(
  *,
  experiment: str,
  config: dict,
  runs: dict[str, dict],
  data_source: str,
  machine: str | None = None,
  fraction: float = 0.1,
  trim: float = 0.1,
  confidence: float = 0.95,
  bootstrap_seed: int = 0,
  baseline: str = 'sgd',
  created: str | None = None,
) -> dict[str, Any]:
  """Computes the statistics of ``runs``: the dict `write_results` writes.

  Arguments as `write_results` (``created``: ISO 8601 time stamp, default
  now). Nothing is written; `merge_results` uses this to recompute the
  paired differences of runs gathered from several workdirs.

  Raises:
    ValueError: For invalid runs (see `write_results`).
  """
  if not runs:
    raise ValueError('runs is empty')
  checked = {label: _check_run(label, run) for label, run in runs.items()}
  return _build(
    checked,
    runs,
    experiment=experiment,
    config=config,
    data_source=data_source,
    machine=machine,
    fraction=fraction,
    trim=trim,
    confidence=confidence,
    bootstrap_seed=bootstrap_seed,
    baseline=baseline,
    created=created,
  )


def write_results(
  workdir: str | os.PathLike[str],
  *,
  experiment: str,
  config: dict,
  runs: dict[str, dict],
  data_source: str,
  machine: str | None = None,
  fraction: float = 0.1,
  trim: float = 0.1,
  confidence: float = 0.95,
  bootstrap_seed: int = 0,
  baseline: str = 'sgd',
) -> dict[str, Any]:
  """Computes the statistics and writes ``results.json`` and ``accuracy.csv``.

  Every run is paired with the baseline run of its group (optimizer
  ``baseline`` with an empty variant, see `_baseline_run`) when one exists, their shapes match and
  their seeds agree trial by trial; otherwise ``vs_baseline`` records why it
  was skipped. All inputs are validated before anything is written.

  Args:
    workdir: Output directory; created if missing.
    experiment: Experiment name, e.g. 'table2_mnist'.
    config: Experiment configuration (JSON-compatible; numpy values, tuples,
      paths and ConfigDicts are converted).
    runs: Column label -> ``{'test_accuracy': (trials, epochs) fractions in
      [0, 1], 'train_loss': (trials, epochs), 'seeds': list of trials ints,
      'group': optional str such as 'nn2 / fashion_mnist', and the run's spec
      'model', 'dataset', 'optimizer', 'variant' (as
      `train.experiment.RunSpec.fields` gives them)}``. A run without
      'optimizer' takes its spec from its label and group (`label_fields`).
      The labels are column headers; their order is the table column order.
    data_source: Where the data came from, e.g. 'tfds' or 'synthetic'.
    machine: Optional description of the hardware.
    fraction: Fraction of final epochs averaged per trial.
    trim: Trim proportion of the trimmed mean.
    confidence: Confidence level of the bootstrap intervals.
    bootstrap_seed: Seed of every bootstrap (reproducible files).
    baseline: Name of the baseline run within each group.

  Returns:
    The dict written to ``results.json`` (as `load_results` returns it).
  """
  if not runs:
    raise ValueError('runs is empty')
  checked = {label: _check_run(label, run) for label, run in runs.items()}
  results = _build(
    checked,
    runs,
    experiment=experiment,
    config=config,
    data_source=data_source,
    machine=machine,
    fraction=fraction,
    trim=trim,
    confidence=confidence,
    bootstrap_seed=bootstrap_seed,
    baseline=baseline,
  )
  text = files.dumps(results) + '\n'  # serialise first: a bad config fails before any write

  buf = io.StringIO()
  writer = csv.writer(buf, lineterminator='\n')
  writer.writerow(CSV_HEADER)
  for label, (acc, loss, seeds, *_) in checked.items():
    for t in range(acc.shape[0]):
      for e in range(acc.shape[1]):
        # repr-exact floats; non-finite losses as 'nan'/'inf' (pandas reads them).
        writer.writerow(
          (label, t, seeds[t], e + 1, repr(float(acc[t, e])), repr(float(loss[t, e])))
        )

  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  files.write_text_atomic(workdir / ACCURACY_CSV, buf.getvalue())
  files.write_text_atomic(workdir / RESULTS_JSON, text)
  return json.loads(text)


def _build(
  checked,
  runs,
  *,
  experiment,
  config,
  data_source,
  machine,
  fraction,
  trim,
  confidence,
  bootstrap_seed,
  baseline,
  created=None,
) -> dict[str, Any]:
  """The results dict of validated runs (`_check_run`), JSON-ready."""
  groups: dict[str | None, dict[str, dict[str, Any]]] = {}
  for label, (_, _, _, group, fields) in checked.items():
    groups.setdefault(group, {})[label] = fields
  base_of = {g: _baseline_run(fields, baseline) for g, fields in groups.items()}

  out_runs: dict[str, Any] = {}
  for label, (acc, loss, seeds, group, fields) in checked.items():
    summary = stats.summarize(
      acc, fraction=fraction, trim=trim, confidence=confidence, seed=bootstrap_seed
    )
    base = base_of[group]
    vs: dict[str, Any] | None = None
    if base is not None and base != label:
      b_acc, _, b_seeds, _, _ = checked[base]
      if b_acc.shape != acc.shape:
        vs = {
          'baseline_run': base,
          'skipped': f'shape {acc.shape} differs from baseline shape {b_acc.shape}',
        }
      elif b_seeds != seeds:
        vs = {'baseline_run': base, 'skipped': 'seeds differ from the baseline run'}
      else:
        diff = stats.paired_difference(
          acc, b_acc, fraction=fraction, trim=trim, confidence=confidence, seed=bootstrap_seed
        )
        vs = {'baseline_run': base, **diff.to_dict()}
    out_runs[label] = {
      'model': fields['model'],
      'dataset': fields['dataset'],
      'optimizer': fields['optimizer'],
      'variant': {str(k): v for k, v in fields['variant'].items()},
      'group': group,
      'trials': acc.shape[0],
      'epochs': acc.shape[1],
      'seeds': seeds,
      'summary': summary.to_dict(),
      'vs_baseline': vs,
      'test_accuracy': acc.tolist(),
      'train_loss': _finite_or_none(loss),
    }

  shapes = {a.shape for a, *_ in checked.values()}
  trials = {s[0] for s in shapes}
  epochs = {s[1] for s in shapes}
  results = {
    'schema_version': SCHEMA_VERSION,
    'experiment': experiment,
    'data_source': data_source,
    'machine': machine,
    'created': created
    or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
    'config': files.plain(config),
    'trials': trials.pop() if len(trials) == 1 else None,
    'epochs': epochs.pop() if len(epochs) == 1 else None,
    'statistics': {
      'fraction': fraction,
      'trim': trim,
      'confidence': confidence,
      'bootstrap_seed': bootstrap_seed,
      'n_resamples': stats.N_RESAMPLES,
      'ci_method': 'BCa',
      'baseline': baseline,
    },
    'runs': out_runs,
  }
  return json.loads(files.dumps(results))  # plain JSON values, as load_results gives


def load_results(workdir: str | os.PathLike[str]) -> dict[str, Any]:
  """Reads ``<workdir>/results.json`` (missing numbers are None).

  A schema 1 file is returned as schema 2: each run gains ``model``,
  ``dataset`` and ``optimizer`` from its group and label (`label_fields`);
  the file is not changed.

  Raises:
    ValueError: If the file has an unknown ``schema_version``.
  """
  path = pathlib.Path(workdir) / RESULTS_JSON
  with open(path, encoding='utf-8') as f:
    results = json.load(f)
  version = results.get('schema_version')
  if version == 1:
    for label, run in results['runs'].items():
      run.update(_fields(label, run))
    results['schema_version'] = SCHEMA_VERSION
  elif version != SCHEMA_VERSION:
    raise ValueError(f'{path}: schema_version {version!r}, expected 1 or {SCHEMA_VERSION}')
  return results


def run_name(label: str, group: str | None) -> str:
  """The label of a run without its group prefix.

  A workdir with several groups labels its runs 'nn2/mnist/sgd' (group
  'nn2 / mnist'); one with a single group labels them 'sgd'. Both give 'sgd'.
  """
  if group is not None:
    prefix = '/'.join(p.strip() for p in group.split('/')) + '/'
    if label.startswith(prefix):
      return label[len(prefix) :]
  return label


def merge_results(
  parts: Sequence[Mapping[str, Any]], sources: Sequence[str] | None = None
) -> dict[str, Any]:
  """The results of one experiment split over several workdirs, as one.

  Runs are gathered in the order given (groups in first-seen order, runs in
  first-seen order within a group), relabelled as one workdir would label
  them ('sgd' with one group, 'nn2/mnist/sgd' with several), and the
  statistics and paired differences are recomputed (`build_results`), so
  the tables equal those of one workdir that trained all the runs in that
  order. A run present in several parts with the same seeds and accuracies
  (e.g. the 'sgd' baseline reused by two experiments) is kept once.

  Args:
    parts: Results dicts as `load_results` returns them.
    sources: A name per part (its workdir) for error messages.

  Returns:
    A results dict; ``experiment``, ``data_source`` and ``machine`` join the
    distinct values of the parts with ' + ' / '; '.

  Raises:
    ValueError: If the parts use different statistics settings, or one run
      (group and name) differs between parts.
  """
  if not parts:
    raise ValueError('parts is empty')
  sources = list(sources) if sources is not None else [f'part {i}' for i in range(len(parts))]
  settings = [
    {
      k: v
      for k, v in (p.get('statistics') or {}).items()
      if k in ('fraction', 'trim', 'confidence', 'bootstrap_seed', 'baseline')
    }
    for p in parts
  ]
  for src, st in zip(sources[1:], settings[1:]):
    if st != settings[0]:
      raise ValueError(
        f'{src} uses statistics {st}, {sources[0]} uses {settings[0]}: report them separately.'
      )
  gathered: dict[tuple[Any, str], tuple[str, Mapping[str, Any]]] = {}
  for src, part in zip(sources, parts):
    for label, run in part['runs'].items():
      key = (run.get('group'), run_name(label, run.get('group')))
      if key in gathered:
        first_src, first = gathered[key]
        if first['seeds'] != run['seeds'] or first['test_accuracy'] != run['test_accuracy']:
          raise ValueError(
            f'run {key[1]!r} of group {key[0]!r} is in both {first_src} and {src}'
            ' with different results: report them separately.'
          )
        continue
      gathered[key] = (src, run)
  order = list(dict.fromkeys(group for group, _ in gathered))
  several = len(order) > 1
  runs: dict[str, dict[str, Any]] = {}
  for group in order:
    for (g, name), (_, run) in gathered.items():
      if g != group:
        continue
      label = (
        f'{"/".join(p.strip() for p in group.split("/"))}/{name}'
        if several and group is not None
        else name
      )
      runs[label] = {k: run[k] for k in _RUN_KEYS if k in run}

  def joined(key: str, sep: str) -> str | None:
    values = [p.get(key) for p in parts if p.get(key)]
    return sep.join(dict.fromkeys(values)) if values else None

  configs = [p.get('config') or {} for p in parts]
  st = settings[0]
  return build_results(
    experiment=joined('experiment', ' + ') or '',
    data_source=joined('data_source', '; ') or '',
    machine=joined('machine', '; '),
    config=configs[0] if all(c == configs[0] for c in configs) else {},
    runs=runs,
    created=max((p.get('created') or '' for p in parts), default=None) or None,
    **{k: st[k] for k in st},
  )


# ----------------------------------------------------------------------------
# Tables.


def _pct(x: float | None) -> str:
  return 'n/a' if x is None or not math.isfinite(x) else f'{100 * x:.2f}'


def _pp(x: float | None) -> str:
  return 'n/a' if x is None or not math.isfinite(x) else f'{100 * x:+.2f}'


def delta_text(vs: Mapping[str, Any] | None) -> str:
  """A table cell for a paired difference: '+1.23 [+0.45, +2.01]' (points).

  Empty for no comparison (the baseline itself), 'n/a' for one skipped as
  not pairable, '[n/a]' for a missing or non-finite interval.
  """
  if vs is None:
    return ''
  if 'mean' not in vs:
    return 'n/a'  # skipped when written: not pairable with the baseline
  lo, hi = vs.get('ci_low'), vs.get('ci_high')
  if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
    ci = '[n/a]'
  else:
    ci = f'[{_pp(lo)}, {_pp(hi)}]'
  return f'{_pp(vs["mean"])} {ci}'


def _cell(text: str) -> str:
  return text.replace('|', '\\|')


# "dataset: source" parts of a data_source joined by '; ' (merged workdirs).
_SOURCE_PART = re.compile(r'; (?=[A-Za-z0-9_]+: )')
# An absolute path: shown by its last component, so that committed tables do
# not carry the building machine's folders.
_ABS_PATH = re.compile(r'(?<![\w$])/(?:[^\s/();]+/)*([^\s/();]+)')


def data_source_text(results: Mapping[str, Any], group: str | None = None) -> str:
  """The data source for a heading: the group's data set only, no paths.

  ``results['data_source']`` is 'dataset: source' parts joined by '; ' (one
  per data set; merged workdirs join theirs). For a group 'model / dataset'
  only that data set's part is kept; absolute paths become '…/last'.
  """
  text = results.get('data_source') or 'n/a'
  parts = _SOURCE_PART.split(text)
  if group is not None and '/' in group:
    dataset = group.split('/')[-1].strip()
    mine = [p for p in parts if p.startswith(f'{dataset}: ')]
    parts = list(dict.fromkeys(mine)) or parts
  return '; '.join(_ABS_PATH.sub(r'…/\1', p) for p in parts)


def _group_title(group: str | None, config: Mapping[str, Any], experiment: str) -> str:
  if group is None:
    model, dataset = config.get('model'), config.get('dataset')
    if model is None and dataset is None:
      return f'Experiment {experiment}'
    return f'Model {model}, dataset {dataset}'
  parts = [p.strip() for p in group.split('/')]
  if len(parts) == 2 and all(parts):
    return f'Model {parts[0]}, dataset {parts[1]}'
  return f'Group {group}'


def format_table(results: Mapping[str, Any]) -> str:
  """The paper's table layout in Markdown, one table per group.

  Per group: a heading with model, dataset, data source, trials and epochs;
  then rows ``ave`` and ``max`` (percent, 2 decimals, as the paper prints
  98.53), ``± std`` (across trials of the per-trial last-fraction means,
  percentage points) and ``Δ vs <baseline>`` (paired mean difference and its
  bootstrap interval in percentage points, e.g. ``+0.12 [+0.03, +0.21]``;
  blank for the baseline itself and in groups without one). Columns are the
  runs in their stored order. Missing values print as ``n/a``.

  Args:
    results: A dict as returned by `write_results` / `load_results`. Only
      ``runs[*].summary``, ``runs[*].vs_baseline`` and (optionally) ``group``,
      ``trials``, ``epochs``, ``experiment``, ``data_source``, ``config`` and
      ``statistics`` are read.

  Returns:
    Markdown text ending in a newline.
  """
  runs = results['runs']
  stats_ = results.get('statistics', {})
  baseline = stats_.get('baseline', 'sgd')
  config = results.get('config') or {}
  experiment = results.get('experiment', '')
  groups: dict[str | None, list[str]] = {}
  for label, run in runs.items():
    groups.setdefault(run.get('group'), []).append(label)

  blocks = []
  for group, labels in groups.items():
    shapes = {}
    for l in labels:
      s = runs[l]['summary']
      shapes[l] = (runs[l].get('trials', s.get('trials')), runs[l].get('epochs', s.get('epochs')))
    if len(set(shapes.values())) == 1:
      t, e = next(iter(shapes.values()))
      size = f'{t} trial{"s" * (t != 1)} × {e} epoch{"s" * (e != 1)}'
    else:
      size = 'trials × epochs: ' + ', '.join(f'{l} {t}×{e}' for l, (t, e) in shapes.items())
    head = (
      f'### {_group_title(group, config, experiment)} '
      f'(data: {data_source_text(results, group)}; {size})'
    )

    rows = {'ave': [], 'max': [], '± std': [], f'Δ vs {baseline}': []}
    for l in labels:
      s = runs[l]['summary']
      rows['ave'].append(_pct(s.get('ave')))
      rows['max'].append(_pct(s.get('max')))
      rows['± std'].append(_pct(s.get('std')))
      rows[f'Δ vs {baseline}'].append(delta_text(runs[l].get('vs_baseline')))

    lines = [
      head,
      '',
      '| | ' + ' | '.join(_cell(l) for l in labels) + ' |',
      '|:--|' + '--:|' * len(labels),
    ]
    lines += [f'| {name} | ' + ' | '.join(cells) + ' |' for name, cells in rows.items()]
    blocks.append('\n'.join(lines))

  fraction = stats_.get('fraction', 0.1)
  trim = stats_.get('trim', 0.1)
  conf = stats_.get('confidence', 0.95)
  legend = (
    f'ave: {100 * trim:g}%-trimmed mean over trials of the mean of the last '
    f'{100 * fraction:g}% of epochs; max: best epoch of the best trial; '
    f'Δ: paired mean difference (same seeds) in percentage points, '
    f'{100 * conf:g}% bootstrap interval. Accuracies in %.'
  )
  return '\n\n'.join(blocks) + '\n\n' + legend + '\n'
