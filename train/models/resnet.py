"""ResNet-18 and ResNet-50, CIFAR-10 (32x32x3) variants.

The AdaDecay paper (Nakamura & Hong, arXiv 1907.08931) trains ResNet-18 and
ResNet-50 on CIFAR-10 without giving their definitions.  These are the CIFAR
variants of kuangliu/pytorch-cifar (``models/resnet.py``), ported layer for
layer to Flax NNX (porting conventions in the package docstring), so that the
parameter counts equal the published counts of those variants: 11,173,962
(ResNet18) and 23,520,842 (ResNet50) for 10 classes.
"""

from __future__ import annotations

import jax
from flax import nnx

from train.models.layers import batch_norm, conv, global_avg_pool

__all__ = ['ResNet18', 'ResNet50', 'BasicBlock', 'Bottleneck']


class _ResidualBlock(nnx.Module):
  """Shared shortcut logic of :class:`BasicBlock` and :class:`Bottleneck`.

  The shortcut is a 1x1 strided conv + BN when the stride or the width
  changes (kuangliu's, i.e. the ResNet paper's "option B"), the identity
  otherwise.
  """

  expansion: int = 1

  def _init_shortcut(self, in_planes: int, out_planes: int, stride: int, rngs: nnx.Rngs) -> None:
    if stride != 1 or in_planes != out_planes:
      self.shortcut_conv = conv(in_planes, out_planes, 1, stride=stride, use_bias=False, rngs=rngs)
      self.shortcut_bn = batch_norm(out_planes, rngs=rngs)
    else:
      self.shortcut_conv = None
      self.shortcut_bn = None

  def _shortcut(self, x: jax.Array) -> jax.Array:
    if self.shortcut_conv is None:
      return x
    return self.shortcut_bn(self.shortcut_conv(x))


class BasicBlock(_ResidualBlock):
  """ResNet basic block: 3x3 conv-BN-ReLU, 3x3 conv-BN, + shortcut, ReLU.

  The stride sits on the first 3x3 conv (and on the projection shortcut).
  """

  expansion = 1

  def __init__(self, in_planes: int, planes: int, stride: int = 1, *, rngs: nnx.Rngs):
    self.conv1 = conv(in_planes, planes, 3, stride=stride, use_bias=False, rngs=rngs)
    self.bn1 = batch_norm(planes, rngs=rngs)
    self.conv2 = conv(planes, planes, 3, use_bias=False, rngs=rngs)
    self.bn2 = batch_norm(planes, rngs=rngs)
    self._init_shortcut(in_planes, self.expansion * planes, stride, rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    out = nnx.relu(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    return nnx.relu(out + self._shortcut(x))


class Bottleneck(_ResidualBlock):
  """ResNet bottleneck: 1x1 (planes), 3x3 (planes, strided), 1x1 (4*planes).

  Each conv is followed by BN, ReLU after the first two and after the residual
  sum; the stride sits on the 3x3 conv (as in kuangliu / torchvision v1.5).
  """

  expansion = 4

  def __init__(self, in_planes: int, planes: int, stride: int = 1, *, rngs: nnx.Rngs):
    out_planes = self.expansion * planes
    self.conv1 = conv(in_planes, planes, 1, use_bias=False, rngs=rngs)
    self.bn1 = batch_norm(planes, rngs=rngs)
    self.conv2 = conv(planes, planes, 3, stride=stride, use_bias=False, rngs=rngs)
    self.bn2 = batch_norm(planes, rngs=rngs)
    self.conv3 = conv(planes, out_planes, 1, use_bias=False, rngs=rngs)
    self.bn3 = batch_norm(out_planes, rngs=rngs)
    self._init_shortcut(in_planes, out_planes, stride, rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    out = nnx.relu(self.bn1(self.conv1(x)))
    out = nnx.relu(self.bn2(self.conv2(out)))
    out = self.bn3(self.conv3(out))
    return nnx.relu(out + self._shortcut(x))


class _ResNet(nnx.Module):
  """kuangliu's CIFAR ResNet.

  Stem: 3x3 conv (64, stride 1, no bias) + BN + ReLU (no 7x7 conv, no max-pool:
  the input is only 32x32).  Four stages of ``num_blocks`` blocks with widths
  64, 128, 256, 512 (times ``block.expansion``) and strides 1, 2, 2, 2
  (32 -> 32 -> 16 -> 8 -> 4), global average pool, linear classifier.
  """

  block: type[_ResidualBlock] = BasicBlock
  num_blocks: tuple[int, int, int, int] = (2, 2, 2, 2)

  def __init__(self, num_classes: int = 10, *, rngs: nnx.Rngs):
    self.conv1 = conv(3, 64, 3, use_bias=False, rngs=rngs)
    self.bn1 = batch_norm(64, rngs=rngs)
    blocks = []
    in_planes = 64
    for planes, n, stage_stride in zip((64, 128, 256, 512), self.num_blocks, (1, 2, 2, 2)):
      for i in range(n):
        blocks.append(self.block(in_planes, planes, stage_stride if i == 0 else 1, rngs=rngs))
        in_planes = planes * self.block.expansion
    self.blocks = nnx.List(blocks)
    self.linear = nnx.Linear(in_planes, num_classes, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    out = nnx.relu(self.bn1(self.conv1(x)))
    for block in self.blocks:
      out = block(out)
    return self.linear(global_avg_pool(out))


class ResNet18(_ResNet):
  """ResNet-18, CIFAR variant (kuangliu): BasicBlock x [2, 2, 2, 2].

  17 conv layers (3x3) + 3 projection shortcuts (1x1) + 1 linear layer;
  11,173,962 parameters for 10 classes.
  """

  block = BasicBlock
  num_blocks = (2, 2, 2, 2)


class ResNet50(_ResNet):
  """ResNet-50, CIFAR variant (kuangliu): Bottleneck x [3, 4, 6, 3].

  Output width 2048; 23,520,842 parameters for 10 classes.
  """

  block = Bottleneck
  num_blocks = (3, 4, 6, 3)
