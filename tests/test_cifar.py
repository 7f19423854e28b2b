"""CIFAR-10 models train on real CIFAR-10 images.

The original CIFAR-10 where the test data has it or it can be downloaded
(a user's machine), else this project's offline lossy JPEG copy
(``../shared/data``): see ``conftest.cifar10_test_data``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
import pytest

import adadecay_optax as ad
from conftest import cifar10_test_data
from train import augment, data, models

pytestmark = pytest.mark.slow  # trains ResNet-18 on real images


def test_resnet18_steps_lower_the_loss_on_real_cifar10_images():
  name, data_dir = cifar10_test_data()
  ds = data.load(name, data_dir)
  assert ds.name == name and ds.train_images.shape == (50000, 32, 32, 3)
  # Only the JPEG copy says it is lossy; the original says what it is.
  assert ('LOSSY' in ds.source) == (name == 'cifar10_jpeg'), ds.source
  arrays = ds.subset(64, 10)
  images = augment.random_crop_flip(jax.random.key(0), jnp.asarray(arrays.train_images))
  x = (images / 255.0 - arrays.mean) / arrays.std
  y = jnp.asarray(arrays.train_labels)
  model = models.get_model('resnet18', rngs=nnx.Rngs(0))
  model.train()
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  tx = ad.adadecay_sgd(0.05)

  @jax.jit
  def step(params, rest, opt_state):
    def loss_fn(params):
      m = nnx.merge(graphdef, params, rest, copy=True)
      loss = optax.softmax_cross_entropy_with_integer_labels(m(x), y).mean()
      return loss, nnx.split(m, nnx.Param, ...)[2]

    (loss, rest), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), rest, opt_state, loss

  opt_state = tx.init(params)
  losses = []
  for _ in range(6):
    params, rest, opt_state, loss = step(params, rest, opt_state)
    losses.append(float(loss))
  assert np.isfinite(losses).all()
  # Fitting one batch of 64 real images: the loss must fall clearly.
  assert losses[-1] < 0.7 * losses[0], losses
