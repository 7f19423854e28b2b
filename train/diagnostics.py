"""Diagnostics of AdaDecay's per-parameter decay rates θ (statistics, samples, plots).

For every pytree leaf (the paper's "layer" :math:`l`: one kernel, one bias)
with gradient :math:`g` and weights :math:`w`, AdaDecay (Nakamura & Hong,
2019, eqs. 10-12) decays each parameter at the rate :math:`\\lambda\\theta`:

.. math::

  \\hat g &= \\frac{|g| - \\operatorname{mean}|g|}{\\operatorname{std}|g|}
          && \\text{(eqs. 10-11, over the leaf's elements)} \\\\
  \\theta &= \\frac{2}{1 + e^{-\\alpha \\hat g}} \\in (0, 2)
          && \\text{(eq. 12)} \\\\
  u &= g + \\lambda\\,\\theta \\odot w
          && \\text{(eq. 9)}

θ comes from :func:`adadecay_optax.adadecay_theta`, the function the
optimizer itself uses, so the diagnostics show exactly the θ of the update
(a leaf with constant |g| gets θ = 1 exactly). Pass the *raw loss gradient*
(what the optimizer chain receives), not the final updates.

The JAX functions are pure, jittable and vmappable: call them inside the
per-trial function that is ``jax.vmap``-ed over trials and every returned
array gains the leading trial axis. The plots run on the host with NumPy
arrays (any shape; trials are pooled) and import matplotlib lazily.

Layer names are the '/'-joined key path of the leaf, e.g.
``'hidden_layers/0/kernel'`` for ``nnx.State`` trees or ``nnx.State``'s pure
dicts (the trailing ``.value`` of an ``nnx.Variable`` is dropped).

Example (inside the jitted, vmapped step)::

  stats = diagnostics.theta_statistics(grads, params, alpha=4.0,
                                       weight_decay=5e-4)
  samples = diagnostics.theta_samples(grads, params, alpha=4.0)

and on the host, with a `train.tensorboard` logger::

  logger.scalars(epoch, tensorboard.trial_scalars(
      diagnostics.flatten_statistics(stats), prefix='adadecay'))
  diagnostics.plot_theta_vs_weight(jax.device_get(samples), 'theta_vs_w.png')
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any, Optional

import jax
import jax.numpy as jnp
from jax.experimental import multihost_utils
import numpy as np

from adadecay_optax import adadecay_theta
from train import files

__all__ = [
  'STATISTICS',
  'flatten_statistics',
  'layer_name',
  'plot_theta_histograms',
  'plot_theta_vs_weight',
  'theta_samples',
  'theta_statistics',
]

# Keys of the per-layer dictionaries returned by `theta_statistics`.
STATISTICS = (
  'theta_mean',  # mean θ
  'theta_std',  # population std of θ (ddof=0)
  'frac_theta_above_1.5',  # fraction of elements with θ > 1.5
  'frac_theta_below_0.5',  # fraction of elements with θ < 0.5
  'decay_rate_mean',  # mean λθ
  'decay_abs_w_mean',  # mean λθ|w|, the decay in parameter units
)


# -- layer names --------------------------------------------------------------


def layer_name(path: Sequence[Any]) -> str:
  """Joins a key path from `jax.tree_util.tree_flatten_with_path` with '/'.

  ``(DictKey('hidden_layers'), DictKey(0), DictKey('kernel'),
  GetAttrKey('value'))`` -> ``'hidden_layers/0/kernel'``: dict keys, sequence
  indices and attribute names are joined; a final ``.value`` attribute (the
  payload of an ``nnx.Variable``) is dropped. The empty path (a single array
  as the whole tree) is named ``'param'``.
  """
  parts = []
  for k in path:
    if isinstance(k, jax.tree_util.DictKey):
      parts.append(str(k.key))
    elif isinstance(k, jax.tree_util.SequenceKey):
      parts.append(str(k.idx))
    elif isinstance(k, jax.tree_util.GetAttrKey):
      parts.append(k.name)
    elif isinstance(k, jax.tree_util.FlattenedIndexKey):
      parts.append(str(k.key))
    else:
      parts.append(str(k))
  if len(parts) > 1 and isinstance(path[-1], jax.tree_util.GetAttrKey) and path[-1].name == 'value':
    parts.pop()
  return '/'.join(parts) or 'param'


def _layers(grads, params) -> list[tuple[str, jax.Array, jax.Array]]:
  """[(name, g, w)] for every non-empty leaf of ``grads``, in tree order.

  ``params`` must have the tree structure of ``grads``; ``None`` leaves of
  ``grads`` (and zero-size leaves) are skipped.
  """
  leaves, treedef = jax.tree_util.tree_flatten_with_path(grads, is_leaf=lambda x: x is None)
  try:
    weights = treedef.flatten_up_to(params)
  except (ValueError, TypeError) as e:
    raise ValueError(
      f'params must have the tree structure of grads (e.g. both the nnx.State of nnx.Param): {e}'
    ) from e
  out, seen = [], set()
  for (path, g), w in zip(leaves, weights):
    if g is None or w is None or jnp.size(g) == 0:
      continue
    if jnp.shape(g) != jnp.shape(w):
      raise ValueError(
        f'grads and params differ in shape at {layer_name(path)}: {jnp.shape(g)} vs {jnp.shape(w)}'
      )
    name = layer_name(path)
    if name in seen:  # e.g. a dict key 'a/b' next to a nested a -> b
      name = jax.tree_util.keystr(path)
    seen.add(name)
    out.append((name, jnp.asarray(g), jnp.asarray(w)))
  return out


def _theta(g: jax.Array, alpha) -> jax.Array:
  """Eq. 12 for one leaf, via the library, as float32 of g's shape."""
  return adadecay_theta(g, alpha).astype(jnp.float32)


# -- statistics ---------------------------------------------------------------


def theta_statistics(
  grads: Any,
  params: Any,
  *,
  alpha: Any,
  weight_decay: Any,
) -> dict[str, dict[str, jax.Array]]:
  r"""Per-layer statistics of θ (eq. 12) and of the effective decay λθ.

  For each leaf with gradient :math:`g` and weights :math:`w` (n elements),
  θ = 2 / (1 + exp(-α ĝ)), ĝ = (|g| - mean|g|) / std|g| over the leaf, and

  * ``theta_mean``: :math:`\frac1n\sum_i \theta_i`;
  * ``theta_std``: :math:`\sqrt{\frac1n\sum_i(\theta_i - \bar\theta)^2}`
    (population std);
  * ``frac_theta_above_1.5``: fraction of elements with θ > 1.5;
  * ``frac_theta_below_0.5``: fraction of elements with θ < 0.5;
  * ``decay_rate_mean``: :math:`\frac1n\sum_i \lambda\theta_i`, the mean
    effective decay rate (λ·theta_mean);
  * ``decay_abs_w_mean``: :math:`\frac1n\sum_i \lambda\theta_i |w_i|`, the
    mean decay term of eq. 9 in parameter units (what the decay adds to
    |u| before momentum and learning rate).

  A leaf with constant |g| has θ = 1 everywhere: mean 1, std 0, fractions 0.
  Pure JAX: jit it, and ``jax.vmap`` it over trials (then every value has
  shape ``(N,)``).

  Args:
    grads: pytree of loss gradients (e.g. an ``nnx.State`` of ``nnx.Param``),
      leaves of any shape and floating dtype; ``None`` and zero-size leaves
      are skipped.
    params: the weights, a pytree with the structure and shapes of ``grads``.
    alpha: α of eq. 12 (paper: 4.0); a Python or traced scalar.
    weight_decay: λ (paper: 5e-4); a Python or traced scalar, e.g. the value
      of a schedule at this step.

  Returns:
    ``{layer_name: {stat: value}}`` with the keys of `STATISTICS`; every
    value is a float32 scalar array (shape ``()``). Layers come in tree
    order of ``grads`` (out of ``jax.jit`` the dict keys come back sorted,
    as JAX flattens dicts).

  Raises:
    ValueError: if ``params`` does not match ``grads``, or ``alpha`` is not
      finite.
  """
  lam = jnp.asarray(weight_decay, jnp.float32)
  out = {}
  for name, g, w in _layers(grads, params):
    theta = _theta(g, alpha)
    absw = jnp.abs(w).astype(jnp.float32)
    out[name] = {
      'theta_mean': jnp.mean(theta),
      'theta_std': jnp.std(theta),
      'frac_theta_above_1.5': jnp.mean((theta > 1.5).astype(jnp.float32)),
      'frac_theta_below_0.5': jnp.mean((theta < 0.5).astype(jnp.float32)),
      'decay_rate_mean': lam * jnp.mean(theta),
      'decay_abs_w_mean': lam * jnp.mean(theta * absw),
    }
  return out


def flatten_statistics(
  stats: Mapping[str, Mapping[str, Any]],
  prefix: str = 'theta',
) -> dict[str, Any]:
  """``{layer: {stat: v}}`` -> ``{f'{prefix}/{layer}/{stat}': v}`` (tag names).

  The values are passed through unchanged (scalars, or ``(N,)`` arrays when
  the statistics were vmapped over trials); see
  `train.tensorboard.trial_scalars` to reduce them over trials.
  """
  head = f'{prefix}/' if prefix else ''
  return {
    f'{head}{layer}/{stat}': v for layer, by_stat in stats.items() for stat, v in by_stat.items()
  }


# -- samples ------------------------------------------------------------------


def theta_samples(
  grads: Any,
  params: Any,
  *,
  alpha: Any,
  max_per_layer: int = 4096,
  key: Optional[jax.Array] = None,
) -> dict[str, tuple[jax.Array, jax.Array]]:
  """Up to ``max_per_layer`` (θ, |w|) pairs per layer, for plots.

  θ as in `theta_statistics` (eq. 12, computed from the *whole* leaf; only
  the output is subsampled). A leaf with n > ``max_per_layer`` = k elements
  contributes the fixed strided subset ``flat[(i * n) // k]``, i = 0..k-1,
  or, when ``key`` is given, k distinct elements drawn uniformly without
  replacement (key folded with the leaf's index, so layers differ). Leaves
  with n <= k contribute all their elements in order. The number of samples
  is static, so this jits; under ``jax.vmap`` over trials each array gets
  the leading trial axis (pass one key per trial).

  Args:
    grads: pytree of loss gradients, as in `theta_statistics`.
    params: the weights, same structure and shapes.
    alpha: α of eq. 12.
    max_per_layer: k >= 1, the most pairs kept per layer (a Python int).
    key: optional JAX PRNG key (typed or raw) for a random subset.

  Returns:
    ``{layer_name: (theta, abs_w)}``, both float32 of shape
    ``(min(n, max_per_layer),)``.
  """
  if int(max_per_layer) < 1:
    raise ValueError(f'max_per_layer must be >= 1, got {max_per_layer!r}')
  k_max = int(max_per_layer)
  out = {}
  for i, (name, g, w) in enumerate(_layers(grads, params)):
    theta = _theta(g, alpha).ravel()
    absw = jnp.abs(w).astype(jnp.float32).ravel()
    n = theta.shape[0]
    if n > k_max:
      if key is None:
        idx = jnp.asarray((np.arange(k_max, dtype=np.int64) * n) // k_max, dtype=jnp.int32)
      else:
        idx = jax.random.choice(jax.random.fold_in(key, i), n, (k_max,), replace=False)
      theta, absw = theta[idx], absw[idx]
    out[name] = (theta, absw)
  return out


# -- plots --------------------------------------------------------------------


def _grid(n_panels: int, panel_size=(4.0, 3.2)):
  """A matplotlib Figure (no pyplot, Agg canvas) with >= n_panels axes."""
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top

  ncols = min(3, max(1, n_panels))
  nrows = max(1, -(-n_panels // ncols))
  fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows))
  FigureCanvasAgg(fig)
  axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
  for ax in axes[n_panels:]:
    ax.set_visible(False)
  return fig, axes


def _as_pair(pair) -> tuple[np.ndarray, np.ndarray]:
  theta, absw = pair
  return (np.asarray(theta, np.float64).ravel(), np.asarray(absw, np.float64).ravel())


def _pick_epochs(epochs: Sequence[int], most: int) -> list[int]:
  epochs = sorted(epochs)
  if len(epochs) <= most:
    return epochs
  idx = np.unique(np.round(np.linspace(0, len(epochs) - 1, most)).astype(int))
  return [epochs[i] for i in idx]


def plot_theta_histograms(
  samples_by_epoch: Mapping[int, Mapping[str, tuple[Any, Any]]],
  path: str | os.PathLike[str],
  *,
  max_epochs: int = 5,
  bins: int = 40,
) -> pathlib.Path:
  """Histograms of θ per layer, a few epochs overlaid; saved atomically.

  Args:
    samples_by_epoch: ``{epoch: {layer: (theta, abs_w)}}``, e.g. the host
      copies of `theta_samples` at several epochs. Arrays of any shape (a
      leading trial axis is pooled); only θ is used.
    path: output file (its suffix picks the format, e.g. ``.png``); the
      folder is created. Written to a temporary file beside it, then
      ``os.replace``-d.
    max_epochs: at most this many epochs are drawn, evenly spaced over the
      sorted epochs and including the first and the last.
    bins: number of equal bins on θ's range [0, 2].

  Returns:
    The path written.
  """
  if not samples_by_epoch:
    raise ValueError('samples_by_epoch is empty')
  from matplotlib import colormaps  # pylint: disable=g-import-not-at-top

  epochs = _pick_epochs(list(samples_by_epoch), max(1, int(max_epochs)))
  layers = list(dict.fromkeys(name for e in epochs for name in samples_by_epoch[e]))
  fig, axes = _grid(len(layers))
  cmap = colormaps['viridis']
  edges = np.linspace(0.0, 2.0, int(bins) + 1)
  for ax, layer in zip(axes, layers):
    for j, epoch in enumerate(epochs):
      if layer not in samples_by_epoch[epoch]:
        continue
      theta, _ = _as_pair(samples_by_epoch[epoch][layer])
      theta = theta[np.isfinite(theta)]
      if theta.size == 0:
        continue
      color = cmap(j / max(1, len(epochs) - 1))
      ax.hist(
        theta,
        bins=edges,
        density=True,
        histtype='step',
        linewidth=1.5,
        color=color,
        label=f'epoch {epoch}',
      )
    ax.axvline(1.0, color='0.6', linewidth=0.8, linestyle='--')
    ax.set_xlim(0.0, 2.0)
    ax.set_title(layer, fontsize='small')
    ax.set_xlabel(r'$\theta$')
    ax.set_ylabel('density')
    ax.legend(fontsize='x-small')
  fig.suptitle(r'AdaDecay $\theta = 2/(1+e^{-\alpha\hat g})$ per layer')
  fig.tight_layout()
  return files.save_figure(fig, path, dpi=110)


def plot_theta_vs_weight(
  samples: Mapping[str, tuple[Any, Any]],
  path: str | os.PathLike[str],
) -> pathlib.Path:
  """θ against |w| per layer (scatter, log x axis); saved atomically.

  Args:
    samples: ``{layer: (theta, abs_w)}`` as from `theta_samples` (host
      arrays of any shape; a trial axis is pooled). Pairs with |w| = 0 or a
      non-finite value cannot be drawn on a log axis and are left out.
    path: output file, as in `plot_theta_histograms`.

  Returns:
    The path written.
  """
  if not samples:
    raise ValueError('samples is empty')
  fig, axes = _grid(len(samples))
  for ax, (layer, pair) in zip(axes, samples.items()):
    theta, absw = _as_pair(pair)
    keep = np.isfinite(theta) & np.isfinite(absw) & (absw > 0)
    ax.scatter(absw[keep], theta[keep], s=3, alpha=0.3, linewidths=0, rasterized=True)
    ax.axhline(1.0, color='0.6', linewidth=0.8, linestyle='--')
    if keep.any():
      ax.set_xscale('log')
    else:  # e.g. biases at initialisation
      ax.text(
        0.5,
        0.5,
        'no pair with |w| > 0',
        transform=ax.transAxes,
        ha='center',
        va='center',
        color='0.4',
      )
    ax.set_ylim(0.0, 2.0)
    ax.set_title(f'{layer} (n={int(keep.sum())})', fontsize='small')
    ax.set_xlabel('|w|')
    ax.set_ylabel(r'$\theta$')
  fig.tight_layout()
  return files.save_figure(fig, path, dpi=110)


# -- during training ---------------------------------------------------------


class ThetaDiagnostics:
  """θ statistics of an AdaDecay run every few epochs (config.theta_every).

  Per layer and epoch, the trial mean of θ's mean and std, the fractions
  with θ > 1.5 and θ < 0.5, and the effective decay λθ, on each trial's
  gradient of a fixed batch of 256 training images; written to
  ``theta_statistics.json`` in the run's folder (and to TensorBoard), with
  (θ, |w|) samples of trial 0 kept for the figures ``theta_histograms.png``
  and ``theta_vs_weight.png``, drawn when the run ends.
  """

  def __init__(
    self, directory: pathlib.Path, *, alpha: float, weight_decay: float, every: int, epochs: int
  ):
    self._dir = directory
    self._every, self._epochs = every, epochs
    self._stats = jax.jit(
      jax.vmap(lambda g, p: theta_statistics(g, p, alpha=alpha, weight_decay=weight_decay))
    )
    self._samples = jax.jit(lambda g, p: theta_samples(g, p, alpha=alpha, max_per_layer=2048))
    path = directory / 'theta_statistics.json'
    self._log = json.loads(path.read_text()) if path.exists() else {}

  def due(self, epochs_done: int) -> bool:
    return bool(self._every) and (
      epochs_done == 1 or epochs_done % self._every == 0 or epochs_done == self._epochs
    )

  def record(self, epochs_done: int, program, carry) -> dict[str, float]:
    """Computes (on every process) and writes (process 0) θ's statistics."""
    grads = program.gradients(carry)
    stats = program.trial_values(self._stats(grads, carry.params))
    means = {
      layer: {k: float(np.mean(v)) for k, v in values.items()} for layer, values in stats.items()
    }
    self._log[str(epochs_done)] = means
    first = multihost_utils.process_allgather(
      jax.tree.map(lambda x: x[0], (grads, carry.params)), tiled=True
    )
    samples = jax.device_get(self._samples(*first))
    arrays = {
      f'{layer}|{i}': np.asarray(a) for layer, pair in samples.items() for i, a in enumerate(pair)
    }
    if jax.process_index() == 0:
      files.write_json_atomic(self._dir / 'theta_statistics.json', self._log)
      files.write_atomic(
        self._dir / f'theta_samples_{epochs_done}.npz', lambda f: np.savez(f, **arrays)
      )
    return flatten_statistics(stats)

  def plot(self):
    if jax.process_index():
      return
    by_epoch = {}
    for path in sorted(self._dir.glob('theta_samples_*.npz')):
      epoch = int(path.stem.rsplit('_', 1)[1])
      with np.load(path, allow_pickle=False) as f:
        layers = sorted({k.rsplit('|', 1)[0] for k in f.files})
        by_epoch[epoch] = {l: (f[f'{l}|0'], f[f'{l}|1']) for l in layers}
    if by_epoch:
      plot_theta_histograms(by_epoch, self._dir / 'theta_histograms.png')
      plot_theta_vs_weight(by_epoch[max(by_epoch)], self._dir / 'theta_vs_weight.png')
