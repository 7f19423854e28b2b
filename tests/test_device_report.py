"""benchmarks/device_report.py --tiny: every section, on this CPU."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

from conftest import require_test_data

pytestmark = pytest.mark.slow  # a subprocess that trains on real data

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_tiny_device_report(tmp_path):
  env = {**os.environ, 'PYTHONPATH': str(REPO), 'MPLBACKEND': 'Agg'}
  proc = subprocess.run(
    [
      sys.executable,
      'benchmarks/device_report.py',
      '--tiny',
      '--out',
      str(tmp_path),
      '--data-dir',
      str(require_test_data()),
    ],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  md = (tmp_path / 'report.md').read_text()
  assert 'matmul precision: float32' in md
  for heading in ('## (a)', '## (b)', '## (c)', '## (d)', '## (e)'):
    assert heading in md
  # (c): T(N) / (N T(1)) is 1 for N = 1 by definition.
  assert re.search(r'^\| 1 \| [\d.]+ \| [\d.]+ \| 1\.00 \|$', md, re.M), md
  # (d): every paper experiment has an estimate, and they add up.
  rows = re.findall(r'^\| (.+?) \| \d+ × \d+ \| ([\d,.]+) \|$', md, re.M)
  assert len(rows) == 7
  total = float(re.search(r'\| \*\*all\*\* \| \| \*\*([\d,.]+)\*\* \|', md)[1].replace(',', ''))
  assert abs(sum(float(h.replace(',', '')) for _, h in rows) - total) <= 0.1 * len(rows)
  # (e): the harness's table of both optimizers, from real Fashion-MNIST.
  assert '| | sgd | adadecay |' in md
  assert (tmp_path / 'nn2_fashion_mnist' / 'results.json').is_file()


@pytest.mark.parametrize('sections', ['abcx', 'ad', 'e'])
def test_sections_that_cannot_run_are_refused(tmp_path, sections):
  # (d) needs (b) and (c), (e) needs (c); refused before anything runs.
  proc = subprocess.run(
    [sys.executable, 'benchmarks/device_report.py', '--out', str(tmp_path), '--sections', sections],
    cwd=REPO,
    env={**os.environ, 'PYTHONPATH': str(REPO)},
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert '--sections' in proc.stderr
  assert not (tmp_path / 'report.md').exists()


def test_forward_flops_of_nn2_by_hand():
  # 784-512-512-10: 2·(784·512 + 512·512 + 512·10) multiply-adds, plus the
  # bias additions (512 + 512 + 10) and the ReLUs (512 + 512), counted by XLA.
  sys.path.insert(0, str(REPO / 'benchmarks'))
  import device_report  # pylint: disable=g-import-not-at-top

  expected = 2 * (784 * 512 + 512 * 512 + 512 * 10) + (512 + 512 + 10) + (512 + 512)
  assert device_report.forward_flops('nn2') == expected
