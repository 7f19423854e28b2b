"""The paper's published numbers and claims, to set beside a reproduction.

``paper_numbers.csv`` (next to this module) holds every accuracy the paper
prints, one row per cell: ``table,dataset,model,optimizer,ave,max`` in % as
printed, with the harness's names (``nn2``, ``fashion_mnist``,
``adadecay(alpha=-1)``). Source: Nakamura & Hong, *Adaptive Weight Decay for
Deep Neural Networks*, arXiv 1907.08931 (IEEE Access 2019), Table III (six
optimizers; SGD = ``sgd``, RMS = ``rmsprop``, Adam = ``adam``, eSGD =
``entropy_sgd``, aSGD = ``accelerated_sgd``, Ours = ``adadecay``; the paper's
"DenseConv" is our ``densenet121``) and Table I (α; NN-2 for MNIST and
Fashion-MNIST, ResNet-18 for CIFAR-10; its α = 4 column repeats Table III's
"Ours"). The paper's protocol: 50 trials (32 on CIFAR-10) of 100 epochs;
"ave" is the 10%-trimmed mean over trials of each trial's mean over the last
10% of epochs, "max" the best epoch of the best trial. It prints no standard
deviations or intervals.

Table II (constant vs randomized vs AdaDecay θ) and Figs. 1-3 print no
numbers; their claims are in `CLAIMS`.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import pathlib
from collections.abc import Mapping
from typing import Any

__all__ = ['CLAIMS', 'Claim', 'PaperCell', 'cell', 'cells', 'claims_for']

_CSV = pathlib.Path(__file__).with_name('paper_numbers.csv')
#: α of a plain 'adadecay' run (the paper's default).
DEFAULT_ALPHA = 4.0


@dataclasses.dataclass(frozen=True)
class PaperCell:
  """One printed cell: accuracies in % as the paper prints them."""

  table: str  # 'I' or 'III'
  dataset: str
  model: str
  optimizer: str  # 'sgd', 'adadecay', 'adadecay(alpha=-1)', ...
  ave: float
  max: float


def _key(dataset: str, model: str, name: str, alpha: float | None) -> tuple:
  """Cells are found by optimizer name and α (None for optimizers without one)."""
  if name == 'adadecay':
    alpha = DEFAULT_ALPHA if alpha is None else float(alpha)
  return (dataset, model, name, alpha)


def _parse_optimizer(text: str) -> tuple[str, float | None]:
  name, _, rest = text.partition('(')
  alpha = None
  if rest:
    key, _, value = rest.rstrip(')').partition('=')
    if key.strip() != 'alpha':
      raise ValueError(f'{_CSV}: unexpected optimizer {text!r}')
    alpha = float(value)
  return name.strip(), alpha


@functools.cache
def cells() -> dict[tuple, PaperCell]:
  """Every printed cell, keyed by (dataset, model, name, α).

  Raises:
    ValueError: If two tables print different numbers for one cell (the
      file would be mistranscribed).
  """
  out: dict[tuple, PaperCell] = {}
  with open(_CSV, encoding='utf-8', newline='') as f:
    for row in csv.DictReader(f):
      c = PaperCell(
        row['table'],
        row['dataset'],
        row['model'],
        row['optimizer'],
        float(row['ave']),
        float(row['max']),
      )
      key = _key(c.dataset, c.model, *_parse_optimizer(c.optimizer))
      if key in out and (out[key].ave, out[key].max) != (c.ave, c.max):
        raise ValueError(f'{_CSV}: {key} is printed as {out[key]} and as {c}')
      out.setdefault(key, c)
  return out


def cell(
  model: str, dataset: str, name: str, variant: Mapping[str, Any] | None = None
) -> PaperCell | None:
  """The paper's cell for a run, or None when the paper printed none.

  Only runs on the paper's settings have a cell: the variant may set α
  (AdaDecay) and nothing else (a changed λ, learning rate or dropout rate
  is not a printed cell).

  Args:
    model: Harness model name, e.g. 'nn2'.
    dataset: Harness dataset name, e.g. 'fashion_mnist' ('cifar10_jpeg', our
      lossy copy, has no cell).
    name: Optimizer name, e.g. 'adadecay'.
    variant: The run's variant, e.g. {'alpha': 8.0}.
  """
  variant = dict(variant or {})
  alpha = variant.pop('alpha', None)
  if variant:
    return None
  return cells().get(_key(dataset, model, name, alpha))


@dataclasses.dataclass(frozen=True)
class Claim:
  """'``better`` beats ``worse``' as the paper states it for some cells.

  ``better`` and ``worse`` are (optimizer name, α or None) as in `cell`;
  ``where`` lists (model, dataset) pairs.
  """

  source: str
  text: str
  better: tuple[str, float | None]
  worse: tuple[str, float | None]
  where: tuple[tuple[str, str], ...]


_TABLE2_CELLS = (('nn2', 'mnist'), ('nn2', 'fashion_mnist'), ('resnet18', 'cifar10'))

#: The comparisons the paper states in words where it prints no numbers.
CLAIMS: tuple[Claim, ...] = (
  Claim(
    'Table II',
    'AdaDecay beats constant decay',
    ('adadecay', DEFAULT_ALPHA),
    ('sgd', None),
    _TABLE2_CELLS,
  ),
  Claim(
    'Table II',
    'AdaDecay beats randomized θ (eq. 13)',
    ('adadecay', DEFAULT_ALPHA),
    ('randomized', DEFAULT_ALPHA),
    _TABLE2_CELLS,
  ),
)


def claims_for(model: str, dataset: str) -> list[Claim]:
  """The stated claims that concern one (model, dataset) pair."""
  return [c for c in CLAIMS if (model, dataset) in c.where]
