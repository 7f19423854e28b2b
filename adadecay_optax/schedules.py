"""The paper's sigmoid learning-rate annealing."""

import math

import chex
import jax
import jax.numpy as jnp
import optax

from adadecay_optax import _validation

__all__ = ['sigmoid_decay_schedule']


def sigmoid_decay_schedule(
  init_value: float,
  end_value: float,
  transition_steps: int,
  steepness: float = 10.0,
  transition_begin: int = 0,
) -> optax.Schedule:
  r"""Anneals from ``init_value`` to ``end_value`` along a logistic curve.

  With :math:`\tau = \operatorname{clip}((t - t_0) / T, 0, 1)`, :math:`t` the
  step count, :math:`t_0` = ``transition_begin``, :math:`T` =
  ``transition_steps``, :math:`k` = ``steepness`` and
  :math:`\sigma(x) = 1 / (1 + e^{-x})`:

  .. math::

    r(\tau) = \frac{\sigma(k (1/2 - \tau)) - \sigma(-k/2)}
                   {\sigma(k/2) - \sigma(-k/2)},\qquad
    \eta(t) = \eta_\text{end} + (\eta_\text{init} - \eta_\text{end})\, r(\tau).

  :math:`r` falls smoothly and monotonically from 1 at :math:`\tau = 0` to 0
  at :math:`\tau = 1`, fastest at the midpoint; it is :math:`\sigma`
  shifted and rescaled so the ends are hit exactly (they are returned as
  given, not recomputed). Larger :math:`k` gives a sharper drop (k -> 0 tends
  to linear decay, k -> inf to a step at the midpoint).

  The paper anneals "by the sigmoid function" from 0.1 to 0.001 over the
  whole run (100 epochs) but gives no formula; :math:`k = 10` and the
  midpoint at half of training are this project's choice.

  The values are real scalars of any type (Python, NumPy, bfloat16); the step
  arguments integers of any integer type (``int``, ``np.int64``, a 0-d
  integer array).

  Args:
    init_value: the value at steps <= ``transition_begin`` (paper: 0.1).
    end_value: the value at steps >= ``transition_begin + transition_steps``
      (paper: 0.001). May exceed ``init_value`` (then the curve rises).
    transition_steps: T > 0, the length of the transition, in optimizer steps
      (for the paper: epochs × steps per epoch).
    steepness: k > 0, dimensionless.
    transition_begin: t_0 >= 0, the step at which the transition starts.

  Returns:
    An :class:`optax.Schedule` mapping a step count (an integer scalar of any
    integer type, or an int array) to float32.

  Raises:
    TypeError: if ``transition_steps`` or ``transition_begin`` is not an
      integer, or ``init_value``, ``end_value`` or ``steepness`` not a real
      scalar.
    ValueError: if ``transition_steps`` is < 1, ``transition_begin`` < 0,
      ``steepness`` not positive, or a value not finite.
  """
  _validation.check_integer(
    'transition_steps',
    transition_steps,
    minimum=1,
    hint=' It counts optimizer steps: epochs × steps per epoch.',
  )
  _validation.check_integer('transition_begin', transition_begin, minimum=0)
  for name, value, ok, requirement in (
    ('steepness', steepness, lambda v: v > 0, '> 0 and finite'),
    ('init_value', init_value, lambda v: True, 'finite'),
    ('end_value', end_value, lambda v: True, 'finite'),
  ):
    _validation.check_number(name, value, ok, requirement, scalar=True)
  transition_steps, transition_begin = int(transition_steps), int(transition_begin)
  init_value, end_value, steepness = (float(init_value), float(end_value), float(steepness))

  def sigmoid(x):
    return 1 / (1 + math.exp(-x))

  low, span = sigmoid(-steepness / 2), sigmoid(steepness / 2) - sigmoid(-steepness / 2)

  def schedule(count: chex.Numeric) -> chex.Numeric:
    count = jnp.asarray(count)
    if jnp.issubdtype(count.dtype, jnp.integer):  # signed: t - t_0 can't wrap
      count = count.astype(jnp.int32)
    tau = jnp.clip((count - transition_begin) / transition_steps, 0, 1)
    ratio = jnp.clip((jax.nn.sigmoid(steepness * (0.5 - tau)) - low) / span, 0, 1)
    value = end_value + (init_value - end_value) * ratio
    value = jnp.where(tau <= 0, init_value, value)
    return jnp.where(tau >= 1, end_value, value).astype(jnp.float32)

  return schedule
