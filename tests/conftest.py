"""Where the tests find the real data sets.

The data tests and the short training runs read the real MNIST,
Fashion-MNIST and (lossy JPEG) CIFAR-10 files from a folder laid out like
``../shared/data`` (``mnist/``, ``fashion-mnist/``, ``cifar10-jpeg/``): the
folder ``$ADADECAY_TEST_DATA`` if set, else ``../shared/data`` beside the
checkout (present in this project's CI). Without it those tests fail with
the instructions below rather than skip.
"""

import os
from pathlib import Path

import pytest

TEST_DATA = Path(os.environ.get(
    'ADADECAY_TEST_DATA',
    Path(__file__).resolve().parents[1].parent / 'shared' / 'data'))

MISSING = (
    f'The tests need the real data sets in {TEST_DATA} (mnist/,'
    ' fashion-mnist/ with the 4 original IDX .gz files each, and'
    ' cifar10-jpeg/cifar10-jpeg.tar.gz). Set ADADECAY_TEST_DATA to such a'
    ' folder; README.md ("Data") says how to get the files.')


def require_test_data() -> Path:
  if not TEST_DATA.is_dir():
    pytest.fail(MISSING, pytrace=False)
  return TEST_DATA


@pytest.fixture
def test_data_dir() -> Path:
  return require_test_data()


@pytest.fixture(scope='session', autouse=True)
def _cache_in_tmp(tmp_path_factory):
  """Decoded-data caches go to a per-session temporary folder, not ~/.cache."""
  old = os.environ.get('ADADECAY_CACHE_DIR')
  os.environ['ADADECAY_CACHE_DIR'] = str(tmp_path_factory.mktemp('cache'))
  yield
  if old is None:
    os.environ.pop('ADADECAY_CACHE_DIR', None)
  else:
    os.environ['ADADECAY_CACHE_DIR'] = old
