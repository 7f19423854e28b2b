"""Tests for the model zoo and its registry (the train/models/ package).

The large CIFAR models are only shape-evaluated (``nnx.eval_shape``); their
building blocks are checked at small widths.  Eager initialisation compiles
one RNG kernel per parameter shape on CPU, which dominates the run time, so
real instances of the 28x28 models are built once (``small_models``) and
cloned.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from train import models as M
from train.models import densenet, googlenet, resnet

SMALL = ('nn2', 'nn3', 'lenet4', 'vgg9')
CIFAR = ('resnet18', 'resnet50', 'googlenet', 'densenet121')


# --------------------------------------------------------------------------- #
# Independent parameter counts
# --------------------------------------------------------------------------- #


def _dense(n_in, n_out):
  return n_in * n_out + n_out


def _expected_small(name: str, k: int) -> int:
  """Hand-written counts from the documented layer widths."""
  if name == 'nn2':
    return _dense(784, 512) + _dense(512, 512) + _dense(512, k)
  if name == 'nn3':
    return _dense(784, 512) + 2 * _dense(512, 512) + _dense(512, k)
  if name == 'lenet4':
    conv1 = 5 * 5 * 1 * 20 + 20
    conv2 = 5 * 5 * 20 * 50 + 50
    return conv1 + conv2 + _dense(4 * 4 * 50, 500) + _dense(500, k)
  if name == 'vgg9':
    chans = [1, 64, 64, 128, 128, 256, 256]
    convs = sum(9 * a * b for a, b in zip(chans[:-1], chans[1:]))  # no bias
    bn = sum(2 * c for c in chans[1:])  # scale + bias
    fcs = _dense(3 * 3 * 256, 512) + _dense(512, 512) + _dense(512, k)
    return convs + bn + fcs
  raise KeyError(name)


# Published counts of the kuangliu/pytorch-cifar variants (10 classes),
# PyTorch's sum(p.numel() for p in model.parameters()).
PUBLISHED = {
  'resnet18': 11_173_962,
  'resnet50': 23_520_842,
  'googlenet': 6_166_250,
  'densenet121': 6_956_298,
}


def _count(state) -> int:
  return sum(math.prod(x.shape) for x in jax.tree.leaves(state))


def _n_params(model) -> int:
  return _count(nnx.state(model, nnx.Param))


def _n_batch_stats(model) -> int:
  return _count(nnx.state(model, nnx.BatchStat))


def _bn_features(model) -> int:
  return sum(m.num_features for _, m in nnx.iter_modules(model) if isinstance(m, nnx.BatchNorm))


def _assert_trees_equal(a, b) -> None:
  def eq(u, v):
    if jnp.issubdtype(u.dtype, jax.dtypes.prng_key):
      u, v = jax.random.key_data(u), jax.random.key_data(v)
    np.testing.assert_array_equal(u, v)

  jax.tree.map(eq, a, b)


def _x(name: str, batch: int = 2, seed: int = 0) -> jax.Array:
  return jax.random.normal(jax.random.key(seed), (batch, *M.INPUT_SHAPES[name]), jnp.float32)


# --------------------------------------------------------------------------- #
# Fixtures
# --------------------------------------------------------------------------- #


@pytest.fixture(scope='module')
def small_models():
  """One real instance of each 28x28 model, with dropout on (rate 1/8).

  Eager initialisation compiles one RNG kernel per parameter shape, which
  dominates this file's run time on CPU, so tests take an ``nnx.clone`` of
  these instead of building their own.
  """
  return {name: M.get_model(name, rngs=nnx.Rngs(0), dropout_rate=0.125) for name in SMALL}


@pytest.fixture(scope='module')
def abstract_cifar():
  """Shape-only instances of the CIFAR models (no memory, no compute)."""
  return {name: nnx.eval_shape(lambda n=name: M.get_model(n, rngs=nnx.Rngs(0))) for name in CIFAR}


# --------------------------------------------------------------------------- #
# Registry
# --------------------------------------------------------------------------- #


def test_registry_keys():
  assert set(M.MODELS) == set(SMALL + CIFAR)
  assert set(M.INPUT_SHAPES) == set(M.MODELS)
  for name in SMALL:
    assert M.INPUT_SHAPES[name] == (28, 28, 1)
    assert M.input_shape(name) == (28, 28, 1)
  for name in CIFAR:
    assert M.INPUT_SHAPES[name] == (32, 32, 3)
  assert M.MODELS['densenet121'] is densenet.DenseNet121
  assert M.ResNet18 is resnet.ResNet18


def test_depth():
  """Depth is registry data: shallow for the 28x28 models, deep for CIFAR."""
  for name in SMALL:
    assert M.depth(name) == 'shallow'
  for name in CIFAR:
    assert M.depth(name) == 'deep'
  assert M.depth('ResNet18') == 'deep'  # case-insensitive, as get_model
  assert set(M.REGISTRY) == set(M.MODELS)
  for name, spec in M.REGISTRY.items():
    assert spec.constructor is M.MODELS[name]
    assert spec.input_shape == M.INPUT_SHAPES[name]
  with pytest.raises(ValueError) as info:
    M.depth('nope')
  for name in M.MODELS:
    assert name in str(info.value)


def test_get_model_unknown_name():
  with pytest.raises(ValueError) as info:
    M.get_model('nope', rngs=nnx.Rngs(0))
  msg = str(info.value)
  assert 'nope' in msg
  for name in M.MODELS:
    assert name in msg
  with pytest.raises(ValueError):
    M.input_shape('nope')


def test_get_model_passes_options():
  model = nnx.eval_shape(
    lambda: M.get_model('LeNet4', rngs=nnx.Rngs(0), num_classes=3, dropout_rate=0.125)
  )
  assert isinstance(model, M.LeNet4)
  assert model.dropout.rate == 0.125
  assert nnx.eval_shape(lambda m: m(_x('lenet4')), model).shape == (2, 3)
  with pytest.raises(TypeError):
    M.get_model('nn2', rngs=nnx.Rngs(0), not_an_option=1)
  with pytest.raises(ValueError):
    M.get_model('lenet4', rngs=nnx.Rngs(0), dropout_rate=1.0)


@pytest.mark.parametrize('name', SMALL)
def test_separate_params_and_dropout_streams(name):
  """Models build from ``Rngs(params=..., dropout=...)`` (no default stream),
  and dropout then draws from the ``dropout`` stream."""
  model = nnx.eval_shape(
    lambda: M.get_model(
      name,
      rngs=nnx.Rngs(params=jax.random.key(0), dropout=jax.random.key(1)),
      dropout_rate=0.125,
    )
  )
  assert [p[-1] for p, _ in nnx.to_flat_state(nnx.state(model, nnx.RngKey))] == ['key']
  assert model.dropout.rngs.tag == 'dropout'


# --------------------------------------------------------------------------- #
# Shapes, dtypes and parameter counts
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize('name', SMALL)
@pytest.mark.parametrize('mode', ['train', 'eval'])
def test_small_models_forward(name, mode, small_models):
  model = nnx.clone(small_models[name])
  getattr(model, mode)()
  y = model(_x(name, batch=3))
  assert y.shape == (3, 10)
  assert y.dtype == jnp.float32
  assert bool(jnp.all(jnp.isfinite(y)))
  for leaf in jax.tree.leaves(nnx.state(model, nnx.Param)):
    assert leaf.dtype == jnp.float32


@pytest.mark.parametrize('name', SMALL)
@pytest.mark.parametrize('num_classes', [10, 7])
def test_small_models_param_count(name, num_classes):
  model = nnx.eval_shape(lambda: M.get_model(name, rngs=nnx.Rngs(0), num_classes=num_classes))
  assert _n_params(model) == _expected_small(name, num_classes)
  y = nnx.eval_shape(lambda m: m(_x(name, batch=3)), model)
  assert y.shape == (3, num_classes) and y.dtype == jnp.float32


@pytest.mark.parametrize('name', CIFAR)
def test_cifar_model_shapes_and_counts(name, abstract_cifar):
  model = abstract_cifar[name]
  y = nnx.eval_shape(lambda m: m(jnp.zeros((2, 32, 32, 3), jnp.float32)), model)
  assert y.shape == (2, 10)
  assert y.dtype == jnp.float32
  assert _n_params(model) == PUBLISHED[name]


def test_cifar_num_classes_only_changes_head():
  model = nnx.eval_shape(lambda: M.ResNet18(100, rngs=nnx.Rngs(0)))
  assert _n_params(model) == PUBLISHED['resnet18'] + 512 * 90 + 90
  y = nnx.eval_shape(lambda m: m(jnp.zeros((2, 32, 32, 3))), model)
  assert y.shape == (2, 100)


def test_cifar_building_blocks():
  """The CIFAR building blocks at small widths: shapes for all of them and a
  real forward pass for the DenseNet layer (concatenation order)."""
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 16))
  cases = [
    (lambda r: resnet.BasicBlock(16, 16, 1, rngs=r), (2, 8, 8, 16)),
    (lambda r: resnet.BasicBlock(16, 32, 2, rngs=r), (2, 4, 4, 32)),
    (lambda r: resnet.Bottleneck(16, 8, 1, rngs=r), (2, 8, 8, 32)),
    (lambda r: resnet.Bottleneck(16, 4, 2, rngs=r), (2, 4, 4, 16)),
    (lambda r: googlenet.Inception(16, 4, 4, 8, 2, 4, 4, rngs=r), (2, 8, 8, 20)),
    (lambda r: densenet.Transition(16, 8, rngs=r), (2, 4, 4, 8)),
    (lambda r: densenet.DenseLayer(16, 4, rngs=r), (2, 8, 8, 20)),
  ]
  blocks = []
  for make, shape in cases:
    block = nnx.eval_shape(lambda: make(nnx.Rngs(0)))
    y = nnx.eval_shape(lambda m: m(x), block)
    assert y.shape == shape and y.dtype == jnp.float32
    blocks.append(block)
  # Identity shortcut when stride 1 and equal widths, projection otherwise.
  assert blocks[0].shortcut_conv is None
  assert blocks[1].shortcut_conv is not None
  assert blocks[2].shortcut_conv is not None  # 16 -> 4*8 channels
  # DenseNet layers output [new features, input] in this order (kuangliu's).
  y = jax.jit(lambda x: densenet.DenseLayer(16, 4, rngs=nnx.Rngs(0))(x))(x)
  np.testing.assert_array_equal(y[..., 4:], x)
  assert bool(jnp.all(jnp.isfinite(y)))


@pytest.mark.parametrize('name', ('vgg9',) + CIFAR)
def test_batch_stats_are_not_params(name, abstract_cifar, small_models):
  model = abstract_cifar[name] if name in abstract_cifar else small_models[name]
  n_bn = _bn_features(model)
  assert n_bn > 0
  # Running mean + var, one entry each per BN feature, none of them a Param.
  assert _n_batch_stats(model) == 2 * n_bn
  params = nnx.state(model, nnx.Param)
  assert not any(
    isinstance(v, nnx.BatchStat)
    for v in jax.tree.leaves(params, is_leaf=lambda v: isinstance(v, nnx.Variable))
  )
  for _, m in nnx.iter_modules(model):
    if isinstance(m, nnx.BatchNorm):
      assert isinstance(m.scale, nnx.Param) and isinstance(m.bias, nnx.Param)
      assert isinstance(m.mean, nnx.BatchStat) and isinstance(m.var, nnx.BatchStat)
      assert m.momentum == 0.9 and m.epsilon == 1e-5


@pytest.mark.parametrize('name', ('nn2', 'nn3', 'lenet4'))
def test_models_without_batchnorm_have_no_batch_stats(name, small_models):
  model = small_models[name]
  assert _n_batch_stats(model) == 0


# --------------------------------------------------------------------------- #
# Train / eval behaviour
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize('name', SMALL)
def test_dropout_train_vs_eval(name, small_models):
  model = nnx.clone(small_models[name])
  assert len(nnx.state(model, nnx.RngState)) > 0  # RNG stream is model state
  x = _x(name, batch=4)
  model.train()
  a, b = model(x), model(x)
  assert not np.allclose(a, b)
  model.eval()
  c, d = model(x), model(x)
  np.testing.assert_array_equal(c, d)


@pytest.mark.parametrize('name', ('nn2', 'lenet4'))
def test_zero_dropout_is_deterministic_in_train_mode(name):
  model = M.get_model(name, rngs=nnx.Rngs(0))
  assert len(nnx.state(model, nnx.RngState)) == 0
  model.train()
  x = _x(name)
  np.testing.assert_array_equal(model(x), model(x))


def test_batchnorm_train_updates_stats_eval_does_not(small_models):
  model = nnx.clone(small_models['vgg9'])
  x = _x('vgg9', batch=4)
  before = nnx.clone(nnx.state(model, nnx.BatchStat))
  model.train()
  model(x)
  after_train = nnx.clone(nnx.state(model, nnx.BatchStat))
  changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), before, after_train)
  assert all(jax.tree.leaves(changed))
  model.eval()
  y_full = model(x)
  y_one = model(x[:1])
  # Eval mode uses running averages: per-example outputs don't depend on the batch.
  np.testing.assert_allclose(y_full[:1], y_one, rtol=1e-5, atol=1e-5)
  after_eval = nnx.state(model, nnx.BatchStat)
  same = jax.tree.map(lambda a, b: np.array_equal(a, b), after_train, after_eval)
  assert all(jax.tree.leaves(same))


# --------------------------------------------------------------------------- #
# Functional round trip and vmap over stacked models
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize('name', SMALL)
def test_split_merge_round_trip(name, small_models):
  model = nnx.clone(small_models[name])
  model.train()
  x = _x(name, batch=4)
  graphdef, params, stats, rest = nnx.split(model, nnx.Param, nnx.BatchStat, ...)
  assert len(nnx.to_flat_state(rest)) > 0  # the dropout RNG stream

  @jax.jit
  def apply(params, stats, rest, x):
    m = nnx.merge(graphdef, params, stats, rest)
    y = m(x)
    _, _, new_stats, new_rest = nnx.split(m, nnx.Param, nnx.BatchStat, ...)
    return y, new_stats, new_rest

  # Train mode: the pure function is deterministic in its state, and
  # reproduces the stateful call (same dropout mask, same BatchStat update).
  y1, stats1, rest1 = apply(params, stats, rest, x)
  y2, _, _ = apply(params, stats, rest, x)
  np.testing.assert_array_equal(y1, y2)
  y_model = model(x)
  np.testing.assert_allclose(y_model, y1, rtol=1e-4, atol=1e-5)  # jit vs eager
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5),
    nnx.state(model, nnx.BatchStat),
    stats1,
  )
  _assert_trees_equal(nnx.state(model, nnx.RngState), rest1)  # stream advanced alike

  # A copied model (merge(copy=True)) behaves identically in both modes.
  for mode in ('train', 'eval'):
    getattr(model, mode)()
    clone = nnx.merge(*nnx.split(model, nnx.Param, nnx.BatchStat, ...), copy=True)
    np.testing.assert_array_equal(model(x), clone(x))


@pytest.mark.parametrize(
  'name, init', [('nn2', 'vmapped'), ('lenet4', 'stacked'), ('vgg9', 'stacked')]
)
def test_vmap_over_three_models(name, init, small_models):
  """``jax.vmap`` over the functional state of 3 models from 3 keys.

  ``vmapped``: the models are created inside a (jitted) vmapped function;
  ``stacked``: created one by one and their states stacked (cheaper to run
  here, since eager initialisation reuses the kernels the fixture compiled).
  """
  del small_models  # only to warm the eager compile cache
  keys = jax.random.split(jax.random.key(0), 3)

  def create(key):
    return M.get_model(name, rngs=nnx.Rngs(key), dropout_rate=0.125)

  graphdef = nnx.graphdef(nnx.eval_shape(lambda: create(jax.random.key(0))))
  if init == 'vmapped':
    states = jax.jit(jax.vmap(lambda k: nnx.state(create(k))))(keys)
  else:
    states = jax.tree.map(lambda *a: jnp.stack(a), *(nnx.state(create(k)) for k in keys))
  x = _x(name, batch=4)

  def apply(state, x):
    model = nnx.merge(graphdef, state)
    y = model(x)
    return y, nnx.state(model)  # new BatchStats / RNG counts

  # Train mode (dropout and batch statistics active).
  ys, new_states = jax.jit(jax.vmap(apply, in_axes=(0, None)))(states, x)
  assert ys.shape == (3, 4, 10) and ys.dtype == jnp.float32
  assert jax.tree.structure(new_states) == jax.tree.structure(states)

  # Eval mode: each vmapped output equals that model run on its own, and
  # the three differently initialised models give three different outputs.
  def apply_eval(state, x):
    model = nnx.merge(graphdef, state)
    model.eval()
    return model(x)

  ys = jax.jit(jax.vmap(apply_eval, in_axes=(0, None)))(new_states, x)
  assert ys.shape == (3, 4, 10)
  for i in range(3):
    y_i = apply_eval(jax.tree.map(lambda a: a[i], new_states), x)
    np.testing.assert_allclose(ys[i], y_i, rtol=1e-4, atol=1e-5)
  for i, j in ((0, 1), (0, 2), (1, 2)):
    assert not np.allclose(ys[i], ys[j])


def test_nnx_vmap_created_stack():
  """The NNX-transform route: models created by ``nnx.vmap`` over keys."""

  @nnx.vmap(in_axes=0, out_axes=0)
  def create(key):
    return M.NN2(rngs=nnx.Rngs(key), dropout_rate=0.25)

  stack = create(jax.random.split(jax.random.key(3), 3))
  assert stack.head.kernel[...].shape == (3, 512, 10)

  @nnx.vmap(in_axes=(0, None), out_axes=0)
  def forward(model, x):
    return model(x)

  x = _x('nn2', batch=2)
  a, b = forward(stack, x), forward(stack, x)
  assert a.shape == (3, 2, 10)
  assert not np.allclose(a, b)  # dropout stream advanced
  stack.eval()
  c, d = forward(stack, x), forward(stack, x)
  np.testing.assert_array_equal(c, d)
  assert not np.allclose(c[0], c[1])
