"""The notebooks in notebooks/ run top to bottom, offline, on the real data.

Each notebook is executed with nbclient in a fresh kernel of *this* Python
(a kernelspec written to a temporary folder points at ``sys.executable``, so
the kernel sees the same virtual environment whatever kernels Jupyter knows
about), with the repository root as working directory, the real data sets
from ``conftest.require_test_data()`` as ``$ADADECAY_DATA_DIR`` and
``ADADECAY_NOTEBOOK_SMOKE=1``, which the notebooks read to shrink their runs
(each takes well under a minute on 2 CPU cores). Needs nbformat, nbclient and
ipykernel (the ``test`` extra).
"""

import json
import os
import pathlib
import re
import sys

import pytest

from conftest import require_test_data

try:
  import nbformat
  from jupyter_client.kernelspec import KernelSpecManager
  from jupyter_client.manager import KernelManager
  from nbclient import NotebookClient
  import ipykernel  # noqa: F401  (the kernel runs `python -m ipykernel_launcher`)
except ImportError as e:  # pragma: no cover
  nbformat = None
  _IMPORT_ERROR = e

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / 'notebooks'
NAMES = ('quickstart.ipynb', 'reproduce_paper.ipynb')
KERNEL = 'adadecay-notebook-test'
CELL_TIMEOUT_S = 300


def _require_jupyter():
  if nbformat is None:
    pytest.fail(
      f'the notebook tests need nbformat, nbclient and ipykernel ({_IMPORT_ERROR});'
      ' install them with `pip install -e ".[train,test]"`.',
      pytrace=False,
    )


def _execute(name: str, tmp_path: pathlib.Path, env_extra: dict[str, str]):
  """Runs notebooks/<name> in a kernel of sys.executable; returns the notebook."""
  _require_jupyter()
  data_dir = require_test_data()
  kernels = tmp_path / 'kernels'
  (kernels / KERNEL).mkdir(parents=True)
  (kernels / KERNEL / 'kernel.json').write_text(
    json.dumps(
      {
        'argv': [
          sys.executable,
          '-Xfrozen_modules=off',
          '-m',
          'ipykernel_launcher',
          '-f',
          '{connection_file}',
        ],
        'display_name': 'Python 3 (notebook test)',
        'language': 'python',
      }
    )
  )
  env = dict(os.environ)
  # Matplotlib: the kernel's own inline backend, whatever the caller set.
  env.pop('MPLBACKEND', None)
  env.update(
    {
      'ADADECAY_DATA_DIR': str(data_dir),
      'ADADECAY_NOTEBOOK_SMOKE': '1',
      # The venv's tools first, e.g. for `%pip` (not run here, but cheap).
      'PATH': os.pathsep.join([os.path.dirname(sys.executable), env.get('PATH', '')]),
      # No user IPython profile or startup files.
      'IPYTHONDIR': str(tmp_path / 'ipython'),
      **env_extra,
    }
  )
  km = KernelManager(
    kernel_name=KERNEL,
    kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
    connection_file=str(tmp_path / 'kernel-connection.json'),
  )
  nb = nbformat.read(NOTEBOOKS / name, as_version=4)
  client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT_S, allow_errors=False)
  # Raises CellExecutionError (with the cell and its traceback) on any error.
  client.execute(cwd=str(REPO), env=env)
  return nb


def _outputs(nb, cell_id: str):
  cells = [c for c in nb.cells if c.get('id') == cell_id]
  assert len(cells) == 1, f'no single cell with id {cell_id!r}'
  return cells[0].get('outputs', [])


def _text(nb, cell_id: str) -> str:
  return ''.join(
    o.get('text', '')
    for o in _outputs(nb, cell_id)
    if o.get('output_type') == 'stream' and o.get('name') == 'stdout'
  )


def _count(nb, mime: str, cell_id: str | None = None) -> int:
  cells = [
    c for c in nb.cells if c.cell_type == 'code' and (cell_id is None or c.get('id') == cell_id)
  ]
  return sum(mime in o.get('data', {}) for c in cells for o in c.get('outputs', []))


@pytest.mark.parametrize('name', NAMES)
def test_notebook_is_clean(name):
  """Stored without outputs, nbformat 4, kernel python3, a parameters cell."""
  _require_jupyter()
  nb = nbformat.read(NOTEBOOKS / name, as_version=nbformat.NO_CONVERT)
  nbformat.validate(nb)
  assert nb.nbformat == 4
  assert nb.metadata['kernelspec']['name'] == 'python3'
  for cell in nb.cells:
    if cell.cell_type == 'code':
      assert cell.outputs == [] and cell.execution_count is None, cell.get('id')
  params = [c for c in nb.cells if 'parameters' in c.metadata.get('tags', [])]
  assert len(params) == 1
  assert 'ADADECAY_NOTEBOOK_SMOKE' in params[0].source
  # The first code cell installs on Colab only.
  assert "IN_COLAB = 'google.colab' in sys.modules" in nb.cells[1].source


@pytest.mark.slow
def test_quickstart_notebook_runs(tmp_path):
  nb = _execute('quickstart.ipynb', tmp_path, {})
  # Read offline from the test data, not downloaded.
  assert str(require_test_data() / 'mnist') in _text(nb, 'data')
  accuracies = {}
  for cell_id, label in (
    ('train-adadecay', 'AdaDecay'),
    ('train-baseline', 'SGD + constant decay'),
  ):
    match = re.search(rf'^{re.escape(label)} test accuracy: ([\d.]+)%$', _text(nb, cell_id), re.M)
    assert match, _text(nb, cell_id)
    accuracies[label] = float(match.group(1))
  # Chance is 10%; one epoch on 2,000 images (15 steps) reaches ~85%.
  assert min(accuracies.values()) > 50, accuracies
  # θ per layer: all six leaves of NN-2 listed, θ in (0, 2), and the figures.
  theta_text = _text(nb, 'theta')
  for leaf in ('hidden_layers/0/kernel', 'hidden_layers/1/bias', 'head/kernel'):
    assert leaf in theta_text, theta_text
  assert _count(nb, 'image/png', 'theta') == 1
  assert _count(nb, 'image/png', 'alphas') == 1
  # The NNX mask: kernels decayed by η λ = 0.01 (zero gradients, θ = 1),
  # biases and the plain nnx.Variable untouched.
  mask_text = _text(nb, 'mask')
  for leaf in ('hidden/kernel', 'head/kernel'):
    assert re.search(rf'^{leaf} +decayed: w × 0\.9900$', mask_text, re.M), mask_text
  for leaf in ('hidden/bias', 'head/bias', 'batches_seen'):
    assert re.search(rf'^{leaf} +unchanged$', mask_text, re.M), mask_text


@pytest.mark.slow
def test_reproduce_paper_notebook_runs(tmp_path):
  workdir = tmp_path / 'workdir'
  nb = _execute('reproduce_paper.ipynb', tmp_path, {'ADADECAY_NOTEBOOK_WORKDIR': str(workdir)})
  assert '3 runs x 2 trials x 2 epochs' in _text(nb, 'train')
  table = ''.join(o['data'].get('text/markdown', '') for o in _outputs(nb, 'table') if 'data' in o)
  assert '| ave |' in table and 'adadecay(alpha=4)' in table, table
  # The harness's files and the report, with figures shown in the notebook.
  for name in ('results.json', 'accuracy.csv', 'table.md'):
    assert (workdir / name).is_file(), name
  pngs = sorted((workdir / 'report').glob('*.png'))
  # Accuracy against epoch, and against α (the swept hyper-parameter).
  assert len(pngs) >= 2 and any('alpha' in p.name for p in pngs), pngs
  assert '| ave |' in (workdir / 'report' / 'tables.md').read_text()
  assert _count(nb, 'image/png', 'report') == len(pngs)
  assert 'α sweep' in ''.join(
    o['data'].get('text/markdown', '') for o in _outputs(nb, 'report') if 'data' in o
  )
