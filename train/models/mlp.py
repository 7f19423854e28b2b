"""NN-2 and NN-3: the fully connected networks, for 28x28x1 inputs.

The AdaDecay paper (Nakamura & Hong, arXiv 1907.08931) uses NN-2 and NN-3 on
MNIST / Fashion-MNIST without giving layer widths; the chosen widths are
documented on each class.  Both are :class:`_MLP`, which differ only in their
hidden layers.
"""

from __future__ import annotations

import jax
from flax import nnx

from train.models.layers import apply_dropout, flatten, maybe_dropout

__all__ = ['NN2', 'NN3']


class _MLP(nnx.Module):
  """Flatten -> [Linear(width) -> ReLU -> Dropout] * depth -> Linear(classes).

  Dropout (if ``dropout_rate > 0``) is applied to the output of every hidden
  layer, i.e. to the input of every fully connected layer except the first
  (the raw pixels are not dropped).  Same rule as in :class:`LeNet4` and
  :class:`VGG9`.
  """

  hidden: tuple[int, ...] = ()
  in_features: int = 28 * 28

  def __init__(
    self,
    num_classes: int = 10,
    *,
    rngs: nnx.Rngs,
    dropout_rate: float = 0.0,
  ):
    widths = (self.in_features, *self.hidden)
    self.hidden_layers = nnx.List(
      [nnx.Linear(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])]
    )
    self.dropout = maybe_dropout(dropout_rate, rngs)
    self.head = nnx.Linear(widths[-1], num_classes, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    x = flatten(x)
    for layer in self.hidden_layers:
      x = apply_dropout(self.dropout, nnx.relu(layer(x)))
    return self.head(x)


class NN2(_MLP):
  """NN-2: fully connected, two hidden layers, 784-512-512-10, ReLU.

  The paper gives no widths; 512 units per hidden layer is the common MNIST
  MLP width (e.g. the Keras / PyTorch MNIST MLP examples) and is the
  784-512-512-10 MLP the project's benchmark uses, so it is kept exactly.
  Parameters (10 classes): 784*512+512 + 512*512+512 + 512*10+10 = 669,706.
  Options: ``dropout_rate`` (default 0, see :class:`_MLP` for placement).
  """

  hidden = (512, 512)


class NN3(_MLP):
  """NN-3: fully connected, three hidden layers, 784-512-512-512-10, ReLU.

  NN-2 with one more hidden layer of the same width, so the two differ only
  in depth.  Parameters (10 classes): 669,706 + 512*512+512 = 932,362.
  Options: ``dropout_rate`` (default 0, see :class:`_MLP` for placement).
  """

  hidden = (512, 512, 512)
