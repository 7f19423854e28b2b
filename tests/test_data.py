"""Tests for train/data.py on the real offline copies in ../shared/data and on small
synthetic files. Nothing here touches the network or writes outside tmp_path."""

import dataclasses
import gzip
import hashlib
import io
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from train import data

import conftest
from conftest import TEST_DATA as SHARED

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='session')
def shared_data():
  """The real MNIST and Fashion-MNIST, found (or downloaded) before the isolation below.

  Fails (never skips) when they are missing: see conftest.py.
  """
  return conftest.require_test_data()


requires_shared = pytest.mark.usefixtures('shared_data')

IDX_STEMS = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
]
# Published MNIST label counts (LeCun et al.), train and test.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
  """No user data dir, no Debian folder, no TFDS, cache in tmp_path, no network."""
  monkeypatch.setenv('ADADECAY_CACHE_DIR', str(tmp_path / 'cache'))
  monkeypatch.delenv('ADADECAY_DATA_DIR', raising=False)
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path / 'tensorflow_datasets'))
  monkeypatch.setattr(data, '_SYSTEM_DATA_DIR', tmp_path / 'usr-share-datasets')
  monkeypatch.setitem(sys.modules, 'tensorflow_datasets', None)  # import raises ImportError

  def no_network(*args, **kwargs):
    raise AssertionError('tests must not use the network')

  monkeypatch.setattr(urllib.request, 'urlopen', no_network)


def regzip(src: Path, dst: Path, mutate=None):
  """Writes src's decoded content to dst with different gzip bytes, optionally mutated."""
  raw = bytearray(gzip.decompress(src.read_bytes()))
  if mutate:
    mutate(raw)
  dst.parent.mkdir(parents=True, exist_ok=True)
  dst.write_bytes(gzip.compress(bytes(raw), compresslevel=1, mtime=12345))


def sha256(path: Path) -> str:
  return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------
# MNIST / Fashion-MNIST on the real files


@requires_shared
def test_mnist_real_files():
  ds = data.load('mnist', SHARED)
  assert ds.name == 'mnist' and ds.num_classes == 10
  assert ds.train_images.shape == (60000, 28, 28, 1) and ds.train_images.dtype == np.uint8
  assert ds.test_images.shape == (10000, 28, 28, 1) and ds.test_images.dtype == np.uint8
  assert ds.train_labels.dtype == np.int32 and ds.test_labels.dtype == np.int32
  assert np.bincount(ds.train_labels).tolist() == MNIST_TRAIN_COUNTS
  assert np.bincount(ds.test_labels).tolist() == MNIST_TEST_COUNTS
  assert ds.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
  # The usual normalisation constant 0.1307 is this mean / 255.
  assert ds.train_images.mean() / 255 == pytest.approx(0.1307, abs=1e-4)
  assert ds.source == (
    f'original IDX files in {SHARED / "mnist"} (data_dir argument; decoded content verified)'
  )


@requires_shared
def test_fashion_mnist_real_files_via_env_var(monkeypatch):
  monkeypatch.setenv('ADADECAY_DATA_DIR', str(SHARED))
  ds = data.load('fashion_mnist')
  assert ds.train_images.shape == (60000, 28, 28, 1)
  assert ds.test_images.shape == (10000, 28, 28, 1)
  assert np.bincount(ds.train_labels).tolist() == [6000] * 10
  assert np.bincount(ds.test_labels).tolist() == [1000] * 10
  assert ds.train_images.mean() / 255 == pytest.approx(0.2860, abs=1e-4)
  assert str(SHARED / 'fashion-mnist') in ds.source and '$ADADECAY_DATA_DIR' in ds.source


@requires_shared
def test_dataset_is_immutable():
  ds = data.load('mnist', SHARED / 'mnist')  # the folder itself also works
  with pytest.raises(dataclasses.FrozenInstanceError):
    ds.name = 'x'
  with pytest.raises(ValueError):
    ds.train_images[0, 0, 0, 0] = 1
  with pytest.raises(ValueError):
    ds.test_labels[0] = 1


@requires_shared
def test_regzipped_copy_in_debian_folder_is_accepted(tmp_path, monkeypatch):
  # Like Debian's dataset-fashion-mnist: other gzip bytes, same decoded content.
  system = tmp_path / 'usr-share-datasets'
  for stem in IDX_STEMS:
    regzip(SHARED / 'fashion-mnist' / f'{stem}.gz', system / 'fashion-mnist' / f'{stem}.gz')
    assert sha256(system / 'fashion-mnist' / f'{stem}.gz') != sha256(
      SHARED / 'fashion-mnist' / f'{stem}.gz'
    )
  ds = data.load('fashion_mnist')
  ref = data.load('fashion_mnist', SHARED)
  np.testing.assert_array_equal(ds.train_images, ref.train_images)
  np.testing.assert_array_equal(ds.test_labels, ref.test_labels)
  assert ds.source.startswith(f'original IDX files in {system / "fashion-mnist"} (Debian')


@requires_shared
def test_uncompressed_copy_in_named_subfolder_is_accepted(tmp_path):
  for stem in IDX_STEMS:
    (tmp_path / 'mnist').mkdir(exist_ok=True)
    (tmp_path / 'mnist' / stem).write_bytes(
      gzip.decompress((SHARED / 'mnist' / f'{stem}.gz').read_bytes())
    )
  ds = data.load('mnist', tmp_path)
  assert np.bincount(ds.train_labels).tolist() == MNIST_TRAIN_COUNTS
  assert str(tmp_path / 'mnist') in ds.source


@requires_shared
def test_gzip_file_without_gz_suffix_is_read(tmp_path):
  # The real training-images file renamed without .gz, and an uncompressed file named .gz:
  # the content (gzip magic bytes or not) decides, not the name.
  folder = _copy_mnist(tmp_path / 'copy')
  (folder / 'train-images-idx3-ubyte.gz').rename(folder / 'train-images-idx3-ubyte')
  labels = folder / 't10k-labels-idx1-ubyte.gz'
  labels.write_bytes(gzip.decompress(labels.read_bytes()))
  assert (folder / 'train-images-idx3-ubyte').read_bytes()[:2] == b'\x1f\x8b'
  ds = data.load('mnist', folder)
  ref = data.load('mnist', SHARED)
  np.testing.assert_array_equal(ds.train_images, ref.train_images)
  np.testing.assert_array_equal(ds.test_labels, ref.test_labels)
  assert np.bincount(ds.train_labels).tolist() == MNIST_TRAIN_COUNTS


def idx_bytes(type_code: int, shape, payload: bytes) -> bytes:
  return bytes([0, 0, type_code, len(shape)]) + np.asarray(shape, '>u4').tobytes() + payload


@pytest.mark.parametrize('compress', [False, True])
def test_read_idx_accepts_a_small_valid_file(tmp_path, compress):
  images = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28) % 251
  raw = idx_bytes(0x08, (2, 28, 28), images.astype(np.uint8).tobytes())
  path = tmp_path / 'two-images'  # no .gz suffix either way
  path.write_bytes(gzip.compress(raw) if compress else raw)
  out = data.read_idx(path)
  assert out.shape == (2, 28, 28) and out.dtype == np.uint8
  np.testing.assert_array_equal(out, images)
  assert out[1, 27, 27] == (2 * 784 - 1) % 251


def test_read_idx_other_element_types(tmp_path):
  # IDX stores multi-byte values big-endian; they come back as native numbers.
  (tmp_path / 'i32').write_bytes(idx_bytes(0x0C, (3,), bytes.fromhex('00000001fffffffe7fffffff')))
  np.testing.assert_array_equal(data.read_idx(tmp_path / 'i32'), [1, -2, 2**31 - 1])
  (tmp_path / 'f32').write_bytes(idx_bytes(0x0D, (1, 2), bytes.fromhex('3fc00000c0200000')))
  out = data.read_idx(tmp_path / 'f32')
  assert out.dtype == np.float32 and out.tolist() == [[1.5, -2.5]]
  (tmp_path / 'i8').write_bytes(idx_bytes(0x09, (2,), b'\xff\x05'))
  assert data.read_idx(tmp_path / 'i8').tolist() == [-1, 5]


@pytest.mark.parametrize(
  'raw, why',
  [
    (b'', r'bad IDX header \(empty file\)'),
    (idx_bytes(0x0A, (2,), b'ab'), r'bad IDX header 00000a01'),  # 0x0A is no IDX type
    (
      idx_bytes(0x08, (2, 28, 28), bytes(2 * 784 - 1)),
      r'1567 data bytes, expected 1568 for '
      r'uint8 \(2, 28, 28\)',
    ),
    (idx_bytes(0x0C, (2,), bytes(4)), r'4 data bytes, expected 8 for int32 \(2,\)'),
    (bytes([0, 0, 8, 3, 0, 0, 0, 2]), r'header ends after 8 bytes, expected 16 for 3 dimensions'),
  ],
)
def test_read_idx_refuses_malformed_files(tmp_path, raw, why):
  path = tmp_path / 'bad'
  path.write_bytes(raw)
  with pytest.raises(data.DataError, match=re.escape(f'{path} is not a valid IDX file: ') + why):
    data.read_idx(path)


def test_read_idx_truncated_gzip(tmp_path):
  path = tmp_path / 'cut'
  path.write_bytes(gzip.compress(idx_bytes(0x08, (100,), bytes(range(100))))[:30])
  with pytest.raises(data.DataError, match=f'cannot read {re.escape(str(path))}: EOFError'):
    data.read_idx(path)


@requires_shared
def test_read_idx_of_the_real_file_is_what_load_returns():
  labels = data.read_idx(SHARED / 'mnist' / 'train-labels-idx1-ubyte.gz')
  assert labels.shape == (60000,) and labels.dtype == np.uint8
  assert np.bincount(labels).tolist() == MNIST_TRAIN_COUNTS


def _copy_mnist(dst: Path) -> Path:
  dst.mkdir(parents=True, exist_ok=True)
  for stem in IDX_STEMS:
    shutil.copy(SHARED / 'mnist' / f'{stem}.gz', dst)
  return dst


def _set(offset, value):
  def mutate(raw):
    raw[offset] = value

  return mutate


@requires_shared
@pytest.mark.parametrize(
  'stem, mutate, why',
  [
    ('train-images-idx3-ubyte', _set(16 + 28 * 14 + 14, 0x42), 'decoded content has sha256'),
    ('t10k-labels-idx1-ubyte', _set(8, 3), 'decoded content has sha256'),  # 7 -> 3, still in range
    ('train-labels-idx1-ubyte', _set(8 + 100, 10), 'label 10 out of range'),
    ('t10k-images-idx3-ubyte', _set(7, 0x11), 'dimensions (10001, 28, 28)'),
    ('t10k-images-idx3-ubyte', _set(2, 0x0D), 'bad IDX header 00000d03'),  # float32 type code
    ('t10k-labels-idx1-ubyte', lambda raw: raw.pop(), '9999 data bytes, expected 10000'),
  ],
)
def test_altered_file_is_refused(tmp_path, stem, mutate, why):
  folder = _copy_mnist(tmp_path / 'copy')
  regzip(SHARED / 'mnist' / f'{stem}.gz', folder / f'{stem}.gz', mutate)
  with pytest.raises(data.DataError) as err:
    data.load('mnist', folder)
  msg = str(err.value)
  assert msg.startswith(f'{folder / stem}.gz is not the original MNIST')
  assert why in msg
  assert 'download=True' in msg and 'ADADECAY_DATA_DIR' in msg  # how to get a good copy


@requires_shared
def test_truncated_gzip_is_refused(tmp_path):
  folder = _copy_mnist(tmp_path / 'copy')
  path = folder / 'train-images-idx3-ubyte.gz'
  path.write_bytes(path.read_bytes()[:500_000])
  with pytest.raises(data.DataError, match='truncated or corrupt') as err:
    data.load('mnist', folder)
  assert str(err.value).startswith(f'cannot read {path}: EOFError')
  assert 'python -m train.data download mnist' in str(err.value)


@requires_shared
def test_files_of_the_other_dataset_are_named(tmp_path):
  with pytest.raises(data.DataError, match='it is the Fashion-MNIST train images file'):
    data.load('mnist', SHARED / 'fashion-mnist')


@requires_shared
def test_incomplete_copy_names_missing_file(tmp_path):
  folder = _copy_mnist(tmp_path / 'copy')
  (folder / 't10k-labels-idx1-ubyte.gz').unlink()
  with pytest.raises(
    data.DataError, match=r'incomplete copy in .*copy: missing t10k-labels-idx1-ubyte\.gz'
  ):
    data.load('mnist', folder)


def test_nothing_found_lists_every_place(tmp_path, monkeypatch):
  (tmp_path / 'empty').mkdir()
  monkeypatch.setenv('ADADECAY_DATA_DIR', str(tmp_path / 'also-empty'))
  with pytest.raises(data.DataError) as err:
    data.load('fashion_mnist', tmp_path / 'empty')
  msg = str(err.value)
  assert msg.startswith('no copy of fashion_mnist found. Looked at:')
  for line in [
    f'data_dir argument {tmp_path / "empty"}: nothing for fashion_mnist in it or in its '
    'subfolders fashion-mnist/, fashion_mnist/',
    f'$ADADECAY_DATA_DIR {tmp_path / "also-empty"}: no such folder',
    f'Debian datasets folder {tmp_path / "usr-share-datasets" / "fashion-mnist"}: no such folder',
    f'TFDS folder {tmp_path / "tensorflow_datasets"}: no prepared fashion_mnist',
    f'cache {tmp_path / "cache" / "fashion_mnist"}: no such folder',
    'download: not requested (download=False)',
    'sudo apt-get install dataset-fashion-mnist',
    "load('fashion_mnist', download=True)",
    'set ADADECAY_DATA_DIR to it',
  ]:
    assert line in msg


def test_unknown_name():
  with pytest.raises(ValueError, match="unknown dataset 'cifar100'; known: mnist, fashion_mnist"):
    data.load('cifar100')


# ----------------------------------------------------------------------------
# Download (with a stand-in for the mirror)


def fake_mirror(monkeypatch, folder: Path, seen: list):
  def urlopen(url, timeout):
    seen.append(url)
    return open(folder / url.rsplit('/', 1)[1], 'rb')

  monkeypatch.setattr(urllib.request, 'urlopen', urlopen)


@requires_shared
def test_download_verifies_and_stores_in_cache(tmp_path, monkeypatch):
  seen = []
  fake_mirror(monkeypatch, SHARED / 'mnist', seen)
  ds = data.load('mnist', download=True)
  assert seen == [f'https://storage.googleapis.com/cvdf-datasets/mnist/{s}.gz' for s in IDX_STEMS]
  cache = tmp_path / 'cache' / 'mnist'
  assert sorted(p.name for p in cache.iterdir()) == sorted(f'{s}.gz' for s in IDX_STEMS)
  assert ds.source.endswith(
    '(downloaded from https://storage.googleapis.com/cvdf-datasets/'
    'mnist/; decoded content verified)'
  )
  assert np.bincount(ds.train_labels).tolist() == MNIST_TRAIN_COUNTS
  # Next time it comes from the cache, without download=True.
  monkeypatch.setattr(urllib.request, 'urlopen', None)
  assert data.load('mnist').source.endswith('(cache; decoded content verified)')


@requires_shared
def test_download_of_wrong_file_stores_nothing(tmp_path, monkeypatch):
  fake_mirror(monkeypatch, SHARED / 'fashion-mnist', [])  # serves the wrong dataset
  with pytest.raises(
    data.DataError,
    match=r'nothing was stored in the cache: the file downloaded from '
    r'https://storage\.googleapis\.com/cvdf-datasets/mnist/'
    r'train-images-idx3-ubyte\.gz is not the original MNIST train images '
    r'file: it is the Fashion-MNIST',
  ):
    data.load('mnist', download=True)
  assert not (tmp_path / 'cache' / 'mnist').exists()


def test_download_failure_is_clear(tmp_path, monkeypatch):
  def urlopen(url, timeout):
    raise urllib.error.URLError('[Errno -2] Name or service not known')

  monkeypatch.setattr(urllib.request, 'urlopen', urlopen)
  with pytest.raises(data.DataError) as err:
    data.load('fashion_mnist', download=True)
  msg = str(err.value)
  assert msg.startswith(
    'download of http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'
    'train-images-idx3-ubyte.gz failed: <urlopen error [Errno -2]'
  )
  assert 'No local copy of fashion_mnist either. Looked at:' in msg
  assert 'sudo apt-get install dataset-fashion-mnist' in msg
  assert not (tmp_path / 'cache' / 'fashion_mnist').exists()


@requires_shared
def test_damaged_cache_is_reported(tmp_path):
  cache = _copy_mnist(tmp_path / 'cache' / 'mnist')
  (cache / 't10k-labels-idx1-ubyte.gz').write_bytes(b'\x1f\x8b')
  with pytest.raises(
    data.DataError,
    match=r'(?s)cannot read .*t10k-labels.*this is the '
    r'download cache: delete',
  ):
    data.load('mnist')


# ----------------------------------------------------------------------------
# CIFAR-10 binary distribution (synthetic, small)


def cifar_records(labels, seed):
  rng = np.random.default_rng(seed)
  records = rng.integers(0, 256, (len(labels), 3073), dtype=np.uint8)
  records[:, 0] = labels
  return records


def expected_hwc(records):
  images = np.empty((len(records), 32, 32, 3), np.uint8)
  for c in range(3):  # each record holds the red, green, then blue 32x32 plane
    images[..., c] = records[:, 1 + 1024 * c : 1 + 1024 * (c + 1)].reshape(-1, 32, 32)
  return images


@pytest.fixture
def cifar_batches():
  """2 records per training batch (10 in all, one per class) and 10 test records."""
  train = [cifar_records([2 * i, 2 * i + 1], seed=i) for i in range(5)]
  test = cifar_records(list(range(9, -1, -1)), seed=9)
  files = {f'data_batch_{i + 1}.bin': r.tobytes() for i, r in enumerate(train)}
  files['test_batch.bin'] = test.tobytes()
  return files, np.concatenate(train), test


def write_tar(path: Path, files: dict):
  with tarfile.open(path, 'w:gz') as tar:
    for name, payload in files.items():
      info = tarfile.TarInfo(name)
      info.size = len(payload)
      tar.addfile(info, io.BytesIO(payload))


@pytest.mark.parametrize('layout', ['tarball', 'folder'])
def test_cifar10_binary_reader(tmp_path, cifar_batches, layout):
  files, train, test = cifar_batches
  if layout == 'tarball':
    path = tmp_path / 'cifar-10-binary.tar.gz'
    write_tar(
      path,
      {f'cifar-10-batches-bin/{k}': v for k, v in files.items()}
      | {'cifar-10-batches-bin/readme.html': b'<html/>'},
    )
  else:
    path = tmp_path / 'cifar-10-batches-bin'
    path.mkdir()
    for name, payload in files.items():
      (path / name).write_bytes(payload)
  ds = data._read_cifar10_binary(path, counts=(10, 10))
  assert ds.name == 'cifar10' and ds.num_classes == 10
  assert ds.train_images.shape == (10, 32, 32, 3) and ds.train_images.dtype == np.uint8
  assert ds.train_labels.tolist() == list(range(10)) and ds.train_labels.dtype == np.int32
  assert ds.test_labels.tolist() == list(range(9, -1, -1))
  np.testing.assert_array_equal(ds.train_images, expected_hwc(train))
  np.testing.assert_array_equal(ds.test_images, expected_hwc(test))
  assert ds.train_images[3, 5, 7, 2] == train[3, 1 + 2 * 1024 + 5 * 32 + 7]
  assert ds.source.startswith(f'original CIFAR-10 binary distribution {path}')
  # Through load(), the real counts apply: a small copy is refused, naming it.
  with pytest.raises(
    data.DataError,
    match=re.escape(str(path)) + r' is not a complete CIFAR-10: train '
    r'images are uint8 \(10, 32, 32, 3\), expected uint8 \(50000',
  ):
    data.load('cifar10', tmp_path)


def test_cifar10_binary_damage_is_refused(tmp_path, cifar_batches):
  files, _, _ = cifar_batches
  bad_label = dict(files, **{'test_batch.bin': cifar_records([0] * 9 + [10], 1).tobytes()})
  cases = {
    'truncated': (
      dict(files, **{'data_batch_3.bin': files['data_batch_3.bin'][:-5]}),
      r'data_batch_3\.bin: 6141 bytes is not a whole number of 3073-byte',
    ),
    'missing': (
      {k: v for k, v in files.items() if k != 'data_batch_5.bin'},
      r'has no data_batch_5\.bin',
    ),
    'label': (bad_label, r'test labels outside 0\.\.9 \(0\.\.10\)'),
    'unbalanced': (
      dict(files, **{'test_batch.bin': cifar_records([0] * 10, 1).tobytes()}),
      r'test has \[10, 0, 0',
    ),
  }
  for case, (contents, pattern) in cases.items():
    path = tmp_path / f'{case}.tar.gz'
    write_tar(path, contents)
    with pytest.raises(data.DataError, match=pattern):
      data._read_cifar10_binary(path, counts=(10, 10))
  gz = (tmp_path / 'truncated.tar.gz').read_bytes()
  (tmp_path / 'cut.tar.gz').write_bytes(gz[: len(gz) // 2])
  with pytest.raises(data.DataError, match=r'cannot read .*cut\.tar\.gz: .*truncated or corrupt'):
    data._read_cifar10_binary(tmp_path / 'cut.tar.gz', counts=(10, 10))


# ----------------------------------------------------------------------------
# CIFAR-10 download (with a stand-in for the server)


@pytest.fixture
def small_cifar_tarball(tmp_path, cifar_batches, monkeypatch):
  """A 10 + 10 image tarball standing for the original, with its sha256 as the published one."""
  files, _, _ = cifar_batches
  server = tmp_path / 'server'
  server.mkdir()
  write_tar(
    server / 'cifar-10-binary.tar.gz', {f'cifar-10-batches-bin/{k}': v for k, v in files.items()}
  )
  monkeypatch.setattr(data, '_CIFAR_TAR_SHA256', sha256(server / 'cifar-10-binary.tar.gz'))
  monkeypatch.setitem(data._COUNTS, 'cifar10', (10, 10))
  return server


def test_cifar10_download_verifies_and_stores_in_cache(tmp_path, monkeypatch, small_cifar_tarball):
  seen = []
  fake_mirror(monkeypatch, small_cifar_tarball, seen)
  ds = data.load('cifar10', download=True)
  assert seen == ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz']
  cache = tmp_path / 'cache' / 'cifar10'
  assert [p.name for p in cache.iterdir()] == ['cifar-10-binary.tar.gz']
  assert ds.train_labels.tolist() == list(range(10))
  assert ds.source == (
    f'original CIFAR-10 binary distribution {cache / "cifar-10-binary.tar.gz"} (downloaded'
    ' from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz; counts and label range'
    ' verified)'
  )
  # Next time from the cache, and locate() finds the same file.
  monkeypatch.setattr(urllib.request, 'urlopen', None)
  assert '(cache; counts' in data.load('cifar10').source
  assert data.locate('cifar10') == cache / 'cifar-10-binary.tar.gz'


def test_cifar10_download_with_wrong_checksum_stores_nothing(
  tmp_path, monkeypatch, small_cifar_tarball
):
  served = small_cifar_tarball / 'cifar-10-binary.tar.gz'
  served.write_bytes(served.read_bytes()[:-1])  # truncated in transit
  fake_mirror(monkeypatch, small_cifar_tarball, [])
  with pytest.raises(data.DataError) as err:
    data.load('cifar10', download=True)
  msg = str(err.value)
  assert msg.startswith(
    'nothing was stored in the cache: the file downloaded from '
    'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz has sha256 '
    f'{sha256(served)}, expected {data._CIFAR_TAR_SHA256}'
  )
  assert 'No local copy of cifar10 either. Looked at:' in msg
  assert not (tmp_path / 'cache' / 'cifar10').exists()


def test_cifar10_download_failure_and_no_download(tmp_path, monkeypatch):
  def urlopen(url, timeout):
    raise urllib.error.URLError('[Errno -3] Temporary failure in name resolution')

  monkeypatch.setattr(urllib.request, 'urlopen', urlopen)
  with pytest.raises(
    data.DataError,
    match=r'download of https://www\.cs\.toronto\.edu/~kriz/'
    r'cifar-10-binary\.tar\.gz failed: <urlopen error',
  ):
    data.load('cifar10', download=True)
  with pytest.raises(data.DataError) as err:
    data.locate('cifar10')
  assert 'download: not requested (download=False)' in str(err.value)
  assert 'python -m train.data download cifar10' in str(err.value)
  assert not (tmp_path / 'cache' / 'cifar10').exists()


@requires_shared
def test_locate_finds_the_folders(tmp_path, monkeypatch):
  assert data.locate('mnist', SHARED) == SHARED / 'mnist'
  monkeypatch.setenv('ADADECAY_DATA_DIR', str(SHARED))
  assert data.locate('fashion_mnist') == SHARED / 'fashion-mnist'
  monkeypatch.delenv('ADADECAY_DATA_DIR')
  with pytest.raises(
    data.DataError,
    match=r'(?s)no copy of mnist found\. Looked at:.*'
    r'download: not requested',
  ):
    data.locate('mnist', tmp_path)


# ----------------------------------------------------------------------------
# CIFAR-10 lossy JPEG copy


def write_jpeg_tar(path: Path, ds) -> None:
  """Writes ds as the JPEG copy is made: train|test/<class>/NNNN.jpg, quality 75, 4:2:0."""
  path.parent.mkdir(parents=True, exist_ok=True)
  with tarfile.open(path, 'w:gz', compresslevel=1) as tar:
    for split in ('train', 'test'):
      images, labels = getattr(ds, f'{split}_images'), getattr(ds, f'{split}_labels')
      for c, cls in enumerate(data.CIFAR10_CLASSES):
        for i, k in enumerate(np.flatnonzero(labels == c)):
          buf = io.BytesIO()
          Image.fromarray(images[k]).save(buf, 'JPEG', quality=75, subsampling=2)
          info = tarfile.TarInfo(f'{split}/{cls}/{i:04d}.jpg')
          info.size = buf.tell()
          buf.seek(0)
          tar.addfile(info, buf)


@pytest.fixture(scope='session')
def jpeg_tar(tmp_path_factory):
  """This project's lossy JPEG copy of CIFAR-10 where the test data has it, else one made
  the same way from the real CIFAR-10 (downloaded if needed: see conftest.py)."""
  shared = SHARED / 'cifar10-jpeg' / 'cifar10-jpeg.tar.gz'
  if shared.is_file():
    return shared
  name, root = conftest.cifar10_test_data()
  assert name == 'cifar10'
  path = tmp_path_factory.mktemp('made') / 'cifar10-jpeg' / 'cifar10-jpeg.tar.gz'
  write_jpeg_tar(path, data.load(name, root))
  return path


def test_cifar10_never_falls_back_to_the_jpeg_copy(tmp_path, jpeg_tar):
  (tmp_path / 'cifar10-jpeg').mkdir()
  (tmp_path / 'cifar10-jpeg' / 'cifar10-jpeg.tar.gz').symlink_to(jpeg_tar)
  with pytest.raises(data.DataError, match='lossy cifar10_jpeg copy is never used in its place'):
    data.load('cifar10', tmp_path)


def small_jpeg_tar(src: Path, path: Path, per_class: dict, rename=None):
  """Copies the first per_class[split] members of each class from the real tarball src."""
  wanted = {
    f'{split}/{cls}/{i:04d}.jpg'
    for split, n in per_class.items()
    for cls in data.CIFAR10_CLASSES
    for i in range(n)
  }
  payloads = {}
  with tarfile.open(src) as tar:
    for member in tar:
      if member.name in wanted:
        payloads[rename(member.name) if rename else member.name] = tar.extractfile(member).read()
      if len(payloads) == len(wanted):
        break
  # Reverse order: the decoder must sort, not trust the tar order.
  write_tar(path, dict(reversed(payloads.items())))
  return payloads


def test_jpeg_decoder_on_a_few_members(tmp_path, jpeg_tar):
  path = tmp_path / 'small.tar.gz'
  payloads = small_jpeg_tar(jpeg_tar, path, {'train': 2, 'test': 1})
  out = data._decode_cifar10_jpeg(path, per_class={'train': 2, 'test': 1})
  images, labels = out['train']
  assert images.shape == (20, 32, 32, 3) and images.dtype == np.uint8
  assert labels.tolist() == [c for c in range(10) for _ in range(2)]
  first_ship = np.asarray(Image.open(io.BytesIO(payloads['train/ship/0000.jpg'])).convert('RGB'))
  np.testing.assert_array_equal(images[16], first_ship)
  assert out['test'][1].tolist() == list(range(10))


def test_jpeg_decoder_refuses_bad_tarballs(tmp_path, jpeg_tar):
  per_class = {'train': 1, 'test': 1}
  small_jpeg_tar(
    jpeg_tar,
    tmp_path / 'odd.tar.gz',
    per_class,
    rename=lambda n: n.replace('/automobile/', '/car/'),
  )
  with pytest.raises(data.DataError, match=r'unexpected member (train|test)/car/0000\.jpg'):
    data._decode_cifar10_jpeg(tmp_path / 'odd.tar.gz', per_class)
  small_jpeg_tar(jpeg_tar, tmp_path / 'few.tar.gz', {'train': 1, 'test': 1})
  with pytest.raises(
    data.DataError,
    match=r'train has \[1, 1, 1, 1, 1, 1, 1, 1, 1, 1\] images '
    r'per class, expected 2 each',
  ):
    data._decode_cifar10_jpeg(tmp_path / 'few.tar.gz', {'train': 2, 'test': 1})


@pytest.mark.slow  # decodes all 60,000 JPEG images
def test_cifar10_jpeg_full_load_and_cache(tmp_path, monkeypatch, jpeg_tar):
  root = jpeg_tar.parent.parent
  ds = data.load('cifar10_jpeg', root)
  assert ds.name == 'cifar10_jpeg' and ds.num_classes == 10
  assert ds.train_images.shape == (50000, 32, 32, 3) and ds.train_images.dtype == np.uint8
  assert ds.test_images.shape == (10000, 32, 32, 3) and ds.test_images.dtype == np.uint8
  assert np.bincount(ds.train_labels).tolist() == [5000] * 10
  assert np.bincount(ds.test_labels).tolist() == [1000] * 10
  # Pixel means match CIFAR-10's (125.3, 123.0, 113.9); the JPEG copy is close, not equal.
  np.testing.assert_allclose(ds.train_images.mean(axis=(0, 1, 2)), [125.3, 123.0, 113.9], atol=1.0)
  assert ds.source.startswith(f'LOSSY JPEG copy cifar10-jpeg.tar.gz in {jpeg_tar.parent}')
  assert 'decoded from the tarball' in ds.source

  cache = tmp_path / 'cache' / 'cifar10_jpeg' / sha256(jpeg_tar)
  assert sorted(p.name for p in cache.iterdir()) == [
    'test_images.npy',
    'test_labels.npy',
    'train_images.npy',
    'train_labels.npy',
  ]
  again = data.load('cifar10_jpeg', jpeg_tar.parent)
  assert f'decoded arrays from the cache {cache}' in again.source
  np.testing.assert_array_equal(again.train_images, ds.train_images)
  np.testing.assert_array_equal(again.test_labels, ds.test_labels)

  # A damaged cache is not trusted: the tarball is decoded again (stand-in decoder, to save time).
  (cache / 'train_labels.npy').write_bytes(b'\x93NUMPY garbage')
  decoded = []

  def decode(path):
    decoded.append(path)
    return {'train': (ds.train_images, ds.train_labels), 'test': (ds.test_images, ds.test_labels)}

  monkeypatch.setattr(data, '_decode_cifar10_jpeg', decode)
  third = data.load('cifar10_jpeg', root)
  assert decoded == [jpeg_tar] and 'decoded from the tarball' in third.source
  rewritten = np.load(cache / 'train_labels.npy', allow_pickle=False)
  np.testing.assert_array_equal(rewritten, ds.train_labels)


# ----------------------------------------------------------------------------
# The order-independent checksums that verify TFDS copies (tests/test_tfds.py reads them)


@requires_shared
@pytest.mark.parametrize('name', ['mnist', 'fashion_mnist'])
def test_sorted_checksums_are_those_of_the_idx_files(name):
  ds = data.load(name, SHARED)  # verified by the sha256 of the original files' content
  for split in ('train', 'test'):
    images, labels = getattr(ds, f'{split}_images'), getattr(ds, f'{split}_labels')
    assert data.sorted_records_sha256(images, labels) == data._SORTED_SHA256[name][split]
  # Any order gives the same checksum; one changed pixel or label does not.
  order = np.random.default_rng(0).permutation(len(ds.test_labels))
  expected = data._SORTED_SHA256[name]['test']
  assert data.sorted_records_sha256(ds.test_images[order], ds.test_labels[order]) == expected
  images = ds.test_images.copy()
  images[123, 14, 14, 0] ^= 1
  assert data.sorted_records_sha256(images, ds.test_labels) != expected
  labels = ds.test_labels.copy()
  labels[123] = (labels[123] + 1) % 10
  assert data.sorted_records_sha256(ds.test_images, labels) != expected


# ----------------------------------------------------------------------------
# The tests' own data finder (conftest.py) on a user's fresh machine: no ../shared/data


@pytest.fixture
def fresh_machine(tmp_path, monkeypatch):
  """conftest as it is without ../shared/data and $ADADECAY_TEST_DATA; returns the user cache."""
  user_cache = tmp_path / 'user-cache'
  monkeypatch.setattr(conftest, '_FIXED', False)
  monkeypatch.setattr(conftest, 'USER_CACHE', user_cache)
  monkeypatch.setattr(conftest, 'TEST_DATA', user_cache / 'test-data')
  monkeypatch.setattr(conftest, '_linked', set())
  return user_cache


def internet(monkeypatch, servers: dict, seen: list):
  """urlopen serving files from local folders, by URL prefix."""

  def urlopen(url, timeout):
    seen.append(url)
    for prefix, folder in servers.items():
      if url.startswith(prefix):
        return open(folder / url[len(prefix) :], 'rb')
    raise urllib.error.URLError(f'no such server for {url}')

  monkeypatch.setattr(urllib.request, 'urlopen', urlopen)


@requires_shared
def test_fresh_machine_downloads_the_test_data(fresh_machine, small_cifar_tarball, monkeypatch):
  seen = []
  internet(
    monkeypatch,
    {
      'https://storage.googleapis.com/cvdf-datasets/mnist/': SHARED / 'mnist',
      'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/': SHARED / 'fashion-mnist',
      'https://www.cs.toronto.edu/~kriz/': small_cifar_tarball,
    },
    seen,
  )
  root = conftest.require_test_data()
  assert root == fresh_machine / 'test-data'
  assert len(seen) == 8 and seen[0].endswith('mnist/train-images-idx3-ubyte.gz')
  assert (root / 'mnist').resolve() == fresh_machine / 'mnist'
  assert (root / 'fashion-mnist').resolve() == fresh_machine / 'fashion_mnist'
  ds = data.load('fashion_mnist', root)  # as test_train.py reads it
  assert ds.source.startswith(f'original IDX files in {root / "fashion-mnist"} (data_dir')
  assert np.bincount(ds.test_labels).tolist() == [1000] * 10
  # CIFAR-10: the original, downloaded (sha256-checked) when the test asks for it.
  name, cifar_root = conftest.cifar10_test_data()
  assert (name, cifar_root) == ('cifar10', root)
  assert seen[8:] == ['https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz']
  assert data.load(name, cifar_root).source.startswith(
    f'original CIFAR-10 binary distribution {root / "cifar10" / "cifar-10-binary.tar.gz"}'
  )
  # A later run finds them in the cache, offline.
  monkeypatch.setattr(conftest, '_linked', set())
  internet(monkeypatch, {}, seen)
  assert conftest.require_test_data('mnist', 'fashion_mnist', 'cifar10') == root
  assert len(seen) == 9


def test_fresh_machine_offline_without_data_fails_with_the_instructions(fresh_machine, monkeypatch):
  seen = []
  internet(monkeypatch, {}, seen)
  with pytest.raises(pytest.fail.Exception) as err:
    conftest.require_test_data()
  msg = str(err.value)
  assert msg.startswith('The tests need the real data sets')
  assert f'downloaded (verified) into {conftest.USER_CACHE}' in msg
  assert 'set ADADECAY_TEST_DATA to a folder holding mnist/, fashion-mnist/ and cifar10/' in msg
  assert (
    'download of https://storage.googleapis.com/cvdf-datasets/mnist/'
    'train-images-idx3-ubyte.gz failed'
  ) in msg
  assert 'No local copy of mnist either. Looked at:' in msg
  assert seen == ['https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz']
  with pytest.raises(pytest.fail.Exception, match='No local copy of cifar10 either'):
    conftest.cifar10_test_data()


def test_test_data_folder_that_is_not_there_fails(tmp_path, monkeypatch):
  monkeypatch.setattr(conftest, 'TEST_DATA', tmp_path / 'nowhere')
  monkeypatch.setattr(conftest, '_FIXED', True)
  with pytest.raises(pytest.fail.Exception, match=r'ADADECAY_TEST_DATA=.*nowhere is not a folder'):
    conftest.require_test_data()


def test_dataset_normalization_subset_and_synthetic():
  ds = data.Dataset.synthetic(300, 50, (8, 8, 3), seed=1)
  assert (ds.name, ds.num_classes) == ('synthetic', 10)
  assert ds.train_images.shape == (300, 8, 8, 3) and ds.test_labels.dtype == np.int32
  pixels = ds.train_images.reshape(-1, 3).astype(np.float64) / 255.0
  assert ds.mean.dtype == ds.std.dtype == np.float32 and ds.mean.shape == (3,)
  np.testing.assert_array_equal(ds.mean, pixels.mean(0).astype(np.float32))
  np.testing.assert_array_equal(ds.std, pixels.std(0).astype(np.float32))
  assert ds.mean is ds.mean  # computed once
  assert not ds.mean.flags.writeable and not ds.std.flags.writeable

  sub = ds.subset(100, 0)
  assert len(sub.train_labels) == 100 and len(sub.test_labels) == 50
  assert sub.source == ds.source + ' (subset: first 100 train / 50 test images)'
  assert np.shares_memory(sub.train_images, ds.train_images)
  pixels = sub.train_images.reshape(-1, 3) / 255.0
  np.testing.assert_array_equal(sub.mean, pixels.mean(0).astype(np.float32))


def test_constant_channel_is_refused():
  ds = data.Dataset.synthetic(30, 10, (4, 4, 3), seed=0)
  images = np.array(ds.train_images)
  images[..., 1] = 7  # channel 1 constant: std 0
  flat = dataclasses.replace(ds, train_images=images)
  with pytest.raises(ValueError, match=r'constant channels \[1\] \(std 0\)'):
    flat.std


def test_importing_defines_no_flags():
  # The flags are the command line's: a program importing train.data keeps its own.
  from absl import flags  # pylint: disable=g-import-not-at-top

  assert 'data-dir' not in flags.FLAGS


@pytest.mark.slow  # subprocesses
def test_command_line_refuses_bad_arguments():
  for args, message in (
    (['download', 'nosuch'], "unknown dataset 'nosuch'"),
    (['fetch', 'mnist'], "unknown command 'fetch'"),
    ([], 'no command'),
  ):
    out = subprocess.run(
      [sys.executable, '-m', 'train.data', *args],
      cwd=REPO,
      capture_output=True,
      text=True,
      timeout=120,
    )
    assert out.returncode == 2, (args, out.stderr)
    assert message in out.stderr and 'download NAME' in out.stderr
    assert 'Traceback' not in out.stderr
  out = subprocess.run(
    [sys.executable, '-m', 'train.data', '--help'],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert 'python -m train.data download NAME' in out.stdout + out.stderr
  assert '--data-dir' in out.stdout + out.stderr
