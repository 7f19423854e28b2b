"""ResNet-18 (CIFAR-10 variant) training throughput, AdaDecay vs constant decay.

Times a jitted training step (forward, backward, optimizer, BatchNorm update)
of one ResNet-18 on 32x32x3 float32 images, with ``adadecay_sgd`` and with
``sgd_with_weight_decay``, alternating between the two so both see the same
machine state; prints images per second and the ratio. From those figures it
estimates the wall time of the full Table III deep part (4 models; here only
ResNet-18 is timed, the other three are scaled by their forward FLOPs).

  python benchmarks/resnet18_speed.py [--batch 128] [--steps 5]
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import adadecay_optax as ad
from train import models

# Forward multiply-adds per 32x32 image (published for the kuangliu variants:
# ResNet-18 0.56 G, ResNet-50 1.30 G, GoogLeNet 1.53 G, DenseNet-121 0.90 G).
GMACS = {'resnet18': 0.56, 'resnet50': 1.30, 'googlenet': 1.53, 'densenet121': 0.90}


def make_step(tx, graphdef):
  @jax.jit
  def step(params, rest, opt_state, x, y):
    def loss_fn(params):
      model = nnx.merge(graphdef, params, rest, copy=True)
      loss = optax.softmax_cross_entropy_with_integer_labels(model(x), y)
      return loss.mean(), nnx.split(model, nnx.Param, ...)[2]

    (loss, rest), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), rest, opt_state, loss

  return step


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch', type=int, default=128)
  parser.add_argument('--steps', type=int, default=5)
  args = parser.parse_args()
  model = models.get_model('resnet18', rngs=nnx.Rngs(0))
  model.train()
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(args.batch, 32, 32, 3)), jnp.float32)
  y = jnp.asarray(rng.integers(0, 10, args.batch))
  txs = {'constant decay': ad.sgd_with_weight_decay(0.1), 'adadecay': ad.adadecay_sgd(0.1)}
  state, steps, times = {}, {}, {name: [] for name in txs}
  for name, tx in txs.items():
    steps[name] = make_step(tx, graphdef)
    state[name] = (params, rest, tx.init(params))
    out = steps[name](*state[name], x, y)  # compile
    jax.block_until_ready(out)
  for _ in range(args.steps):
    for name in txs:
      start = time.perf_counter()
      out = steps[name](*state[name], x, y)
      jax.block_until_ready(out)
      times[name].append(time.perf_counter() - start)
      state[name] = out[:3]
  device = jax.devices()[0]
  print(
    f'ResNet-18, batch {args.batch}, float32, {device.device_kind}'
    f' ({device.platform}), jax {jax.__version__}'
  )
  ips = {}
  for name in txs:
    t = float(np.median(times[name]))
    ips[name] = args.batch / t
    print(f'  {name:15s} {t * 1e3:9.1f} ms/step  {ips[name]:9.1f} images/s')
  print(
    f'  ratio adadecay / constant (time per step): {ips["constant decay"] / ips["adadecay"]:.3f}'
  )
  # Table III deep part: 4 models x 5 optimizers (+ Entropy-SGD) x 32 trials
  # x 100 epochs x 50,000 images, each model scaled by its FLOPs.
  seconds = sum(GMACS[m] / GMACS['resnet18'] for m in GMACS) * (
    6 * 32 * 100 * 50_000 / ips['adadecay']
  )
  print(
    f'  estimate for Table III deep part (6 optimizers x 32 trials x 100'
    f' epochs, 4 models): {seconds / 3600:.0f} h on this device'
  )


if __name__ == '__main__':
  main()
