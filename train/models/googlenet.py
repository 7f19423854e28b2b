"""GoogLeNet, CIFAR-10 (32x32x3) variant.

The AdaDecay paper (Nakamura & Hong, arXiv 1907.08931) trains GoogLeNet on
CIFAR-10 without giving its definition.  This is the CIFAR variant of
kuangliu/pytorch-cifar (``models/googlenet.py``), ported layer for layer to
Flax NNX (porting conventions in the package docstring), with the Inception
widths of the ImageNet GoogLeNet (Szegedy et al. 2015, Table 1); 6,166,250
parameters for 10 classes, the published count of that variant.  Its conv
block is :class:`train.models.layers.ConvBNReLU` (shared with VGG-9).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from train.models.layers import ConvBNReLU, global_avg_pool

__all__ = ['GoogLeNet', 'Inception']


class Inception(nnx.Module):
  """Inception module as in kuangliu's GoogLeNet.

  Four branches concatenated on channels, in this order:
  1x1; 1x1 -> 3x3; 1x1 -> 3x3 -> 3x3 (the "5x5" branch, factorised into two
  3x3 convs of width ``n5x5``); 3x3 max-pool (stride 1, pad 1) -> 1x1.
  Every conv is conv(bias) + BN + ReLU.
  """

  def __init__(
    self,
    in_planes: int,
    n1x1: int,
    n3x3red: int,
    n3x3: int,
    n5x5red: int,
    n5x5: int,
    pool_planes: int,
    *,
    rngs: nnx.Rngs,
  ):
    self.b1 = ConvBNReLU(in_planes, n1x1, 1, rngs=rngs)
    self.b2_reduce = ConvBNReLU(in_planes, n3x3red, 1, rngs=rngs)
    self.b2 = ConvBNReLU(n3x3red, n3x3, 3, rngs=rngs)
    self.b3_reduce = ConvBNReLU(in_planes, n5x5red, 1, rngs=rngs)
    self.b3_a = ConvBNReLU(n5x5red, n5x5, 3, rngs=rngs)
    self.b3_b = ConvBNReLU(n5x5, n5x5, 3, rngs=rngs)
    self.b4 = ConvBNReLU(in_planes, pool_planes, 1, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    y1 = self.b1(x)
    y2 = self.b2(self.b2_reduce(x))
    y3 = self.b3_b(self.b3_a(self.b3_reduce(x)))
    y4 = self.b4(nnx.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1))))
    return jnp.concatenate([y1, y2, y3, y4], axis=-1)


class GoogLeNet(nnx.Module):
  """GoogLeNet, CIFAR variant (kuangliu).

  Stem: 3x3 conv (192) + BN + ReLU at 32x32 (instead of ImageNet's 7x7/2
  conv, pools and LRN).  Inception 3a, 3b (32x32), max-pool 3x3/2
  (-> 16x16), 4a-4e, max-pool 3x3/2 (-> 8x8), 5a, 5b, global average pool
  (kuangliu's ``AvgPool2d(8)``), linear 1024 -> num_classes.  Inception
  widths are the ImageNet GoogLeNet's (Szegedy et al. 2015, Table 1).  No
  auxiliary classifiers and no dropout (kuangliu has none).
  6,166,250 parameters for 10 classes.
  """

  _CFG = (  # (name, in, 1x1, 3x3red, 3x3, 5x5red, 5x5, pool_proj)
    ('a3', 192, 64, 96, 128, 16, 32, 32),
    ('b3', 256, 128, 128, 192, 32, 96, 64),
    ('a4', 480, 192, 96, 208, 16, 48, 64),
    ('b4', 512, 160, 112, 224, 24, 64, 64),
    ('c4', 512, 128, 128, 256, 24, 64, 64),
    ('d4', 512, 112, 144, 288, 32, 64, 64),
    ('e4', 528, 256, 160, 320, 32, 128, 128),
    ('a5', 832, 256, 160, 320, 32, 128, 128),
    ('b5', 832, 384, 192, 384, 48, 128, 128),
  )

  def __init__(self, num_classes: int = 10, *, rngs: nnx.Rngs):
    self.pre_layers = ConvBNReLU(3, 192, 3, rngs=rngs)
    for name, *widths in self._CFG:
      setattr(self, name, Inception(*widths, rngs=rngs))
    self.linear = nnx.Linear(1024, num_classes, rngs=rngs)

  @staticmethod
  def _maxpool(x: jax.Array) -> jax.Array:
    # PyTorch MaxPool2d(3, stride=2, padding=1): 32 -> 16 -> 8.
    return nnx.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))

  def __call__(self, x: jax.Array) -> jax.Array:
    out = self.pre_layers(x)
    out = self.b3(self.a3(out))
    out = self._maxpool(out)
    out = self.e4(self.d4(self.c4(self.b4(self.a4(out)))))
    out = self._maxpool(out)
    out = self.b5(self.a5(out))
    return self.linear(global_avg_pool(out))
