"""Command line: ``python -m train --config configs/X.py --workdir DIR``.

Overrides use ml_collections' syntax, e.g. ``--config.trials=10`` or
``--config.optimizers="('sgd','adadecay(alpha=8)')"``. Running the same
command again resumes an interrupted experiment.

Several processes (``jax.distributed``; e.g. one per node of a SLURM job)
run the same command with ``--distributed`` (found from the cluster's
environment) or with ``--coordinator_address``, ``--num_processes`` and
``--process_id``: the trials are sharded over every process's devices, and
process 0 writes the results.
"""

import sys

from train import cpu_devices

cpu_devices.use_one_device_per_core()  # before anything imports jax

from absl import app  # pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags  # pylint: disable=wrong-import-position
from absl import logging  # pylint: disable=wrong-import-position
from ml_collections import config_flags  # pylint: disable=wrong-import-position

_CONFIG = config_flags.DEFINE_config_file(
  'config', None, 'Experiment config file (configs/*.py).', lock_config=True
)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for checkpoints and results (resumes).')
flags.mark_flags_as_required(['config', 'workdir'])
_DISTRIBUTED = flags.DEFINE_bool(
  'distributed',
  False,
  'Run as one of several processes found by jax.distributed.initialize()'
  ' from the environment (SLURM, Open MPI, TPU pods, ...).',
)
_COORDINATOR = flags.DEFINE_string(
  'coordinator_address',
  None,
  'host:port of process 0, for a run over several processes (implies --distributed).',
)
_NUM_PROCESSES = flags.DEFINE_integer(
  'num_processes', None, 'Number of processes (implies --distributed).', lower_bound=1
)
_PROCESS_ID = flags.DEFINE_integer(
  'process_id',
  None,
  "This process's index, 0 .. num_processes - 1 (implies --distributed).",
  lower_bound=0,
)


def _parse_flags(argv):
  """absl's flag parsing, with config-override mistakes as one-line errors.

  ml_collections raises a bare AttributeError (with a traceback) for an
  unknown ``--config.<field>``; absl prints its own FATAL line for a value
  of the wrong type. Both exit with status 2 here, like a bad config value.
  """
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f'error: {e}', file=sys.stderr)
  except (AttributeError, KeyError) as e:
    # str(e) is the repr of a KeyError's message: undo that for one line.
    detail = str(e)
    if len(detail) > 1 and detail[0] in '\'"' and detail[-1] == detail[0]:
      detail = detail[1:-1]
    detail = detail.replace("\\'", "'").replace('\\n', ' ')
    print(f'error: unknown config field in an override: {detail}', file=sys.stderr)
  sys.exit(2)


def _initialize_distributed() -> None:
  """jax.distributed.initialize() from the flags, before jax uses a device.

  Flags not given are found from the environment by jax (SLURM, Open MPI,
  TPU pods, ...). On CPU the processes' collectives go through gloo.
  """
  explicit = (_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  if not _DISTRIBUTED.value and all(v is None for v in explicit):
    return
  import jax  # pylint: disable=g-import-not-at-top

  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(*explicit)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
  try:
    _initialize_distributed()
  except (RuntimeError, ValueError) as e:
    print(f'error: jax.distributed.initialize: {e}', file=sys.stderr)
    return 2
  # Imported here so --help stays fast.
  from train import data, experiment, results  # pylint: disable=g-import-not-at-top

  try:
    written = experiment.run_experiment(_CONFIG.value, _WORKDIR.value)
  except (ValueError, data.DataError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print(
      '\ninterrupted: run the same command again to resume from the last completed epoch.',
      file=sys.stderr,
    )
    return 130
  if written is not None:
    print(results.format_table(written))
    print(f'\nresults: {_WORKDIR.value}/results.json, accuracy.csv, table.md')
  return 0


if __name__ == '__main__':
  app.run(main, flags_parser=_parse_flags)
