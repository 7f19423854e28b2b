"""VGG-9 with BatchNorm, for 28x28x1 inputs.

The AdaDecay paper (Nakamura & Hong, arXiv 1907.08931) uses VGG-9 on
MNIST / Fashion-MNIST without defining it; we take the VGG recipe and scale
it to 28x28, as documented on the class.  Its conv block is
:class:`train.models.layers.ConvBNReLU` (shared with GoogLeNet).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
from flax import nnx

from train.models.layers import ConvBNReLU, apply_dropout, flatten, maybe_dropout

__all__ = ['VGG9']


class VGG9(nnx.Module):
  """VGG-9 with BatchNorm for 28x28 inputs: 6 conv + 3 fully connected layers.

  The paper gives no definition.  We take the VGG recipe (stacks of 3x3
  convs, width doubling after each 2x2 max-pool, three FC layers) and scale
  it to 28x28: three blocks of two convs, widths 64,64 | 128,128 | 256,256
  (VGG's first three stages), each conv 3x3/pad 1 + BN + ReLU, a 2x2 max-pool
  after each block (28 -> 14 -> 7 -> 3; the last pool floors 7 to 3 like
  PyTorch's ``MaxPool2d(2)``, dropping one border row/column that is nearly
  always empty in MNIST-like digits), then FC 2304 -> 512 -> 512 ->
  num_classes with ReLU (VGG's 4096-wide FCs scaled down to 512, as in common
  CIFAR VGG ports).  A fourth conv stage (512) would act on a 3x3
  map and was left out.

  Convs before BatchNorm have no bias (BN's shift makes it redundant); the FC
  layers have biases and no BN.

  ====================================  ============  ==========
  block                                  output        params
  ====================================  ============  ==========
  conv64, conv64 (+BN), max 2x2          14x14x64        37,696
  conv128, conv128 (+BN), max 2x2        7x7x128        221,696
  conv256, conv256 (+BN), max 2x2        3x3x256        885,760
  FC 512, ReLU                           512          1,180,160
  FC 512, ReLU                           512            262,656
  FC num_classes                         10               5,130
  ====================================  ============  ==========

  2,593,098 parameters for 10 classes (1,792 of them BN scale/bias), plus
  1,792 BatchStat entries.

  ``dropout_rate`` (default 0) is applied before each FC layer, as in
  :class:`LeNet4` (VGG itself uses dropout 0.5 between its FC layers).
  """

  widths: Sequence[tuple[int, int]] = ((64, 64), (128, 128), (256, 256))

  def __init__(
    self,
    num_classes: int = 10,
    *,
    rngs: nnx.Rngs,
    dropout_rate: float = 0.0,
  ):
    convs = []
    cin = 1
    for block in self.widths:
      for cout in block:
        convs.append(ConvBNReLU(cin, cout, 3, use_bias=False, rngs=rngs))
        cin = cout
    self.convs = nnx.List(convs)
    self.dropout = maybe_dropout(dropout_rate, rngs)
    self.fc1 = nnx.Linear(3 * 3 * cin, 512, rngs=rngs)
    self.fc2 = nnx.Linear(512, 512, rngs=rngs)
    self.fc3 = nnx.Linear(512, num_classes, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    i = 0
    for block in self.widths:
      for _ in block:
        x = self.convs[i](x)
        i += 1
      x = nnx.max_pool(x, (2, 2), strides=(2, 2))
    x = apply_dropout(self.dropout, flatten(x))
    x = apply_dropout(self.dropout, nnx.relu(self.fc1(x)))
    x = apply_dropout(self.dropout, nnx.relu(self.fc2(x)))
    return self.fc3(x)
