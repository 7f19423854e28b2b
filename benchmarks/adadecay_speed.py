"""Speed of AdaDecay relative to constant weight decay, measured in one run.

(a) the jitted transform alone, ``adadecay`` vs ``optax.add_decayed_weights``,
    on a ResNet-18-shaped (CIFAR variant, 11.2M parameters) tree;
(b) a full jitted SGD-momentum training step of a 784-512-512-10 MLP at batch
    128, ``adadecay_sgd`` vs ``sgd_with_weight_decay``.

Prints the median time of each and their ratio. Run from the repository root:

  python benchmarks/adadecay_speed.py
"""

import argparse
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import adadecay_optax as ad


def resnet18_shapes():
  """Leaf shapes of the CIFAR ResNet-18 (kuangliu/pytorch-cifar): 11,173,962."""
  shapes = [(3, 3, 3, 64), (64,), (64,)]
  cin = 64
  for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
    for block in range(2):
      s = stride if block == 0 else 1
      shapes += [(3, 3, cin, cout), (cout,), (cout,),
                 (3, 3, cout, cout), (cout,), (cout,)]
      if s != 1 or cin != cout:
        shapes += [(1, 1, cin, cout), (cout,), (cout,)]
      cin = cout
  shapes += [(512, 10), (10,)]
  return shapes


def median_times(fns, args, repeats, block=10):
  """Median seconds per call of each jitted fn.

  The fns take turns in blocks of ``block`` consecutive calls, so both see
  the same machine state over the run while each runs with its own data in
  cache, as in training; the first call of each block is not counted.
  """
  for fn, a in zip(fns, args):
    jax.block_until_ready(fn(*a))  # compile
  times = [[] for _ in fns]
  for _ in range(max(1, repeats // block)):
    for i, (fn, a) in enumerate(zip(fns, args)):
      for j in range(block + 1):
        start = time.perf_counter()
        jax.block_until_ready(fn(*a))
        if j:
          times[i].append(time.perf_counter() - start)
  return [float(np.median(t)) for t in times]


def bench_transform(repeats):
  key = jax.random.key(0)
  shapes = resnet18_shapes()
  keys = jax.random.split(key, 2 * len(shapes))
  params = [jax.random.normal(k, s) for k, s in zip(keys[::2], shapes)]
  grads = [jax.random.normal(k, s) * 1e-3 for k, s in zip(keys[1::2], shapes)]
  n = sum(p.size for p in params)
  txs = {'add_decayed_weights': optax.add_decayed_weights(5e-4),
         'adadecay': ad.adadecay(5e-4, 4.0)}
  fns = [jax.jit(lambda g, s, p, tx=tx: tx.update(g, s, p)[0])
         for tx in txs.values()]
  args = [(grads, tx.init(params), params) for tx in txs.values()]
  return n, dict(zip(txs, median_times(fns, args, repeats)))


def bench_mlp_step(repeats):
  sizes = (784, 512, 512, 10)
  key = jax.random.key(1)
  params = []
  for i, (m, k) in enumerate(zip(sizes[:-1], sizes[1:])):
    w = jax.random.normal(jax.random.fold_in(key, i), (m, k)) * (2 / m) ** .5
    params.append({'kernel': w, 'bias': jnp.zeros((k,))})
  x = jax.random.normal(jax.random.fold_in(key, 99), (128, 784))
  y = jax.random.randint(jax.random.fold_in(key, 98), (128,), 0, 10)

  def loss_fn(params):
    h = x
    for layer in params[:-1]:
      h = jax.nn.relu(h @ layer['kernel'] + layer['bias'])
    logits = h @ params[-1]['kernel'] + params[-1]['bias']
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

  txs = {'sgd_with_weight_decay': ad.sgd_with_weight_decay(0.1),
         'adadecay_sgd': ad.adadecay_sgd(0.1)}

  def make_step(tx):
    @jax.jit
    def step(params, state):
      grads = jax.grad(loss_fn)(params)
      updates, state = tx.update(grads, state, params)
      return optax.apply_updates(params, updates), state
    return step

  fns = [make_step(tx) for tx in txs.values()]
  args = [(params, tx.init(params)) for tx in txs.values()]
  return dict(zip(txs, median_times(fns, args, repeats)))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--repeats', type=int, default=200)
  args = parser.parse_args()
  print(f'jax {jax.__version__}, optax {optax.__version__}, '
        f'{jax.devices()[0].device_kind}, {platform.processor() or platform.machine()}')
  n, t = bench_transform(args.repeats)
  ratio_a = t['adadecay'] / t['add_decayed_weights']
  print(f'(a) transform alone, ResNet-18 tree ({n:,} params): '
        f'add_decayed_weights {t["add_decayed_weights"]*1e3:.2f} ms, '
        f'adadecay {t["adadecay"]*1e3:.2f} ms, ratio {ratio_a:.2f}x')
  t = bench_mlp_step(args.repeats)
  ratio_b = t['adadecay_sgd'] / t['sgd_with_weight_decay']
  print(f'(b) MLP 784-512-512-10 training step, batch 128: '
        f'constant decay {t["sgd_with_weight_decay"]*1e3:.3f} ms, '
        f'adadecay {t["adadecay_sgd"]*1e3:.3f} ms, ratio {ratio_b:.2f}x')


if __name__ == '__main__':
  main()
