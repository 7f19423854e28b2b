"""One command that measures a device (a GPU, say) and writes ``report.md``.

  python benchmarks/device_report.py --out DIR [--tiny] [--budget-minutes 9]
                                    [--sections abcde]

Sections, each measured in this one run:

(a) ``adadecay`` vs ``optax.add_decayed_weights``, the jitted transform alone
    on a ResNet-18-shaped tree, and a full MLP training step
    (``adadecay_sgd`` vs ``sgd_with_weight_decay``): ratios of adjacent
    blocks of calls (benchmarks/adadecay_speed.py);
(b) a ResNet-18 (CIFAR variant) training step at batch 128, AdaDecay vs
    constant decay: ratio and images/s;
(c) NN-2 epochs (60,000 + 10,000 synthetic images) for N in {1, 8, 32, 50}
    trials in one program (`train.trainer.TrialsProgram`): T(N) / (N T(1));
(d) the device-hours of every paper experiment, estimated from (b) and (c):
    MLPs from the NN-2 throughput of (c) at 50 trials, convolutional models
    from the ResNet-18 throughput of (b), each scaled by its forward FLOPs
    (XLA's cost analysis);
(e) as the time budget allows: NN-2 on Fashion-MNIST, ``sgd`` vs
    ``adadecay``, 50 trials x 100 epochs, through the harness (workdir
    ``DIR/nn2_fashion_mnist``; running the command again resumes it), and its
    table.

Matmuls run in float32 (``jax_default_matmul_precision='float32'``): recent
NVIDIA GPUs otherwise use TF32, which the paper's float32 runs did not. The
report records the device, the jax version and that precision.

``--tiny`` shrinks everything (small model and data, few trials, one epoch)
so that the whole script runs in under a minute on a CPU: it checks the
machinery, and its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import datetime
import pathlib
import sys
import time

import jax

jax.config.update('jax_default_matmul_precision', 'float32')

import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
import optax  # pylint: disable=wrong-import-position
from flax import nnx  # pylint: disable=wrong-import-position

_HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))  # the sibling benchmarks
sys.path.insert(1, str(_HERE.parent))  # the checkout: train/, configs/
import adadecay_speed  # pylint: disable=g-import-not-at-top,wrong-import-position
import resnet18_speed  # pylint: disable=g-import-not-at-top,wrong-import-position

import adadecay_optax as ad  # pylint: disable=wrong-import-position
from train import data as data_lib  # pylint: disable=wrong-import-position
from train import experiment, files, models, optimizers, results, trainer  # pylint: disable=wrong-import-position

# The paper's experiments: (name, models, runs per model, trials); 100 epochs.
# Runs per model count the (dataset, optimizer-or-setting) columns.
EXPERIMENTS = (
  ('Table III, 28x28 part', ('nn2', 'nn3', 'lenet4', 'vgg9'), 2 * 6, 50),
  ('Table III, CIFAR-10 part', ('resnet18', 'resnet50', 'googlenet', 'densenet121'), 6, 32),
  ('Table I (NN-2; α, with SGD)', ('nn2',), 2 * 6, 50),
  ('Table II (NN-2)', ('nn2',), 2 * 3, 50),
  ('Fig. 1 (NN-2; 4 λ, SGD and AdaDecay)', ('nn2',), 2 * 8, 50),
  ('Fig. 2 (LeNet-4; 4 dropout rates, SGD and AdaDecay)', ('lenet4',), 2 * 8, 50),
  ('CIFAR-10 / ResNet-18 ablations (Tables I, II, Fig. 1)', ('resnet18',), 13, 32),
)
EPOCHS = 100
TRAIN_IMAGES = {'shallow': 60_000, 'deep': 50_000}


def forward_flops(model_name: str) -> float:
  """XLA's count of floating-point operations of one image's forward pass.

  From the lowered (not compiled) program: compiling the larger models would
  take minutes on a CPU and the count does not need it.
  """
  # Lowered for the CPU whatever the default device (on a GPU jax gives no
  # count for a lowered program), from shapes alone: no parameter is made.
  on_cpu = jax.sharding.SingleDeviceSharding(jax.devices('cpu')[0])
  abstract = nnx.eval_shape(lambda: models.get_model(model_name, rngs=nnx.Rngs(0)))
  abstract.eval()
  graphdef, state = nnx.split(abstract)
  state = jax.tree.map(lambda v: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=on_cpu), state)
  x = jax.ShapeDtypeStruct((1, *models.input_shape(model_name)), jnp.float32, sharding=on_cpu)
  lowered = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x)).lower(state, x)
  cost = lowered.cost_analysis()
  if cost is None:  # then the compiled program's count
    cost = lowered.compile().cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost['flops'])


def section_a(tiny):
  rounds = 2 if tiny else 20
  shapes = [(3, 3, 16, 16), (16,), (256, 10)] if tiny else None  # default: ResNet-18
  n, (ms_t, r_t) = adadecay_speed.bench_transform(rounds, floor=False, shapes=shapes)
  ms_m, r_m = adadecay_speed.bench_mlp_step(rounds, floor=False)
  lines = [
    '## (a) AdaDecay vs constant decay: transform alone and MLP step',
    '',
    '| program | constant (ms) | AdaDecay (ms) | ratio (median, middle half) |',
    '|:--|--:|--:|--:|',
  ]
  tree = 'small' if tiny else 'ResNet-18'
  for name, ms, r in (
    (f'transform alone, {tree} tree ({n:,} params)', ms_t, r_t),
    ('MLP 784-512-512-10 step, batch 128', ms_m, r_m),
  ):
    (base, t_base), (other, t_other) = list(ms.items())[:2]
    med, q25, q75 = r[other, base]
    lines.append(f'| {name} | {t_base:.3f} | {t_other:.3f} | {med:.2f}× ({q25:.2f}–{q75:.2f}) |')
  return lines, {}


def section_b(tiny):
  model_name, batch, steps = ('lenet4', 8, 2) if tiny else ('resnet18', 128, 10)
  model = models.get_model(model_name, rngs=nnx.Rngs(0))
  model.train()
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(batch, *models.input_shape(model_name))), jnp.float32)
  y = jnp.asarray(rng.integers(0, 10, batch))
  txs = {'constant decay': ad.sgd_with_weight_decay(0.1), 'adadecay': ad.adadecay_sgd(0.1)}
  step, state = {}, {}
  for name, tx in txs.items():
    step[name] = resnet18_speed.make_step(tx, graphdef)
    state[name] = (params, rest, tx.init(params))
    jax.block_until_ready(step[name](*state[name], x, y))  # compile
  times = {name: [] for name in txs}
  for _ in range(steps):
    for name in txs:  # alternating: both see the same device state
      start = time.perf_counter()
      out = step[name](*state[name], x, y)
      jax.block_until_ready(out)
      times[name].append(time.perf_counter() - start)
      state[name] = out[:3]
  ips = {n: batch / float(np.median(t)) for n, t in times.items()}
  lines = [
    f'## (b) {model_name} training step, batch {batch}',
    '',
    '| optimizer | ms/step | images/s |',
    '|:--|--:|--:|',
  ]
  lines += [f'| {n} | {1e3 * batch / v:.1f} | {v:.1f} |' for n, v in ips.items()]
  lines += [
    '',
    f'Ratio AdaDecay / constant decay (time per step): '
    f'**{ips["constant decay"] / ips["adadecay"]:.3f}**',
  ]
  return lines, {'model': model_name, 'images_per_s': ips['adadecay']}


def section_c(tiny):
  counts = (1, 2) if tiny else (1, 8, 32, 50)
  n_train, n_test = (256, 200) if tiny else (60_000, 10_000)
  data = data_lib.Dataset.synthetic(n_train, n_test)
  spec = optimizers.parse('adadecay')
  lines = [
    '## (c) NN-2 epochs, N trials in one program (AdaDecay)',
    '',
    f'Epoch: {n_train:,} training images (batch 128) + {n_test:,} test images, '
    'synthetic; time of the second epoch (the first compiles).',
    '',
    '| N | s/epoch | trial-epochs/s | T(N) / (N·T(1)) |',
    '|--:|--:|--:|--:|',
  ]
  base = rate = None
  for n in counts:
    program = trainer.TrialsProgram(
      lambda rngs: models.get_model('nn2', rngs=rngs),
      lambda key: optimizers.build(
        spec, total_steps=100 * (n_train // 128), depth='shallow', key=key
      ),
      data,
      list(range(n)),
    )
    carry = program.init()
    carry, loss, _ = program.run_epoch(carry, 0)
    jax.block_until_ready(loss)
    start = time.perf_counter()
    carry, loss, acc = program.run_epoch(carry, 1)
    jax.block_until_ready((loss, acc))
    t = time.perf_counter() - start
    base = base or t
    rate = n * (60_000 / n_train) / t  # full-size trial-epochs per second
    lines.append(f'| {n} | {t:.2f} | {n / t:.3f} | {t / (n * base):.2f} |')
  return lines, {'nn2_trial_epochs_per_s': rate, 'last_epoch_seconds': t}


def section_d(b, c):
  flops = {m: forward_flops(m) for exp in EXPERIMENTS for m in exp[1]}
  nn2_rate = c['nn2_trial_epochs_per_s']  # full NN-2 trial-epochs / s
  conv_flops_per_s = b['images_per_s'] * flops[b['model']]
  lines = [
    "## (d) Estimated device-hours of the paper's experiments (100 epochs)",
    '',
    'MLPs (NN-2, NN-3): from the NN-2 throughput of (c) at the largest N, scaled by '
    'forward FLOPs. Convolutional models: from the images/s of (b), scaled by forward '
    'FLOPs (XLA cost analysis). Entropy-SGD counts like the others (an epoch is one '
    'pass over the data). Estimates, not runs.',
    '',
    '| experiment | runs × trials | device-hours |',
    '|:--|--:|--:|',
  ]
  total = 0.0
  for name, model_names, runs, trials in EXPERIMENTS:
    seconds = 0.0
    for m in model_names:
      if m in ('nn2', 'nn3'):
        per_trial_epoch = flops[m] / flops['nn2'] / nn2_rate
      else:
        images = TRAIN_IMAGES[models.depth(m)] * 1.2  # + the test set's evaluation, roughly
        per_trial_epoch = images * 3 * flops[m] / conv_flops_per_s  # fwd + bwd ~ 3x fwd
      seconds += runs * trials * EPOCHS * per_trial_epoch
    total += seconds
    lines.append(f'| {name} | {len(model_names) * runs} × {trials} | {seconds / 3600:,.1f} |')
  lines.append(f'| **all** | | **{total / 3600:,.1f}** |')
  return lines


def section_e(out, data_dir, tiny, deadline, epoch_seconds):
  from configs import quickstart  # pylint: disable=g-import-not-at-top

  config = quickstart.get_config()
  config.experiment = 'device_report_nn2_fashion_mnist'
  config.trials, config.epochs = (2, 1) if tiny else (50, 100)
  if tiny:
    config.train_subset, config.test_subset = 256, 200
  config.progress = False
  config.download = False
  if data_dir:
    config.data_dir = data_dir
  workdir = out / 'nn2_fashion_mnist'
  lines = [
    '## (e) NN-2 on Fashion-MNIST, sgd vs adadecay, '
    f'{config.trials} trials × {config.epochs} epochs',
    '',
  ]
  # One call, stopped after the epochs that fit in the budget at the epoch
  # time (c) measured for its largest N (= config.trials, on the same number
  # of images), so each run's program compiles once.
  runs = len(config.optimizers)
  fit = int((deadline - time.monotonic()) / (1.2 * runs * epoch_seconds))
  if fit < 1:
    return lines + ['Not run: no time left in the budget.']
  try:
    written = experiment.run_experiment(
      config, workdir, log=lambda s: None, stop_after_epochs=min(fit, runs * config.epochs)
    )
  except Exception as e:  # pylint: disable=broad-except
    return lines + [f'Not run: {type(e).__name__}: {e}']
  if written is None:
    return lines + [
      f'Stopped by the time budget; `{workdir}` holds the checkpoints: run '
      'the same command again to continue.'
    ]
  return lines + [results.format_table(written)]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', required=True, type=pathlib.Path, help='folder for report.md')
  parser.add_argument('--tiny', action='store_true', help='smoke test: tiny sizes (CPU)')
  parser.add_argument(
    '--budget-minutes',
    type=float,
    default=9.0,
    help='stop section (e) when this much time has passed since the start',
  )
  parser.add_argument(
    '--sections',
    default='abcde',
    help='the sections to run, e.g. abcd to leave out the (long) run of (e);'
    ' (d) needs (b) and (c), (e) needs (c)',
  )
  parser.add_argument(
    '--data-dir', default='', help='folder with Fashion-MNIST for (e) (default: the harness search)'
  )
  args = parser.parse_args(argv)
  sections = set(args.sections)
  if (
    not sections <= set('abcde')
    or ('d' in sections and not {'b', 'c'} <= sections)
    or ('e' in sections and 'c' not in sections)
  ):
    parser.error(f'--sections {args.sections!r}: letters from abcde; d needs b and c, e needs c')
  start = time.monotonic()
  deadline = start + 60 * args.budget_minutes
  args.out.mkdir(parents=True, exist_ok=True)
  device = jax.devices()[0]
  md = [
    '# Device report',
    '',
    f'- device: {jax.device_count()} × {device.device_kind} ({device.platform})',
    f'- jax {jax.__version__}, optax {optax.__version__}; matmul precision: '
    f'{jax.config.jax_default_matmul_precision}',
    f'- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC',
    f'- command: `python benchmarks/device_report.py {" ".join(sys.argv[1:] if argv is None else argv)}`',
  ]
  if args.tiny:
    md.append('- **--tiny**: sizes shrunk to test the script; the numbers mean nothing.')
  md.append('')
  took = {}

  path = args.out / 'report.md'

  def timed(name, fn, *a):
    t0 = time.monotonic()
    out = fn(*a)
    took[name] = time.monotonic() - t0
    print(f'section ({name}): {took[name]:.1f} s', file=sys.stderr, flush=True)
    lines = out[0] if isinstance(out, tuple) else out
    print('\n'.join(lines), file=sys.stderr, flush=True)
    # What is measured so far, should a later section fail or time out.
    files.write_text_atomic(path, '\n'.join(md + lines) + '\n')
    return out

  if 'a' in sections:
    lines, _ = timed('a', section_a, args.tiny)
    md += lines + ['']
  if 'b' in sections:
    lines, b = timed('b', section_b, args.tiny)
    md += lines + ['']
  if 'c' in sections:
    lines, c = timed('c', section_c, args.tiny)
    md += lines + ['']
  if 'd' in sections:
    md += timed('d', section_d, b, c) + ['']
  if 'e' in sections:
    md += timed(
      'e', section_e, args.out, args.data_dir, args.tiny, deadline, c['last_epoch_seconds']
    ) + ['']
  md.append('Seconds per section: ' + ', '.join(f'({k}) {v:.0f}' for k, v in took.items()) + '.')
  md.append(f'Wall time: {(time.monotonic() - start) / 60:.1f} min.')
  files.write_text_atomic(path, '\n'.join(md) + '\n')
  print(path.read_text(encoding='utf-8'))
  return 0


if __name__ == '__main__':
  sys.exit(main())
