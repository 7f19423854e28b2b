"""Speed of AdaDecay relative to constant weight decay, measured in one run.

(a) the jitted transform alone, ``adadecay`` vs ``optax.add_decayed_weights``,
    on a ResNet-18-shaped (CIFAR variant, 11.2M parameters) tree;
(b) a full jitted SGD-momentum training step of a 784-512-512-10 MLP at batch
    128, ``adadecay_sgd`` vs ``sgd_with_weight_decay``.

Each also times the previous implementation of θ (``fused_theta`` below,
kept here as the reference point: the same statistics spelt to steer
XLA:CPU's fusion), so the price of the readable version is measured in the
same run.

The programs take turns in blocks of calls (one round: a block of each);
each round gives one ratio per pair of programs, and the script prints the
median of those ratios with the range of their middle half, plus each
program's median time. Ratios within a round keep the result steady when the
machine's speed drifts during the run (on a shared 2-core VM the baseline
alone varies up to 2x between minutes).

With ``--floor`` it also times a stand-in whose per-leaf statistics are just
two plain sums (Σg, Σg²; not a correct optimizer): the cost of any
two-reduction method for the mean and std on this XLA backend, hence a lower
bound for exact AdaDecay. Run from the repository root:

  python benchmarks/adadecay_speed.py [--floor]
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
      shapes += [(3, 3, cin, cout), (cout,), (cout,), (3, 3, cout, cout), (cout,), (cout,)]
      if s != 1 or cin != cout:
        shapes += [(1, 1, cin, cout), (cout,), (cout,)]
      cin = cout
  shapes += [(512, 10), (10,)]
  return shapes


def paired_times(fns, args, rounds, block=10):
  """Per-round median seconds per call of each jitted fn.

  In each round every fn runs ``block + 1`` consecutive calls (the first not
  counted, so each runs with its own data in cache, as in training); the
  fns take turns, so round r of each saw the same machine state. Returns an
  array of shape (rounds, len(fns)).
  """
  for fn, a in zip(fns, args):
    jax.block_until_ready(fn(*a))  # compile
  times = np.zeros((rounds, len(fns)))
  for r in range(rounds):
    for i, (fn, a) in enumerate(zip(fns, args)):
      block_times = []
      for j in range(block + 1):
        start = time.perf_counter()
        jax.block_until_ready(fn(*a))
        if j:
          block_times.append(time.perf_counter() - start)
      times[r, i] = np.median(block_times)
  return times


def summary(times, names):
  """{name: median ms} and {(name, other): (median, q25, q75) of the ratios}.

  Ratios are taken within each round and then summarised: every program
  against the first (the baseline), and the second (the library's AdaDecay)
  against the third (its previous θ).
  """
  ms = {n: float(np.median(times[:, i])) * 1e3 for i, n in enumerate(names)}
  pairs = [(i, 0) for i in range(1, len(names))] + [(1, 2)]
  ratios = {}
  for i, j in pairs:
    r = times[:, i] / times[:, j]
    ratios[names[i], names[j]] = tuple(float(x) for x in np.percentile(r, [50, 25, 75]))
  return ms, ratios


def two_sums_floor():
  """Stand-in for adadecay whose statistics are two plain sums per leaf.

  Same sigmoid update as AdaDecay, but the mean and std are replaced by Σg
  and Σg² (scaled to keep θ finite): no |g|, no centring. Not a correct
  optimizer; it prices the two reductions alone.
  """

  def update_fn(updates, state, params):
    def one(g, p):
      s1, s2 = jnp.sum(g), jnp.vdot(g, g)
      z = (jnp.abs(g) - s1 * 1e-9) * (-4.0 * (1e3 + s2 * 1e-9))
      return g + (5e-4 * (2 / (1 + jnp.exp(z)))) * p

    return jax.tree.map(one, updates, params), state

  return optax.GradientTransformation(lambda p: optax.EmptyState(), update_fn)


# -- the previous θ, the reference point ----------------------------------------
# adadecay_optax/adadecay.py before the readable rewrite (commit 356f913):
# the mean about the smallest of 256 fixed picks, then the sum of squares
# about it in units of the mean's power of two, with |g| spelt differently in
# each pass so that XLA:CPU fuses it into every pass instead of sharing it.

_PIVOT_PICKS = 256
_GOLDEN = (5**0.5 - 1) / 2


def _pick_positions(shape):
  n = int(np.prod(shape))
  if n <= _PIVOT_PICKS:
    flat = np.arange(n)
  else:
    flat = np.unique(
      np.floor(np.mod((np.arange(_PIVOT_PICKS) + 0.5) * _GOLDEN, 1.0) * n).astype(np.int64)
    )
  return np.unravel_index(flat, shape)


def _pow2_reciprocal(x):
  _, e = jnp.frexp(jnp.where((x > 0) & jnp.isfinite(x), x, 1))
  limit = -jnp.finfo(x.dtype).minexp
  return jnp.ldexp(jnp.ones((), x.dtype), -jnp.clip(e, -limit, limit))


def _fused_moments(g):
  g = g.astype(jnp.promote_types(g.dtype, jnp.float32))
  n = g.size
  if n == 0:
    zero = jnp.zeros((), g.dtype)
    return zero, zero + 1, zero
  picked = g.reshape(1) if g.ndim == 0 else g[_pick_positions(g.shape)]
  k = jnp.min(jnp.abs(picked))
  mean = k + jnp.sum(jnp.abs(g) - k) / n
  s = _pow2_reciprocal(mean)
  sum_sq = jnp.sum(jnp.square(jnp.abs(g * s) - mean * s))
  ok = (sum_sq > 0) & jnp.isfinite(sum_sq)
  inv_std = jnp.where(ok, 1 / jnp.sqrt(jnp.where(ok, sum_sq / n, 1)), 0)
  return jnp.where(ok, mean, 0), jnp.where(ok, s, 1), inv_std


def fused_theta(g, alpha):
  """θ of eqs. 10-12 for one leaf, as the library computed it before."""
  mean, s, inv_std = _fused_moments(g)
  g = g.astype(mean.dtype)
  t = 2 * s
  a = jnp.maximum(g, -g) * t
  factor = -jnp.asarray(alpha, a.dtype) * (inv_std / 2)
  exponent = jnp.where(factor != 0, (a - mean * t) * factor, 0)
  return 2 / (1 + jnp.exp(exponent))


def fused_adadecay(weight_decay, alpha):
  """``adadecay(weight_decay, alpha)`` with the previous θ."""

  def update_fn(updates, state, params):
    def one(g, p):
      theta = fused_theta(g, alpha)
      return (g + (weight_decay * theta.astype(g.dtype)) * p).astype(g.dtype)

    return jax.tree.map(one, updates, params), state

  return optax.GradientTransformation(lambda p: optax.EmptyState(), update_fn)


def bench_transform(rounds, floor, shapes=None):
  """The transforms alone on ``shapes`` (default: ResNet-18's leaves)."""
  key = jax.random.key(0)
  shapes = shapes or resnet18_shapes()
  keys = jax.random.split(key, 2 * len(shapes))
  params = [jax.random.normal(k, s) for k, s in zip(keys[::2], shapes)]
  grads = [jax.random.normal(k, s) * 1e-3 for k, s in zip(keys[1::2], shapes)]
  n = sum(p.size for p in params)
  txs = {
    'add_decayed_weights': optax.add_decayed_weights(5e-4),
    'adadecay': ad.adadecay(5e-4, 4.0),
    'adadecay (previous θ)': fused_adadecay(5e-4, 4.0),
  }
  if floor:
    txs['two-sums floor'] = two_sums_floor()
  fns = [jax.jit(lambda g, s, p, tx=tx: tx.update(g, s, p)[0]) for tx in txs.values()]
  args = [(grads, tx.init(params), params) for tx in txs.values()]
  return n, summary(paired_times(fns, args, rounds), list(txs))


def bench_mlp_step(rounds, floor):
  sizes = (784, 512, 512, 10)
  key = jax.random.key(1)
  params = []
  for i, (m, k) in enumerate(zip(sizes[:-1], sizes[1:])):
    w = jax.random.normal(jax.random.fold_in(key, i), (m, k)) * (2 / m) ** 0.5
    params.append({'kernel': w, 'bias': jnp.zeros((k,))})
  x = jax.random.normal(jax.random.fold_in(key, 99), (128, 784))
  y = jax.random.randint(jax.random.fold_in(key, 98), (128,), 0, 10)

  def loss_fn(params, x, y):
    h = x
    for layer in params[:-1]:
      h = jax.nn.relu(h @ layer['kernel'] + layer['bias'])
    logits = h @ params[-1]['kernel'] + params[-1]['bias']
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

  txs = {
    'sgd_with_weight_decay': ad.sgd_with_weight_decay(0.1),
    'adadecay_sgd': ad.adadecay_sgd(0.1),
    'adadecay_sgd (previous θ)': optax.chain(fused_adadecay(5e-4, 4.0), optax.sgd(0.1, 0.9)),
  }
  if floor:
    txs['two-sums floor'] = optax.chain(two_sums_floor(), optax.sgd(0.1, 0.9))

  def make_step(tx):
    @jax.jit
    def step(params, state, x, y):
      grads = jax.grad(loss_fn)(params, x, y)
      updates, state = tx.update(grads, state, params)
      return optax.apply_updates(params, updates), state

    return step

  fns = [make_step(tx) for tx in txs.values()]
  args = [(params, tx.init(params), x, y) for tx in txs.values()]
  return summary(paired_times(fns, args, rounds), list(txs))


def report(label, ms, ratios):
  times = ', '.join(f'{n} {t:.2f} ms' for n, t in ms.items())
  print(f'{label}: {times}')
  for (n, d), (med, q25, q75) in ratios.items():
    print(f'    {n} / {d}: ratio {med:.3f}x (middle half of the rounds {q25:.3f}-{q75:.3f}x)')


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument(
    '--rounds', type=int, default=30, help='paired rounds of 10 calls per program'
  )
  parser.add_argument(
    '--floor', action='store_true', help='also time the two-plain-sums lower bound'
  )
  args = parser.parse_args()
  print(
    f'jax {jax.__version__}, optax {optax.__version__}, '
    f'{jax.devices()[0].device_kind}, {platform.processor() or platform.machine()}'
  )
  n, (ms, ratios) = bench_transform(args.rounds, args.floor)
  report(f'(a) transform alone, ResNet-18 tree ({n:,} params)', ms, ratios)
  ms, ratios = bench_mlp_step(args.rounds, args.floor)
  report('(b) MLP 784-512-512-10 training step, batch 128', ms, ratios)


if __name__ == '__main__':
  main()
