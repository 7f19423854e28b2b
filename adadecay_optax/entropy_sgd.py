r"""Entropy-SGD of Chaudhari et al. (ICLR 2017) for optax.

A baseline of the AdaDecay paper, transcribed from the authors' PyTorch
optimizer ``EntropySGD`` (`ucla-vision/entropy-sgd, python/optim.py
<https://github.com/ucla-vision/entropy-sgd>`_). Each outer step runs ``L``
steps of stochastic gradient Langevin dynamics (SGLD) from the current
parameters and moves the parameters towards the running average of that
chain. See :func:`entropy_sgd` for the update equations and the calling
convention (the gradient function is passed to ``update`` as ``grad_fn``).

References:
  Chaudhari, Choromanska, Soatto, LeCun, Baldassi, Borgs, Chayes, Sagun &
  Zecchina, `Entropy-SGD: Biasing Gradient Descent Into Wide Valleys
  <https://arxiv.org/abs/1611.01838>`_, ICLR 2017.
"""

from collections.abc import Callable
from typing import Any, NamedTuple, Optional

import chex
import jax
import jax.numpy as jnp
import optax

from adadecay_optax import _validation

__all__ = ['EntropySGDState', 'entropy_sgd']

# grad_fn(params, langevin_step) -> grads, with langevin_step an int32 scalar.
GradFn = Callable[[optax.Params, jax.Array], optax.Updates]


class EntropySGDState(NamedTuple):
  """State of :func:`entropy_sgd`."""

  count: chex.Array  # shape=(), dtype=jnp.int32; outer steps taken, t
  momentum: optax.Updates  # outer buffer, state['mdw'], params' dtypes
  key: chex.PRNGKey  # typed PRNG key; split once per outer step


# -- the transformation -------------------------------------------------------


def _langevin_noise(noise_key: jax.Array, step: jax.Array, like: Any) -> Any:
  """Standard normal draws ξ for Langevin step ``step``, shaped like ``like``.

  ``noise_key`` is the second half of ``jax.random.split(state.key)`` taken at
  the start of an outer step; step ``i`` uses ``fold_in(noise_key, i)`` and
  one subkey per leaf (:func:`optax.tree.random_like`), in ``like``'s dtypes.
  """
  return optax.tree.random_like(jax.random.fold_in(noise_key, step), like, jax.random.normal)


def entropy_sgd(  # pylint: disable=invalid-name
  learning_rate: optax.ScalarOrSchedule = 0.01,
  momentum: chex.Numeric = 0.0,
  damp: chex.Numeric = 0.0,
  weight_decay: chex.Numeric = 0.0,
  nesterov: bool = True,
  L: int = 5,
  eps: chex.Numeric = 1e-4,
  g0: chex.Numeric = 1e-2,
  g1: chex.Numeric = 0.0,
  langevin_learning_rate: chex.Numeric = 0.1,
  langevin_beta1: chex.Numeric = 0.75,
  key: jax.Array | int = 0,
) -> optax.GradientTransformationExtraArgs:
  r"""Entropy-SGD, as the authors' PyTorch ``EntropySGD`` (optim.py) does it.

  ``update(updates, state, params, *, grad_fn)`` needs the gradient function
  ``grad_fn(params, langevin_step) -> grads``, called at the inner (Langevin)
  variable :math:`x'` once per Langevin step with ``langevin_step`` the int32
  scalar index :math:`k = 0, \dots, L-1`. optim.py's closure draws a new
  minibatch for every Langevin step; index your minibatches with
  ``langevin_step`` to do the same inside one jitted step (e.g. slice a
  stacked array of ``L`` batches), or ignore it to use a single batch.
  ``updates`` is the gradient at the current parameters (optim.py's first
  ``closure()`` call, on its own minibatch); with ``L >= 1`` it only
  initialises the outer momentum buffer on the first step (see below).

  With outer learning rate :math:`\eta_t` (``learning_rate``), momentum
  :math:`m`, dampening :math:`\delta` (``damp``), weight decay
  :math:`\lambda`, noise :math:`\varepsilon` (``eps``), Langevin step size
  :math:`\eta'` (``langevin_learning_rate``) and averaging weight
  :math:`\beta` (``langevin_beta1``), outer step :math:`t = 0, 1, \dots` from
  parameters :math:`x_t` runs, with scope
  :math:`\gamma_t = g_0 (1 + g_1)^t`,
  :math:`x'_0 = \mu_0 = x_t`, :math:`v'_0 = 0` and
  :math:`\xi_k \sim \mathcal N(0, I)`:

  .. math::

    h_k &= \nabla f_k(x'_k) + \lambda\, x'_k \\
    v'_{k+1} &= m\, v'_k + (1 - \delta)\, h_k \\
    \hat h_k &= h_k + m\, v'_{k+1} \ \text{(nesterov)}
      \quad\text{or}\quad v'_{k+1} \\
    s_k &= \hat h_k + \gamma_t\,(x'_k - x_t)
           + \frac{\varepsilon}{\sqrt{\eta'/2}}\, \xi_k \\
    x'_{k+1} &= x'_k - \eta'\, s_k \\
    \mu_{k+1} &= \beta\, \mu_k + (1 - \beta)\, x'_{k+1}

  for :math:`k = 0, \dots, L-1`, then the outer step

  .. math::

    d_t &= (x_t - \mu_L) + \lambda\, x_t \\
    v_{t+1} &= m\, v_t + (1 - \delta)\, d_t \\
    x_{t+1} &= x_t - \eta_t\,(d_t + m\, v_{t+1}) \ \text{(nesterov)}
      \quad\text{or}\quad x_t - \eta_t\, v_{t+1} .

  Quirks of optim.py that are reproduced on purpose:

  * With ``momentum == 0`` the momentum lines are skipped
    (:math:`\hat h_k = h_k`, :math:`x_{t+1} = x_t - \eta_t d_t`), whatever
    ``damp`` and ``nesterov`` are; weight decay is added only when
    ``weight_decay > 0``.
  * Without nesterov, optim.py's ``dw = mdw`` aliases the Langevin buffer,
    so the coupling and noise terms land in it too:
    :math:`v'_{k+1} \leftarrow s_k`.
  * The outer buffer starts as the first gradient, :math:`v_0 =` ``updates``
    of the first call (optim.py deep-copies ``w.grad`` at initialisation),
    not as zeros.
  * The outer step is :math:`x - \eta (x - \mu)`; the paper's Algorithm 1
    writes it as :math:`x - \eta\gamma (x - \mu)`, so ``learning_rate``
    here plays the part of the paper's :math:`\eta\gamma`. The noise added
    to :math:`x'` per Langevin step is the code's
    :math:`\eta' \varepsilon / \sqrt{\eta'/2}\,\xi_k
    = \varepsilon\sqrt{2\eta'}\,\xi_k`.

  One deliberate difference: optim.py sets ``state['t'] = 0`` and never
  increments it, so its ``g1`` has no effect; here :math:`t` counts outer
  steps, giving the scoping :math:`\gamma (1 + \text{scoping})^t` described
  in the authors' README (:math:`t` = number of parameter updates; their Lua
  code uses the same form). With the default ``g1 = 0`` the two agree.

  Sources of the defaults: ``learning_rate=0.01``, ``momentum=0``,
  ``damp=0``, ``weight_decay=0``, ``nesterov=True``, ``eps=1e-4``,
  ``g0=1e-2``, ``g1=0`` are optim.py's config defaults;
  ``langevin_learning_rate=0.1`` and ``langevin_beta1=0.75`` are hard-coded
  there (``state['langevin']``); ``L=5`` is the number of Langevin steps used
  for Entropy-SGD in the AdaDecay paper (optim.py's default ``L=0`` means
  plain SGD, not supported here). Not defaults, for comparison: the authors'
  README runs MNIST with ``L=20, gamma (g0)=1e-4, scoping (g1)=1e-3,
  noise (eps)=1e-4`` and CIFAR-10 with ``L=20, gamma=0.03``; their
  python/train.py fixes ``momentum=0.9, nesterov=True`` and defaults to
  ``lr=0.1``.

  Each outer step costs ``L`` gradient evaluations (plus the caller's one).
  The Langevin chain is a :func:`jax.lax.fori_loop` and runs in float32 (or
  the params' widest float dtype if wider); ``grad_fn`` receives :math:`x'`
  in the params' own dtypes, and updates and the buffer come back in them.
  Randomness: the state's key is split once per outer step into the next key
  and a noise key; Langevin step :math:`k` draws :math:`\xi_k` from
  ``jax.random.fold_in(noise_key, k)``, one subkey per leaf. Under
  :func:`optax.masked`, ``grad_fn`` receives (and must return) the masked
  tree, with :class:`optax.MaskedNode` in place of the other leaves. Numeric
  hyper-parameters (``L`` included) enter only as arrays or loop bounds, so
  they can be injected with :func:`optax.inject_hyperparams`; ``nesterov``
  is a bool and stays static.

  Args:
    learning_rate: :math:`\eta_t`, outer step size, a float >= 0 or an optax
      schedule of the outer step count (optim.py default 0.01).
    momentum: :math:`m \geq 0`, used in both loops (default 0).
    damp: :math:`\delta \in [0, 1]`, momentum dampening (default 0).
    weight_decay: :math:`\lambda \geq 0`, L2 penalty added to the gradients
      of both loops (default 0).
    nesterov: Nesterov momentum when ``momentum > 0`` (default True).
    L: number of Langevin steps per outer step, an integer >= 1 (default 5,
      as in the AdaDecay paper).
    eps: :math:`\varepsilon \geq 0`, SGLD noise scale ("temperature",
      default 1e-4); 0 makes the chain deterministic.
    g0: :math:`g_0 \geq 0`, initial scope :math:`\gamma` (default 1e-2).
    g1: :math:`g_1 > -1`, scoping rate: :math:`\gamma_t = g_0 (1 + g_1)^t`
      (default 0).
    langevin_learning_rate: :math:`\eta' > 0`, SGLD step size (0.1 in
      optim.py).
    langevin_beta1: :math:`\beta \in [0, 1)`, weight of the old average in
      :math:`\mu` (0.75 in optim.py).
    key: a PRNG key (typed, or raw as from ``jax.random.PRNGKey``) or an
      integer seed for the Langevin noise (default 0).

  Returns:
    An :class:`optax.GradientTransformationExtraArgs` with state
    :class:`EntropySGDState`; its ``update`` needs ``params`` and the keyword
    argument ``grad_fn``.

  Raises:
    TypeError: at construction, if ``L`` is not an integer (of any integer
      type), ``nesterov`` not a bool, ``key`` not a key or seed, or another
      hyper-parameter not a real number or array (a float, an int, a bf16/f16
      scalar; ``learning_rate`` may also be a schedule).
    ValueError: at construction, if ``L`` is < 1,
      ``learning_rate`` (when not a schedule), ``momentum``, ``weight_decay``,
      ``eps`` or ``g0`` is negative, ``damp`` is outside [0, 1], ``g1 <= -1``,
      ``langevin_learning_rate <= 0``, ``langevin_beta1`` is outside [0, 1),
      or any of them is not finite; in ``update``, if ``params`` or
      ``grad_fn`` is missing.

  Examples:
    >>> import jax, jax.numpy as jnp, optax
    >>> from adadecay_optax import entropy_sgd
    >>> def loss(params, batch):
    ...   return jnp.mean((batch[:, 0] * params - batch[:, 1]) ** 2)
    >>> batches = jnp.ones((6, 8, 2))  # batch 0 for `updates`, 1..5 for SGLD
    >>> tx = entropy_sgd(learning_rate=1.0, momentum=0.9, L=5)
    >>> params = jnp.array(0.0)
    >>> state = tx.init(params)
    >>> @jax.jit
    ... def step(params, state):
    ...   grads = jax.grad(loss)(params, batches[0])
    ...   grad_fn = lambda p, k: jax.grad(loss)(p, batches[k + 1])
    ...   updates, state = tx.update(grads, state, params, grad_fn=grad_fn)
    ...   return optax.apply_updates(params, updates), state
    >>> params, state = step(params, state)

  References:
    Chaudhari, Choromanska, Soatto, LeCun, Baldassi, Borgs, Chayes, Sagun &
    Zecchina, `Entropy-SGD: Biasing Gradient Descent Into Wide Valleys
    <https://arxiv.org/abs/1611.01838>`_, ICLR 2017; code:
    https://github.com/ucla-vision/entropy-sgd (python/optim.py).

    Nakamura & Hong, `Adaptive Weight Decay for Deep Neural Networks
    <https://arxiv.org/abs/1907.08931>`_, 2019 (the ``L=5`` default).
  """
  check = _validation.check_number
  check('learning_rate', learning_rate, lambda v: v >= 0, 'a float >= 0', schedule=True)
  check('momentum', momentum, lambda v: v >= 0, 'a float >= 0')
  check('damp', damp, lambda v: (v >= 0) & (v <= 1), 'in [0, 1]')
  check('weight_decay', weight_decay, lambda v: v >= 0, 'a float >= 0')
  _validation.check_integer(
    'L (the number of Langevin steps)',
    L,
    minimum=1,
    hint=' (optim.py treats L=0 as plain SGD with momentum; use optax.sgd.)',
  )
  # fori_loop wants bounds of one type: np.uint8(3) becomes 3 (an injected L
  # is an int32 tracer under jit).
  if not isinstance(L, jax.core.Tracer):
    L = int(L)  # pylint: disable=invalid-name
  check('eps', eps, lambda v: v >= 0, 'a float >= 0')
  check('g0', g0, lambda v: v >= 0, 'a float >= 0')
  check('g1', g1, lambda v: v > -1, 'a float > -1')
  check('langevin_learning_rate', langevin_learning_rate, lambda v: v > 0, 'a float > 0')
  check('langevin_beta1', langevin_beta1, lambda v: (v >= 0) & (v < 1), 'in [0, 1)')
  _validation.check_bool('nesterov', nesterov)
  rng_key = _validation.prng_key('key', key)

  def init_fn(params):
    return EntropySGDState(
      count=jnp.zeros([], jnp.int32),
      momentum=optax.tree.zeros_like(params),
      key=rng_key,
    )

  def update_fn(updates, state, params=None, *, grad_fn: Optional[GradFn] = None, **extra_args):
    del extra_args
    _validation.require_params(params)
    if grad_fn is None:
      raise ValueError(
        'entropy_sgd needs the gradient function: call'
        ' update(updates, state, params, grad_fn=grad_fn) with'
        ' grad_fn(params, langevin_step) -> grads.'
      )
    cdt = _validation.compute_dtype(params)
    lr = learning_rate(state.count) if callable(learning_rate) else (learning_rate)
    lr, mom, dmp, wd, noise, g_0, g_1, llr, beta1 = (
      jnp.asarray(v, cdt)
      for v in (
        lr,
        momentum,
        damp,
        weight_decay,
        eps,
        g0,
        g1,
        langevin_learning_rate,
        langevin_beta1,
      )
    )
    use_mom = mom > 0  # optim.py: `if mom > 0:`
    wd = jnp.where(wd > 0, wd, jnp.zeros_like(wd))  # `if wd > 0:`
    gamma = g_0 * (1 + g_1) ** state.count.astype(cdt)
    noise_scale = noise / jnp.sqrt(0.5 * llr)
    next_key, noise_key = jax.random.split(state.key)

    tmap = jax.tree.map
    x = tmap(lambda p: p.astype(cdt), params)  # optim.py's wc

    def momentum_step(buf, grad):
      """optim.py's `mdw.mul_(mom).add_(1-damp, dw)` and the nesterov part."""
      new_buf = jnp.where(use_mom, mom * buf + (1 - dmp) * grad, buf)
      if nesterov:
        direction = jnp.where(use_mom, grad + mom * new_buf, grad)
      else:
        direction = jnp.where(use_mom, new_buf, grad)
      return new_buf, direction

    def langevin_step(k, carry):
      xp, mu, buf = carry
      step = jnp.asarray(k, jnp.int32)
      xi = _langevin_noise(noise_key, step, xp)
      grads = grad_fn(tmap(lambda a, p: a.astype(p.dtype), xp, params), step)

      def one(g, xp_, mu_, buf_, x_, xi_):
        h = g.astype(cdt) + wd * xp_
        new_buf, direction = momentum_step(buf_, h)
        s = direction - gamma * (x_ - xp_) + noise_scale * xi_
        if not nesterov:  # dw aliases mdw: coupling and noise land in mdw too
          new_buf = jnp.where(use_mom, s, new_buf)
        new_xp = xp_ - llr * s
        new_mu = beta1 * mu_ + (1 - beta1) * new_xp
        return new_xp, new_mu, new_buf

      out = tmap(one, grads, xp, mu, buf, x, xi)
      return tuple(jax.tree.transpose(jax.tree.structure(x), jax.tree.structure((0, 0, 0)), out))

    zeros = tmap(jnp.zeros_like, x)
    _, mu, _ = jax.lax.fori_loop(0, L, langevin_step, (x, x, zeros))

    first = state.count == 0

    def outer(p, x_, mu_, g, buf):
      d = (x_ - mu_) + wd * x_  # w.grad = wc - mw; then `if wd > 0`
      buf = jnp.where(first, g.astype(cdt), buf.astype(cdt))
      new_buf, direction = momentum_step(buf, d)
      return (-lr * direction).astype(p.dtype), new_buf.astype(p.dtype)

    out = tmap(outer, params, x, mu, updates, state.momentum)
    new_updates, new_momentum = jax.tree.transpose(
      jax.tree.structure(params), jax.tree.structure((0, 0)), out
    )
    return new_updates, EntropySGDState(
      count=optax.safe_increment(state.count),
      momentum=new_momentum,
      key=next_key,
    )

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)
