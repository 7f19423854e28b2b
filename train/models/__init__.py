"""Model zoo for the AdaDecay reproduction, and the model registry.

The AdaDecay paper (Nakamura & Hong, arXiv 1907.08931) uses NN-2, NN-3,
LeNet-4 and VGG-9 on MNIST / Fashion-MNIST (28x28x1) and ResNet-18, ResNet-50,
GoogLeNet and "DenseConv" on CIFAR-10 (32x32x3), without giving layer widths.
One module per model family, each class re-exported here:

* :mod:`train.models.mlp` (NN2, NN3), :mod:`train.models.lenet` (LeNet4) and
  :mod:`train.models.vgg` (VGG9): the 28x28 models, with the chosen widths
  documented on each class;
* :mod:`train.models.resnet` (ResNet18, ResNet50),
  :mod:`train.models.googlenet` (GoogLeNet) and :mod:`train.models.densenet`
  (DenseNet121, our reading of "DenseConv"): the CIFAR-10 models;
* :mod:`train.models.layers`: the layers and helpers they share.

The registry (:data:`MODELS`, :data:`INPUT_SHAPES`, :func:`get_model`,
:func:`input_shape`, :func:`depth`) is here; each entry is a
:class:`ModelSpec` in :data:`REGISTRY`.

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

The CIFAR-10 models are the widely used CIFAR variants of
kuangliu/pytorch-cifar (``models/resnet.py``, ``models/googlenet.py``,
``models/densenet.py``), ported layer for layer to Flax NNX, so that the
parameter counts equal the published counts of those variants (PyTorch
``sum(p.numel() for p in model.parameters())``: conv/linear weights and
biases plus BatchNorm scale and bias, not the running statistics):

=============  ============
ResNet18       11,173,962
ResNet50       23,520,842
GoogLeNet       6,166,250
DenseNet121     6,956,298
=============  ============

Porting conventions (shared by every CIFAR-10 model):

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

import dataclasses

import jax
from flax import nnx

from train.models.densenet import DenseNet121
from train.models.googlenet import GoogLeNet
from train.models.layers import BN_EPSILON, BN_MOMENTUM
from train.models.lenet import LeNet4
from train.models.mlp import NN2, NN3
from train.models.resnet import ResNet18, ResNet50
from train.models.vgg import VGG9

__all__ = [
  'NN2',
  'NN3',
  'LeNet4',
  'VGG9',
  'ResNet18',
  'ResNet50',
  'GoogLeNet',
  'DenseNet121',
  'ModelSpec',
  'REGISTRY',
  'MODELS',
  'INPUT_SHAPES',
  'get_model',
  'input_shape',
  'depth',
  'BN_MOMENTUM',
  'BN_EPSILON',
]


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """One registry entry.

  Attributes:
    constructor: the model class, called as
      ``constructor(num_classes, *, rngs=..., **options)``.
    input_shape: the per-example input shape ``(H, W, C)`` it expects.
    depth: ``'shallow'`` for the 28x28 MNIST-family models, ``'deep'`` for
      the CIFAR-10 ones; picks the depth-dependent optimizer settings
      (``train.optimizers.build(..., depth=...)``).
  """

  constructor: type[nnx.Module]
  input_shape: tuple[int, int, int]
  depth: str


_MNIST_SHAPE = (28, 28, 1)
_CIFAR_SHAPE = (32, 32, 3)

#: Registry name (lower case) -> :class:`ModelSpec`.
REGISTRY: dict[str, ModelSpec] = {
  'nn2': ModelSpec(NN2, _MNIST_SHAPE, 'shallow'),
  'nn3': ModelSpec(NN3, _MNIST_SHAPE, 'shallow'),
  'lenet4': ModelSpec(LeNet4, _MNIST_SHAPE, 'shallow'),
  'vgg9': ModelSpec(VGG9, _MNIST_SHAPE, 'shallow'),
  'resnet18': ModelSpec(ResNet18, _CIFAR_SHAPE, 'deep'),
  'resnet50': ModelSpec(ResNet50, _CIFAR_SHAPE, 'deep'),
  'googlenet': ModelSpec(GoogLeNet, _CIFAR_SHAPE, 'deep'),
  'densenet121': ModelSpec(DenseNet121, _CIFAR_SHAPE, 'deep'),
}

#: Registry name -> model class.
MODELS: dict[str, type[nnx.Module]] = {name: spec.constructor for name, spec in REGISTRY.items()}

#: Expected per-example input shape ``(H, W, C)`` for each registry name.
INPUT_SHAPES: dict[str, tuple[int, int, int]] = {
  name: spec.input_shape for name, spec in REGISTRY.items()
}


def _check_name(name: str) -> str:
  key = name.lower()
  if key not in MODELS:
    raise ValueError(f'Unknown model {name!r}; known models: {", ".join(sorted(MODELS))}')
  return key


def input_shape(name: str) -> tuple[int, int, int]:
  """The ``(H, W, C)`` input shape the model ``name`` expects."""
  return INPUT_SHAPES[_check_name(name)]


def depth(name: str) -> str:
  """``'shallow'`` (28x28 MNIST-family model) or ``'deep'`` (CIFAR-10 model).

  The ``depth`` argument of ``train.optimizers.build`` and
  ``train.optimizers.learning_rate`` for the model ``name``
  (case-insensitive).

  Raises:
    ValueError: if ``name`` is not in :data:`MODELS` (the message lists the
      known names).
  """
  return REGISTRY[_check_name(name)].depth


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
