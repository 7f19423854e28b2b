"""All trials of one run as one jitted program.

A *run* is one (model, dataset, optimizer) cell of a paper table, trained for
N trials. The trials live on a leading axis of every array: parameters,
BatchNorm statistics, dropout RNG streams and optimizer states are stacked,
and one ``jax.vmap``-ed, ``jax.jit``-ed epoch function advances all of them.
An epoch is a ``lax.scan`` over minibatches gathered on the device from the
data held there; each trial draws its own permutation (its own data order)
from its own seed. After every epoch each trial is evaluated on the full test
set. With several devices the trial axis is sharded over them, padded to a
multiple of the device count (the padding trials are computed and dropped);
with several processes (``jax.distributed``) over all processes' devices,
each process holding the data and running the same program.

Randomness (all from the trial's seed ``s``; the same seeds for every
optimizer, so runs are paired): ``fold_in(key(s), 0)`` split into init /
dropout / optimizer keys, ``fold_in(fold_in(key(s), 1), epoch)`` for the
data order and ``fold_in(fold_in(key(s), 2), epoch)`` for augmentation. An
epoch is therefore a pure function of the carried state and the epoch number,
which is what makes a resumed run bit-identical to an uninterrupted one.

The trainer knows nothing of particular models or datasets: it gets a model
factory, a ``train.data.Dataset`` (uint8 images, int32 labels and their
per-channel mean and std), and an optax optimizer builder. Whatever dtype the model
computes in (e.g. bfloat16), its logits are cast to float32 for the
softmax cross-entropy, and gradients, parameters and optimizer states have
the parameters' dtype.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from train import data as data_lib

ModelFactory = Callable[[nnx.Rngs], nnx.Module]
# (key) -> optax transform; the key only matters for optimizers that draw
# random numbers (each trial's state then starts from its own key).
OptimizerFactory = Callable[[jax.Array], optax.GradientTransformation]

# Training images whose gradient TrialsProgram.gradients returns.
_DIAGNOSTIC_BATCH = 256


def updates_per_epoch(n_train: int, batch_size: int, grad_fn_steps: int = 0) -> int:
  """Optimizer updates in one epoch: each uses 1 + grad_fn_steps minibatches.

  Also what an optimizer's schedule needs before the program exists.
  """
  return (n_train // batch_size) // (1 + grad_fn_steps)


@dataclasses.dataclass
class Carry:
  """Everything an epoch carries, stacked over trials (leading axis).

  The axis holds the N trials and, on several devices, the padding trials
  after them (:attr:`TrialsProgram.num_padded`).
  """

  params: Any  # nnx.State of nnx.Param
  rest: Any  # nnx.State of BatchStat, RNG streams, ...
  opt_state: Any  # optax state


jax.tree_util.register_dataclass(Carry, data_fields=['params', 'rest', 'opt_state'], meta_fields=[])


def init_trial(
  model_factory: ModelFactory, optimizer_factory: OptimizerFactory, seed: jax.Array
) -> Carry:
  """The initial carry of the trial with this seed (one trial, unstacked)."""
  key = jax.random.key(seed)
  k_params, k_dropout, k_opt = jax.random.split(jax.random.fold_in(key, 0), 3)
  model = model_factory(nnx.Rngs(params=k_params, dropout=k_dropout))
  _, params, rest = nnx.split(model, nnx.Param, ...)
  opt_state = optimizer_factory(k_opt).init(params)
  return Carry(params, rest, opt_state)


def carry_shapes(
  model_factory: ModelFactory, optimizer_factory: OptimizerFactory, num_trials: int
) -> Carry:
  """Shapes and dtypes of the carry of ``num_trials`` stacked trials.

  Computed abstractly (no data, no device memory): what a checkpoint is
  checked against before anything is restored.
  """
  init = functools.partial(init_trial, model_factory, optimizer_factory)
  return jax.eval_shape(jax.vmap(init), jax.ShapeDtypeStruct((num_trials,), jnp.uint32))


def _global_array(x: np.ndarray, sharding: jax.sharding.Sharding) -> jax.Array:
  """``x``, which every process holds whole, as one array laid out by sharding.

  Each process copies the slices its own devices hold; with one process this
  is ``jax.device_put``.
  """
  return jax.make_array_from_callback(x.shape, sharding, lambda i: x[i])


class TrialsProgram:
  """Compiled init and epoch functions for N trials of one run.

  Args:
    model_factory: builds the model from ``nnx.Rngs`` (streams ``params`` and
      ``dropout``).
    optimizer_factory: builds the optax optimizer from a PRNG key.
    data: the dataset (``train.data.load``, ``Dataset.subset``,
      ``Dataset.synthetic``); copied to the device(s) once, the images
      normalised there with its ``mean`` and ``std``. With several processes
      each passes the same arrays (each loads the data itself).
    seeds: one int seed per trial, shape (N,).
    batch_size: training minibatch (paper: 128). The last partial batch of
      each epoch is dropped, as PyTorch's ``drop_last=True``.
    eval_batch_size: test-set chunk for evaluation (memory only; results do
      not depend on it). Must divide the test set size.
    devices: devices to shard the trial axis over (default: all, of every
      process). The trial axis is padded to a multiple of their count D with
      copies of the last seed: with N = 50 on 8 devices, 56 trials run, 7 on
      each device, and the 6 padding trials are dropped from every output but
      the carry. When all devices are this process's and N < D, the first N
      devices are used instead, one trial each.
    augment: optional ``augment(key, images) -> images`` on a uint8 batch
      (B, H, W, C), applied per trial on the device before normalisation,
      e.g. :func:`train.augment.random_crop_flip`. Each trial and step gets
      its own key.
    grad_fn_steps: for optimizers whose ``update`` takes a gradient function
      ``grad_fn(params, k)`` (Entropy-SGD: k = 0..L-1), the number of its
      steps; each update then consumes ``1 + grad_fn_steps`` minibatches (a
      fresh one per gradient evaluation, as the original), so an epoch is
      still one pass over the data. 0 for ordinary optimizers.

  Raises:
    ValueError: for a batch size larger than the training set, or an
      ``eval_batch_size`` that does not divide the test set.
  """

  def __init__(
    self,
    model_factory: ModelFactory,
    optimizer_factory: OptimizerFactory,
    data: data_lib.Dataset,
    seeds: Sequence[int],
    *,
    batch_size: int = 128,
    eval_batch_size: int = 1000,
    devices: Sequence[jax.Device] | None = None,
    augment: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
    grad_fn_steps: int = 0,
  ):
    n_train = len(data.train_labels)
    n_test = len(data.test_labels)
    if not 0 < batch_size <= n_train:
      raise ValueError(
        f'batch_size must be in [1, {n_train}] (the training set size), got {batch_size}.'
      )
    eval_batch_size = min(eval_batch_size, n_test)
    if n_test % eval_batch_size:
      raise ValueError(f'eval_batch_size={eval_batch_size} must divide the test set size {n_test}.')
    self.seeds = np.asarray(seeds, np.uint32)
    self.num_trials = len(self.seeds)
    devices = list(devices if devices is not None else jax.devices())
    if self.num_trials < len(devices) and all(
      d.process_index == jax.process_index() for d in devices
    ):
      devices = devices[: self.num_trials]
    # The trial axis of the carry: N rounded up to a multiple of the devices.
    self.num_padded = -(-self.num_trials // len(devices)) * len(devices)
    self.steps_per_epoch = n_train // batch_size
    self._grad_fn_steps = grad_fn_steps
    self.updates_per_epoch = updates_per_epoch(n_train, batch_size, grad_fn_steps)
    if self.updates_per_epoch < 1:
      raise ValueError(
        f'{n_train} training images give no update of {1 + grad_fn_steps}'
        f' batches of {batch_size}; use more data or a smaller batch.'
      )
    self.batch_size = batch_size
    self._model_factory = model_factory
    self._optimizer_factory = optimizer_factory
    self._augment = augment
    self._gradients = None

    mesh = Mesh(np.array(devices), ('trials',))
    self._trial_sharding = NamedSharding(mesh, P('trials'))
    self._replicated = NamedSharding(mesh, P())
    padded_seeds = np.concatenate(
      [self.seeds, np.repeat(self.seeds[-1:], self.num_padded - self.num_trials)]
    )
    self._device_seeds = _global_array(padded_seeds, self._trial_sharding)
    put = lambda x: _global_array(x, self._replicated)
    self._train_x, self._train_y = put(data.train_images), put(data.train_labels)
    n_eval = n_test // eval_batch_size
    self._test_x = put(
      data.test_images.reshape(n_eval, eval_batch_size, *data.test_images.shape[1:])
    )
    self._test_y = put(data.test_labels.reshape(n_eval, eval_batch_size))
    self._mean = jnp.asarray(data.mean)
    self._std = jnp.asarray(data.std)

    # Train and eval differ only in static attributes (Dropout.deterministic,
    # BatchNorm.use_running_average), i.e. in the graphdef, not the state.
    abstract = nnx.eval_shape(lambda: model_factory(nnx.Rngs(0)))
    abstract.train()
    self._graph_train = nnx.split(abstract, nnx.Param, ...)[0]
    abstract.eval()
    self._graph_eval = nnx.split(abstract, nnx.Param, ...)[0]
    # The update never reads the construction key (only init does).
    self._tx = optimizer_factory(jax.random.key(0))

    self._init = jax.jit(jax.vmap(self._init_trial), out_shardings=self._trial_sharding)
    # Losses and accuracies replicated: every process reads all of them.
    self._epoch = jax.jit(
      jax.vmap(self._epoch_trial, in_axes=(0, 0, None)),
      out_shardings=(self._trial_sharding, self._replicated, self._replicated),
      donate_argnums=(0,),
    )

  # -- per trial (vmapped) ----------------------------------------------------

  def _init_trial(self, seed):
    return init_trial(self._model_factory, self._optimizer_factory, seed)

  def _normalize(self, images):
    return (images.astype(jnp.float32) / 255.0 - self._mean) / self._std

  def _batch(self, batch_idx, augment_key):
    images = self._train_x[batch_idx]
    if self._augment is not None:
      images = self._augment(augment_key, images)
    return self._normalize(images), self._train_y[batch_idx]

  def _loss_fn(self, params, rest, images, labels):
    model = nnx.merge(self._graph_train, params, rest, copy=True)
    # The loss in float32 also when the model computes in bfloat16.
    logits = model(images).astype(jnp.float32)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return loss, nnx.split(model, nnx.Param, ...)[2]

  def _train_step(self, carry: Carry, batch_idx, augment_key):
    """One update from ``1 + grad_fn_steps`` minibatches (rows of batch_idx).

    Row 0 gives the gradient passed as ``updates`` (and the BatchNorm and
    RNG updates); rows 1.. are what ``grad_fn(params, k)`` uses, for
    optimizers such as Entropy-SGD that evaluate the gradient at other
    points (row k + 1 for step k; the model state is the same for all).
    """
    keys = jax.random.split(augment_key, batch_idx.shape[0])
    images, labels = self._batch(batch_idx[0], keys[0])
    (loss, rest), grads = jax.value_and_grad(self._loss_fn, has_aux=True)(
      carry.params, carry.rest, images, labels
    )
    extra = {}
    if self._grad_fn_steps:

      def grad_fn(params, k):
        images, labels = self._batch(batch_idx[k + 1], keys[k + 1])
        return jax.grad(self._loss_fn, has_aux=True)(params, carry.rest, images, labels)[0]

      extra['grad_fn'] = grad_fn
    updates, opt_state = self._tx.update(grads, carry.opt_state, carry.params, **extra)
    params = optax.apply_updates(carry.params, updates)
    return Carry(params, rest, opt_state), loss

  def _evaluate(self, carry: Carry):
    def body(correct, batch):
      images, labels = batch
      model = nnx.merge(self._graph_eval, carry.params, carry.rest, copy=True)
      logits = model(self._normalize(images)).astype(jnp.float32)
      return correct + jnp.sum(jnp.argmax(logits, -1) == labels), None

    correct, _ = jax.lax.scan(body, jnp.int32(0), (self._test_x, self._test_y))
    return correct / self._test_y.size

  def _epoch_trial(self, carry: Carry, seed, epoch):
    order_key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), 1), epoch)
    per_update = 1 + self._grad_fn_steps
    n_used = self.updates_per_epoch * per_update * self.batch_size
    perm = jax.random.permutation(order_key, self._train_y.shape[0])
    batches = perm[:n_used].reshape(self.updates_per_epoch, per_update, self.batch_size)
    # The trial's own augmentation stream: one key per (epoch, update).
    augment_keys = jax.random.split(
      jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), 2), epoch), self.updates_per_epoch
    )
    carry, losses = jax.lax.scan(
      lambda c, xs: self._train_step(c, *xs), carry, (batches, augment_keys)
    )
    return carry, jnp.mean(losses), self._evaluate(carry)

  # -- public -------------------------------------------------------------------

  def init(self) -> Carry:
    """Initial state of all trials, stacked and sharded over the trial axis.

    The leading axis has :attr:`num_padded` entries: the N trials, then the
    padding trials.
    """
    return self._init(self._device_seeds)

  def run_epoch(self, carry: Carry, epoch: int):
    """Advances every trial by one epoch (``epoch`` counts from 0).

    ``carry`` is donated: use the returned one.

    Returns:
      (new carry, mean training loss of the epoch per trial (N,) float32,
      test accuracy after the epoch per trial (N,) float32, a fraction); the
      two as numpy arrays on the host, of the N trials only.
    """
    carry, loss, accuracy = self._epoch(carry, self._device_seeds, jnp.int32(epoch))
    n = self.num_trials
    return carry, np.asarray(loss)[:n], np.asarray(accuracy)[:n]

  def gradients(self, carry: Carry):
    """Each trial's loss gradient on the first 256 training images.

    For diagnostics (θ statistics): a fixed batch, train mode, no update.

    Returns:
      The gradient tree (an ``nnx.State`` of Params), stacked over the
      :attr:`num_padded` trials of the carry.
    """
    if self._gradients is None:

      def one(carry):
        images = self._normalize(self._train_x[:_DIAGNOSTIC_BATCH])
        return jax.grad(self._loss_fn, has_aux=True)(
          carry.params, carry.rest, images, self._train_y[:_DIAGNOSTIC_BATCH]
        )[0]

      self._gradients = jax.jit(jax.vmap(one))
    return self._gradients(carry)

  def trial_values(self, tree):
    """``tree``, stacked over the carry's trials, on the host: N trials only.

    Every process gets every trial (``process_allgather``); the padding
    trials are dropped.
    """
    return jax.tree.map(
      lambda x: x[: self.num_trials], multihost_utils.process_allgather(tree, tiled=True)
    )

  def abstract_carry(self) -> Carry:
    """Shapes, dtypes and shardings of :meth:`init`'s result (for restore)."""
    return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=self._trial_sharding),
      jax.eval_shape(self.init),
    )
