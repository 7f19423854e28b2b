"""An experiment: the runs of a config, resumable, with the paper's results.

``run_experiment(config, workdir)`` trains every run of the config (the
product models × datasets × dropout rates × optimizers), N trials per run in
one program (:mod:`train.trainer`), checkpoints every epoch with orbax,
and writes ``results.json``, ``accuracy.csv`` and ``table.md``
(:mod:`train.results`). Running the same command again resumes: finished
runs are read back, an interrupted one continues from its last completed
epoch, and the results are bit-identical to an uninterrupted run on CPU.
The same holds for a run over several processes (``jax.distributed``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import platform
import re
import sys
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import multihost_utils
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from tqdm import tqdm

from train import data as data_lib
from train import augment, diagnostics, models, optimizers, results
from train import tensorboard, trainer

# Fields every config has (configs/*.py fill them; see configs/quickstart.py).
REQUIRED_FIELDS = (
    'experiment', 'models', 'datasets', 'optimizers', 'dropout_rates',
    'trials', 'epochs', 'batch_size', 'eval_batch_size', 'seed', 'data_dir',
    'download', 'train_subset', 'test_subset', 'augment', 'tensorboard',
    'theta_every', 'progress')


@dataclasses.dataclass(frozen=True)
class Run:
  """One column of a paper table: a model, dataset, optimizer and dropout."""

  model: str
  dataset: str
  optimizer: optimizers.OptimizerSpec
  optimizer_label: str
  dropout_rate: float

  @property
  def group(self) -> str:
    return f'{self.model} / {self.dataset}'

  @property
  def label(self) -> str:
    if not self.dropout_rate:
      return self.optimizer_label
    name, _, rest = self.optimizer_label.partition('(')
    extra = f'dropout_rate={self.dropout_rate:g}'
    return f'{name}({rest[:-1]}, {extra})' if rest else f'{name}({extra})'

  @property
  def slug(self) -> str:
    text = f'{self.model}-{self.dataset}-{self.label}'
    return re.sub(r'[^A-Za-z0-9.=_-]+', '_', text).strip('_')

  def variant(self) -> dict[str, float]:
    out = {k: getattr(self.optimizer, k)
           for k in ('weight_decay', 'alpha', 'learning_rate')
           if f'{k}=' in self.optimizer_label}
    if self.dropout_rate:
      out['dropout_rate'] = self.dropout_rate
    return out


def _tuple(value) -> tuple:
  if isinstance(value, str):
    return tuple(v.strip() for v in value.split(',') if v.strip())
  return tuple(value)


def validate(config: ml_collections.ConfigDict) -> list[Run]:
  """Checks the config and returns its runs, in table order.

  Raises:
    ValueError: naming the field and the fix, for a missing field, an unknown
      model, dataset or optimizer, a model that does not fit the dataset's
      images, or a bad number.
    TypeError: if config.half_precision is not a bool.
  """
  missing = [f for f in REQUIRED_FIELDS if f not in config]
  if missing:
    raise ValueError(
        f'config is missing {missing}; start from configs/quickstart.py.')
  for field in ('trials', 'epochs', 'batch_size', 'eval_batch_size'):
    if not isinstance(config[field], int) or config[field] < 1:
      raise ValueError(
          f'config.{field} must be an integer >= 1, got {config[field]!r}.')
  if (not isinstance(config.get('checkpoint_every', 1), int)
      or config.get('checkpoint_every', 1) < 1):
    raise ValueError(
        f'config.checkpoint_every must be an integer >= 1 (epochs between'
        f' checkpoints; the last epoch is always saved), got'
        f' {config.checkpoint_every!r}.')
  for field in ('train_subset', 'test_subset', 'theta_every'):
    if not isinstance(config[field], int) or config[field] < 0:
      raise ValueError(
          f'config.{field} must be an integer >= 0 (0: the whole split), got'
          f' {config[field]!r}.')
  runs = []
  for dataset in _tuple(config.datasets):
    if dataset not in data_lib.DATASETS:
      raise ValueError(
          f'Unknown dataset {dataset!r} in config.datasets; known:'
          f' {", ".join(data_lib.DATASETS)}.')
    for model in _tuple(config.models):
      shape = models.input_shape(model)  # raises for an unknown model
      want = (32, 32, 3) if dataset.startswith('cifar10') else (28, 28, 1)
      if shape != want:
        raise ValueError(
            f'Model {model!r} takes {shape} images, dataset {dataset!r} has'
            f' {want}; pick models for that dataset.')
      for rate in _tuple(config.dropout_rates):
        rate = float(rate)
        if not 0 <= rate < 1:
          raise ValueError(
              f'config.dropout_rates must be in [0, 1), got {rate}.')
        if rate and shape != (28, 28, 1):
          raise ValueError(
              f'dropout is only defined for the 28x28 models, not {model!r}.')
        for label in _tuple(config.optimizers):
          spec = optimizers.parse(label)
          # Build once now so bad hyper-parameters fail before training.
          optimizers.build(spec, total_steps=1, depth='shallow')
          runs.append(Run(model, dataset, spec, optimizers.canonical_label(
              label), rate))
  if not isinstance(config.get('half_precision', False), bool):
    raise TypeError(
        f'config.half_precision must be True or False (bfloat16 compute,'
        f' float32 parameters), got {config.half_precision!r}.')
  if config.augment and not all(
      d.startswith('cifar10') for d in _tuple(config.datasets)):
    raise ValueError(
        'config.augment (pad-4 random crop + flip) is the CIFAR-10 recipe;'
        ' set it only for cifar10 datasets.')
  if not runs:
    raise ValueError('config lists no runs: models, datasets, dropout_rates'
                     ' and optimizers must each be non-empty.')
  keys = [(r.group, r.optimizer, r.dropout_rate) for r in runs]
  if len(set(keys)) != len(keys):
    twice = sorted({r.label for r, k in zip(runs, keys) if keys.count(k) > 1})
    raise ValueError(
        f'config lists the same run twice ({twice} are the same optimizer'
        ' settings); remove duplicates.')
  index, count = parse_shard(config.get('shard', ''))
  if index >= len(runs):
    raise ValueError(
        f'config.shard {config.shard!r} selects no run: the experiment has'
        f' {len(runs)} runs; split it over at most {len(runs)} jobs.')
  return runs[index::count]


def parse_shard(shard: str) -> tuple[int, int]:
  """'i/n' -> (i, n): the runs i, i + n, i + 2n, ... of the experiment.

  An experiment split over n jobs (e.g. a job array) runs shard i/n in job i,
  each into its own workdir; ``python -m train.report DIR_0 ... DIR_n-1``
  merges them into the tables of the whole. '' is the whole experiment.

  Raises:
    ValueError: naming config.shard, for anything but '' or 'i/n' with
      0 <= i < n.
  """
  if not shard:
    return 0, 1
  index, sep, count = str(shard).partition('/')
  try:
    i, n = int(index), int(count)
  except ValueError:
    i, n = -1, 0
  if not sep or not 0 <= i < n:
    raise ValueError(
        f"config.shard must be '' (all runs) or 'i/n' with 0 <= i < n, e.g."
        f" '0/4', got {shard!r}.")
  return i, n


def machine_description() -> str:
  device = jax.devices()[0]
  processes = (f' in {jax.process_count()} processes'
               if jax.process_count() > 1 else '')
  # Recorded because on recent NVIDIA GPUs the default is TF32, not float32.
  precision = jax.config.jax_default_matmul_precision or 'default'
  return (f'{jax.device_count()} x {device.device_kind} ({device.platform})'
          f'{processes}, {os.cpu_count()} CPU cores, {platform.machine()},'
          f' jax {jax.__version__}, matmul precision {precision}')


# -- checkpoints ----------------------------------------------------------------


def _is_key(x) -> bool:
  return hasattr(x, 'dtype') and jax.dtypes.issubdtype(
      x.dtype, jax.dtypes.prng_key)


def leaf_names(tree) -> list[str]:
  """Each leaf's path in the program's terms, e.g. 'params/layers/2/kernel'.

  Key paths joined by '/' ('opt_state/0/trace/head/bias' for an optax
  chain's momentum), without the final 'value' of an nnx Variable.
  """
  return [jax.tree_util.keystr(path, simple=True, separator='/')
          .removesuffix('/value')
          for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def _nest(items) -> dict[str, Any]:
  """[(('a', 'b'), x), ...] -> {'a': {'b': x}, ...}."""
  out: dict[str, Any] = {}
  for keys, value in items:
    node = out
    for key in keys[:-1]:
      node = node.setdefault(key, {})
    node[keys[-1]] = value
  return out


def _get(tree, keys):
  for key in keys:
    tree = tree[key]
  return tree


def _per_trial(shape, dtype) -> str:
  return f'{tuple(shape[1:])} {np.dtype(dtype).name}'


def _listed(names: list[str], limit: int = 8) -> str:
  more = f', ... ({len(names) - limit} more)' if len(names) > limit else ''
  return ', '.join(names[:limit]) + more


class CheckpointMismatchError(ValueError):
  """A run's checkpoint does not fit its program (the model or optimizer)."""


class RunCheckpoints:
  """Per-epoch orbax checkpoints of one run: its carry and its history.

  The carry is stored as a tree of its leaves under their names
  (:func:`leaf_names`; typed PRNG keys as their key data), so any model and
  optimizer state round-trips exactly, and a checkpoint that no longer fits
  the program is reported leaf by leaf in the program's terms. The trial
  axis is stored as the program had it (with any padding trials) and
  restored truncated or zero-filled to the current program's: a run resumes
  on another number of devices. Orbax writes each step to a temporary
  directory and renames it, so a crash never leaves a partial checkpoint;
  with several processes each writes its own shards.
  """

  def __init__(self, directory: pathlib.Path):
    self._dir = directory
    self._manager = ocp.CheckpointManager(
        directory.absolute(),
        options=ocp.CheckpointManagerOptions(max_to_keep=1, create=True),
        item_handlers=ocp.StandardCheckpointHandler())

  def latest_epoch(self) -> int:
    """Epochs completed in the newest checkpoint (0 if none)."""
    return self._manager.latest_step() or 0

  def save(self, epochs_done: int, carry, history: dict[str, np.ndarray]):
    leaves = [jax.random.key_data(x) if _is_key(x) else x
              for x in jax.tree.leaves(carry)]
    keys = [tuple(name.split('/')) for name in leaf_names(carry)]
    tree = {'carry': _nest(zip(keys, leaves)), 'history': history}
    self._manager.save(epochs_done, args=ocp.args.StandardSave(tree))
    self._manager.wait_until_finished()

  def _stored_keys(self, step: int, names: list[str]):
    """(key path -> ArrayMetadata of the stored carry, each leaf's key path).

    Checkpoints of earlier versions stored the leaves by their index
    ('00000', '00001', ...); those are matched to the program's leaves in
    order.
    """
    stored = self._manager.item_metadata(step).tree['carry']
    stored = {tuple(k.key for k in path): meta for path, meta in
              jax.tree_util.tree_flatten_with_path(stored)[0]}
    if all(len(k) == 1 and k[0].isdigit() and len(k[0]) == 5 for k in stored):
      return stored, [(f'{i:05d}',) for i in range(len(names))]
    return stored, [tuple(name.split('/')) for name in names]

  def check(self, abstract_carry, num_trials: int, label: str) -> None:
    """Checks that the newest checkpoint fits the program; reads no array.

    Args:
      abstract_carry: the program's carry (shapes and dtypes).
      num_trials: the run's trials N (the stored trial axis must hold them).
      label: the run, for the message.

    Raises:
      CheckpointMismatchError: naming the leaves only in the checkpoint, only
        in the program, or of another shape or dtype.
    """
    step = self._manager.latest_step()
    names = leaf_names(abstract_carry)
    stored, keys = self._stored_keys(step, names)
    leaves = [jax.eval_shape(jax.random.key_data, x) if _is_key(x) else x
              for x in jax.tree.leaves(abstract_carry)]
    program = dict(zip(keys, leaves))
    name_of = dict(zip(keys, names))
    only_stored = sorted('/'.join(k) for k in set(stored) - set(program))
    only_program = [name_of[k] for k in keys if k not in stored]
    differ = [
        f'{name_of[k]} (checkpoint {_per_trial(stored[k].shape, stored[k].dtype)},'
        f' program {_per_trial(x.shape, x.dtype)})'
        for k, x in program.items() if k in stored and (
            tuple(stored[k].shape[1:]) != tuple(x.shape[1:])
            or np.dtype(stored[k].dtype) != np.dtype(x.dtype)
            or stored[k].shape[0] < num_trials)]
    if not (only_stored or only_program or differ):
      return
    parts = []
    if only_program:
      parts.append(f'only in the program: {_listed(only_program)}')
    if only_stored:
      parts.append(f'only in the checkpoint: {_listed(only_stored)}')
    if differ:
      parts.append(f'per-trial shape or dtype differs: {_listed(differ)}')
    raise CheckpointMismatchError(
        f'The checkpoint of run {label!r} (epoch {step}, in {self._dir}) does'
        f' not fit its model and optimizer, which changed since it was'
        f' written: {"; ".join(parts)}. Nothing was changed. Resume with the'
        f' code that wrote it, or delete {self._dir} to train this run again'
        ' (the other runs are kept).')

  def restore(self, abstract_carry, history_shape, label: str):
    """Returns (carry, history) of the newest checkpoint.

    Args:
      abstract_carry: the program's carry, with the shardings to restore to.
      history_shape: (trials, epochs).
      label: the run, for messages.

    Raises:
      CheckpointMismatchError: as :meth:`check`.
    """
    self.check(abstract_carry, history_shape[0], label)
    step = self._manager.latest_step()
    leaves, treedef = jax.tree.flatten(abstract_carry)
    _, keys = self._stored_keys(step, leaf_names(abstract_carry))
    data = [jax.eval_shape(jax.random.key_data, x) if _is_key(x) else x
            for x in leaves]
    abstract = {
        'carry': _nest((k, jax.ShapeDtypeStruct(d.shape, d.dtype,
                                                sharding=x.sharding))
                       for k, d, x in zip(keys, data, leaves)),
        'history': {k: np.zeros(history_shape, np.float32)
                    for k in ('test_accuracy', 'train_loss')},
    }
    # strict=False: the trial axis is cut or zero-filled to this program's
    # padding; the real trials come first and are checked above.
    tree = self._manager.restore(
        step, args=ocp.args.StandardRestore(abstract, strict=False))
    restored = [_get(tree['carry'], k) for k in keys]
    # Keys were made by jax.random.key, i.e. with the default implementation.
    restored = [jax.random.wrap_key_data(r) if _is_key(x) else r
                for r, x in zip(restored, leaves)]
    history = {k: np.asarray(v) for k, v in tree['history'].items()}
    return jax.tree.unflatten(treedef, restored), history

  def close(self):
    self._manager.close()


# -- θ diagnostics ---------------------------------------------------------------


class ThetaDiagnostics:
  """θ statistics of an AdaDecay run every few epochs (config.theta_every).

  Per layer and epoch, the trial mean of θ's mean and std, the fractions
  with θ > 1.5 and θ < 0.5, and the effective decay λθ, on each trial's
  gradient of a fixed batch of 256 training images; written to
  ``theta_statistics.json`` in the run's folder (and to TensorBoard), with
  (θ, |w|) samples of trial 0 kept for the figures ``theta_histograms.png``
  and ``theta_vs_weight.png``, drawn when the run ends.
  """

  def __init__(self, directory: pathlib.Path, spec: optimizers.OptimizerSpec,
               every: int, epochs: int):
    self._dir = directory
    self._every, self._epochs = every, epochs
    kwargs = {'alpha': spec.alpha}
    self._stats = jax.jit(jax.vmap(lambda g, p: diagnostics.theta_statistics(
        g, p, weight_decay=spec.weight_decay, **kwargs)))
    self._samples = jax.jit(lambda g, p: diagnostics.theta_samples(
        g, p, max_per_layer=2048, **kwargs))
    path = directory / 'theta_statistics.json'
    self._log = json.loads(path.read_text()) if path.exists() else {}

  def due(self, epochs_done: int) -> bool:
    return bool(self._every) and (
        epochs_done == 1 or epochs_done % self._every == 0
        or epochs_done == self._epochs)

  def record(self, epochs_done: int, program, carry) -> dict[str, float]:
    """Computes (on every process) and writes (process 0) θ's statistics."""
    grads = program.gradients(carry)
    stats = program.trial_values(self._stats(grads, carry.params))
    means = {layer: {k: float(np.mean(v)) for k, v in values.items()}
             for layer, values in stats.items()}
    self._log[str(epochs_done)] = means
    first = multihost_utils.process_allgather(
        jax.tree.map(lambda x: x[0], (grads, carry.params)), tiled=True)
    samples = jax.device_get(self._samples(*first))
    arrays = {f'{layer}|{i}': np.asarray(a) for layer, pair in samples.items()
              for i, a in enumerate(pair)}
    if jax.process_index() == 0:
      results.write_json_atomic(self._dir / 'theta_statistics.json',
                                self._log)
      results.write_atomic(self._dir / f'theta_samples_{epochs_done}.npz',
                           lambda f: np.savez(f, **arrays))
    return diagnostics.flatten_statistics(stats)

  def plot(self):
    if jax.process_index():
      return
    by_epoch = {}
    for path in sorted(self._dir.glob('theta_samples_*.npz')):
      epoch = int(path.stem.rsplit('_', 1)[1])
      with np.load(path, allow_pickle=False) as f:
        layers = sorted({k.rsplit('|', 1)[0] for k in f.files})
        by_epoch[epoch] = {l: (f[f'{l}|0'], f[f'{l}|1']) for l in layers}
    if by_epoch:
      diagnostics.plot_theta_histograms(
          by_epoch, self._dir / 'theta_histograms.png')
      diagnostics.plot_theta_vs_weight(
          by_epoch[max(by_epoch)], self._dir / 'theta_vs_weight.png')


# -- the experiment -------------------------------------------------------------


def _load_data(config, dataset: str) -> tuple[trainer.ArrayData, str]:
  ds = data_lib.load(dataset, config.data_dir or None,
                     download=bool(config.download))
  train_n = config.train_subset or len(ds.train_labels)
  test_n = config.test_subset or len(ds.test_labels)
  source = ds.source
  if config.train_subset or config.test_subset:
    source += f' (subset: first {train_n} train / {test_n} test images)'
  arrays = trainer.ArrayData.from_arrays(
      ds.train_images[:train_n], ds.train_labels[:train_n],
      ds.test_images[:test_n], ds.test_labels[:test_n])
  return arrays, source


# Fields that do not change a run's results: a workdir may be resumed with
# other values (e.g. the data found elsewhere, logging switched on).
RESULT_NEUTRAL_FIELDS = ('progress', 'data_dir', 'download', 'eval_batch_size',
                         'tensorboard', 'theta_every', 'checkpoint_every')


class _WorkdirConfig:
  """The config a workdir's results belong to, in ``config.json``.

  ``check`` refuses a workdir holding another config; ``claim`` writes the
  file, which happens only when training starts, so a run that failed before
  (no data, a bad batch size) leaves the workdir free.
  """

  def __init__(self, workdir: pathlib.Path, config):
    self._path = workdir / 'config.json'
    self._current = json.loads(config.to_json_best_effort(sort_keys=True))

  @staticmethod
  def _relevant(cfg: dict[str, Any]) -> dict[str, Any]:
    # half_precision=False is what a workdir from before the field meant.
    return {k: v for k, v in cfg.items() if k not in RESULT_NEUTRAL_FIELDS
            and not (k == 'half_precision' and v is False)}

  def check(self) -> None:
    if not self._path.exists():
      return
    previous = self._relevant(json.loads(self._path.read_text()))
    current = self._relevant(self._current)
    if previous != current:
      diff = sorted(k for k in set(previous) | set(current)
                    if previous.get(k) != current.get(k))
      workdir = self._path.parent
      raise ValueError(
          f'{workdir} holds an experiment with another config (fields'
          f' {diff} differ). Use a new --workdir, or delete {workdir} to'
          ' start over.')

  def claim(self) -> None:
    if not self._path.exists():
      results.write_json_atomic(self._path, self._current)


def _depth(run: Run) -> str:
  return ('shallow' if models.input_shape(run.model) == (28, 28, 1)
          else 'deep')


def _factories(run: Run, total_steps: int, half_precision: bool = False):
  """The run's model and optimizer factories (see trainer.TrialsProgram)."""
  options = {'dropout_rate': run.dropout_rate} if run.dropout_rate else {}
  if half_precision:
    options['dtype'] = jnp.bfloat16  # compute; parameters stay float32

  def model_factory(rngs):
    return models.get_model(run.model, rngs=rngs, **options)

  def optimizer_factory(key):
    return optimizers.build(run.optimizer, total_steps=total_steps,
                            depth=_depth(run), key=key)

  return model_factory, optimizer_factory


def _check_checkpoints(config, runs: list[Run],
                       workdir: pathlib.Path) -> None:
  """Checks every run's checkpoint against its program, reading no array.

  So a workdir whose checkpoints no longer fit the code is refused before
  anything in it changes.

  Raises:
    CheckpointMismatchError: for the first run whose checkpoint does not fit.
  """
  for run in runs:
    run_dir = workdir / 'runs' / run.slug
    if not run_dir.is_dir():
      continue
    ckpt = RunCheckpoints(run_dir)
    try:
      if ckpt.latest_epoch():
        # The state's shapes do not depend on the schedule's length.
        shapes = trainer.carry_shapes(*_factories(run, total_steps=1),
                                      num_trials=config.trials)
        ckpt.check(shapes, config.trials, f'{run.group} {run.label}')
    finally:
      ckpt.close()
  if jax.process_count() > 1:
    # No process creates a run's folder before all have looked for them.
    multihost_utils.sync_global_devices('train: checkpoints checked')


def run_experiment(
    config: ml_collections.ConfigDict,
    workdir: str | os.PathLike,
    *,
    stop_after_epochs: int | None = None,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
) -> dict[str, Any] | None:
  """Trains every run of ``config`` in ``workdir`` and writes the results.

  With several processes (``jax.distributed`` initialised), every process
  calls this with the same arguments and loads the data itself; the trials
  are sharded over all processes' devices, the checkpoints are written by
  all (orbax, each its shards; the workdir must be on a file system they
  share), and process 0 alone writes the results, logs and progress bar.

  Args:
    config: an experiment config (see configs/quickstart.py for the fields).
    workdir: where checkpoints and results go; created if needed. Running
      again with the same config resumes.
    stop_after_epochs: stop (as if interrupted) after this many epochs in
      this call, across runs; for tests and for splitting long jobs.
    log: where progress messages go.

  Returns:
    The results dict as written to results.json, or None if stopped early
    or on a process other than 0.

  Raises:
    ValueError: for a bad config or a workdir holding another config.
    CheckpointMismatchError: a ValueError, for a run whose checkpoint no
      longer fits its model or optimizer (nothing is written then).
    train.data.DataError: when a dataset cannot be found or is corrupt.
  """
  runs = validate(config)
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  workdir_config = _WorkdirConfig(workdir, config)
  workdir_config.check()
  _check_checkpoints(config, runs, workdir)  # before anything is written
  seeds = [config.seed + i for i in range(config.trials)]
  epochs = config.epochs
  every = config.get('checkpoint_every', 1)
  finished: dict[str, dict[str, Any]] = {}
  data_cache: dict[str, tuple[trainer.ArrayData, str]] = {}
  budget = stop_after_epochs
  # One group: the plain labels; several: 'model/dataset/label', so each
  # group's 'sgd' is found as its baseline (results.write_results).
  single_group = len({r.group for r in runs}) == 1
  # With several processes (jax.distributed) all compute; process 0 alone
  # writes results, logs and the progress bar.
  writer = jax.process_index() == 0
  if not writer:
    log = lambda _: None
  bar = tqdm(total=len(runs) * epochs, unit='epoch', file=sys.stderr,
             disable=not (config.progress and writer), dynamic_ncols=True)

  for run in runs:
    if run.dataset not in data_cache:
      data_cache[run.dataset] = _load_data(config, run.dataset)
    data, source = data_cache[run.dataset]
    extra_steps = optimizers.grad_fn_steps(run.optimizer)
    steps_per_epoch = trainer.updates_per_epoch(
        len(data.train_labels), config.batch_size, extra_steps)
    model_factory, optimizer_factory = _factories(
        run, total_steps=steps_per_epoch * epochs,
        half_precision=config.get('half_precision', False))
    program = trainer.TrialsProgram(
        model_factory, optimizer_factory,
        data, seeds, batch_size=config.batch_size,
        eval_batch_size=config.eval_batch_size,
        augment=augment.random_crop_flip if config.augment else None,
        grad_fn_steps=extra_steps)
    run_dir = workdir / 'runs' / run.slug
    ckpt = RunCheckpoints(run_dir)
    theta = (ThetaDiagnostics(run_dir, run.optimizer, config.theta_every,
                              epochs)
             if run.optimizer.name == 'adadecay' and config.theta_every
             else None)
    lr = optimizers.learning_rate(
        run.optimizer, total_steps=steps_per_epoch * epochs,
        depth=_depth(run))
    tb = tensorboard.make_logger(
        workdir / 'tensorboard' / run.slug
        if config.tensorboard and writer else None)
    if writer:
      workdir_config.claim()  # data found and program built: training starts
    done = min(ckpt.latest_epoch(), epochs)
    shape = (config.trials, epochs)
    if done:
      carry, history = ckpt.restore(program.abstract_carry(), shape,
                                    f'{run.group} {run.label}')
      if done < epochs:
        log(f'{run.group} {run.label}: resuming after epoch {done}')
    else:
      carry = program.init()
      history = {k: np.zeros(shape, np.float32)
                 for k in ('test_accuracy', 'train_loss')}
    bar.set_description(f'{run.group} {run.label}')
    bar.update(done)
    for epoch in range(done, epochs):
      if budget is not None and budget <= 0:
        ckpt.close()
        tb.close()
        bar.close()
        log('stopped after the requested epochs; run again to resume.')
        return None
      carry, loss, acc = program.run_epoch(carry, epoch)
      history['train_loss'][:, epoch] = np.asarray(loss)
      history['test_accuracy'][:, epoch] = np.asarray(acc)
      scalars = {'test_accuracy': history['test_accuracy'][:, epoch],
                 'train_loss': history['train_loss'][:, epoch],
                 'learning_rate': float(lr((epoch + 1) * steps_per_epoch))
                                  if callable(lr) else lr}
      if theta is not None and theta.due(epoch + 1):
        scalars.update(theta.record(epoch + 1, program, carry))
      tb.scalars(epoch + 1, tensorboard.trial_scalars(scalars, prefix=run.label))
      # Last: an interruption before this redoes the epochs since the
      # previous checkpoint, and their logging.
      if ((epoch + 1) % every == 0 or epoch + 1 == epochs
          or budget == 1):  # the last epoch this call trains
        ckpt.save(epoch + 1, carry, history)
      if budget is not None:
        budget -= 1
      bar.set_postfix_str(
          f'{config.trials} trials, mean test acc'
          f' {100 * history["test_accuracy"][:, epoch].mean():.2f}%',
          refresh=False)
      bar.update(1)
    ckpt.close()
    tb.close()
    if theta is not None:
      theta.plot()
    finished[run.label if single_group
             else f'{run.model}/{run.dataset}/{run.label}'] = {
        'test_accuracy': history['test_accuracy'],
        'train_loss': history['train_loss'],
        'seeds': seeds,
        'group': run.group,
        'variant': run.variant(),
    }
  bar.close()
  if not writer:
    return None

  data_source = '; '.join(f'{k}: {source}'
                          for k, (_, source) in data_cache.items())
  written = results.write_results(
      workdir, experiment=config.experiment,
      config=json.loads(config.to_json_best_effort()), runs=finished,
      data_source=data_source, machine=machine_description())
  table = results.format_table(written)
  results.write_text_atomic(workdir / 'table.md', table + '\n')
  return written
