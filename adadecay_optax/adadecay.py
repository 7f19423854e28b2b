"""Adaptive weight decay (AdaDecay), eqs. 9-13 of Nakamura & Hong (2019).

AdaDecay replaces the constant weight-decay rate :math:`\\lambda` of SGD by a
per-parameter, per-step rate :math:`\\lambda\\,\\theta`. For each pytree leaf
(the paper's "layer" :math:`l`: one kernel, one bias) and gradient
:math:`g = \\nabla_w \\mathcal{L}`:

.. math::

  a &= |g|                                            && \\text{(eq. 10)} \\\\
  \\hat g &= (a - \\operatorname{mean}(a)) / \\operatorname{std}(a)
                                                       && \\text{(eq. 11)} \\\\
  \\theta &= S(\\hat g; \\alpha) = 2 / (1 + e^{-\\alpha \\hat g})
                                                       && \\text{(eq. 12)} \\\\
  u &= g + \\lambda\\, \\theta \\odot w                   && \\text{(eq. 9)}

mean and std (population std, ``ddof=0``) run over all elements of the leaf.
Parameters whose gradient is large relative to the rest of their layer get
more decay (:math:`\\theta \\to 2`), those with small gradients less
(:math:`\\theta \\to 0`); :math:`\\theta = 1` everywhere is ordinary decay.

References:
  Nakamura & Hong, `Adaptive Weight Decay for Deep Neural Networks
  <https://arxiv.org/abs/1907.08931>`_, 2019 (IEEE Access 7, 2019).
"""

from collections.abc import Callable
import functools
import math
import statistics
from typing import Any, NamedTuple, Optional, Union

import chex
import jax
from jax.extend.random import threefry_2x32
import jax.numpy as jnp
import numpy as np
import optax

from adadecay_optax import _validation

__all__ = [
  'AdaDecayState',
  'RandomizedDecayState',
  'adadecay',
  'adadecay_sgd',
  'adadecay_theta',
  'randomized_decay',
  'sgd_with_weight_decay',
]

MaskOrFn = Optional[Union[Any, Callable[[optax.Params], Any]]]


class AdaDecayState(NamedTuple):
  """Step count for a scheduled ``weight_decay``, as optax keeps it."""

  count: chex.Array  # shape=(), dtype=jnp.int32


class RandomizedDecayState(NamedTuple):
  """State of :func:`randomized_decay`."""

  count: chex.Array  # shape=(), dtype=jnp.int32
  rng_key: chex.PRNGKey  # a typed PRNG key, split once per step


# -- eqs. 10-12 ---------------------------------------------------------------


def _stats_dtype(dtype) -> jnp.dtype:
  # Statistics in at least float32, also for bf16/fp16 gradients.
  return jnp.promote_types(dtype, jnp.float32)


def _sigmoid_theta(z: jax.Array, alpha) -> jax.Array:
  """Eq. 12: θ = S(z; α) = 2 / (1 + exp(-α z)), in (0, 2), θ = 1 at z = 0."""
  # This form keeps full relative precision as θ -> 0 (1 + tanh(x/2) would
  # cancel), is exactly 1 at α z = 0, and exp overflow just gives θ = 0.
  return 2 / (1 + jnp.exp(-jnp.asarray(alpha, z.dtype) * z))


def _pow2_reciprocal(x: jax.Array) -> jax.Array:
  """2^-e for x = f·2^e with f in [0.5, 1): a scale that multiplies exactly.

  e is clipped so that 2^-e stays a normal number of x's dtype (CPUs flush
  smaller ones to zero); x <= 0 or not finite gives 1.
  """
  _, e = jnp.frexp(jnp.where((x > 0) & jnp.isfinite(x), x, 1))
  limit = -jnp.finfo(x.dtype).minexp  # 126 for float32, 1022 for float64
  return jnp.ldexp(jnp.ones((), x.dtype), -jnp.clip(e, -limit, limit))


def _adaptive_theta(g: jax.Array, alpha) -> jax.Array:
  """Eqs. 10-12 for one leaf: θ = S(ĝ; α), ĝ = (a - mean(a)) / std(a), a = |g|.

  mean and std (population, ``ddof=0``) run over all elements of the leaf,
  in float32 or the leaf's wider dtype, by the corrected two-pass algorithm
  on shifted data (Chan, Golub & LeVeque 1983):

  1. mean = k + mean(a - k), with k an element of the leaf (the shift);
  2. d = a - mean, and var(a) = mean(d²) - mean(d)²: the second term
     corrects for the rounding error of step 1, as does d - mean(d) in ĝ.

  So θ keeps a relative error below 1e-5 also where the spread of |g| is a
  percent of its mean, or the shift a far outlier (without the correction:
  2e-5 and 2e-4). Step 2 and ĝ work in units of the power of two just above
  the mean (:func:`_pow2_reciprocal`; eq. 11 does not depend on the scale of
  a): no square under- or overflows, 1/std stays finite, and ĝ is bit for
  bit the same when g is scaled by a power of two. No epsilon is added.

  A constant |g| (one element, a scalar, all zeros, equal magnitudes) makes
  every a - k exactly 0, hence var = 0: then ĝ = 0 and θ = 1 exactly. So do
  statistics that are not finite (a NaN or inf in g, or Σ|a - k| beyond the
  dtype's range, 3.4e38 for float32): on such a leaf the update is
  ``optax.add_decayed_weights``' (non-finite where g is). CPUs flush numbers
  below the dtype's least normal one (1.2e-38 for float32) to zero, so such
  |g| count as 0.

  Args:
    g: a gradient leaf of any shape and floating dtype.
    alpha: α, a scalar or an array broadcasting against ``g``.

  Returns:
    θ, shaped like ``g``, in float32 (or the wider dtype of ``g``).

  References:
    Chan, Golub & LeVeque, `Algorithms for computing the sample variance:
    analysis and recommendations
    <https://doi.org/10.1080/00031305.1983.10483115>`_, The American
    Statistician 37(3), 1983: the "corrected two-pass algorithm" and
    "shifted data".
  """
  a = jnp.abs(g.astype(_stats_dtype(g.dtype)))  # eq. 10
  if a.size == 0:
    return jnp.ones_like(a)
  k = a.ravel()[0]  # the shift
  mean = k + jnp.mean(a - k)
  s = _pow2_reciprocal(mean)  # 1/s: the power of two just above the mean
  d = a * s - mean * s  # a - mean, in units of 1/s
  d_mean = jnp.mean(d)  # the rounding error of mean (~1e-7 of std)
  var = jnp.mean(jnp.square(d)) - jnp.square(d_mean)  # var(a)·s²
  adaptive = (var > 0) & jnp.isfinite(var)  # False: θ = 1 on the leaf
  std = jnp.sqrt(jnp.where(adaptive, var, 1))  # std(a)·s
  ghat = jnp.where(adaptive, (d - d_mean) / std, 0)  # eq. 11
  return _sigmoid_theta(ghat, alpha)  # eq. 12


def adadecay_theta(updates: optax.Updates, alpha: chex.Numeric = 4.0) -> Any:
  """The AdaDecay rates θ (eqs. 10-12) for a tree of gradients.

  For each leaf separately, θ = 2 / (1 + exp(-α ĝ)) with
  ĝ = (|g| - mean|g|) / std|g| over that leaf's elements. For diagnostics and
  plots; :func:`adadecay` computes the same θ inside its update.

  Args:
    updates: a pytree of gradients (arrays of any shape, floating dtype).
      ``None`` leaves stay ``None``.
    alpha: the sigmoid's slope α (paper default 4.0); a scalar or an array that
      broadcasts against every leaf.

  Returns:
    A pytree like ``updates`` with θ in (0, 2) per element, in float32 (or
    the leaf's dtype when wider, e.g. float64).

  Raises:
    TypeError: if ``alpha`` is not a real number or array.
    ValueError: if ``alpha`` is not finite.
  """
  _validation.check_alpha(alpha)
  return jax.tree.map(
    lambda g: None if g is None else _adaptive_theta(g, alpha),
    updates,
    is_leaf=lambda x: x is None,
  )


# -- transformations ----------------------------------------------------------


def _add_scaled_weights(updates, thetas, params, weight_decay):
  """u = g + (λ θ) ⊙ w, leafwise, in the updates' dtype.

  θ is cast to the updates' dtype and the sum follows JAX's type promotion as
  ``optax.add_decayed_weights`` does (a Python-float λ stays weak), so θ = 1
  reproduces ``g + λ * w`` bit for bit; the result is cast back to the
  updates' dtype (optax would promote bf16 updates to float32 when λ comes
  from a float32 schedule).
  """

  def one(g, theta, p):
    if g is None:
      return None
    return (g + (weight_decay * theta.astype(g.dtype)) * p).astype(g.dtype)

  return jax.tree.map(one, updates, thetas, params, is_leaf=lambda x: x is None)


def _maybe_masked(tx, mask):
  mask = _validation.check_mask(mask)
  return tx if mask is None else optax.masked(tx, mask)


def adadecay(
  weight_decay: optax.ScalarOrSchedule = 5e-4,
  alpha: chex.Numeric = 4.0,
  mask: MaskOrFn = None,
) -> optax.GradientTransformation:
  r"""Adds AdaDecay's adaptively scaled decay λ·θ⊙w to the updates.

  For each leaf (layer) with incoming update :math:`g` and parameter
  :math:`w`, eqs. 9-12 of the paper:

  .. math::

    \hat g = \frac{|g| - \operatorname{mean}|g|}{\operatorname{std}|g|},\quad
    \theta = \frac{2}{1 + e^{-\alpha \hat g}},\quad
    u = g + \lambda\, \theta \odot w .

  Place it first in the chain, on the raw loss gradient, then momentum and the
  learning rate (see :func:`adadecay_sgd`). θ is computed per element with the
  statistics of its own leaf, in float32 (or wider) whatever the dtype;
  updates come back in the updates' dtype. A leaf whose |g| is constant
  (including one element or a scalar) gets θ = 1 exactly. θ does not change
  when g is multiplied by a positive number or by -1. With ``alpha = 0``
  this is exactly :func:`optax.add_decayed_weights`.

  Args:
    weight_decay: λ, a real number >= 0 (a float, int, bf16/f16 scalar or
      array) or an optax schedule of the step count (then the state keeps the
      count). Paper default 5e-4.
    alpha: α, the slope of the sigmoid in eq. 12, a real number or an array
      that broadcasts against every leaf. Paper default 4.0 (Table I).
      Negative α decays small-gradient parameters more.
    mask: as in :func:`optax.add_decayed_weights`: a pytree of booleans with
      the params' structure (or a prefix of it), or a callable returning one;
      ``False`` leaves pass through unchanged, and their statistics are not
      computed. Single-child wrappers such as Flax NNX's ``nnx.Param`` are
      stripped, so ``jax.tree.map(f, nnx.state(model, nnx.Param))`` works
      as a mask for ``nnx.Optimizer(model, tx, wrt=nnx.Param)``. Under
      :func:`optax.inject_hyperparams`, pass a callable mask with
      ``static_args=('mask',)``.

  Returns:
    An :class:`optax.GradientTransformation`. Its ``update`` needs ``params``.

  Raises:
    TypeError: at construction, if ``weight_decay`` or ``alpha`` is not a
      real number (or array; or, for ``weight_decay``, a schedule), or
      ``mask`` is a single boolean (what a callable mask becomes under
      :func:`optax.inject_hyperparams` without ``static_args=('mask',)``).
    ValueError: at construction, if ``weight_decay`` is negative or not
      finite, or ``alpha`` is not finite; in ``update``, if ``params`` is
      None.

  Examples:
    >>> import jax.numpy as jnp, optax
    >>> from adadecay_optax import adadecay
    >>> tx = optax.chain(adadecay(weight_decay=5e-4, alpha=4.0),
    ...                  optax.sgd(learning_rate=0.1, momentum=0.9))
    >>> params = {'w': jnp.ones((3,))}
    >>> state = tx.init(params)
    >>> grads = {'w': jnp.array([0.1, 0.1, 0.1])}  # constant |g|: θ = 1
    >>> updates, state = tx.update(grads, state, params)
    >>> print(updates['w'])
    [-0.01005 -0.01005 -0.01005]

  References:
    Nakamura & Hong, `Adaptive Weight Decay for Deep Neural Networks
    <https://arxiv.org/abs/1907.08931>`_, 2019.
  """
  _validation.check_weight_decay(weight_decay)
  _validation.check_alpha(alpha)

  def init_fn(params):
    del params
    if callable(weight_decay):
      return AdaDecayState(count=jnp.zeros([], jnp.int32))
    return optax.EmptyState()

  def update_fn(updates, state, params=None):
    _validation.require_params(params)
    if callable(weight_decay):
      rate = weight_decay(state.count)
      state = AdaDecayState(count=optax.safe_increment(state.count))
    else:
      rate = weight_decay
    thetas = adadecay_theta(updates, alpha)
    return _add_scaled_weights(updates, thetas, params, rate), state

  return _maybe_masked(optax.GradientTransformation(init_fn, update_fn), mask)


# -- eq. 13: z ~ N(0, 1) from 16 random bits per element -----------------------

_Z_BITS = 16


@functools.cache
def _normal_quantiles() -> np.ndarray:
  """z_k = Φ⁻¹((k + ½) / 2¹⁶) for k = 0 … 2¹⁶ − 1, float32 (256 KiB).

  The midpoints, in probability, of 2¹⁶ equally likely bins of N(0, 1):
  Φ⁻¹ in float64 (``statistics.NormalDist``, Wichura's AS 241), rounded once
  to float32. Symmetric (z_{2¹⁶−1−k} = −z_k), so the mean is exactly 0; the
  variance is 1 − 2.0e-5 and |z| ≤ 4.325.
  """
  levels = 2**_Z_BITS
  inv_cdf = statistics.NormalDist().inv_cdf
  return np.array([inv_cdf((k + 0.5) / levels) for k in range(levels)], np.float32)


def _standard_normal(key: chex.PRNGKey, shape: tuple[int, ...]) -> jax.Array:
  """float32 z ~ N(0, 1) of ``shape``, quantised to 2¹⁶ levels.

  Each element takes an independent 16-bit uniform k and returns the quantile
  z_k of :func:`_normal_quantiles`. The bits come from Threefry-2x32, the
  generator of jax's default keys, keyed by 64 bits drawn from ``key`` and run
  on the counters 0, 1, …: each 32-bit output word gives two elements, so a
  Threefry block (64 bits) gives four. ``jax.random.normal`` instead spends
  a whole block per element (its partitionable layout keeps 32 of the 64
  bits) and evaluates erf⁻¹ on it: on XLA:CPU, for NN-2's 0.67M parameters
  in 8 vmapped trials, ~150 ms against ~25 ms here, which made a training
  step with the ablation 2× one with AdaDecay (benchmarks/randomized_speed.py).

  Exactness: z_k has probability exactly 2⁻¹⁶, so z's CDF is within
  2⁻¹⁷ ≈ 7.6e-6 of Φ everywhere (a Kolmogorov–Smirnov test would need
  ~10¹⁰ samples to see it); the same bound holds for θ = S(z; α), a monotone
  function of z. Neighbouring levels are 3.8e-5 apart at z = 0, where θ steps
  by α·1.9e-5. The tails beyond |z| = 4.33 (probability 1.5e-5) are folded
  into the outermost levels, where θ is within 6e-8 of 0 or 2 at α = 4.
  """
  n = math.prod(shape)
  threefry_key = jax.random.bits(key, (2,), jnp.uint32)
  words = threefry_2x32(threefry_key, jax.lax.iota(jnp.uint32, -(-n // 2)))
  k = jax.lax.bitcast_convert_type(words, jnp.uint16).reshape(-1)[:n]
  return jnp.asarray(_normal_quantiles())[k.reshape(shape).astype(jnp.int32)]


def _tree_standard_normal(key: chex.PRNGKey, tree: Any) -> Any:
  """:func:`_standard_normal` like every array leaf (own key per leaf)."""
  leaves, treedef = jax.tree.flatten(tree)
  keys = jax.random.split(key, max(len(leaves), 1))
  return jax.tree.unflatten(
    treedef, [_standard_normal(k, jnp.shape(x)) for k, x in zip(keys, leaves)]
  )


def randomized_decay(
  weight_decay: optax.ScalarOrSchedule,
  alpha: chex.Numeric,
  key: Union[chex.PRNGKey, int],
  mask: MaskOrFn = None,
) -> optax.GradientTransformation:
  r"""The paper's randomized-θ ablation (eq. 13): u = g + λ·S(z; α)⊙w.

  Like :func:`adadecay`, but θ ignores the gradient:

  .. math::

    z \sim \mathcal N(0, 1) \text{ per element and step},\quad
    \theta = S(z; \alpha) = \frac{2}{1 + e^{-\alpha z}},\quad
    u = g + \lambda\, \theta \odot w .

  Since ĝ of eq. 11 has mean 0 and std 1 by construction, this keeps the
  first two moments of AdaDecay's ĝ and drops its link to the gradient
  (Table II of the paper).

  z is independent per element, step and key (e.g. per trial), and drawn with
  16 random bits: it takes the 2¹⁶ equally likely values
  :math:`\Phi^{-1}((k + \tfrac12) / 2^{16})`, whose distribution is within
  2⁻¹⁷ ≈ 7.6e-6 of N(0, 1) in Kolmogorov distance (as is θ's of
  S(N(0, 1); α)), and |z| ≤ 4.33. This is ~6× cheaper than
  ``jax.random.normal`` on CPU, where its draws doubled the training step.
  θ is computed in float32 (or the leaf's dtype when wider).

  Args:
    weight_decay: λ, a float >= 0 or an optax schedule of the step count.
    alpha: α of eq. 12, a float or an array broadcasting against every leaf.
    key: a PRNG key (typed, of any implementation, or raw as from
      ``jax.random.PRNGKey``) or an int seed; the three forms give the same
      draws. The state carries it as a typed key and splits it once per step,
      so the draws are reproducible. The random bits are Threefry-2x32
      (:func:`jax.extend.random.threefry_2x32`) whatever the key's
      implementation.
    mask: as in :func:`adadecay`.

  Returns:
    An :class:`optax.GradientTransformation` with
    :class:`RandomizedDecayState`.

  Raises:
    TypeError: as :func:`adadecay`, or if ``key`` is none of the above.
    ValueError: as :func:`adadecay`.

  References:
    Nakamura & Hong, `Adaptive Weight Decay for Deep Neural Networks
    <https://arxiv.org/abs/1907.08931>`_, 2019, eq. 13 and Table II.
  """
  _validation.check_weight_decay(weight_decay)
  _validation.check_alpha(alpha)
  rng_key = _validation.prng_key('key', key)

  def init_fn(params):
    del params
    return RandomizedDecayState(count=jnp.zeros([], jnp.int32), rng_key=rng_key)

  def update_fn(updates, state, params=None):
    _validation.require_params(params)
    rate = weight_decay(state.count) if callable(weight_decay) else weight_decay
    rng_key, sample_key = jax.random.split(state.rng_key)
    z = _tree_standard_normal(sample_key, updates)
    thetas = jax.tree.map(
      lambda x, g: _sigmoid_theta(x.astype(_stats_dtype(g.dtype)), alpha), z, updates
    )
    new_state = RandomizedDecayState(count=optax.safe_increment(state.count), rng_key=rng_key)
    return _add_scaled_weights(updates, thetas, params, rate), new_state

  return _maybe_masked(optax.GradientTransformation(init_fn, update_fn), mask)


def _in_updates_dtype(
  tx: optax.GradientTransformationExtraArgs,
) -> optax.GradientTransformationExtraArgs:
  """``tx`` with its updates cast back to each incoming leaf's dtype.

  optax's scaling promotes, e.g. bf16 updates times a float16 or float32
  learning rate give float32; the state is ``tx``'s, unchanged.
  """

  def update_fn(updates, state, params=None, **extra_args):
    new_updates, state = tx.update(updates, state, params, **extra_args)
    return optax.tree.cast_like(new_updates, updates), state

  return optax.GradientTransformationExtraArgs(tx.init, update_fn)


def adadecay_sgd(
  learning_rate: optax.ScalarOrSchedule,
  momentum: Optional[chex.Numeric] = 0.9,
  nesterov: bool = False,
  weight_decay: optax.ScalarOrSchedule = 5e-4,
  alpha: chex.Numeric = 4.0,
  mask: MaskOrFn = None,
) -> optax.GradientTransformationExtraArgs:
  r"""SGD with momentum and AdaDecay, the optimizer of the paper.

  The chain :func:`adadecay` → :func:`optax.trace` → learning rate, i.e.
  coupled decay as in PyTorch's ``torch.optim.SGD``:

  .. math::

    d_t = g_t + \lambda\,\theta_t \odot w_t,\quad
    m_t = \mu\, m_{t-1} + d_t,\quad
    w_{t+1} = w_t - \eta_t\, m_t
    \;(\text{or } \eta_t (d_t + \mu m_t) \text{ with Nesterov}).

  Args:
    learning_rate: η, a float or optax schedule of the step count; the paper
      anneals it from 0.1 to 0.001 with :func:`sigmoid_decay_schedule`.
    momentum: μ (paper: 0.9); ``None`` or 0 for plain SGD.
    nesterov: whether to use Nesterov momentum.
    weight_decay: λ (paper: 5e-4), float or schedule.
    alpha: α (paper: 4.0).
    mask: which leaves get decay, as in :func:`adadecay`.

  Returns:
    An :class:`optax.GradientTransformationExtraArgs`.

  Raises:
    TypeError, ValueError: as :func:`adadecay`.
  """
  return _in_updates_dtype(
    optax.chain(
      adadecay(weight_decay=weight_decay, alpha=alpha, mask=mask),
      optax.sgd(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov),
    )
  )


def sgd_with_weight_decay(
  learning_rate: optax.ScalarOrSchedule,
  momentum: Optional[chex.Numeric] = 0.9,
  nesterov: bool = False,
  weight_decay: optax.ScalarOrSchedule = 5e-4,
  mask: MaskOrFn = None,
) -> optax.GradientTransformationExtraArgs:
  r"""SGD with momentum and constant (coupled) weight decay: the baseline.

  :func:`adadecay_sgd` with θ = 1:
  :func:`optax.add_decayed_weights` → :func:`optax.trace` → learning rate,
  as PyTorch's ``torch.optim.SGD(..., weight_decay=λ)``.

  Args:
    learning_rate: η, a float or optax schedule of the step count.
    momentum: μ (paper: 0.9); ``None`` or 0 for plain SGD.
    nesterov: whether to use Nesterov momentum.
    weight_decay: λ (paper: 5e-4), float or schedule.
    mask: which leaves get decay, as in :func:`adadecay`.

  Returns:
    An :class:`optax.GradientTransformationExtraArgs`.

  Raises:
    TypeError: if ``weight_decay`` is not a real number or schedule, or
      ``mask`` is a single boolean (see :func:`adadecay`).
    ValueError: if ``weight_decay`` is negative or not finite.
  """
  _validation.check_weight_decay(weight_decay)
  return _in_updates_dtype(
    optax.chain(
      optax.add_decayed_weights(weight_decay=weight_decay, mask=_validation.check_mask(mask)),
      optax.sgd(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov),
    )
  )
