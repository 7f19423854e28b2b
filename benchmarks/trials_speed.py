"""Cost of N trials in one program vs one trial: NN-2, an epoch of 60,000.

For N in (1, 4, 16), times one epoch of ``train.trainer.TrialsProgram`` (all
N trials vmapped in one jitted program, an epoch = ``lax.scan`` over 468
batches of 128, then the full 10,000-image test set) after a warm-up epoch
that compiles, and prints epochs per second and the ratio
T(N) / (N * T(1)): below 1, N trials together are cheaper than N runs.

Synthetic uint8 images of the real size (timing does not depend on pixel
values). Like ``python -m train``, it makes one XLA CPU device per core
(train/cpu_devices.py): N trials are then sharded over the cores when N is
a multiple of their number; N = 1 runs on one device with all cores. Run
from the repository root:

  python benchmarks/trials_speed.py [--optimizer adadecay] [--trials 1 4 16]
"""

import argparse
import time

from train import cpu_devices

cpu_devices.use_one_device_per_core()  # as `python -m train` does

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position

from train import data as data_lib  # pylint: disable=wrong-import-position
from train import models, optimizers, trainer  # pylint: disable=wrong-import-position


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--optimizer', default='adadecay')
  parser.add_argument('--model', default='nn2')
  parser.add_argument('--trials', type=int, nargs='+', default=[1, 4, 16])
  parser.add_argument('--repeats', type=int, default=2)
  args = parser.parse_args()
  data = data_lib.Dataset.synthetic(60000, 10000, models.input_shape(args.model))
  spec = optimizers.parse(args.optimizer)
  print(
    f'{args.model}, {args.optimizer}, batch 128, 468 steps + 10k test'
    f' images per epoch; {jax.device_count()} x'
    f' {jax.devices()[0].device_kind}, jax {jax.__version__}'
  )
  base = None
  for n in args.trials:
    program = trainer.TrialsProgram(
      lambda rngs: models.get_model(args.model, rngs=rngs),
      lambda key: optimizers.build(spec, total_steps=468 * 100, depth='shallow', key=key),
      data,
      list(range(n)),
    )
    carry = program.init()
    carry, loss, _ = program.run_epoch(carry, 0)  # compiles
    jax.block_until_ready(loss)
    times = []
    for epoch in range(1, 1 + args.repeats):
      start = time.perf_counter()
      carry, loss, acc = program.run_epoch(carry, epoch)
      jax.block_until_ready((loss, acc))
      times.append(time.perf_counter() - start)
    t = min(times)
    base = base or (t if n == 1 else None)
    ratio = f', T(N)/(N*T(1)) = {t / (n * base):.2f}' if base else ''
    print(
      f'N={n:3d}: {t:7.2f} s/epoch, {1 / t:6.3f} epochs/s, {n / t:6.3f} trial-epochs/s{ratio}',
      flush=True,
    )


if __name__ == '__main__':
  main()
