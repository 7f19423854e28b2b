"""Where the tests find the real data sets.

The data tests and the short training runs read the real MNIST,
Fashion-MNIST and CIFAR-10 from a folder laid out like ``../shared/data``
(``mnist/``, ``fashion-mnist/`` with the 4 original IDX files each;
``cifar10/`` with ``cifar-10-binary.tar.gz``, or this project's lossy
``cifar10-jpeg/cifar10-jpeg.tar.gz``), found in this order:

1. the folder ``$ADADECAY_TEST_DATA``, if set;
2. ``../shared/data`` beside the checkout (this project's machines and CI);
3. otherwise as the harness finds data (``train.data.locate``:
   ``$ADADECAY_DATA_DIR``, ``/usr/share/datasets``, the download cache
   ``~/.cache/adadecay_optax``), then, online, a verified download of the
   originals into that cache; ``<cache>/test-data`` then links to them.

Offline and without data, those tests fail with the instructions below
rather than skip.

Compiled programs are kept across sessions in JAX's persistent compilation
cache, ``<cache>/jax-compilation-cache`` (the download cache's folder, 3.
above): almost all of the quick loop's time is XLA compiling small programs,
and a second ``pytest -m 'not slow'`` reuses them. It takes about 25 MB per
version of the code and is never evicted (bounding it with
``jax_compilation_cache_max_size`` made a cold run about a third slower
here); delete the folder to reclaim the space. ``ADADECAY_TEST_JAX_CACHE``
names another folder, or ``off`` turns it off; a cache the user configured
for JAX is left as it is.
"""

import contextlib
import os
from pathlib import Path

import jax
import pytest

from train import data

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / 'shared' / 'data'
# The user's download cache, read before the session fixture below points
# ADADECAY_CACHE_DIR at a temporary folder: downloads persist across runs.
USER_CACHE = data._cache_root()  # pylint: disable=protected-access

_JAX_CACHE = os.environ.get('ADADECAY_TEST_JAX_CACHE', str(USER_CACHE / 'jax-compilation-cache'))
if _JAX_CACHE != 'off' and jax.config.jax_compilation_cache_dir is None:
  jax.config.update('jax_compilation_cache_dir', _JAX_CACHE)
  # Cache every program: the tests' programs each compile in well under the
  # default threshold of 1 s, and their sum is what the cache saves.
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
  jax.config.update('jax_persistent_cache_min_entry_size_bytes', -1)

if os.environ.get('ADADECAY_TEST_DATA'):
  TEST_DATA, _FIXED = Path(os.environ['ADADECAY_TEST_DATA']), True
elif SHARED_DATA.is_dir():
  TEST_DATA, _FIXED = SHARED_DATA, True
else:
  TEST_DATA, _FIXED = USER_CACHE / 'test-data', False

_LINK_NAMES = {'mnist': 'mnist', 'fashion_mnist': 'fashion-mnist', 'cifar10': 'cifar10'}
_linked: set[str] = set()


def _missing() -> str:
  return (
    'The tests need the real data sets: MNIST and Fashion-MNIST (the 4'
    ' original IDX .gz files each) and CIFAR-10 (cifar-10-binary.tar.gz).'
    f' With internet they are downloaded (verified) into {USER_CACHE};'
    ' without it, set ADADECAY_TEST_DATA to a folder holding mnist/,'
    ' fashion-mnist/ and cifar10/ with those files (README.md, "Tests" and'
    ' "Data", says where to get them).'
  )


@contextlib.contextmanager
def _user_cache():
  old = os.environ.get(data.CACHE_DIR_ENV)
  os.environ[data.CACHE_DIR_ENV] = str(USER_CACHE)
  try:
    yield
  finally:
    if old is None:
      os.environ.pop(data.CACHE_DIR_ENV, None)
    else:
      os.environ[data.CACHE_DIR_ENV] = old


def _locate(name: str) -> Path:
  """data.locate(name, download=True) into the user's cache; fails the test if it cannot."""
  with _user_cache():
    try:
      return data.locate(name, download=True)
    except data.DataError as e:
      error = str(e)
  pytest.fail(f'{_missing()}\n{error}', pytrace=False)


def _link(name: str) -> None:
  """Finds ``name`` as the harness does (downloading if needed) and links it in TEST_DATA."""
  found = _locate(name)
  target = found if name != 'cifar10' else found.parent
  TEST_DATA.mkdir(parents=True, exist_ok=True)
  link = TEST_DATA / _LINK_NAMES[name]
  tmp = link.with_name(f'.{link.name}.{os.getpid()}')
  tmp.unlink(missing_ok=True)
  tmp.symlink_to(target.resolve(), target_is_directory=True)
  os.replace(tmp, link)  # atomic, and replaces a stale link of an earlier run


def require_test_data(*names: str) -> Path:
  """The test data folder, holding ``names`` (default: mnist, fashion_mnist).

  Fails the calling test, with instructions, when they cannot be found or
  downloaded.
  """
  names = names or ('mnist', 'fashion_mnist')
  if _FIXED:
    if not TEST_DATA.is_dir():
      pytest.fail(f'{_missing()}\n(ADADECAY_TEST_DATA={TEST_DATA} is not a folder)', pytrace=False)
    return TEST_DATA
  for name in names:
    if name not in _linked:
      _link(name)
      _linked.add(name)
  return TEST_DATA


def has_cifar10_binary(root: Path) -> bool:
  return any(
    (folder / item).exists()
    for folder in (root, root / 'cifar10')
    for item in ('cifar-10-binary.tar.gz', 'cifar-10-batches-bin')
  )


def cifar10_test_data() -> tuple[str, Path]:
  """(dataset name, data_dir) of the CIFAR-10 the tests train on.

  The real CIFAR-10 where the test data has it (or can download it), else
  this project's lossy JPEG copy ``cifar10_jpeg`` from ``../shared/data``.
  """
  if _FIXED and TEST_DATA.is_dir():
    if has_cifar10_binary(TEST_DATA):
      return 'cifar10', TEST_DATA
    if (TEST_DATA / 'cifar10-jpeg' / 'cifar10-jpeg.tar.gz').is_file():
      return 'cifar10_jpeg', TEST_DATA
    # A fixed folder without CIFAR-10: the harness's search, as on a fresh machine.
    return 'cifar10', _locate('cifar10').parent
  return 'cifar10', require_test_data('cifar10')


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
