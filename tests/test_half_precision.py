"""config.half_precision: bfloat16 compute, float32 parameters and loss."""

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import adadecay_optax as ad
from train import data as data_lib
from train import experiment, models, trainer

F32, BF16 = np.dtype(jnp.float32), np.dtype(jnp.bfloat16)


def _dtypes(tree):
  return {
    np.dtype(x.dtype)
    for x in jax.tree.leaves(tree)
    if hasattr(x, 'dtype') and jnp.issubdtype(x.dtype, jnp.floating)
  }


def _dot_dtypes(jaxpr):
  """Operand dtypes of every dot_general in a jaxpr, sub-jaxprs included."""
  found = set()
  for eqn in jaxpr.eqns:
    if eqn.primitive.name == 'dot_general':
      found |= {np.dtype(v.aval.dtype) for v in eqn.invars}
    for sub in jax.extend.core.jaxprs_in_params(eqn.params):
      found |= _dot_dtypes(sub)
  return found


def _loss_and_logits(model, x):
  """(params, rest, f(params) -> (sum of logits, logits)) as the trainer."""
  graph, params, rest = nnx.split(model, nnx.Param, ...)

  def f(params):
    logits = nnx.merge(graph, params, rest, copy=True)(x)
    return logits.astype(jnp.float32).sum(), logits

  return params, rest, f


@pytest.mark.slow
@pytest.mark.parametrize('name', ['nn2', 'vgg9'])  # vgg9: with BatchNorm
def test_bf16_model_computes_in_bf16_with_float32_parameters(name):
  x = jax.random.normal(jax.random.key(1), (4, 28, 28, 1))
  model = models.get_model(name, rngs=nnx.Rngs(0), dtype=jnp.bfloat16)
  params, rest, f = _loss_and_logits(model, x)
  assert _dtypes(params) == {F32}
  assert _dtypes(rest) <= {F32}  # BatchNorm statistics
  assert _dot_dtypes(jax.make_jaxpr(f)(params).jaxpr) == {BF16}
  (_, logits), grads = jax.value_and_grad(f, has_aux=True)(params)
  assert logits.dtype == BF16
  assert _dtypes(grads) == {F32}
  # Float32 (the default) stays float32, and is the same function up to
  # bfloat16's precision.
  params32, _, f32 = _loss_and_logits(models.get_model(name, rngs=nnx.Rngs(0)), x)
  assert _dot_dtypes(jax.make_jaxpr(f32)(params32).jaxpr) == {F32}
  np.testing.assert_allclose(np.asarray(logits, np.float32), f32(params32)[1], rtol=0.05, atol=0.05)


@pytest.mark.slow
def test_bf16_training_keeps_float32_state_and_reduces_the_loss():
  # Two classes told apart by the mean brightness of the image.
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 2, 1024 + 256)
  images = (
    np.clip(rng.normal(96 + 64 * labels, 40, (28, 28, 1, len(labels))), 0, 255)
    .astype(np.uint8)
    .transpose(3, 0, 1, 2)
  )
  data = data_lib.Dataset(
    name='brightness',
    train_images=images[:1024],
    train_labels=labels[:1024].astype(np.int32),
    test_images=images[1024:],
    test_labels=labels[1024:].astype(np.int32),
    num_classes=2,
    source='two classes of random images told apart by brightness',
  )
  program = trainer.TrialsProgram(
    lambda rngs: models.get_model('nn2', rngs=rngs, dtype=jnp.bfloat16),
    lambda key: ad.adadecay_sgd(0.01),
    data,
    [0, 1],
    batch_size=64,
    eval_batch_size=256,
  )
  carry = program.init()
  losses = []
  for epoch in range(3):
    carry, loss, acc = program.run_epoch(carry, epoch)
    losses.append(np.asarray(loss))
    assert loss.dtype == jnp.float32
  assert _dtypes(carry.params) == {F32}
  assert _dtypes(carry.opt_state) == {F32}
  assert np.all(losses[-1] < 0.5 * losses[0]), losses
  assert np.all(np.asarray(acc) > 0.9)


def test_half_precision_must_be_a_bool():
  from configs import quickstart

  config = quickstart.get_config()
  assert config.half_precision is False  # the paper trained in float32
  config.half_precision = True
  experiment.validate(config)
  del config['half_precision']
  config.half_precision = 'yes'
  with pytest.raises(TypeError, match='config.half_precision must be True or False'):
    experiment.validate(config)


def test_workdir_before_half_precision_resumes_as_float32(tmp_path):
  from configs import quickstart

  config = quickstart.get_config()
  old = quickstart.get_config()
  del old['half_precision']
  experiment._WorkdirConfig(tmp_path, old).claim()  # pylint: disable=protected-access
  experiment._WorkdirConfig(tmp_path, config).check()  # pylint: disable=protected-access
  config.half_precision = True
  with pytest.raises(ValueError, match=r"\['half_precision'\] differ"):
    experiment._WorkdirConfig(tmp_path, config).check()  # pylint: disable=protected-access
