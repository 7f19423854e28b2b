"""Half precision (config.half_precision): speed of NN-2 training, and the roof.

Measured in one run, the programs taking turns (one call each per round, so
a round's ratios see the same machine state on a shared CPU):

* the harness's NN-2 training step (``train.trainer.TrialsProgram``, 8
  trials vmapped and sharded over one XLA CPU device per core as
  ``python -m train`` does, batch 128, AdaDecay), with the model computing in
  float32 and in bfloat16 (``models.get_model(..., dtype=jnp.bfloat16)``,
  float32 parameters); each call is ``--steps`` updates on synthetic images
  plus a 100-image test pass;
* the matrix products alone of that step, in float32 and in bfloat16, with
  the same shapes and sharding: per trial the forward products
  (128×784)·(784×512), (128×512)·(512×512), (128×512)·(512×10), the weight
  gradients (their transposes times the output gradients) and the input
  gradients of the two upper layers, 411 MFLOP per trial and step. Their
  GFLOP/s is what this machine's XLA gives for NN-2's shapes, and the
  training step's matmul FLOPs over its time reads as a fraction of it.

It prints per-step medians (wall time, and GFLOP per CPU-second of this
process, which a CPU shared with other jobs inflates less), the median ratio
bf16 / float32 over the rounds (middle half in brackets), and the CPU's bf16 instruction flags (avx512_bf16,
amx_bf16; without them bfloat16 products are computed by conversion to
float32). Run from the repository root:

  python benchmarks/half_precision_speed.py [--rounds 7] [--steps 20]
"""

import argparse
import pathlib
import time

from train import cpu_devices

cpu_devices.use_one_device_per_core()  # as `python -m train` does

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P  # pylint: disable=wrong-import-position

from train import data as data_lib  # pylint: disable=wrong-import-position
from train import models, optimizers, trainer  # pylint: disable=wrong-import-position

SIZES = (784, 512, 512, 10)  # NN-2
BATCH = 128


def matmul_flops_per_trial() -> int:
  """FLOPs of one NN-2 step's products: forward, weight and input grads."""
  layers = list(zip(SIZES[:-1], SIZES[1:]))
  forward = sum(2 * BATCH * m * k for m, k in layers)
  input_grads = sum(2 * BATCH * m * k for m, k in layers[1:])
  return 2 * forward + input_grads  # weight gradients cost as the forward


def matmul_program(trials, dtype, sharding):
  """(jitted fn, args): the step's products for all trials, in ``dtype``."""
  key = jax.random.key(0)
  layers = list(zip(SIZES[:-1], SIZES[1:]))
  make = lambda i, shape: jax.device_put(
    jax.random.normal(jax.random.fold_in(key, i), (trials, *shape), dtype), sharding
  )
  xs = [make(i, (BATCH, m)) for i, (m, _) in enumerate(layers)]
  ws = [make(10 + i, (m, k)) for i, (m, k) in enumerate(layers)]
  dys = [make(20 + i, (BATCH, k)) for i, (_, k) in enumerate(layers)]

  def step(xs, ws, dys):
    forward = [x @ w for x, w in zip(xs, ws)]
    weight_grads = [jnp.swapaxes(x, 1, 2) @ dy for x, dy in zip(xs, dys)]
    input_grads = [dy @ jnp.swapaxes(w, 1, 2) for w, dy in zip(ws[1:], dys[1:])]
    return forward, weight_grads, input_grads

  return jax.jit(step), (xs, ws, dys)


def cpu_bf16_flags() -> str:
  try:
    words = set(pathlib.Path('/proc/cpuinfo').read_text().split())
  except OSError:
    return 'unknown'
  found = sorted(w for w in words if 'bf16' in w or w.startswith('amx'))
  return ', '.join(found) or 'none'


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--trials', type=int, default=8)
  parser.add_argument('--steps', type=int, default=20, help='updates per timed harness call')
  parser.add_argument('--rounds', type=int, default=7)
  parser.add_argument(
    '--matmul-repeats', type=int, default=20, help='product sets per timed matmul call'
  )
  args = parser.parse_args()
  n_train, n_test = BATCH * args.steps, 100
  data = data_lib.Dataset.synthetic(n_train, n_test)
  print(
    f'NN-2, {args.trials} trials, batch {BATCH}; {jax.device_count()} x'
    f' {jax.devices()[0].device_kind}, jax {jax.__version__}; CPU bf16'
    f' flags: {cpu_bf16_flags()}'
  )
  spec = optimizers.parse('adadecay')
  tx = lambda key: optimizers.build(spec, total_steps=468 * 100, depth='shallow', key=key)
  calls = {}  # name -> (call() -> seconds per step, FLOPs per step)
  flops = args.trials * matmul_flops_per_trial()
  for label, dtype in (('float32', None), ('bfloat16', jnp.bfloat16)):
    program = trainer.TrialsProgram(
      lambda rngs, dtype=dtype: models.get_model('nn2', rngs=rngs, dtype=dtype),
      tx,
      data,
      list(range(args.trials)),
      eval_batch_size=n_test,
    )
    state = {'carry': program.init(), 'epoch': 0}

    def train(program=program, state=state):
      start, cpu = time.perf_counter(), time.process_time()
      state['carry'], loss, acc = program.run_epoch(state['carry'], state['epoch'])
      jax.block_until_ready((loss, acc))
      state['epoch'] += 1
      return ((time.perf_counter() - start) / args.steps, (time.process_time() - cpu) / args.steps)

    calls[f'training step, {label}'] = (train, flops)
  devices = jax.devices()
  if args.trials % len(devices):
    devices = devices[:1]
  sharding = NamedSharding(Mesh(np.array(devices), ('trials',)), P('trials'))
  for label, dtype in (('float32', jnp.float32), ('bfloat16', jnp.bfloat16)):
    fn, fn_args = matmul_program(args.trials, dtype, sharding)

    def products(fn=fn, fn_args=fn_args):
      start, cpu = time.perf_counter(), time.process_time()
      for _ in range(args.matmul_repeats):
        out = fn(*fn_args)
      jax.block_until_ready(out)
      return (
        (time.perf_counter() - start) / args.matmul_repeats,
        (time.process_time() - cpu) / args.matmul_repeats,
      )

    calls[f'products alone, {label}'] = (products, flops)
  for call, _ in calls.values():
    call()  # compile
  names = list(calls)
  both = np.array(
    [[calls[n][0]() for n in names] for _ in range(args.rounds)]
  )  # (rounds, calls, wall/cpu)
  times, cpu = both[..., 0], both[..., 1]
  med = dict(zip(names, np.median(times, 0)))
  med_cpu = dict(zip(names, np.median(cpu, 0)))
  for name in names:
    gflops = calls[name][1] / med[name] / 1e9
    per_cpu = calls[name][1] / med_cpu[name] / 1e9
    print(
      f'{name:28s} {1e3 * med[name]:8.2f} ms/step, {gflops:6.1f}'
      f' GFLOP/s of matmul ({per_cpu:6.1f} GFLOP per CPU-second)'
    )
  for kind in ('training step', 'products alone'):
    ratio = times[:, names.index(f'{kind}, float32')] / times[:, names.index(f'{kind}, bfloat16')]
    q50, q25, q75 = np.percentile(ratio, [50, 25, 75])
    print(
      f'{kind}: bfloat16 speed-up over float32 {q50:.2f}x (middle half'
      f' of the rounds {q25:.2f}-{q75:.2f}x)'
    )
  for label in ('float32', 'bfloat16'):
    frac = (
      times[:, names.index(f'products alone, {label}')]
      / times[:, names.index(f'training step, {label}')]
    )
    print(
      f'{label}: the training step runs at {np.median(frac):.0%} of the'
      f' products-alone GFLOP/s (middle half'
      f' {np.percentile(frac, 25):.0%}-{np.percentile(frac, 75):.0%})'
    )
  print(
    f'trial-epochs per second (468 steps): float32'
    f' {args.trials / (468 * med["training step, float32"]):.3f},'
    f' bfloat16'
    f' {args.trials / (468 * med["training step, bfloat16"]):.3f}'
  )


if __name__ == '__main__':
  main()
