"""LeNet-4, for 28x28x1 inputs.

The AdaDecay paper (Nakamura & Hong, arXiv 1907.08931) uses LeNet-4 on
MNIST / Fashion-MNIST without giving layer widths; we take the classic
Caffe/LeCun MNIST LeNet widths, documented on the class.
"""

from __future__ import annotations

import jax
from flax import nnx

from train.models.layers import apply_dropout, flatten, maybe_dropout

__all__ = ['LeNet4']


class LeNet4(nnx.Module):
  """LeNet-4: two conv + two fully connected layers (4 weight layers).

  The classic Caffe/LeCun MNIST LeNet widths:

  ====================================  ============  ==========
  layer                                  output        params
  ====================================  ============  ==========
  conv 5x5, 20, VALID, ReLU, max 2x2     12x12x20          520
  conv 5x5, 50, VALID, ReLU, max 2x2     4x4x50         25,050
  flatten, [dropout], FC 500, ReLU       500           400,500
  [dropout], FC num_classes              10              5,010
  ====================================  ============  ==========

  431,080 parameters for 10 classes.  Caffe's prototxt has no ReLU after the
  convolutions; we put one after each conv (before the pool; ReLU and
  max-pool commute) as most modern ports do.  No BatchNorm.

  ``dropout_rate`` (default 0; the paper's Fig. 2 ablates
  P in {0, 2^-4, 2^-3, 2^-2}) is applied before each fully connected layer:
  to the flattened conv features and to the FC-500 activations, the places
  where LeNet-style networks carry nearly all their parameters and where
  dropout is conventionally used; the convolutions are left undropped.
  """

  def __init__(
    self,
    num_classes: int = 10,
    *,
    rngs: nnx.Rngs,
    dropout_rate: float = 0.0,
  ):
    self.conv1 = nnx.Conv(1, 20, kernel_size=(5, 5), padding='VALID', rngs=rngs)
    self.conv2 = nnx.Conv(20, 50, kernel_size=(5, 5), padding='VALID', rngs=rngs)
    self.dropout = maybe_dropout(dropout_rate, rngs)
    self.fc1 = nnx.Linear(4 * 4 * 50, 500, rngs=rngs)
    self.fc2 = nnx.Linear(500, num_classes, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    x = nnx.max_pool(nnx.relu(self.conv1(x)), (2, 2), strides=(2, 2))  # 12x12
    x = nnx.max_pool(nnx.relu(self.conv2(x)), (2, 2), strides=(2, 2))  # 4x4
    x = apply_dropout(self.dropout, flatten(x))
    x = apply_dropout(self.dropout, nnx.relu(self.fc1(x)))
    return self.fc2(x)
