"""TFDS itself, not a stand-in: MNIST and Fashion-MNIST prepared offline from
the original files, then read through ``train.data.load`` with no network.

Needs the ``tfds`` extra (reading) and the ``tfds-prepare`` extra
(TensorFlow, for preparing); ``make test`` installs both. Without them these
tests fail with the install command (they never skip).
"""

import importlib
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import conftest
from train import data

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {'mnist': 'mnist', 'fashion_mnist': 'fashion-mnist'}


def _require(module: str, extra: str):
  try:
    return importlib.import_module(module)
  except ImportError as e:
    pytest.fail(
      f"tests/test_tfds.py needs {module}, from the '{extra}' extra ({e}): "
      f"make test, or pip install -e '.[train,test,tfds,tfds-prepare]'",
      pytrace=False,
    )


class _Network:
  """Refuses every socket and name lookup, and records the attempts."""

  def __init__(self):
    self.attempts = []

  def block(self, monkeypatch):
    attempts = self.attempts

    def refuse(*args, **kwargs):
      attempts.append(args)
      raise OSError('network access in a test')

    class Refused(socket.socket):
      def __init__(self, *args, **kwargs):  # pylint: disable=super-init-not-called
        refuse(*args)

    monkeypatch.setattr(socket, 'socket', Refused)
    monkeypatch.setattr(socket, 'create_connection', refuse)
    monkeypatch.setattr(socket, 'getaddrinfo', refuse)
    return self


@pytest.fixture(scope='session')
def prepared(tmp_path_factory):
  """A TFDS data folder with mnist and fashion_mnist prepared from the original .gz files.

  Prepared once per session, as array_record (readable without TensorFlow),
  with the network blocked: TFDS finds the files in ``manual_dir`` and
  checks them against its own registered checksums.
  """
  tfds = _require('tensorflow_datasets', 'tfds')
  _require('tensorflow', 'tfds-prepare')
  root = conftest.require_test_data()
  data_dir = tmp_path_factory.mktemp('tensorflow_datasets')
  with pytest.MonkeyPatch.context() as mp:
    _Network().block(mp)
    for name, folder in FOLDERS.items():
      builder = tfds.builder(name, data_dir=str(data_dir), file_format='array_record')
      builder.download_and_prepare(
        # One per data set: MNIST's and Fashion-MNIST's files have the same names,
        # and TFDS would reuse the other's extracted files.
        download_dir=str(tmp_path_factory.mktemp('tfds-downloads')),
        download_config=tfds.download.DownloadConfig(manual_dir=str(root / folder)),
      )
  return data_dir


@pytest.fixture
def isolated(monkeypatch, tmp_path):
  """Only what a test passes is found: no env folders, Debian folder, TFDS folder or cache."""
  monkeypatch.setenv('ADADECAY_CACHE_DIR', str(tmp_path / 'cache'))
  monkeypatch.delenv('ADADECAY_DATA_DIR', raising=False)
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path / 'no-tfds'))
  monkeypatch.setattr(data, '_SYSTEM_DATA_DIR', tmp_path / 'usr-share-datasets')


def _sorted(images, labels):
  """The (label, image) records in bytewise order, to compare the splits as multisets."""
  records = np.concatenate(
    [labels.astype(np.uint8)[:, None], images.reshape(len(labels), -1)], axis=1
  )
  return np.sort(records.view(np.dtype((np.void, records.shape[1]))).ravel())


@pytest.mark.slow
@pytest.mark.parametrize('name', ['mnist', 'fashion_mnist'])
def test_tfds_copy_read_offline_equals_the_idx_files(name, prepared, isolated, monkeypatch):
  ref = data.load(name, conftest.require_test_data())
  assert ref.source.startswith('original IDX files')
  network = _Network().block(monkeypatch)
  ds = data.load(name, prepared)
  assert network.attempts == []
  assert ds.source == (
    f'TFDS {name} 3.0.1 in {prepared} (data_dir argument; decoded content '
    "verified, in any order; the examples are in TFDS's order)"
  )
  for split in ('train', 'test'):
    images, labels = getattr(ds, f'{split}_images'), getattr(ds, f'{split}_labels')
    ref_images, ref_labels = getattr(ref, f'{split}_images'), getattr(ref, f'{split}_labels')
    assert images.shape == ref_images.shape and images.dtype == np.uint8
    assert labels.dtype == np.int32
    # The same examples (TFDS stores them in another order).
    assert data.sorted_records_sha256(images, labels) == data.sorted_records_sha256(
      ref_images, ref_labels
    )
    assert np.array_equal(_sorted(images, labels), _sorted(ref_images, ref_labels))
  assert not np.array_equal(ds.train_labels, ref.train_labels)  # really TFDS's order


@pytest.fixture
def reads(monkeypatch):
  """Records which TFDS copy load() reads, instead of decoding it again (the test above does)."""
  calls = []

  def read_tfds(name, data_dir, what):
    calls.append((name, data_dir, what))
    return 'read'

  monkeypatch.setattr(data, '_read_tfds', read_tfds)
  return calls


@pytest.mark.slow
def test_tfds_folder_from_env_and_default_folder(prepared, isolated, monkeypatch, reads):
  monkeypatch.setenv('ADADECAY_DATA_DIR', str(prepared))
  assert data.load('fashion_mnist') == 'read'
  monkeypatch.delenv('ADADECAY_DATA_DIR')
  monkeypatch.setenv('TFDS_DATA_DIR', str(prepared))
  assert data.load('mnist') == 'read'
  assert reads == [
    ('fashion_mnist', prepared, '$ADADECAY_DATA_DIR'),
    ('mnist', prepared, 'TFDS folder'),
  ]


@pytest.mark.slow
def test_idx_files_in_the_folder_come_before_tfds(prepared, isolated, tmp_path, reads):
  both = tmp_path / 'both'
  (both / 'mnist').mkdir(parents=True)
  for idx in (conftest.require_test_data() / 'mnist').glob('*-ubyte*'):
    (both / 'mnist' / idx.name).symlink_to(idx)
  (both / 'mnist' / '3.0.1').symlink_to(prepared / 'mnist' / '3.0.1')
  (both / 'fashion_mnist').symlink_to(prepared / 'fashion_mnist')
  assert data._tfds_versions(both, 'mnist') == ['3.0.1']
  assert data.load('mnist', both).source.startswith(f'original IDX files in {both / "mnist"}')
  assert data.load('fashion_mnist', both) == 'read'
  assert reads == [('fashion_mnist', both, 'data_dir argument')]


class _Untouchable:
  def __getattr__(self, name):
    raise AssertionError(f'tensorflow_datasets.{name} used')


@pytest.mark.parametrize('layout', ['empty', 'empty dataset folder'])
def test_empty_tfds_folder_is_a_quick_clear_error(layout, isolated, tmp_path, monkeypatch):
  folder = tmp_path / 'tensorflow_datasets'
  folder.mkdir()
  if layout == 'empty dataset folder':
    (folder / 'mnist' / '3.0.1').mkdir(parents=True)
  # Quick: neither TFDS nor the network is touched to find out that nothing is there.
  monkeypatch.setitem(sys.modules, 'tensorflow_datasets', _Untouchable())
  network = _Network().block(monkeypatch)
  with pytest.raises(data.DataError) as err:
    data.load('mnist', folder)
  assert network.attempts == []
  msg = str(err.value)
  assert msg.startswith('no copy of mnist found. Looked at:')
  assert (
    f'data_dir argument {folder}: nothing for mnist in it or in its subfolders mnist/ '
    f'(and no TFDS-prepared {folder / "mnist" / "<version>"}/)'
  ) in msg
  # The way out: the original IDX files.
  assert 'put the 4 original files (train-images-idx3-ubyte.gz' in msg
  assert 'pass it as data_dir or set ADADECAY_DATA_DIR to it' in msg


@pytest.mark.slow
def test_prepared_copy_without_tensorflow_datasets(prepared, isolated, monkeypatch):
  monkeypatch.setitem(sys.modules, 'tensorflow_datasets', None)  # import raises ImportError
  with pytest.raises(data.DataError) as err:
    data.load('mnist', prepared)
  assert str(err.value).startswith(
    f'{prepared} holds a TFDS-prepared mnist (data_dir argument), but tensorflow_datasets is '
    "not installed: pip install 'adadecay-optax[tfds]', or use the original files instead:"
  )
  # In TFDS's default folder it is only noted, and the search goes on.
  monkeypatch.setenv('TFDS_DATA_DIR', str(prepared))
  with pytest.raises(
    data.DataError,
    match=r'TFDS folder .*: holds mnist, but '
    r'tensorflow_datasets is not installed',
  ):
    data.load('mnist')


@pytest.mark.slow
def test_reading_needs_no_tensorflow(prepared):
  # A fresh interpreter where `import tensorflow` fails (as without the tfds-prepare extra)
  # reads the test split the way load() reads both.
  script = (
    'import sys\n'
    'class NoTensorFlow:\n'
    '    def find_spec(self, name, path=None, target=None):\n'
    "        if name == 'tensorflow' or name.startswith('tensorflow.'):\n"
    '            raise ModuleNotFoundError(name)\n'
    'sys.meta_path.insert(0, NoTensorFlow())\n'
    'import importlib.util\n'
    '_find_spec = importlib.util.find_spec\n'
    'importlib.util.find_spec = lambda name, package=None: (\n'
    "    None if name.split('.')[0] == 'tensorflow' else _find_spec(name, package))\n"
    'import pathlib\n'
    'import tensorflow_datasets as tfds\n'
    'from train import data\n'
    f"images, labels = data._read_tfds_split(tfds, 'fashion_mnist', 'test', "
    f'pathlib.Path({str(prepared)!r}))\n'
    "assert 'tensorflow' not in sys.modules\n"
    'print(data.sorted_records_sha256(images, labels))\n'
  )
  out = subprocess.run(
    [sys.executable, '-c', script], cwd=REPO, capture_output=True, text=True, timeout=600
  )
  assert out.returncode == 0, out.stderr[-3000:]
  assert out.stdout == data._SORTED_SHA256['fashion_mnist']['test'] + '\n'


@pytest.mark.slow
def test_library_and_harness_import_without_tfds_and_tensorflow():
  script = (
    'import sys\n'
    "for m in ('tensorflow', 'tensorflow_datasets'):\n"
    '    sys.modules[m] = None\n'
    'import adadecay_optax, train.data, train.experiment, train.report, train.__main__\n'
    "print('ok')\n"
  )
  out = subprocess.run(
    [sys.executable, '-c', script], cwd=REPO, capture_output=True, text=True, timeout=300
  )
  assert out.returncode == 0, out.stderr[-3000:]
  assert out.stdout == 'ok\n'


def test_published_checksums_are_tfds_own():
  """The sha256 this project checks downloads against are the ones TFDS registers."""
  tfds = _require('tensorflow_datasets', 'tfds')
  checksums = Path(tfds.__file__).parent / 'url_checksums'
  cifar = dict(
    line.split('\t')[:3:2] for line in (checksums / 'cifar10.txt').read_text().splitlines() if line
  )
  assert cifar[data._CIFAR_URL] == data._CIFAR_TAR_SHA256
  # And the test data's MNIST files are TFDS's originals, byte for byte (so TFDS could
  # prepare from them above).
  root = conftest.require_test_data()
  for name, folder in FOLDERS.items():
    listed = {
      url.rsplit('/', 1)[1]: sha
      for url, sha in (
        line.split('\t')[:3:2]
        for line in (checksums / f'{name}.txt').read_text().splitlines()
        if line
      )
    }
    for fname, sha in listed.items():
      assert data.hashlib.sha256((root / folder / fname).read_bytes()).hexdigest() == sha
