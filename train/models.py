"""Model zoo for the AdaDecay reproduction, and the model registry.

The AdaDecay paper (Nakamura & Hong, arXiv 1907.08931) uses NN-2, NN-3,
LeNet-4 and VGG-9 on MNIST / Fashion-MNIST (28x28x1) and ResNet-18, ResNet-50,
GoogLeNet and "DenseConv" on CIFAR-10 (32x32x3), without giving layer widths.
The 28x28 models are defined here, with the chosen widths documented on each
class; the CIFAR-10 models live in :mod:`train.cifar_models` and are
re-exported here.

Conventions shared by every model:

* ``Cls(num_classes=10, *, rngs=nnx.Rngs(...), **options)``; ``model(x)`` with
  ``x`` float32 of shape ``(B, H, W, C)`` (already normalised) returns logits
  ``(B, num_classes)``, float32 unless :func:`get_model` sets a compute
  ``dtype``.  The expected ``(H, W, C)`` per registry name
  is in :data:`INPUT_SHAPES`.
* Train/eval behaviour follows NNX: ``model.train()`` / ``model.eval()`` set
  ``Dropout.deterministic`` and ``BatchNorm.use_running_average``.  Modules are
  created in training mode (NNX's default).
* ``nnx.Dropout`` is built with ``rngs=rngs``, so its RNG stream
  (``nnx.RngState``) is part of the model state and survives
  ``nnx.split`` / ``nnx.merge`` and ``jax.vmap`` over stacked models.  It is
  only created when ``dropout_rate > 0``; with the default rate 0 the model has
  no Dropout module and no RNG state.
* BatchNorm: ``momentum=0.9, epsilon=1e-5`` (PyTorch's defaults); scale/bias
  are ``nnx.Param``, running statistics ``nnx.BatchStat``.
* Initialisers are Flax's defaults (LeCun-normal kernels, zero biases); the
  paper does not specify any, and keeping the defaults avoids an arbitrary
  choice.  (PyTorch's default is Kaiming-uniform with a=sqrt(5), i.e. weight
  variance 1/(3 fan_in) instead of 1/fan_in, and uniform rather than zero
  biases.)
* Layout is NHWC throughout, so flattening before the first dense layer is a
  plain reshape (no transpose).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
from flax import nnx

from train.cifar_models import (
    BN_EPSILON,
    BN_MOMENTUM,
    ConvBNReLU,
    DenseNet121,
    GoogLeNet,
    ResNet18,
    ResNet50,
)

__all__ = [
    'NN2',
    'NN3',
    'LeNet4',
    'VGG9',
    'ResNet18',
    'ResNet50',
    'GoogLeNet',
    'DenseNet121',
    'MODELS',
    'INPUT_SHAPES',
    'get_model',
    'input_shape',
    'BN_MOMENTUM',
    'BN_EPSILON',
]


def _flatten(x: jax.Array) -> jax.Array:
  return x.reshape(x.shape[0], -1)


def _maybe_dropout(rate: float, rngs: nnx.Rngs) -> nnx.Dropout | None:
  if not 0.0 <= rate < 1.0:
    raise ValueError(f'dropout_rate must be in [0, 1), got {rate}')
  return nnx.Dropout(rate, rngs=rngs) if rate > 0.0 else None


def _apply_dropout(dropout: nnx.Dropout | None, x: jax.Array) -> jax.Array:
  return x if dropout is None else dropout(x)


# --------------------------------------------------------------------------- #
# Fully connected networks
# --------------------------------------------------------------------------- #


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
    self.dropout = _maybe_dropout(dropout_rate, rngs)
    self.head = nnx.Linear(widths[-1], num_classes, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    x = _flatten(x)
    for layer in self.hidden_layers:
      x = _apply_dropout(self.dropout, nnx.relu(layer(x)))
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


# --------------------------------------------------------------------------- #
# Convolutional networks for 28x28x1
# --------------------------------------------------------------------------- #


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
    self.dropout = _maybe_dropout(dropout_rate, rngs)
    self.fc1 = nnx.Linear(4 * 4 * 50, 500, rngs=rngs)
    self.fc2 = nnx.Linear(500, num_classes, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    x = nnx.max_pool(nnx.relu(self.conv1(x)), (2, 2), strides=(2, 2))  # 12x12
    x = nnx.max_pool(nnx.relu(self.conv2(x)), (2, 2), strides=(2, 2))  # 4x4
    x = _apply_dropout(self.dropout, _flatten(x))
    x = _apply_dropout(self.dropout, nnx.relu(self.fc1(x)))
    return self.fc2(x)


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
    self.dropout = _maybe_dropout(dropout_rate, rngs)
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
    x = _apply_dropout(self.dropout, _flatten(x))
    x = _apply_dropout(self.dropout, nnx.relu(self.fc1(x)))
    x = _apply_dropout(self.dropout, nnx.relu(self.fc2(x)))
    return self.fc3(x)


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #

MODELS: dict[str, type[nnx.Module]] = {
    'nn2': NN2,
    'nn3': NN3,
    'lenet4': LeNet4,
    'vgg9': VGG9,
    'resnet18': ResNet18,
    'resnet50': ResNet50,
    'googlenet': GoogLeNet,
    'densenet121': DenseNet121,
}

_MNIST_SHAPE = (28, 28, 1)
_CIFAR_SHAPE = (32, 32, 3)

#: Expected per-example input shape ``(H, W, C)`` for each registry name.
INPUT_SHAPES: dict[str, tuple[int, int, int]] = {
    'nn2': _MNIST_SHAPE,
    'nn3': _MNIST_SHAPE,
    'lenet4': _MNIST_SHAPE,
    'vgg9': _MNIST_SHAPE,
    'resnet18': _CIFAR_SHAPE,
    'resnet50': _CIFAR_SHAPE,
    'googlenet': _CIFAR_SHAPE,
    'densenet121': _CIFAR_SHAPE,
}


def _check_name(name: str) -> str:
  key = name.lower()
  if key not in MODELS:
    raise ValueError(
        f'Unknown model {name!r}; known models: {", ".join(sorted(MODELS))}'
    )
  return key


def input_shape(name: str) -> tuple[int, int, int]:
  """The ``(H, W, C)`` input shape the model ``name`` expects."""
  return INPUT_SHAPES[_check_name(name)]


def get_model(
    name: str,
    *,
    rngs: nnx.Rngs,
    num_classes: int = 10,
    dtype: jax.typing.DTypeLike | None = None,
    **options,
) -> nnx.Module:
  """Builds the registered model ``name`` (case-insensitive).

  ``options`` are passed to the constructor (e.g. ``dropout_rate`` for the
  28x28 models); a model that does not take an option raises ``TypeError``.

  ``dtype`` is the compute dtype, e.g. ``jnp.bfloat16`` for half precision
  (``config.half_precision``, as flax's ImageNet example): it is set as the
  ``dtype`` of every Linear, Conv and BatchNorm (``Module.set_attributes``),
  so they cast their inputs and parameters to it and the logits come out in
  it, while the parameters and BatchNorm statistics stay float32
  (``param_dtype``; BatchNorm computes its statistics in float32). None
  keeps float32 throughout.

  Raises:
    ValueError: if ``name`` is not in :data:`MODELS` (the message lists the
      known names).
  """
  model = MODELS[_check_name(name)](num_classes, rngs=rngs, **options)
  if dtype is not None:
    model.set_attributes(dtype=dtype, raise_if_not_found=False)
  return model
