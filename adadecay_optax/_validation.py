"""Checks and conversions of the optimizers' arguments, in one place.

Every constructor of the library validates its arguments here, when it is
called: a wrong type raises ``TypeError``, a bad value ``ValueError``, and the
message names the argument and says what to pass instead. Numbers may be
Python, NumPy or ml_dtypes scalars (``jnp.bfloat16(1e-4)``) or arrays of a
real floating or integer dtype; ``optax.inject_hyperparams`` hands them over as
arrays in the params' dtype, or as tracers, whose values are not checked.
"""

from collections.abc import Mapping
import numbers
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

NO_PARAMS_MSG = (
  'This transformation needs the current parameters: call'
  ' update(updates, state, params) (optax.chain passes them on).'
)


def _dtype_of(value) -> Optional[np.dtype]:
  """The dtype ``value`` would have as an array, or None if it has none."""
  if isinstance(value, (jax.Array, np.ndarray, np.generic)):
    return value.dtype
  if isinstance(value, (numbers.Number, list, tuple)):
    try:
      return np.asarray(value).dtype
    except (TypeError, ValueError):
      return None
  return None


def _is_real(dtype: Optional[np.dtype]) -> bool:
  """A floating (bf16/f16 included) or integer dtype; not bool, not complex."""
  return dtype is not None and (
    jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)
  )


def concrete(value) -> Optional[np.ndarray]:
  """``value`` as a float64 NumPy array; None for a schedule or a tracer."""
  if callable(value) or isinstance(value, jax.core.Tracer):
    return None
  return np.asarray(value).astype(np.float64)


def check_number(
  name: str,
  value,
  ok: Callable[[np.ndarray], Any],
  requirement: str,
  hint: str = '',
  schedule: bool = False,
  scalar: bool = False,
) -> None:
  """Checks a real number or array (or, if ``schedule``, an optax schedule).

  Args:
    name: the argument's name, for the message.
    value: the argument.
    ok: a test on ``value`` as a float64 array, true where it is good.
    requirement: what ``value`` must be, e.g. ``'a float >= 0'``.
    hint: appended to the message, e.g. the default and its source.
    schedule: whether a callable (an optax schedule of the step count) is
      accepted in place of a number.
    scalar: whether ``value`` must be a scalar (0-d), not an array.

  Raises:
    TypeError: if ``value`` is not a real number, an array of them (unless
      ``scalar``) or (if ``schedule``) a schedule.
    ValueError: if it is not finite or not ``ok``.
  """
  if schedule and callable(value):
    return
  if not _is_real(_dtype_of(value)) or (scalar and np.ndim(value) != 0):
    what = ('a float or an int' if scalar else 'a float, an int or an array of them') + (
      ', or an optax schedule' if schedule else ''
    )
    raise TypeError(
      f'{name} must be a real number ({what}), got {value!r} of type {type(value).__name__}.{hint}'
    )
  arr = concrete(value)
  if arr is None:  # a tracer: inject_hyperparams under jit
    return
  if not (np.all(np.isfinite(arr)) and np.all(ok(arr))):
    raise ValueError(f'{name} must be {requirement}, got {value!r}.{hint}')


def check_integer(name: str, value, minimum: int, hint: str = '') -> None:
  """Checks an integer scalar >= ``minimum``, of any integer type.

  Python ints, NumPy integers (``np.int64(10)``) and 0-d integer arrays are
  accepted, bool is not; a tracer's value is not checked.

  Raises:
    TypeError: if ``value`` is not an integer scalar.
    ValueError: if it is below ``minimum``.
  """
  dtype = _dtype_of(value)
  if (
    isinstance(value, (bool, np.bool_))
    or dtype is None
    or not jnp.issubdtype(dtype, jnp.integer)
    or np.ndim(value) != 0
  ):
    raise TypeError(
      f'{name} must be an integer (int, np.int64, a 0-d integer array), got'
      f' {value!r} of type {type(value).__name__}.{hint}'
    )
  if not isinstance(value, jax.core.Tracer) and int(value) < minimum:
    raise ValueError(f'{name} must be an integer >= {minimum}, got {value!r}.{hint}')


def check_bool(name: str, value) -> None:
  """Raises TypeError unless ``value`` is a Python or NumPy bool."""
  if not isinstance(value, (bool, np.bool_)):
    raise TypeError(f'{name} must be True or False, got {value!r}.')


def check_weight_decay(weight_decay) -> None:
  """AdaDecay's λ: a real number >= 0 (or array) or an optax schedule."""
  check_number(
    'weight_decay',
    weight_decay,
    lambda v: v >= 0,
    'finite and >= 0',
    ' The paper uses 5e-4; use 0.0 to switch decay off.',
    schedule=True,
  )


def check_alpha(alpha) -> None:
  """AdaDecay's α: a finite real number or array."""
  check_number(
    'alpha',
    alpha,
    lambda v: True,
    'a finite number (or array)',
    ' The paper uses alpha=4.0; alpha=0.0 gives constant decay.',
  )


def require_params(params) -> None:
  """Raises ValueError if ``update`` was called without ``params``."""
  if params is None:
    raise ValueError(NO_PARAMS_MSG)


def compute_dtype(tree: Any) -> jnp.dtype:
  """Float32, or the tree's widest float dtype when wider (float64 with x64).

  The dtype the baselines compute in: bf16/f16 params are promoted, so their
  arithmetic is done in float32 and the results cast back per leaf.
  """
  dtypes = [x.dtype for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)]
  return jnp.dtype(jnp.result_type(jnp.float32, *dtypes))


def prng_key(name: str, key) -> jax.Array:
  """A typed PRNG key from a typed key, raw uint32 key data or an int seed.

  ``jax.random.key(0)``, ``jax.random.PRNGKey(0)`` and ``0`` give the same
  key, hence the same draws.

  Raises:
    TypeError: for anything else.
  """
  dtype = _dtype_of(key)
  if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
    return key
  if (
    dtype is not None
    and not isinstance(key, (bool, np.bool_))
    and jnp.issubdtype(dtype, jnp.integer)
    and np.ndim(key) == 0
  ):
    return jax.random.key(key)
  if dtype == jnp.uint32 and np.ndim(key) == 1:  # e.g. jax.random.PRNGKey(0)
    return jax.random.wrap_key_data(key)
  raise TypeError(
    f'{name} must be a PRNG key (jax.random.key(seed)), raw key data'
    f' (jax.random.PRNGKey(seed)) or an int seed, got {key!r}.'
  )


def _unwrap(node):
  """A one-leaf wrapper's leaf (e.g. an nnx.Param holding a bool), else node.

  Flax NNX keeps each value of ``nnx.state(model)`` in a Variable, a pytree
  node with one child; ``nnx.Optimizer`` hands optax the bare arrays. Any
  pytree node that is not a mapping or sequence and has a single child that
  is a leaf is replaced by that leaf: as a prefix of the params, a bool there
  means the same for everything below it, so a mask that matched before
  still matches the same leaves.
  """
  if isinstance(node, (Mapping, list, tuple)) or node is None:
    return node
  children, treedef = jax.tree.flatten(node, is_leaf=lambda x: x is not node)
  if treedef.num_nodes == 2 and jax.tree_util.treedef_is_leaf(jax.tree.structure(children[0])):
    return children[0]
  return node


def _is_wrapper(node) -> bool:
  return _unwrap(node) is not node


def _strip_wrappers(tree):
  return jax.tree.map(_unwrap, tree, is_leaf=_is_wrapper)


_STATIC_MASK = (
  'Under optax.inject_hyperparams a callable mask is taken for a schedule'
  ' and called with the step count: pass'
  " optax.inject_hyperparams(<optimizer>, static_args=('mask',))(...)."
)


def check_mask(value):
  """Checks a mask and strips wrappers (nnx Variables) from a mask tree.

  Args:
    value: ``None``, a pytree of booleans that is a prefix of the params, or
      a callable that returns one from the params.

  Returns:
    ``value``, with one-child wrapper nodes replaced by their child (also in
    what a callable returns).

  Raises:
    TypeError: if ``value`` is a single boolean (a scalar bool or 0-d bool
      array): that is what a callable mask gives under
      ``optax.inject_hyperparams`` without ``static_args=('mask',)``.
  """
  if value is None:
    return None
  if callable(value):
    return lambda params: _strip_wrappers(value(params))
  value = _strip_wrappers(value)
  dtype = _dtype_of(value)
  if dtype is not None and dtype == np.bool_ and np.ndim(value) == 0:
    raise TypeError(
      f'mask must be a pytree of booleans like the params (or a callable'
      f' returning one), not the single boolean {value!r}; use mask=None to'
      f' decay every leaf. {_STATIC_MASK}'
    )
  return value
