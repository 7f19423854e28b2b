"""Command line: ``python -m train --config configs/X.py --workdir DIR``.

Overrides use ml_collections' syntax, e.g. ``--config.trials=10`` or
``--config.optimizers="('sgd','adadecay(alpha=8)')"``. Running the same
command again resumes an interrupted experiment.
"""

import sys

from train import cpu_devices

cpu_devices.use_one_device_per_core()  # before anything imports jax

from absl import app  # pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags  # pylint: disable=wrong-import-position
from absl import logging  # pylint: disable=wrong-import-position
from ml_collections import config_flags  # pylint: disable=wrong-import-position

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Experiment config file (configs/*.py).',
    lock_config=True)
_WORKDIR = flags.DEFINE_string(
    'workdir', None, 'Directory for checkpoints and results (resumes).')
flags.mark_flags_as_required(['config', 'workdir'])


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
    print(f'error: unknown config field in an override: {detail}',
          file=sys.stderr)
  sys.exit(2)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
  # Imported here so --help stays fast.
  from train import data, experiment, results  # pylint: disable=g-import-not-at-top
  try:
    written = experiment.run_experiment(_CONFIG.value, _WORKDIR.value)
  except (ValueError, data.DataError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print('\ninterrupted: run the same command again to resume from the last'
          ' completed epoch.', file=sys.stderr)
    return 130
  if written is not None:
    print(results.format_table(written))
    print(f'\nresults: {_WORKDIR.value}/results.json, accuracy.csv, table.md')
  return 0


if __name__ == '__main__':
  app.run(main, flags_parser=_parse_flags)
