"""Construction-time checks of hyper-parameters, shared by the optimizers."""

from typing import Callable, Optional

import jax
import numpy as np


def concrete(value) -> Optional[np.ndarray]:
  """``value`` as a NumPy array, or None for a schedule or a tracer.

  ``optax.inject_hyperparams`` rebuilds a transformation inside ``update``
  with traced hyper-parameters; those cannot (and need not) be checked again.
  """
  if callable(value) or isinstance(value, jax.core.Tracer):
    return None
  return np.asarray(value)


def check(name: str, value, ok: Callable[[np.ndarray], np.ndarray],
          requirement: str) -> None:
  """Raises ValueError unless ``value`` is numeric, finite and ``ok``."""
  arr = concrete(value)
  if arr is None:
    return
  if (not np.issubdtype(arr.dtype, np.number)
      or not np.all(np.isfinite(arr)) or not np.all(ok(arr))):
    raise ValueError(f'{name} must be {requirement}, got {value!r}.')
