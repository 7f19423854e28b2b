"""Per-epoch checkpoints of one run, with orbax.

A run's state (the model and optimizer state of all its trials, with their
PRNG keys) and its accuracy history are saved after every
``config.checkpoint_every`` epochs and restored when the same command runs
again: an interrupted run continues from its last saved epoch with results
bit-identical to an uninterrupted one on CPU. A checkpoint that no longer
fits the program (the model or optimizer changed) is refused leaf by leaf,
before anything is written.
"""

from __future__ import annotations

import pathlib
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

__all__ = ['CheckpointMismatchError', 'RunCheckpoints', 'leaf_names']


def _is_key(x) -> bool:
  return hasattr(x, 'dtype') and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def leaf_names(tree) -> list[str]:
  """Each leaf's path in the program's terms, e.g. 'params/layers/2/kernel'.

  Key paths joined by '/' ('opt_state/0/trace/head/bias' for an optax
  chain's momentum), without the final 'value' of an nnx Variable.
  """
  return [
    jax.tree_util.keystr(path, simple=True, separator='/').removesuffix('/value')
    for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]
  ]


def _nest(items) -> dict[str, Any]:
  """[(('a', 'b'), x), ...] -> {'a': {'b': x}, ...}."""
  out: dict[str, Any] = {}
  for keys, value in items:
    node = out
    for key in keys[:-1]:
      node = node.setdefault(key, {})
    node[keys[-1]] = value
  return out


def _get(tree, keys):
  for key in keys:
    tree = tree[key]
  return tree


def _per_trial(shape, dtype) -> str:
  return f'{tuple(shape[1:])} {np.dtype(dtype).name}'


def _listed(names: list[str], limit: int = 8) -> str:
  more = f', ... ({len(names) - limit} more)' if len(names) > limit else ''
  return ', '.join(names[:limit]) + more


class CheckpointMismatchError(ValueError):
  """A run's checkpoint does not fit its program (the model or optimizer)."""


class RunCheckpoints:
  """Per-epoch orbax checkpoints of one run: its carry and its history.

  The carry is stored as a tree of its leaves under their names
  (:func:`leaf_names`; typed PRNG keys as their key data), so any model and
  optimizer state round-trips exactly, and a checkpoint that no longer fits
  the program is reported leaf by leaf in the program's terms. The trial
  axis is stored as the program had it (with any padding trials) and
  restored truncated or zero-filled to the current program's: a run resumes
  on another number of devices. Orbax writes each step to a temporary
  directory and renames it, so a crash never leaves a partial checkpoint;
  with several processes each writes its own shards.
  """

  def __init__(self, directory: pathlib.Path):
    self._dir = directory
    self._manager = ocp.CheckpointManager(
      directory.absolute(),
      options=ocp.CheckpointManagerOptions(max_to_keep=1, create=True),
      item_handlers=ocp.StandardCheckpointHandler(),
    )

  def latest_epoch(self) -> int:
    """Epochs completed in the newest checkpoint (0 if none)."""
    return self._manager.latest_step() or 0

  def save(self, epochs_done: int, carry, history: dict[str, np.ndarray]):
    leaves = [jax.random.key_data(x) if _is_key(x) else x for x in jax.tree.leaves(carry)]
    keys = [tuple(name.split('/')) for name in leaf_names(carry)]
    tree = {'carry': _nest(zip(keys, leaves)), 'history': history}
    self._manager.save(epochs_done, args=ocp.args.StandardSave(tree))
    self._manager.wait_until_finished()

  def _stored_keys(self, step: int, names: list[str]):
    """(key path -> ArrayMetadata of the stored carry, each leaf's key path).

    Checkpoints of earlier versions stored the leaves by their index
    ('00000', '00001', ...); those are matched to the program's leaves in
    order.
    """
    stored = self._manager.item_metadata(step).tree['carry']
    stored = {
      tuple(k.key for k in path): meta
      for path, meta in jax.tree_util.tree_flatten_with_path(stored)[0]
    }
    if all(len(k) == 1 and k[0].isdigit() and len(k[0]) == 5 for k in stored):
      return stored, [(f'{i:05d}',) for i in range(len(names))]
    return stored, [tuple(name.split('/')) for name in names]

  def check(self, abstract_carry, num_trials: int, label: str) -> None:
    """Checks that the newest checkpoint fits the program; reads no array.

    Args:
      abstract_carry: the program's carry (shapes and dtypes).
      num_trials: the run's trials N (the stored trial axis must hold them).
      label: the run, for the message.

    Raises:
      CheckpointMismatchError: naming the leaves only in the checkpoint, only
        in the program, or of another shape or dtype.
    """
    step = self._manager.latest_step()
    names = leaf_names(abstract_carry)
    stored, keys = self._stored_keys(step, names)
    leaves = [
      jax.eval_shape(jax.random.key_data, x) if _is_key(x) else x
      for x in jax.tree.leaves(abstract_carry)
    ]
    program = dict(zip(keys, leaves))
    name_of = dict(zip(keys, names))
    only_stored = sorted('/'.join(k) for k in set(stored) - set(program))
    only_program = [name_of[k] for k in keys if k not in stored]
    differ = [
      f'{name_of[k]} (checkpoint {_per_trial(stored[k].shape, stored[k].dtype)},'
      f' program {_per_trial(x.shape, x.dtype)})'
      for k, x in program.items()
      if k in stored
      and (
        tuple(stored[k].shape[1:]) != tuple(x.shape[1:])
        or np.dtype(stored[k].dtype) != np.dtype(x.dtype)
        or stored[k].shape[0] < num_trials
      )
    ]
    if not (only_stored or only_program or differ):
      return
    parts = []
    if only_program:
      parts.append(f'only in the program: {_listed(only_program)}')
    if only_stored:
      parts.append(f'only in the checkpoint: {_listed(only_stored)}')
    if differ:
      parts.append(f'per-trial shape or dtype differs: {_listed(differ)}')
    raise CheckpointMismatchError(
      f'The checkpoint of run {label!r} (epoch {step}, in {self._dir}) does'
      f' not fit its model and optimizer, which changed since it was'
      f' written: {"; ".join(parts)}. Nothing was changed. Resume with the'
      f' code that wrote it, or delete {self._dir} to train this run again'
      ' (the other runs are kept).'
    )

  def restore(self, abstract_carry, history_shape, label: str):
    """Returns (carry, history) of the newest checkpoint.

    Args:
      abstract_carry: the program's carry, with the shardings to restore to.
      history_shape: (trials, epochs).
      label: the run, for messages.

    Raises:
      CheckpointMismatchError: as :meth:`check`.
    """
    self.check(abstract_carry, history_shape[0], label)
    step = self._manager.latest_step()
    leaves, treedef = jax.tree.flatten(abstract_carry)
    _, keys = self._stored_keys(step, leaf_names(abstract_carry))
    data = [jax.eval_shape(jax.random.key_data, x) if _is_key(x) else x for x in leaves]
    abstract = {
      'carry': _nest(
        (k, jax.ShapeDtypeStruct(d.shape, d.dtype, sharding=x.sharding))
        for k, d, x in zip(keys, data, leaves)
      ),
      'history': {k: np.zeros(history_shape, np.float32) for k in ('test_accuracy', 'train_loss')},
    }
    # strict=False: the trial axis is cut or zero-filled to this program's
    # padding; the real trials come first and are checked above.
    tree = self._manager.restore(step, args=ocp.args.StandardRestore(abstract, strict=False))
    restored = [_get(tree['carry'], k) for k in keys]
    # Keys were made by jax.random.key, i.e. with the default implementation.
    restored = [jax.random.wrap_key_data(r) if _is_key(x) else r for r, x in zip(restored, leaves)]
    history = {k: np.asarray(v) for k, v in tree['history'].items()}
    return jax.tree.unflatten(treedef, restored), history

  def close(self):
    self._manager.close()
