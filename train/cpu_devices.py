"""One XLA CPU device per core, so the trials of a run execute in parallel.

On a CPU, jax has one device whose operations share one intra-op thread
pool; the small matrix products of a 28x28 model then use the cores poorly.
With one device per core (``--xla_force_host_platform_device_count``), the
trainer shards the trial axis over them and each core runs its own trials:
measured on 2 cores, 16 NN-2 trials cost 0.84 of 16 single-trial runs
instead of 0.97 (benchmarks/trials_speed.py). It changes nothing on an
accelerator (the host devices are not used) and nothing in the results of a
trial.

It must run before jax initialises its backends; the command line
(``python -m train``) and the benchmarks call it first thing.
"""

import os
import sys

_FLAG = '--xla_force_host_platform_device_count'


def use_one_device_per_core() -> None:
  """Adds the XLA flag unless the user set one, or jax is already running."""
  flags = os.environ.get('XLA_FLAGS', '')
  if _FLAG in flags or 'jax' in sys.modules:
    return
  os.environ['XLA_FLAGS'] = f'{flags} {_FLAG}={os.cpu_count() or 1}'.strip()
