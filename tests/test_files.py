"""Tests of train/files.py: atomic writes, strict JSON and figures."""

import json
import os

import matplotlib
import pytest

from train import files

matplotlib.use('Agg')
from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position


def test_atomic_write_keeps_old_file(tmp_path, monkeypatch):
  path = tmp_path / 'x.json'
  files.write_json_atomic(path, {'a': 1})
  old = path.read_bytes()
  with pytest.raises(TypeError):
    files.write_json_atomic(path, {'b': object()})
  with pytest.raises(ValueError):
    files.write_json_atomic(path, {'b': float('nan')})
  assert path.read_bytes() == old

  # A failure after the temp file was written (here: fsync) must not touch
  # the old file nor leave the temp file behind.
  def failing_fsync(fd):
    raise OSError('disk full')

  monkeypatch.setattr(os, 'fsync', failing_fsync)
  with pytest.raises(OSError, match='disk full'):
    files.write_text_atomic(path, '{"half": ')
  monkeypatch.undo()
  assert path.read_bytes() == old
  assert os.listdir(tmp_path) == ['x.json']
  assert json.loads(old) == {'a': 1}


def test_atomic_write_replaces(tmp_path):
  path = tmp_path / 't.txt'
  files.write_text_atomic(path, 'one\n')
  files.write_text_atomic(path, 'two ünïcode\n')
  assert path.read_text(encoding='utf-8') == 'two ünïcode\n'
  assert os.listdir(tmp_path) == ['t.txt']


def test_json_is_strict_and_plain(tmp_path):
  import numpy as np  # pylint: disable=g-import-not-at-top

  path = tmp_path / 'r.json'
  files.write_json_atomic(
    path, {'x': np.float32(0.5), 'n': np.int64(3), 'v': np.array([1, 2]), 't': (1, 2)}
  )
  assert json.loads(path.read_text()) == {'x': 0.5, 'n': 3, 'v': [1, 2], 't': [1, 2]}


def test_save_figure_writes_a_png_and_keeps_no_temp_file(tmp_path):
  fig, ax = plt.subplots()
  ax.plot([0, 1], [1, 0])
  path = files.save_figure(fig, tmp_path / 'sub' / 'f.png', dpi=50)
  plt.close(fig)
  assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  assert os.listdir(tmp_path / 'sub') == ['f.png']
