"""Layers and helpers shared by the model families of :mod:`train.models`.

BatchNorm with PyTorch's defaults (:data:`BN_MOMENTUM`, :data:`BN_EPSILON`),
the square convolution with PyTorch's symmetric padding, conv + BN + ReLU
(:class:`ConvBNReLU`, used by GoogLeNet and VGG-9), global average pooling,
flattening and the optional dropout of the 28x28 models.  The conventions they
implement (the porting conventions of kuangliu/pytorch-cifar's models, and
those shared by every model) are in the package docstring.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = [
  'BN_MOMENTUM',
  'BN_EPSILON',
  'batch_norm',
  'conv',
  'ConvBNReLU',
  'global_avg_pool',
  'flatten',
  'maybe_dropout',
  'apply_dropout',
]

# PyTorch BatchNorm2d defaults (momentum 0.1 on the new batch == 0.9 on the
# running average in Flax's convention).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def batch_norm(num_features: int, *, rngs: nnx.Rngs) -> nnx.BatchNorm:
  """``nnx.BatchNorm`` over the channel (last) axis with PyTorch's defaults."""
  return nnx.BatchNorm(num_features, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, rngs=rngs)


def conv(
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


class ConvBNReLU(nnx.Module):
  """Square conv (stride 1, padding kernel//2) + BatchNorm + ReLU.

  With a bias by default, as in kuangliu's GoogLeNet; VGG-9 uses none.
  """

  def __init__(self, cin: int, cout: int, kernel: int, *, use_bias: bool = True, rngs: nnx.Rngs):
    self.conv = conv(cin, cout, kernel, use_bias=use_bias, rngs=rngs)
    self.bn = batch_norm(cout, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    return nnx.relu(self.bn(self.conv(x)))


def global_avg_pool(x: jax.Array) -> jax.Array:
  """The mean over H and W: ``(B, H, W, C) -> (B, C)``."""
  return jnp.mean(x, axis=(1, 2))


def flatten(x: jax.Array) -> jax.Array:
  """``(B, ...) -> (B, features)``; NHWC, so a plain reshape."""
  return x.reshape(x.shape[0], -1)


def maybe_dropout(rate: float, rngs: nnx.Rngs) -> nnx.Dropout | None:
  """``nnx.Dropout(rate, rngs=rngs)``, or None (no module) when ``rate`` is 0.

  Raises:
    ValueError: if ``rate`` is not in [0, 1).
  """
  if not 0.0 <= rate < 1.0:
    raise ValueError(f'dropout_rate must be in [0, 1), got {rate}')
  return nnx.Dropout(rate, rngs=rngs) if rate > 0.0 else None


def apply_dropout(dropout: nnx.Dropout | None, x: jax.Array) -> jax.Array:
  """``dropout(x)``, or ``x`` unchanged when there is no dropout module."""
  return x if dropout is None else dropout(x)
