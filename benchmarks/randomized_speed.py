"""Cost of the randomized ablation (eq. 13) in training, against AdaDecay.

Times the NN-2 training step of the harness (``train.trainer.TrialsProgram``:
8 trials vmapped in one jitted program, batch 128, sharded over one XLA CPU
device per core as ``python -m train`` does) for four optimizers:

* ``sgd`` (constant decay) and ``adadecay``, as ``train.optimizers`` builds
  them;
* ``randomized (old)``: eq. 13 with z from ``jax.random.normal`` (what
  ``randomized_decay`` did before; a copy here);
* ``randomized``: ``train.optimizers``' randomized, whose z comes from 16
  random bits through a quantile table (``adadecay_optax.randomized_decay``).

Each call is an "epoch" of ``--steps`` updates on synthetic images (the step
time does not depend on pixel values) plus a 100-image test pass. The
programs take turns, one call each per round, so a round's ratios to
``adadecay`` see the same machine state (the CPU may be shared); the script
prints per-step medians and the median of the per-round ratios with the
middle half of the rounds. Run from the repository root:

  python benchmarks/randomized_speed.py [--rounds 7] [--steps 40]
"""

import argparse
import time

from train import cpu_devices

cpu_devices.use_one_device_per_core()  # as `python -m train` does

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
import optax  # pylint: disable=wrong-import-position

import adadecay_optax as ad  # pylint: disable=wrong-import-position
from train import data as data_lib  # pylint: disable=wrong-import-position
from train import models, optimizers, trainer  # pylint: disable=wrong-import-position


def old_randomized_decay(weight_decay, alpha, key):
  """eq. 13 with z = jax.random.normal per leaf: the implementation before."""

  def init_fn(params):
    del params
    return ad.RandomizedDecayState(count=np.zeros([], np.int32), rng_key=key)

  def update_fn(updates, state, params):
    rng_key, sample_key = jax.random.split(state.rng_key)
    z = optax.tree.random_like(sample_key, updates, sampler=jax.random.normal)
    updates = jax.tree.map(
      lambda g, z, p: g + weight_decay * (2 / (1 + jax.numpy.exp(-alpha * z))) * p,
      updates,
      z,
      params,
    )
    return updates, ad.RandomizedDecayState(state.count + 1, rng_key)

  return optax.GradientTransformation(init_fn, update_fn)


def factories(total_steps):
  """name -> optimizer factory(key), as the harness builds them per trial."""
  build = lambda name: (
    lambda key: optimizers.build(
      optimizers.parse(name), total_steps=total_steps, depth='shallow', key=key
    )
  )
  spec = optimizers.parse('randomized')
  lr = optimizers.learning_rate(spec, total_steps=total_steps, depth='shallow')
  old = lambda key: optax.chain(
    old_randomized_decay(spec.weight_decay, spec.alpha, key),
    optax.sgd(lr, momentum=optimizers.MOMENTUM),
  )
  return {
    'sgd': build('sgd'),
    'adadecay': build('adadecay'),
    'randomized (old)': old,
    'randomized': build('randomized'),
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--trials', type=int, default=8)
  parser.add_argument('--steps', type=int, default=40, help='updates per timed call')
  parser.add_argument('--rounds', type=int, default=7)
  args = parser.parse_args()
  n_train, n_test = 128 * args.steps, 100
  data = data_lib.Dataset.synthetic(n_train, n_test)
  print(
    f'NN-2, {args.trials} trials, batch 128, {args.steps} steps per call;'
    f' {jax.device_count()} x {jax.devices()[0].device_kind},'
    f' jax {jax.__version__}'
  )
  programs, carries = {}, {}
  for name, factory in factories(468 * 100).items():
    programs[name] = trainer.TrialsProgram(
      lambda rngs: models.get_model('nn2', rngs=rngs),
      factory,
      data,
      list(range(args.trials)),
      eval_batch_size=n_test,
    )
    carry, loss, _ = programs[name].run_epoch(programs[name].init(), 0)
    jax.block_until_ready(loss)  # compiled
    carries[name] = carry
  times = np.zeros((args.rounds, len(programs)))
  for r in range(args.rounds):
    for i, (name, program) in enumerate(programs.items()):
      start = time.perf_counter()
      carries[name], loss, acc = program.run_epoch(carries[name], r + 1)
      jax.block_until_ready((loss, acc))
      times[r, i] = (time.perf_counter() - start) / args.steps
  names = list(programs)
  base = names.index('adadecay')
  for i, name in enumerate(names):
    ratio = times[:, i] / times[:, base]
    q50, q25, q75 = np.percentile(ratio, [50, 25, 75])
    print(
      f'{name:17s} {1e3 * np.median(times[:, i]):7.1f} ms/step;'
      f' / adadecay: {q50:.2f}x (middle half of the rounds'
      f' {q25:.2f}-{q75:.2f}x)'
    )


if __name__ == '__main__':
  main()
