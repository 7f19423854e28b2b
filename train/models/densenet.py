"""DenseNet-121 (the paper's "DenseConv"), CIFAR-10 (32x32x3) variant.

The AdaDecay paper (Nakamura & Hong, arXiv 1907.08931) trains "DenseConv" on
CIFAR-10 without defining it; :class:`DenseNet121` says why we take DenseNet
(Huang et al., "Densely Connected Convolutional Networks").  This is the
CIFAR variant of kuangliu/pytorch-cifar (``models/densenet.py``), ported
layer for layer to Flax NNX (porting conventions in the package docstring);
6,956,298 parameters for 10 classes, the published count of that variant.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from train.models.layers import batch_norm, conv, global_avg_pool

__all__ = ['DenseNet121', 'DenseLayer', 'Transition']


class DenseLayer(nnx.Module):
  """DenseNet-BC bottleneck layer: BN-ReLU-1x1 conv (4k) - BN-ReLU-3x3 conv (k).

  Output is ``concat([new k features, input])`` on channels (kuangliu's order).
  """

  def __init__(self, in_planes: int, growth_rate: int, *, rngs: nnx.Rngs):
    self.bn1 = batch_norm(in_planes, rngs=rngs)
    self.conv1 = conv(in_planes, 4 * growth_rate, 1, use_bias=False, rngs=rngs)
    self.bn2 = batch_norm(4 * growth_rate, rngs=rngs)
    self.conv2 = conv(4 * growth_rate, growth_rate, 3, use_bias=False, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    out = self.conv1(nnx.relu(self.bn1(x)))
    out = self.conv2(nnx.relu(self.bn2(out)))
    return jnp.concatenate([out, x], axis=-1)


class Transition(nnx.Module):
  """DenseNet transition: BN-ReLU-1x1 conv (compression) - 2x2 average pool."""

  def __init__(self, in_planes: int, out_planes: int, *, rngs: nnx.Rngs):
    self.bn = batch_norm(in_planes, rngs=rngs)
    self.conv = conv(in_planes, out_planes, 1, use_bias=False, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    out = self.conv(nnx.relu(self.bn(x)))
    return nnx.avg_pool(out, (2, 2), strides=(2, 2))


class DenseNet121(nnx.Module):
  """DenseNet-121 (DenseNet-BC, growth rate 32), CIFAR variant (kuangliu).

  This stands for the paper's "DenseConv".  The AdaDecay paper names its
  fourth CIFAR-10 network only "DenseConv" and gives no definition; DenseNet
  (Huang et al., "Densely Connected Convolutional Networks") is the densely
  connected convolutional network, and since the paper's other CIFAR models
  (ResNet-18, ResNet-50, GoogLeNet) are exactly the set provided by
  kuangliu/pytorch-cifar, whose DenseNet entry point is ``DenseNet121``
  (growth rate 32), that is the most likely candidate.  This is our
  assumption, not something the paper states.

  Structure: 3x3 stem conv (2k = 64 channels, no bias) at 32x32 (no 7x7 conv,
  no max-pool); dense blocks of 6, 12, 24, 16 bottleneck layers (growth
  k = 32) separated by transitions with compression 0.5 (channels
  64 -> 256 -> 128 -> 512 -> 256 -> 1024 -> 512 -> 1024; spatial
  32 -> 16 -> 8 -> 4); final BN-ReLU, global average pool, linear
  1024 -> num_classes.  6,956,298 parameters for 10 classes.

  ``growth_rate``, ``block_sizes`` and ``reduction`` are exposed as in
  kuangliu's ``DenseNet`` class (e.g. ``growth_rate=12`` gives his
  ``densenet_cifar``); the defaults are DenseNet-121 and the registry name
  ``'densenet121'`` should only be used with them.
  """

  def __init__(
    self,
    num_classes: int = 10,
    *,
    rngs: nnx.Rngs,
    growth_rate: int = 32,
    block_sizes: tuple[int, ...] = (6, 12, 24, 16),
    reduction: float = 0.5,
  ):
    num_planes = 2 * growth_rate
    self.conv1 = conv(3, num_planes, 3, use_bias=False, rngs=rngs)
    stages = []
    for i, n in enumerate(block_sizes):
      layers = []
      for _ in range(n):
        layers.append(DenseLayer(num_planes, growth_rate, rngs=rngs))
        num_planes += growth_rate
      stages.append(nnx.List(layers))
      if i < len(block_sizes) - 1:
        out_planes = int(math.floor(num_planes * reduction))
        stages.append(Transition(num_planes, out_planes, rngs=rngs))
        num_planes = out_planes
    self.stages = nnx.List(stages)
    self.bn = batch_norm(num_planes, rngs=rngs)
    self.linear = nnx.Linear(num_planes, num_classes, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    out = self.conv1(x)
    for stage in self.stages:
      if isinstance(stage, Transition):
        out = stage(out)
      else:
        for layer in stage:
          out = layer(out)
    out = nnx.relu(self.bn(out))
    return self.linear(global_avg_pool(out))
