"""The paper's optimizers by name, with the paper's settings.

Every optimizer is built for one trial from a :class:`OptimizerSpec` (the
name plus the hyper-parameters an experiment may vary). Settings follow
Section IV of Nakamura & Hong (2019):

* all: coupled weight decay λ = 5e-4 on every parameter (as PyTorch's
  ``weight_decay`` argument, which the paper's baselines use: kernels, biases
  and BatchNorm scale/bias alike), batch 128;
* ``sgd`` (constant decay), ``adadecay`` (α = 4), ``randomized`` (eq. 13):
  momentum 0.9, learning rate annealed by a sigmoid from 0.1 to 0.001 over the
  whole run (:func:`adadecay_optax.sigmoid_decay_schedule`);
* ``rmsprop`` (decay 0.95) and ``adam`` (β = 0.9, 0.999): constant learning
  rate 1e-3 for the shallow (28×28) models and 1e-4 for the deep (CIFAR)
  ones; ε = 1e-8 added outside the square root, as PyTorch does.

* ``accelerated_sgd`` (Kidambi et al., 2018): the authors' README setting
  κ = 1000, ξ = 10, c = 0.7 (κ = 1e4 for the deep models, following its
  guidance for residual networks), with the SGD family's annealed learning
  rate (0.1 → 0.001) and coupled decay λ.

* ``entropy_sgd`` (Chaudhari et al., 2017): L = 5 Langevin steps as in the
  paper, each on a fresh minibatch (so an update consumes 6 minibatches and
  an epoch has 6 times fewer updates); momentum 0.9 with Nesterov and
  learning rate 0.1 from the authors' python/train.py (annealed like the
  SGD family), scope g0 = 1e-4, g1 = 1e-3 and noise 1e-4 from their README
  (MNIST); coupled decay λ.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable

import jax
import optax

import adadecay_optax as ad

#: The paper's settings (Section IV).
WEIGHT_DECAY = 5e-4
ALPHA = 4.0
MOMENTUM = 0.9
SGD_LR_INIT, SGD_LR_END = 0.1, 0.001
ADAPTIVE_LR = {'shallow': 1e-3, 'deep': 1e-4}
RMSPROP_DECAY = 0.95
ADAM_BETAS = (0.9, 0.999)
ACCSGD_KAPPA = {'shallow': 1000.0, 'deep': 10000.0}
ENTROPY_SGD_L = 5


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
  """An optimizer name and the hyper-parameters an experiment varies.

  Attributes:
    name: one of :data:`OPTIMIZERS`.
    weight_decay: λ (paper: 5e-4).
    alpha: α of AdaDecay / the randomized ablation (paper: 4).
    learning_rate: overrides the paper's learning rate (the initial value of
      the sigmoid annealing for the SGD family); None keeps the paper's.
  """

  name: str
  weight_decay: float = WEIGHT_DECAY
  alpha: float = ALPHA
  learning_rate: float | None = None


Builder = Callable[..., optax.GradientTransformation]


def _sgd_schedule(spec, total_steps):
  init = spec.learning_rate if spec.learning_rate is not None else SGD_LR_INIT
  end = SGD_LR_END * init / SGD_LR_INIT  # keep the paper's 100x range
  return ad.sigmoid_decay_schedule(init, end, transition_steps=total_steps)


def _adaptive_lr(spec, depth):
  return spec.learning_rate if spec.learning_rate is not None else ADAPTIVE_LR[depth]


def _sgd(spec, lr, *, depth, key):
  del depth, key
  return ad.sgd_with_weight_decay(lr, momentum=MOMENTUM, weight_decay=spec.weight_decay)


def _adadecay(spec, lr, *, depth, key):
  del depth, key
  return ad.adadecay_sgd(lr, momentum=MOMENTUM, weight_decay=spec.weight_decay, alpha=spec.alpha)


def _randomized(spec, lr, *, depth, key):
  del depth
  return optax.chain(
    ad.randomized_decay(spec.weight_decay, spec.alpha, key=key), optax.sgd(lr, momentum=MOMENTUM)
  )


def _rmsprop(spec, lr, *, depth, key):
  del depth, key
  return optax.chain(
    optax.add_decayed_weights(spec.weight_decay),
    optax.rmsprop(lr, decay=RMSPROP_DECAY, eps=1e-8, eps_in_sqrt=False),
  )


def _adam(spec, lr, *, depth, key):
  del depth, key
  return optax.chain(
    optax.add_decayed_weights(spec.weight_decay),
    optax.adam(lr, b1=ADAM_BETAS[0], b2=ADAM_BETAS[1], eps=1e-8),
  )


def _accelerated_sgd(spec, lr, *, depth, key):
  del key
  # The authors' README example: lr 0.1, kappa 1000, xi 10; kappa 1e4 for
  # residual (deep) networks per its guidance. Annealed like the SGD family.
  return ad.accelerated_sgd(
    lr, kappa=ACCSGD_KAPPA[depth], xi=10.0, small_const=0.7, weight_decay=spec.weight_decay
  )


def _entropy_sgd(spec, lr, *, depth, key):
  del depth
  # The authors' python/train.py: momentum 0.9, Nesterov, lr 0.1 (annealed
  # here like the SGD family); their README's MNIST scope and noise
  # (g0 = 1e-4, g1 = 1e-3, eps = 1e-4); L = 5 as in the AdaDecay paper.
  return ad.entropy_sgd(
    lr,
    momentum=MOMENTUM,
    nesterov=True,
    weight_decay=spec.weight_decay,
    L=ENTROPY_SGD_L,
    eps=1e-4,
    g0=1e-4,
    g1=1e-3,
    key=key,
  )


#: name -> builder(spec, lr, *, depth, key) -> GradientTransformation, with
#: lr from learning_rate()
OPTIMIZERS: dict[str, Builder] = {
  'sgd': _sgd,
  'adadecay': _adadecay,
  'randomized': _randomized,
  'rmsprop': _rmsprop,
  'adam': _adam,
  'accelerated_sgd': _accelerated_sgd,
  'entropy_sgd': _entropy_sgd,
}
# The SGD family: momentum and sigmoid annealing; the rest use a constant rate.
SGD_FAMILY = ('sgd', 'adadecay', 'randomized', 'accelerated_sgd', 'entropy_sgd')


def grad_fn_steps(spec: OptimizerSpec) -> int:
  """Gradient-function calls per update (Entropy-SGD's L), else 0.

  Such an optimizer's update consumes ``1 + L`` minibatches, so an epoch (one
  pass over the data) has that many times fewer updates.
  """
  return ENTROPY_SGD_L if spec.name == 'entropy_sgd' else 0


def learning_rate(spec: OptimizerSpec, *, total_steps: int, depth: str) -> optax.ScalarOrSchedule:
  """The learning rate (a float or an optax schedule of the step)."""
  if spec.name in SGD_FAMILY:
    return _sgd_schedule(spec, total_steps)
  return _adaptive_lr(spec, depth)


def check_name(name: str) -> str:
  if name not in OPTIMIZERS:
    raise ValueError(f'Unknown optimizer {name!r}; known: {", ".join(OPTIMIZERS)}.')
  return name


def build(
  spec: OptimizerSpec,
  *,
  total_steps: int | None = None,
  depth: str,
  key: jax.Array | None = None,
  learning_rate: optax.ScalarOrSchedule | None = None,
) -> optax.GradientTransformation:
  """Builds one trial's optimizer.

  Args:
    spec: name and hyper-parameters.
    total_steps: optimizer steps of the whole run (epochs × steps per epoch),
      over which the SGD family anneals its learning rate.
    depth: 'shallow' (28×28 models) or 'deep' (CIFAR models): picks the
      learning rate of RMSprop and Adam.
    key: PRNG key for optimizers that draw random numbers (``randomized``);
      a trial's own key, so trials draw independently.
    learning_rate: the run's learning rate as `learning_rate` built it, so
      that a run builds its schedule once and builds each trial's optimizer
      from it; None builds it here from ``total_steps``.

  Returns:
    An :class:`optax.GradientTransformation`.

  Raises:
    ValueError: for an unknown name or depth, or bad hyper-parameters (from
      the library's own checks).
  """
  check_name(spec.name)
  if depth not in ADAPTIVE_LR:
    raise ValueError(f'depth must be one of {list(ADAPTIVE_LR)}, got {depth!r}')
  if key is None:
    key = jax.random.key(0)
  lr = learning_rate
  if lr is None:
    if total_steps is None:
      raise ValueError("give total_steps (the run's optimizer steps) or learning_rate.")
    lr = _learning_rate(spec, total_steps=total_steps, depth=depth)
  return OPTIMIZERS[spec.name](spec, lr, depth=depth, key=key)


_learning_rate = learning_rate  # `build`'s argument of that name shadows it


# Which optimizers read which OptimizerSpec fields (learning_rate: all).
_USES_ALPHA = ('adadecay', 'randomized')
_FIELDS = tuple(f.name for f in dataclasses.fields(OptimizerSpec) if f.name != 'name')
_SYNTAX = 'name or name(field=number, ...)'


def parse_name(text: str) -> tuple[str, dict[str, float]]:
  """Parses a config's optimizer string into its name and hyper-parameters.

  The string is a Python call expression read with `ast` (as big_vision's
  ``registry.parse_name``): 'adadecay' or 'adadecay(alpha=8, weight_decay=1e-3)'
  -> ('adadecay', {'alpha': 8.0, 'weight_decay': 0.001}). Only the fields
  given are returned; the others keep the paper's values (`OptimizerSpec`).

  Raises:
    ValueError: with the offending text, for other syntax, an unknown
      optimizer or field, a field given twice or one the optimizer does not
      use (``alpha`` outside adadecay and randomized), a value that is not a
      number, or a negative ``learning_rate`` or ``weight_decay``.
  """
  bad = f'Bad optimizer spec {text!r}'
  try:
    node = ast.parse(text.strip(), mode='eval').body
  except SyntaxError:
    raise ValueError(f'{bad}: not {_SYNTAX}.') from None
  if isinstance(node, ast.Name):
    return check_name(node.id), {}
  if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.args:
    raise ValueError(f'{bad}: not {_SYNTAX}.')
  name = check_name(node.func.id)
  kwargs: dict[str, float] = {}
  for keyword in node.keywords:
    key = keyword.arg
    if key not in _FIELDS:
      given = f'{key}={ast.unparse(keyword.value)}' if key else '**'
      raise ValueError(f'{bad}: {given!r} is not one of {sorted(_FIELDS)}=<number>.')
    if key in kwargs:
      raise ValueError(f'{bad}: {key} given twice.')
    if key == 'alpha' and name not in _USES_ALPHA:
      raise ValueError(f'{bad}: {name} has no alpha (only {", ".join(_USES_ALPHA)} do).')
    try:
      value = ast.literal_eval(keyword.value)
    except ValueError:
      # 'nan' and 'inf' are names to Python: read as float() reads them, so
      # the library's own check names what is wrong with them.
      try:
        value = float(ast.unparse(keyword.value))
      except ValueError:
        value = None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
      raise ValueError(f'{bad}: {key} needs a number, got {ast.unparse(keyword.value)!r}.')
    kwargs[key] = float(value)
    if key in ('learning_rate', 'weight_decay') and not kwargs[key] >= 0:
      raise ValueError(f'{bad}: {key} must be >= 0.')
  return name, kwargs


def parse(text: str) -> OptimizerSpec:
  """The `OptimizerSpec` of a config's optimizer string (see `parse_name`)."""
  name, kwargs = parse_name(text)
  return OptimizerSpec(name=name, **kwargs)


def canonical_label(text: str) -> str:
  """'adadecay( alpha = 8,weight_decay=1e-3 )' -> 'adadecay(alpha=8, weight_decay=1e-3)'.

  The column label of a run: the config's text with its numbers as written,
  without spaces but after commas.

  Raises:
    ValueError: as `parse_name`.
  """
  parse_name(text)  # validates
  node = ast.parse(text.strip(), mode='eval').body
  if isinstance(node, ast.Name):
    return node.id
  args = ', '.join(
    f'{k.arg}={ast.get_source_segment(text.strip(), k.value)}' for k in node.keywords
  )
  return f'{node.func.id}({args})'
