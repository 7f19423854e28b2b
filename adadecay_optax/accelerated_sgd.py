r"""Accelerated SGD (AccSGD) of Kidambi et al. (ICLR 2018) for optax.

A baseline of the AdaDecay paper, transcribed from the authors' PyTorch
optimizer ``AccSGD`` (`rahulkidambi/AccSGD, AccSGD.py
<https://github.com/rahulkidambi/AccSGD>`_), which implements the accelerated
stochastic gradient method of Jain, Kakade, Kidambi, Netrapalli & Sidford
(2017). See :func:`accelerated_sgd` for the update equations.

References:
  Kidambi, Netrapalli, Jain & Kakade, `On the insufficiency of existing
  momentum schemes for Stochastic Optimization
  <https://arxiv.org/abs/1803.05591>`_, ICLR 2018.

  Jain, Kakade, Kidambi, Netrapalli & Sidford, `Accelerating Stochastic
  Gradient Descent for Least Squares Regression
  <https://arxiv.org/abs/1704.08227>`_, COLT 2018.
"""

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from adadecay_optax import _validation

__all__ = ['AcceleratedSGDState', 'accelerated_sgd']


class AcceleratedSGDState(NamedTuple):
  """State of :func:`accelerated_sgd`."""

  count: chex.Array  # shape=(), dtype=jnp.int32; steps taken (for schedules)
  momentum: optax.Updates  # AccSGD.py's 'momentum_buffer' w̄, params' dtypes


def accelerated_sgd(
  learning_rate: optax.ScalarOrSchedule,
  kappa: chex.Numeric = 1000.0,
  xi: chex.Numeric = 10.0,
  small_const: chex.Numeric = 0.7,
  weight_decay: chex.Numeric = 0.0,
) -> optax.GradientTransformation:
  r"""Accelerated SGD (AccSGD), as the authors' PyTorch ``AccSGD.py`` does it.

  With learning rate :math:`\delta` (``learning_rate``), long-step parameter
  :math:`\kappa` (``kappa``), statistical-advantage parameter :math:`\xi`
  (``xi``), constant :math:`c` (``small_const``) and weight decay
  :math:`\lambda`, the coefficients are those of ``AccSGD.step``:

  .. math::

    \bar\delta = \frac{\delta\,\kappa}{c},\qquad
    \alpha = 1 - \frac{c^2\,\xi}{\kappa},\qquad
    \beta = 1 - \alpha,\qquad
    \zeta = \frac{c}{c + \beta},

  and one step on parameters :math:`w_t` with gradient :math:`g_t` is

  .. math::

    d_t &= g_t + \lambda\, w_t \\
    \bar w_{t+1} &= \beta\Bigl(\bigl(\tfrac{1}{\beta} - 1\bigr)\bar w_t
                     - \bar\delta\, d_t + w_t\Bigr)
                  = \alpha\,\bar w_t + \beta\,(w_t - \bar\delta\, d_t) \\
    w_{t+1} &= \zeta\,(w_t - \delta\, d_t) + (1 - \zeta)\,\bar w_{t+1},

  where the buffer starts at :math:`\bar w_0 = w_0` (``AccSGD.py`` copies the
  parameters into ``momentum_buffer`` on the first step; here ``init`` copies
  the ``params`` it is given). :math:`w_t - \delta d_t` is the short (SGD)
  step, :math:`w_t - \bar\delta d_t` the long step that feeds the running
  average :math:`\bar w`. The returned update is
  :math:`w_{t+1} - w_t = -\zeta\delta\, d_t + (1-\zeta)(\bar w_{t+1} - w_t)`.
  Weight decay is coupled L2 as in ``AccSGD.py`` (added to the gradient,
  which then enters both steps); the default 0 switches it off.

  All defaults are those of ``AccSGD.__init__`` (``kappa=1000.0``,
  ``xi=10.0``, ``smallConst=0.7``, ``weight_decay=0``); as there, the learning
  rate has no default (the README's example is ``lr=0.1, kappa=1000.0,
  xi=10.0``). The authors' rough guidelines (repository README): as networks
  grow deeper (specifically ResNets and beyond), :math:`\kappa = 10^4` or
  more helps, while for shallow networks a typical :math:`\kappa` is
  :math:`10^3` or even :math:`10^2`; when the batch size grows by a factor
  :math:`k`, increase :math:`\xi` by :math:`\sqrt{k}`. The README calls
  :math:`\kappa` the "long step" parameter and :math:`\xi` the "statistical
  advantage" parameter.

  Arithmetic is done in float32 (or the params' widest float dtype if wider,
  e.g. float64); updates and the buffer come back in each parameter's dtype.
  Hyper-parameters enter only as arrays, so any of them can be injected with
  :func:`optax.inject_hyperparams`, which casts them to the params' dtype:
  with bfloat16 params they are rounded to bfloat16 (``small_const=0.7``
  becomes 0.6992); pass ``hyperparam_dtype=jnp.float32`` to keep them exact.

  Args:
    learning_rate: :math:`\delta`, a float >= 0 or an optax schedule of the
      step count (``AccSGD.py`` reads ``group['lr']`` each step, so PyTorch
      schedulers apply too). Required, as in ``AccSGD.py``.
    kappa: :math:`\kappa > 0`, ratio of long to short step (default 1000.0).
    xi: :math:`\xi > 0`, the statistical advantage parameter (default 10.0).
    small_const: :math:`c \in (0, 1]` (``smallConst``, "any value <= 1",
      default 0.7).
    weight_decay: :math:`\lambda \geq 0`, L2 penalty added to the gradient
      (default 0.0).

  Returns:
    An :class:`optax.GradientTransformation` with state
    :class:`AcceleratedSGDState`. Its ``init`` and ``update`` need
    ``params``.

  Raises:
    TypeError: at construction, if a hyper-parameter is not a real number or
      array (a float, an int, a bf16/f16 scalar; ``learning_rate`` may also
      be a schedule).
    ValueError: at construction, if ``learning_rate`` (when not a schedule) or
      ``weight_decay`` is negative, ``kappa`` or ``xi`` is not positive,
      ``small_const`` is outside (0, 1], ``small_const**2 * xi > kappa``
      (then :math:`\alpha < 0`), or any of them is not finite; in ``update``,
      if ``params`` is None.

  Examples:
    >>> import jax.numpy as jnp, optax
    >>> from adadecay_optax import accelerated_sgd
    >>> tx = accelerated_sgd(learning_rate=0.1, kappa=1000.0, xi=10.0)
    >>> params = jnp.array([1.0, -2.0])
    >>> state = tx.init(params)
    >>> updates, state = tx.update(2 * params, state, params)
    >>> params = optax.apply_updates(params, updates)

  References:
    Kidambi, Netrapalli, Jain & Kakade, `On the insufficiency of existing
    momentum schemes for Stochastic Optimization
    <https://arxiv.org/abs/1803.05591>`_, ICLR 2018; code:
    https://github.com/rahulkidambi/AccSGD

    Jain, Kakade, Kidambi, Netrapalli & Sidford, `Accelerating Stochastic
    Gradient Descent for Least Squares Regression
    <https://arxiv.org/abs/1704.08227>`_, COLT 2018.
  """
  check = _validation.check_number
  check('learning_rate', learning_rate, lambda v: v >= 0, 'a float >= 0', schedule=True)
  check('kappa', kappa, lambda v: v > 0, 'a float > 0', ' (AccSGD.py default 1000.0)')
  check('xi', xi, lambda v: v > 0, 'a float > 0', ' (AccSGD.py default 10.0)')
  check(
    'small_const',
    small_const,
    lambda v: (v > 0) & (v <= 1),
    'in (0, 1]',
    ' (AccSGD.py default 0.7)',
  )
  check('weight_decay', weight_decay, lambda v: v >= 0, 'a float >= 0', ' (0.0 switches it off)')
  k, x, c = (_validation.concrete(v) for v in (kappa, xi, small_const))
  if k is not None and x is not None and c is not None and np.any(c * c * x > k):
    raise ValueError(
      'kappa and xi must satisfy small_const**2 * xi <= kappa (else'
      f' Alpha = 1 - small_const**2 * xi / kappa < 0), got kappa={kappa!r},'
      f' xi={xi!r}, small_const={small_const!r}.'
    )

  def init_fn(params):
    return AcceleratedSGDState(
      count=jnp.zeros([], jnp.int32),
      # AccSGD.py: momentum_buffer = copy.deepcopy(p.data) on the first step.
      momentum=jax.tree.map(jnp.array, params),
    )

  def update_fn(updates, state, params=None):
    _validation.require_params(params)
    cdt = _validation.compute_dtype(params)
    lr = learning_rate(state.count) if callable(learning_rate) else (learning_rate)
    lr, kap, x_i, c, wd = (jnp.asarray(v, cdt) for v in (lr, kappa, xi, small_const, weight_decay))
    # Coefficients, line by line as in AccSGD.step.
    large_lr = (lr * kap) / c
    alpha = 1.0 - (c * c * x_i) / kap
    beta = 1.0 - alpha
    zeta = c / (c + beta)

    def one(g, p, buf):
      p_ = p.astype(cdt)
      d = g.astype(cdt) + wd * p_  # `if weight_decay != 0`: adding 0 is exact
      new_buf = alpha * buf.astype(cdt) + beta * (p_ - large_lr * d)
      update = -(zeta * lr) * d + (1.0 - zeta) * (new_buf - p_)
      return update.astype(p.dtype), new_buf.astype(buf.dtype)

    out = jax.tree.map(one, updates, params, state.momentum)
    treedef = jax.tree.structure(updates)
    new_updates, new_momentum = jax.tree.transpose(treedef, jax.tree.structure((0, 0)), out)
    return new_updates, AcceleratedSGDState(
      count=optax.safe_increment(state.count), momentum=new_momentum
    )

  return optax.GradientTransformation(init_fn, update_fn)
