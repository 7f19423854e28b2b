"""CIFAR-10 (32x32x3) models: ResNet-18, ResNet-50, GoogLeNet, DenseNet-121.

The AdaDecay paper (Nakamura & Hong, arXiv 1907.08931) trains "ResNet-18,
ResNet-50, GoogLeNet, DenseConv" on CIFAR-10 without giving their definitions.
We use the widely used CIFAR variants of kuangliu/pytorch-cifar
(``models/resnet.py``, ``models/googlenet.py``, ``models/densenet.py``), ported
layer for layer to Flax NNX, so that the parameter counts equal the published
counts of those variants (PyTorch ``sum(p.numel() for p in
model.parameters())``: conv/linear weights and biases plus BatchNorm scale and
bias, not the running statistics):

=============  ============
ResNet18       11,173,962
ResNet50       23,520,842
GoogLeNet       6,166,250
DenseNet121     6,956,298
=============  ============

Porting conventions (shared by every model here):

* Layout is NHWC (``x`` of shape ``(B, 32, 32, 3)``), Flax's native layout, so
  no transposes are needed; the logits are ``(B, num_classes)`` float32.
* Convolutions carry a bias exactly where the original does: the ResNets and
  the DenseNet use ``bias=False`` throughout (every conv is followed by, or
  feeds, a BatchNorm), the kuangliu GoogLeNet keeps PyTorch's default
  ``bias=True`` even before its BatchNorms, so we keep it too (it is part of the
  published 6,166,250).
* Padding is given explicitly as PyTorch's symmetric ``padding=k//2`` rather
  than ``'SAME'``: the two agree for stride 1, but for a stride-2 3x3 conv
  ``'SAME'`` pads (0, 1) while PyTorch pads (1, 1), which shifts the sampling
  grid.  Max-pools pad with -inf like PyTorch.
* ``nnx.BatchNorm`` with ``momentum=0.9`` and ``epsilon=1e-5``, i.e. PyTorch's
  ``BatchNorm2d`` defaults (PyTorch's momentum 0.1 is the weight of the new
  batch).  One difference is left alone: PyTorch updates the running variance
  with the unbiased batch variance, Flax with the biased one (a factor
  n/(n-1), with n = batch*H*W, negligible here).  Scale and bias are
  ``nnx.Param``; running mean and variance are ``nnx.BatchStat``.  Train/eval
  switching is NNX's ``model.train()`` / ``model.eval()``
  (``use_running_average``).
* Global average pooling (kuangliu's ``avg_pool2d(out, 4)`` on a 4x4 map, or
  ``AvgPool2d(8)`` on an 8x8 map) is written as a mean over H and W, which is
  the same thing for 32x32 inputs.
* Initialisers are Flax's defaults (LeCun-normal kernels, zero biases,
  BatchNorm scale 1 / bias 0), not PyTorch's defaults
  (Kaiming-uniform with a=sqrt(5), uniform biases).  Both are variance-scaling
  schemes of the same order (1/fan_in vs 1/(3 fan_in)); with BatchNorm after
  nearly every layer the choice matters little, and we do not claim
  bit-for-bit reproduction of PyTorch runs anyway.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = [
    'ResNet18',
    'ResNet50',
    'GoogLeNet',
    'DenseNet121',
    'BasicBlock',
    'Bottleneck',
    'Inception',
    'DenseLayer',
    'Transition',
    'ConvBNReLU',
    'batch_norm',
]

# PyTorch BatchNorm2d defaults (momentum 0.1 on the new batch == 0.9 on the
# running average in Flax's convention).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def batch_norm(num_features: int, *, rngs: nnx.Rngs) -> nnx.BatchNorm:
  """``nnx.BatchNorm`` over the channel (last) axis with PyTorch's defaults."""
  return nnx.BatchNorm(
      num_features, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, rngs=rngs
  )


def _conv(
    cin: int,
    cout: int,
    kernel: int,
    *,
    stride: int = 1,
    use_bias: bool,
    rngs: nnx.Rngs,
) -> nnx.Conv:
  """A square conv with PyTorch's symmetric ``padding=kernel//2``."""
  return nnx.Conv(
      cin,
      cout,
      kernel_size=(kernel, kernel),
      strides=(stride, stride),
      padding=kernel // 2,
      use_bias=use_bias,
      rngs=rngs,
  )


def _global_avg_pool(x: jax.Array) -> jax.Array:
  return jnp.mean(x, axis=(1, 2))


# --------------------------------------------------------------------------- #
# ResNet (kuangliu models/resnet.py)
# --------------------------------------------------------------------------- #


class _ResidualBlock(nnx.Module):
  """Shared shortcut logic of :class:`BasicBlock` and :class:`Bottleneck`.

  The shortcut is a 1x1 strided conv + BN when the stride or the width
  changes (kuangliu's, i.e. the ResNet paper's "option B"), the identity
  otherwise.
  """

  expansion: int = 1

  def _init_shortcut(
      self, in_planes: int, out_planes: int, stride: int, rngs: nnx.Rngs
  ) -> None:
    if stride != 1 or in_planes != out_planes:
      self.shortcut_conv = _conv(
          in_planes, out_planes, 1, stride=stride, use_bias=False, rngs=rngs
      )
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
    self.conv1 = _conv(in_planes, planes, 3, stride=stride, use_bias=False, rngs=rngs)
    self.bn1 = batch_norm(planes, rngs=rngs)
    self.conv2 = _conv(planes, planes, 3, use_bias=False, rngs=rngs)
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
    self.conv1 = _conv(in_planes, planes, 1, use_bias=False, rngs=rngs)
    self.bn1 = batch_norm(planes, rngs=rngs)
    self.conv2 = _conv(planes, planes, 3, stride=stride, use_bias=False, rngs=rngs)
    self.bn2 = batch_norm(planes, rngs=rngs)
    self.conv3 = _conv(planes, out_planes, 1, use_bias=False, rngs=rngs)
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
    self.conv1 = _conv(3, 64, 3, use_bias=False, rngs=rngs)
    self.bn1 = batch_norm(64, rngs=rngs)
    blocks = []
    in_planes = 64
    for planes, n, stage_stride in zip(
        (64, 128, 256, 512), self.num_blocks, (1, 2, 2, 2)
    ):
      for i in range(n):
        blocks.append(
            self.block(in_planes, planes, stage_stride if i == 0 else 1, rngs=rngs)
        )
        in_planes = planes * self.block.expansion
    self.blocks = nnx.List(blocks)
    self.linear = nnx.Linear(in_planes, num_classes, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    out = nnx.relu(self.bn1(self.conv1(x)))
    for block in self.blocks:
      out = block(out)
    return self.linear(_global_avg_pool(out))


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


# --------------------------------------------------------------------------- #
# GoogLeNet (kuangliu models/googlenet.py)
# --------------------------------------------------------------------------- #


class ConvBNReLU(nnx.Module):
  """Square conv (stride 1, padding kernel//2) + BatchNorm + ReLU.

  With a bias by default, as in kuangliu's GoogLeNet; VGG-9 uses none.
  """

  def __init__(self, cin: int, cout: int, kernel: int, *,
               use_bias: bool = True, rngs: nnx.Rngs):
    self.conv = _conv(cin, cout, kernel, use_bias=use_bias, rngs=rngs)
    self.bn = batch_norm(cout, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    return nnx.relu(self.bn(self.conv(x)))


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
    return self.linear(_global_avg_pool(out))


# --------------------------------------------------------------------------- #
# DenseNet (kuangliu models/densenet.py)
# --------------------------------------------------------------------------- #


class DenseLayer(nnx.Module):
  """DenseNet-BC bottleneck layer: BN-ReLU-1x1 conv (4k) - BN-ReLU-3x3 conv (k).

  Output is ``concat([new k features, input])`` on channels (kuangliu's order).
  """

  def __init__(self, in_planes: int, growth_rate: int, *, rngs: nnx.Rngs):
    self.bn1 = batch_norm(in_planes, rngs=rngs)
    self.conv1 = _conv(in_planes, 4 * growth_rate, 1, use_bias=False, rngs=rngs)
    self.bn2 = batch_norm(4 * growth_rate, rngs=rngs)
    self.conv2 = _conv(4 * growth_rate, growth_rate, 3, use_bias=False, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    out = self.conv1(nnx.relu(self.bn1(x)))
    out = self.conv2(nnx.relu(self.bn2(out)))
    return jnp.concatenate([out, x], axis=-1)


class Transition(nnx.Module):
  """DenseNet transition: BN-ReLU-1x1 conv (compression) - 2x2 average pool."""

  def __init__(self, in_planes: int, out_planes: int, *, rngs: nnx.Rngs):
    self.bn = batch_norm(in_planes, rngs=rngs)
    self.conv = _conv(in_planes, out_planes, 1, use_bias=False, rngs=rngs)

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
    self.conv1 = _conv(3, num_planes, 3, use_bias=False, rngs=rngs)
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
    return self.linear(_global_avg_pool(out))
