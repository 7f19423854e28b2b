"""A thin TensorBoard logger for the host training loop.

Writes TensorBoard event files with `tensorboardX.SummaryWriter` (pure
Python, needs only numpy and protobuf; ``flax.metrics.tensorboard`` would
need TensorFlow). tensorboardX is imported only when a `TensorBoardLogger`
is made, so `NullLogger` (logging off) needs nothing.

Tags are '/'-separated, ``'<optimizer>/<metric>/<reduction>'``, e.g.
``'sgd/test_accuracy/trial_mean'``; TensorBoard groups them by the first
part. `trial_scalars` builds such tags from per-trial arrays.

Usage::

  with make_logger(workdir / 'tensorboard') as tb:   # or make_logger(None)
    tb.scalars(epoch, trial_scalars({'test_accuracy': acc}, prefix='sgd'))
    tb.histogram(epoch, 'adadecay/theta/head/kernel', theta)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Optional, Union

import numpy as np

__all__ = ['NullLogger', 'TensorBoardLogger', 'make_logger', 'trial_scalars']


def _step(step: Any) -> int:
  if isinstance(step, bool) or not float(step).is_integer():
    raise ValueError(f'step must be an integer, got {step!r}')
  return int(step)


def _scalar(tag: str, value: Any) -> float:
  array = np.asarray(value)
  if array.size != 1:
    raise ValueError(
      f'{tag!r}: a scalar is needed, got shape {array.shape}; reduce a'
      ' per-trial array first, e.g. with trial_scalars().'
    )
  return float(array.reshape(()))


class TensorBoardLogger:
  """Scalars and histograms into one TensorBoard event file per logger.

  Args:
    logdir: folder of the event file (created if missing). Point TensorBoard
      at it or at a parent folder.
    flush_secs: the writer also flushes by itself at least this often.
    max_queue: events buffered before a write is forced.
  """

  def __init__(
    self, logdir: Union[str, os.PathLike[str]], *, flush_secs: int = 30, max_queue: int = 1000
  ):
    try:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
    except ImportError as e:
      raise ImportError(
        'TensorBoard logging needs tensorboardX: pip install tensorboardX'
        ' (or install the train extra).'
      ) from e
    self.logdir = os.fspath(logdir)
    os.makedirs(self.logdir, exist_ok=True)
    self._writer = SummaryWriter(logdir=self.logdir, flush_secs=flush_secs, max_queue=max_queue)
    self._closed = False

  def scalars(self, step: int, values: Mapping[str, Any]) -> None:
    """Logs ``{tag: scalar}`` at ``step``; values may be floats, NumPy or JAX scalars."""
    step = _step(step)
    for tag, value in values.items():
      self._writer.add_scalar(tag, _scalar(tag, value), global_step=step)

  def histogram(self, step: int, tag: str, values: Any) -> None:
    """Logs a histogram of ``values`` (any shape, flattened) at ``step``.

    Non-finite values are dropped (NumPy's binning rejects them); nothing is
    logged when none is left.
    """
    step = _step(step)
    array = np.asarray(values, dtype=np.float64).ravel()
    array = array[np.isfinite(array)]
    if array.size:
      self._writer.add_histogram(tag, array, global_step=step)

  def flush(self) -> None:
    """Writes the pending events to disk."""
    if not self._closed:
      self._writer.flush()

  def close(self) -> None:
    """Flushes and closes the event file; later calls are no-ops."""
    if not self._closed:
      self._closed = True
      self._writer.close()

  def __enter__(self) -> TensorBoardLogger:
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()


class NullLogger:
  """The `TensorBoardLogger` API doing nothing, for when logging is off."""

  logdir = None

  def scalars(self, step: int, values: Mapping[str, Any]) -> None:
    del step, values

  def histogram(self, step: int, tag: str, values: Any) -> None:
    del step, tag, values

  def flush(self) -> None:
    pass

  def close(self) -> None:
    pass

  def __enter__(self) -> NullLogger:
    return self

  def __exit__(self, *exc_info) -> None:
    pass


def make_logger(
  logdir: Optional[Union[str, os.PathLike[str]]], **kwargs
) -> Union[TensorBoardLogger, NullLogger]:
  """A `TensorBoardLogger` writing to ``logdir``, or a `NullLogger` if it is None."""
  return NullLogger() if logdir is None else TensorBoardLogger(logdir, **kwargs)


def trial_scalars(
  values: Mapping[str, Any],
  prefix: str = '',
  reductions: tuple[str, ...] = ('mean',),
) -> dict[str, float]:
  """Scalar tags from per-trial values (host side).

  A value with a leading trial axis of shape ``(N,)`` becomes
  ``f'{prefix}/{name}/trial_{r}'`` for each reduction r in ``reductions``
  (``'mean'``, ``'std'`` (ddof=0), ``'min'``, ``'max'``, ``'median'``; NaNs
  propagate); a scalar becomes ``f'{prefix}/{name}'``.

  >>> trial_scalars({'test_accuracy': [0.5, 1.0], 'lr': 0.1}, prefix='sgd')
  {'sgd/test_accuracy/trial_mean': 0.75, 'sgd/lr': 0.1}
  """
  functions = {'mean': np.mean, 'std': np.std, 'min': np.min, 'max': np.max, 'median': np.median}
  unknown = set(reductions) - set(functions)
  if unknown:
    raise ValueError(f'unknown reductions {sorted(unknown)}; use {sorted(functions)}')
  head = f'{prefix}/' if prefix else ''
  out = {}
  for name, value in values.items():
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
      out[f'{head}{name}'] = float(array)
    elif array.ndim == 1:
      for r in reductions:
        out[f'{head}{name}/trial_{r}'] = float(functions[r](array))
    else:
      raise ValueError(f'{name!r}: expected a scalar or a (trials,) array, got shape {array.shape}')
  return out
