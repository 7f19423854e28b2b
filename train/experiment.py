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
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import multihost_utils
import ml_collections
import numpy as np
from tqdm import tqdm

from train import data as data_lib
from train import augment, checkpoints, diagnostics, files, models, optimizers, results
from train import tensorboard, trainer

# Fields every config has (configs/*.py fill them; see configs/quickstart.py).
REQUIRED_FIELDS = (
  'experiment',
  'models',
  'datasets',
  'optimizers',
  'dropout_rates',
  'trials',
  'epochs',
  'batch_size',
  'eval_batch_size',
  'seed',
  'data_dir',
  'download',
  'train_subset',
  'test_subset',
  'augment',
  'tensorboard',
  'theta_every',
  'progress',
)


@dataclasses.dataclass(frozen=True)
class RunSpec:
  """One column of a paper table, as data: built once from the config.

  Attributes:
    model: a `train.models` registry name, e.g. 'nn2'.
    dataset: a `train.data.DATASETS` name, e.g. 'fashion_mnist'.
    depth: 'shallow' (28x28 models) or 'deep' (CIFAR-10 models), which picks
      the adaptive optimizers' learning rate.
    optimizer: the optimizer's name and hyper-parameters (the paper's where
      the config sets none).
    hyperparameters: those the config's string set, e.g. {'alpha': 8.0}.
    dropout_rate: P of the 28x28 models (paper Fig. 2); 0 for none.
    optimizer_label: the config's string, canonical (`optimizers.canonical_label`).
  """

  model: str
  dataset: str
  depth: str
  optimizer: optimizers.OptimizerSpec
  hyperparameters: Mapping[str, float] = dataclasses.field(hash=False)
  dropout_rate: float
  optimizer_label: str

  @property
  def group(self) -> str:
    return f'{self.model} / {self.dataset}'

  @property
  def label(self) -> str:
    """The column label: 'adadecay(alpha=8)', with ', dropout_rate=P' added."""
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
    """The settings this run sets beyond the paper's: hyper-parameters, dropout."""
    out = dict(self.hyperparameters)
    if self.dropout_rate:
      out['dropout_rate'] = self.dropout_rate
    return out

  def fields(self) -> dict[str, Any]:
    """What results.json stores of the spec (schema 2: `train.results`)."""
    return {
      'model': self.model,
      'dataset': self.dataset,
      'optimizer': self.optimizer.name,
      'group': self.group,
      'variant': self.variant(),
    }


def _tuple(value) -> tuple:
  if isinstance(value, str):
    return tuple(v.strip() for v in value.split(',') if v.strip())
  return tuple(value)


def validate(config: ml_collections.ConfigDict) -> list[RunSpec]:
  """Checks the config and returns its runs, in table order.

  Raises:
    ValueError: naming the field and the fix, for a missing field, an unknown
      model, dataset or optimizer, a model that does not fit the dataset's
      images, or a bad number.
    TypeError: if config.half_precision is not a bool.
  """
  missing = [f for f in REQUIRED_FIELDS if f not in config]
  if missing:
    raise ValueError(f'config is missing {missing}; start from configs/quickstart.py.')
  for field in ('trials', 'epochs', 'batch_size', 'eval_batch_size'):
    if not isinstance(config[field], int) or config[field] < 1:
      raise ValueError(f'config.{field} must be an integer >= 1, got {config[field]!r}.')
  if (
    not isinstance(config.get('checkpoint_every', 1), int) or config.get('checkpoint_every', 1) < 1
  ):
    raise ValueError(
      f'config.checkpoint_every must be an integer >= 1 (epochs between'
      f' checkpoints; the last epoch is always saved), got'
      f' {config.checkpoint_every!r}.'
    )
  for field in ('train_subset', 'test_subset', 'theta_every'):
    if not isinstance(config[field], int) or config[field] < 0:
      raise ValueError(
        f'config.{field} must be an integer >= 0 (0: the whole split), got {config[field]!r}.'
      )
  # Each optimizer string is parsed and built once (bad hyper-parameters
  # fail here, before training).
  parsed = []
  for text in _tuple(config.optimizers):
    name, hyperparameters = optimizers.parse_name(text)
    spec = optimizers.OptimizerSpec(name, **hyperparameters)
    optimizers.build(spec, total_steps=1, depth='shallow')
    parsed.append((spec, hyperparameters, optimizers.canonical_label(text)))
  runs = []
  for dataset in _tuple(config.datasets):
    if dataset not in data_lib.DATASETS:
      raise ValueError(
        f'Unknown dataset {dataset!r} in config.datasets; known: {", ".join(data_lib.DATASETS)}.'
      )
    for model in _tuple(config.models):
      shape = models.input_shape(model)  # raises for an unknown model
      want = (32, 32, 3) if dataset.startswith('cifar10') else (28, 28, 1)
      if shape != want:
        raise ValueError(
          f'Model {model!r} takes {shape} images, dataset {dataset!r} has'
          f' {want}; pick models for that dataset.'
        )
      for rate in _tuple(config.dropout_rates):
        rate = float(rate)
        if not 0 <= rate < 1:
          raise ValueError(f'config.dropout_rates must be in [0, 1), got {rate}.')
        if rate and shape != (28, 28, 1):
          raise ValueError(f'dropout is only defined for the 28x28 models, not {model!r}.')
        for spec, hyperparameters, label in parsed:
          runs.append(
            RunSpec(model, dataset, models.depth(model), spec, hyperparameters, rate, label)
          )
  if not isinstance(config.get('half_precision', False), bool):
    raise TypeError(
      f'config.half_precision must be True or False (bfloat16 compute,'
      f' float32 parameters), got {config.half_precision!r}.'
    )
  if config.augment and not all(d.startswith('cifar10') for d in _tuple(config.datasets)):
    raise ValueError(
      'config.augment (pad-4 random crop + flip) is the CIFAR-10 recipe;'
      ' set it only for cifar10 datasets.'
    )
  if not runs:
    raise ValueError(
      'config lists no runs: models, datasets, dropout_rates and optimizers must each be non-empty.'
    )
  keys = [(r.group, r.optimizer, r.dropout_rate) for r in runs]
  if len(set(keys)) != len(keys):
    twice = sorted({r.label for r, k in zip(runs, keys) if keys.count(k) > 1})
    raise ValueError(
      f'config lists the same run twice ({twice} are the same optimizer'
      ' settings); remove duplicates.'
    )
  index, count = parse_shard(config.get('shard', ''))
  if index >= len(runs):
    raise ValueError(
      f'config.shard {config.shard!r} selects no run: the experiment has'
      f' {len(runs)} runs; split it over at most {len(runs)} jobs.'
    )
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
      f"config.shard must be '' (all runs) or 'i/n' with 0 <= i < n, e.g. '0/4', got {shard!r}."
    )
  return i, n


# Vector extensions worth naming (the /proc/cpuinfo flag, the name), widest first.
_CPU_EXTENSIONS = (('amx_bf16', 'AMX-BF16'), ('avx512f', 'AVX-512'), ('avx2', 'AVX2'))


def cpu_description(cpuinfo: str | os.PathLike[str] = '/proc/cpuinfo') -> str:
  """The host CPU's model and vector extensions, e.g. ``'AMD EPYC 7B13 (AVX-512, AVX2)'``.

  XLA:CPU compiles for the instruction set it finds, so the same seeds round
  float32 slightly differently on AVX-512 and AVX2 machines: a run records which
  it had. Read from ``cpuinfo`` (Linux); elsewhere ``platform.processor()``.
  """
  try:
    text = pathlib.Path(cpuinfo).read_text()
  except OSError:
    return platform.processor() or 'unknown CPU'
  fields = {}
  for line in text.splitlines():
    key, sep, value = line.partition(':')
    if sep:
      fields.setdefault(key.strip(), value.strip())
  model = fields.get('model name') or platform.processor() or 'unknown CPU'
  flags = set(fields.get('flags', '').split())
  extensions = [name for flag, name in _CPU_EXTENSIONS if flag in flags]
  return f'{model} ({", ".join(extensions)})' if extensions else model


def machine_description() -> str:
  device = jax.devices()[0]
  processes = f' in {jax.process_count()} processes' if jax.process_count() > 1 else ''
  # Recorded because on recent NVIDIA GPUs the default is TF32, not float32.
  precision = jax.config.jax_default_matmul_precision or 'default'
  return (
    f'{jax.device_count()} x {device.device_kind} ({device.platform})'
    f'{processes}, {os.cpu_count()} CPU cores ({cpu_description()}), {platform.machine()},'
    f' jax {jax.__version__}, matmul precision {precision}'
  )


# -- the experiment -------------------------------------------------------------


def _load_data(config, dataset: str) -> data_lib.Dataset:
  ds = data_lib.load(dataset, config.data_dir or None, download=bool(config.download))
  if config.train_subset or config.test_subset:
    ds = ds.subset(config.train_subset, config.test_subset)
  return ds


# Fields that do not change a run's results: a workdir may be resumed with
# other values (e.g. the data found elsewhere, logging switched on).
RESULT_NEUTRAL_FIELDS = (
  'progress',
  'data_dir',
  'download',
  'eval_batch_size',
  'tensorboard',
  'theta_every',
  'checkpoint_every',
)


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
    return {
      k: v
      for k, v in cfg.items()
      if k not in RESULT_NEUTRAL_FIELDS and not (k == 'half_precision' and v is False)
    }

  def check(self) -> None:
    if not self._path.exists():
      return
    previous = self._relevant(json.loads(self._path.read_text()))
    current = self._relevant(self._current)
    if previous != current:
      diff = sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))
      workdir = self._path.parent
      raise ValueError(
        f'{workdir} holds an experiment with another config (fields'
        f' {diff} differ). Use a new --workdir, or delete {workdir} to'
        ' start over.'
      )

  def claim(self) -> None:
    if not self._path.exists():
      files.write_json_atomic(self._path, self._current)


def _factories(run: RunSpec, total_steps: int, half_precision: bool = False):
  """The run's model and optimizer factories (see trainer.TrialsProgram) and
  its learning rate."""
  options = {'dropout_rate': run.dropout_rate} if run.dropout_rate else {}
  if half_precision:
    options['dtype'] = jnp.bfloat16  # compute; parameters stay float32

  def model_factory(rngs):
    return models.get_model(run.model, rngs=rngs, **options)

  # The schedule is built once per run; each trial's optimizer shares it.
  lr = optimizers.learning_rate(run.optimizer, total_steps=total_steps, depth=run.depth)

  def optimizer_factory(key):
    return optimizers.build(run.optimizer, learning_rate=lr, depth=run.depth, key=key)

  return model_factory, optimizer_factory, lr


def _check_checkpoints(config, runs: list[RunSpec], workdir: pathlib.Path) -> None:
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
    ckpt = checkpoints.RunCheckpoints(run_dir)
    try:
      if ckpt.latest_epoch():
        # The state's shapes do not depend on the schedule's length.
        shapes = trainer.carry_shapes(*_factories(run, total_steps=1)[:2], num_trials=config.trials)
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
    train.checkpoints.CheckpointMismatchError: a ValueError, for a run whose checkpoint no
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
  data_cache: dict[str, data_lib.Dataset] = {}
  budget = stop_after_epochs
  # One group: the plain labels; several: 'model/dataset/label', so each
  # group's 'sgd' is found as its baseline (results.write_results).
  single_group = len({r.group for r in runs}) == 1
  # With several processes (jax.distributed) all compute; process 0 alone
  # writes results, logs and the progress bar.
  writer = jax.process_index() == 0
  if not writer:
    log = lambda _: None
  bar = tqdm(
    total=len(runs) * epochs,
    unit='epoch',
    file=sys.stderr,
    disable=not (config.progress and writer),
    dynamic_ncols=True,
  )

  for run in runs:
    if run.dataset not in data_cache:
      data_cache[run.dataset] = _load_data(config, run.dataset)
    data = data_cache[run.dataset]
    extra_steps = optimizers.grad_fn_steps(run.optimizer)
    steps_per_epoch = trainer.updates_per_epoch(
      len(data.train_labels), config.batch_size, extra_steps
    )
    model_factory, optimizer_factory, lr = _factories(
      run, total_steps=steps_per_epoch * epochs, half_precision=config.get('half_precision', False)
    )
    program = trainer.TrialsProgram(
      model_factory,
      optimizer_factory,
      data,
      seeds,
      batch_size=config.batch_size,
      eval_batch_size=config.eval_batch_size,
      augment=augment.random_crop_flip if config.augment else None,
      grad_fn_steps=extra_steps,
    )
    run_dir = workdir / 'runs' / run.slug
    ckpt = checkpoints.RunCheckpoints(run_dir)
    theta = (
      diagnostics.ThetaDiagnostics(
        run_dir,
        alpha=run.optimizer.alpha,
        weight_decay=run.optimizer.weight_decay,
        every=config.theta_every,
        epochs=epochs,
      )
      if run.optimizer.name == 'adadecay' and config.theta_every
      else None
    )
    tb = tensorboard.make_logger(
      workdir / 'tensorboard' / run.slug if config.tensorboard and writer else None
    )
    if writer:
      workdir_config.claim()  # data found and program built: training starts
    done = min(ckpt.latest_epoch(), epochs)
    shape = (config.trials, epochs)
    if done:
      carry, history = ckpt.restore(program.abstract_carry(), shape, f'{run.group} {run.label}')
      if done < epochs:
        log(f'{run.group} {run.label}: resuming after epoch {done}')
    else:
      carry = program.init()
      history = {k: np.zeros(shape, np.float32) for k in ('test_accuracy', 'train_loss')}
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
      scalars = {
        'test_accuracy': history['test_accuracy'][:, epoch],
        'train_loss': history['train_loss'][:, epoch],
        'learning_rate': float(lr((epoch + 1) * steps_per_epoch)) if callable(lr) else lr,
      }
      if theta is not None and theta.due(epoch + 1):
        scalars.update(theta.record(epoch + 1, program, carry))
      tb.scalars(epoch + 1, tensorboard.trial_scalars(scalars, prefix=run.label))
      # Last: an interruption before this redoes the epochs since the
      # previous checkpoint, and their logging.
      if (
        (epoch + 1) % every == 0 or epoch + 1 == epochs or budget == 1
      ):  # the last epoch this call trains
        ckpt.save(epoch + 1, carry, history)
      if budget is not None:
        budget -= 1
      bar.set_postfix_str(
        f'{config.trials} trials, mean test acc'
        f' {100 * history["test_accuracy"][:, epoch].mean():.2f}%',
        refresh=False,
      )
      bar.update(1)
    ckpt.close()
    tb.close()
    if theta is not None:
      theta.plot()
    finished[run.label if single_group else f'{run.model}/{run.dataset}/{run.label}'] = {
      'test_accuracy': history['test_accuracy'],
      'train_loss': history['train_loss'],
      'seeds': seeds,
      **run.fields(),
    }
  bar.close()
  if not writer:
    return None

  data_source = '; '.join(f'{k}: {ds.source}' for k, ds in data_cache.items())
  written = results.write_results(
    workdir,
    experiment=config.experiment,
    config=json.loads(config.to_json_best_effort()),
    runs=finished,
    data_source=data_source,
    machine=machine_description(),
  )
  table = results.format_table(written)
  files.write_text_atomic(workdir / 'table.md', table + '\n')
  return written
