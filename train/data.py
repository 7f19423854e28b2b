"""Verified loading of the image datasets used by the AdaDecay harness.

One entry point, :func:`load`, returns a :class:`Dataset` of uint8 images and
int32 labels for ``mnist``, ``fashion_mnist``, ``cifar10`` and
``cifar10_jpeg``. Every copy read is checked before use (counts, shapes,
label range and, for the MNIST family, a sha256 of the decoded pixels and
labels), and ``Dataset.source`` says exactly what was read, so a run's record
can show which copy of the data it saw.

Where a dataset is looked for, in order:

1. the ``data_dir`` argument;
2. the environment variable ``ADADECAY_DATA_DIR``;
3. Debian's ``/usr/share/datasets/<name>`` (``apt-get install
   dataset-fashion-mnist`` installs ``/usr/share/datasets/fashion-mnist``);
4. TFDS's folder (``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets``), if
   the dataset is prepared there; read with ``tensorflow_datasets`` (the
   ``tfds`` extra; no TensorFlow needed for the ``array_record`` format),
   never downloading;
5. the cache ``~/.cache/adadecay_optax/<name>`` (``$ADADECAY_CACHE_DIR`` or
   ``$XDG_CACHE_HOME/adadecay_optax`` when set), where downloads are stored;
6. with ``download=True`` only: the original files from their public
   sources, stored in the cache only once verified.

A folder in 1-2 matches if it holds the files itself or in a subfolder named
after the dataset (``mnist/``, ``fashion-mnist/``, ``fashion_mnist/``,
``cifar10/``), so a single data root with one subfolder per dataset works;
it also matches if it is a TFDS data folder where the dataset is prepared
(``<folder>/mnist/3.0.1/``). A copy that is found but fails verification is
an error; the search does not go on past it. Copies read through TFDS are
verified too, by a checksum that does not depend on the order of examples.

MNIST / Fashion-MNIST are the four IDX files (gzip-compressed or not: the
content decides, not the name); :func:`read_idx` reads any IDX file.
CIFAR-10 is read from TFDS or the original binary distribution
(``cifar-10-binary.tar.gz``, sha256-checked when downloaded, or its
``cifar-10-batches-bin/`` folder), never from the pickled "python version".
``cifar10_jpeg`` is a lossy JPEG copy that is read only when asked for by
that name.

Command line: ``python -m train.data download NAME [--data-dir DIR]`` fetches
and verifies a dataset into the cache (and prints where it came from if it was
already there); NAME is one of mnist, fashion_mnist, cifar10, cifar10_jpeg.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import importlib
import io
import os
import re
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import warnings
import zlib
from pathlib import Path

from absl import app
from absl import flags
import numpy as np

__all__ = [
  'CIFAR10_CLASSES',
  'DATASETS',
  'DataError',
  'Dataset',
  'load',
  'locate',
  'read_idx',
  'sorted_records_sha256',
]

DATASETS = ('mnist', 'fashion_mnist', 'cifar10', 'cifar10_jpeg')
"""Names accepted by :func:`load`."""

CIFAR10_CLASSES = (
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
)
"""CIFAR-10 class names; a label is the index of its class in this tuple."""

DATA_DIR_ENV = 'ADADECAY_DATA_DIR'
CACHE_DIR_ENV = 'ADADECAY_CACHE_DIR'

# Module-level so tests can point them elsewhere.
_SYSTEM_DATA_DIR = Path('/usr/share/datasets')
_DOWNLOAD_TIMEOUT_S = 60


class DataError(Exception):
  """A dataset is missing, incomplete, corrupt, or not the expected one.

  The message names the file or the places looked at, and how to get a good
  copy.
  """


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
  """A verified train/test split held in memory, as the trainer takes it.

  The arrays are read-only, so one loaded copy can be shared safely.
  :func:`load` returns one; :meth:`subset` and :meth:`synthetic` make
  others. ``mean`` and ``std``, the normalisation the trainer applies, are
  computed from the training images when first asked for (ValueError if a
  channel is constant: its std would be 0).

  Attributes:
    name: One of :data:`DATASETS` for what :func:`load` returns;
      ``'synthetic'`` for :meth:`synthetic`; any name for other data.
    train_images: uint8, shape (N_train, H, W, C); (60000, 28, 28, 1) for
      the MNIST family, (50000, 32, 32, 3) for CIFAR-10.
    train_labels: int32, shape (N_train,), values in [0, num_classes).
    test_images: uint8, shape (N_test, H, W, C).
    test_labels: int32, shape (N_test,).
    num_classes: Number of classes (10 for all known datasets).
    source: Human-readable description of exactly what was read.
  """

  name: str
  train_images: np.ndarray
  train_labels: np.ndarray
  test_images: np.ndarray
  test_labels: np.ndarray
  num_classes: int
  source: str

  def __post_init__(self):
    for split in ('train', 'test'):
      images = getattr(self, f'{split}_images')
      labels = getattr(self, f'{split}_labels')
      if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(
          f'{split}_images must be uint8 (N, H, W, C), got {images.dtype} {images.shape}'
        )
      if labels.dtype != np.int32 or labels.shape != images.shape[:1]:
        raise ValueError(
          f'{split}_labels must be int32 ({len(images)},), got {labels.dtype} {labels.shape}'
        )
      images.flags.writeable = False
      labels.flags.writeable = False

  @functools.cached_property
  def _normalization(self) -> tuple[np.ndarray, np.ndarray]:
    channels = self.train_images.reshape(-1, self.train_images.shape[-1])
    constant = np.flatnonzero(channels.min(0) == channels.max(0))
    if constant.size:
      # Normalising by a zero std would feed the model inf/NaN inputs.
      raise ValueError(
        f'{self.name}: training images have constant channels {constant.tolist()}'
        ' (std 0), which cannot be normalised; check that the images were read correctly'
      )
    # In float64, rounded to float32 at the end.
    pixels = channels / 255.0
    mean, std = pixels.mean(0).astype(np.float32), pixels.std(0).astype(np.float32)
    mean.flags.writeable = False
    std.flags.writeable = False
    return mean, std

  @property
  def mean(self) -> np.ndarray:
    """Per-channel mean of the training pixels scaled to [0, 1]; float32 (C,)."""
    return self._normalization[0]

  @property
  def std(self) -> np.ndarray:
    """Per-channel std of the training pixels scaled to [0, 1]; float32 (C,)."""
    return self._normalization[1]

  def subset(self, train: int | None = None, test: int | None = None) -> Dataset:
    """The first ``train`` training and ``test`` test examples.

    Args:
      train: Number of training examples kept; all when None or 0.
      test: Number of test examples kept; all when None or 0.

    Returns:
      A :class:`Dataset` of views of these arrays whose ``source`` says
      which examples it holds (``mean`` and ``std`` are the subset's).
    """
    n_train = train or len(self.train_labels)
    n_test = test or len(self.test_labels)
    return dataclasses.replace(
      self,
      train_images=self.train_images[:n_train],
      train_labels=self.train_labels[:n_train],
      test_images=self.test_images[:n_test],
      test_labels=self.test_labels[:n_test],
      source=f'{self.source} (subset: first {n_train} train / {n_test} test images)',
    )

  @classmethod
  def synthetic(
    cls, n_train: int, n_test: int, image_shape: tuple[int, ...] = (28, 28, 1), seed: int = 0
  ) -> Dataset:
    """Uniform random uint8 images and labels in [0, 10), for benchmarks."""
    rng = np.random.default_rng(seed)
    return cls(
      name='synthetic',
      train_images=rng.integers(0, 256, (n_train, *image_shape), dtype=np.uint8),
      train_labels=rng.integers(0, 10, n_train).astype(np.int32),
      test_images=rng.integers(0, 256, (n_test, *image_shape), dtype=np.uint8),
      test_labels=rng.integers(0, 10, n_test).astype(np.int32),
      num_classes=10,
      source=f'synthetic: uniform random images and labels (seed {seed})',
    )


# --------------------------------------------------------------------------
# MNIST / Fashion-MNIST (IDX files)

_IDX_FILES = {  # part -> (file stem, shape)
  'train_images': ('train-images-idx3-ubyte', (60000, 28, 28)),
  'train_labels': ('train-labels-idx1-ubyte', (60000,)),
  'test_images': ('t10k-images-idx3-ubyte', (10000, 28, 28)),
  'test_labels': ('t10k-labels-idx1-ubyte', (10000,)),
}

# sha256 of the decoded data, i.e. the bytes after the IDX header, so that a
# re-compressed copy (Debian normalises the gzip headers) is still accepted.
# Computed from /work/shared/data/{mnist,fashion-mnist}, whose .gz files have
# the sha256 listed in TFDS's url_checksums (mnist.txt; fashion_mnist) and in
# the Fashion-MNIST README: that match of the compressed files is the
# independent reason to trust these constants. Debian's dataset-fashion-mnist
# 0.0~git20200523.55506a9-1 decodes to the same four hashes.
_IDX_SHA256 = {
  'mnist': {
    'train_images': '741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757',
    'train_labels': '1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13',
    'test_images': '6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161',
    'test_labels': 'ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5',
  },
  'fashion_mnist': {
    'train_images': '2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012',
    'train_labels': '657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7',
    'test_images': 'c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a',
    'test_labels': '3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9',
  },
}
# Reverse map, to say "this is the Fashion-MNIST file" when the datasets are mixed up.
_KNOWN_IDX = {h: (ds, part) for ds, parts in _IDX_SHA256.items() for part, h in parts.items()}

_MIRRORS = {
  'mnist': 'https://storage.googleapis.com/cvdf-datasets/mnist/',
  'fashion_mnist': 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
}
_SUBDIRS = {
  'mnist': ('mnist',),
  'fashion_mnist': ('fashion-mnist', 'fashion_mnist'),
  'cifar10': ('cifar10', 'cifar-10'),
  'cifar10_jpeg': ('cifar10-jpeg', 'cifar10_jpeg'),
}
_DEBIAN_DIRS = {'mnist': 'mnist', 'fashion_mnist': 'fashion-mnist'}
_DEBIAN_WHAT = 'Debian datasets folder'
_PRETTY = {
  'mnist': 'MNIST',
  'fashion_mnist': 'Fashion-MNIST',
  'cifar10': 'CIFAR-10',
  'cifar10_jpeg': 'CIFAR-10 (JPEG copy)',
}


def _idx_how_to_get(name: str, offer_download: bool = True) -> str:
  files = ', '.join(stem + '.gz' for stem, _ in _IDX_FILES.values())
  ways = []
  if name == 'fashion_mnist':
    ways.append(
      'on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist '
      '(installs /usr/share/datasets/fashion-mnist)'
    )
  if offer_download:
    ways.append(
      f'download the originals into the cache (needs internet): '
      f'load({name!r}, download=True) or `python -m train.data download {name}`'
    )
  ways.append(
    f'put the 4 original files ({files}, from {_MIRRORS[name]}) in a folder and '
    f'pass it as data_dir or set {DATA_DIR_ENV} to it'
  )
  return ''.join(f'\n  - {w}' for w in ways)


_GZIP_MAGIC = b'\x1f\x8b'


def _open_bytes(path: Path, how_to_get: str, shown: str) -> bytes:
  """Reads a file, gunzipping it if it starts with the gzip magic bytes.

  The content decides, not the name: a gzip file renamed without ``.gz``
  (or an uncompressed file named ``*.gz``) is read correctly. Any failure
  becomes a DataError.
  """
  try:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == _GZIP_MAGIC else raw
  # Truncated gzip raises EOFError, corrupt streams BadGzipFile (an OSError) or zlib.error.
  except (OSError, EOFError, zlib.error) as e:
    raise DataError(
      f'cannot read {shown}: {type(e).__name__}: {e}. The file is '
      f'truncated or corrupt; replace it with a good copy'
      f'{":" if how_to_get else "."}{how_to_get}'
    ) from e


# IDX type codes (third header byte) -> element dtype; multi-byte values are big-endian.
_IDX_DTYPES = {
  0x08: np.dtype(np.uint8),
  0x09: np.dtype(np.int8),
  0x0B: np.dtype('>i2'),
  0x0C: np.dtype('>i4'),
  0x0D: np.dtype('>f4'),
  0x0E: np.dtype('>f8'),
}


def _parse_idx(raw: bytes, bad, shape=None) -> tuple[np.ndarray, int]:
  """Parses decompressed IDX bytes; ``bad(why)`` builds the error to raise.

  ``shape``, if given, is the only shape accepted.

  Returns:
    (read-only array in native byte order, offset of the data in ``raw``).
  """
  # Header: two zero bytes, the type code, ndim, then ndim big-endian uint32 dims.
  if len(raw) < 4 or raw[:2] != b'\x00\x00' or raw[2] not in _IDX_DTYPES or raw[3] == 0:
    raise bad(
      f'bad IDX header {raw[:4].hex() or "(empty file)"} (expected 0000, a type '
      f'code in {", ".join(f"{c:02x}" for c in _IDX_DTYPES)}, then ndim >= 1)'
    )
  dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
  offset = 4 + 4 * ndim
  if len(raw) < offset:
    raise bad(f'header ends after {len(raw)} bytes, expected {offset} for {ndim} dimensions')
  dims = tuple(int(d) for d in np.frombuffer(raw, '>u4', count=ndim, offset=4))
  if shape is not None and dims != shape:
    raise bad(f'dimensions {dims}, expected {shape}')
  shape = dims
  want = int(np.prod(shape)) * dtype.itemsize
  if len(raw) - offset != want:
    raise bad(f'{len(raw) - offset} data bytes, expected {want} for {dtype.name} {shape}')
  data = np.frombuffer(raw, dtype, offset=offset).reshape(shape)
  if dtype.byteorder == '>':
    data = data.astype(dtype.newbyteorder('='))
    data.flags.writeable = False
  return data, offset


def read_idx(path: str | os.PathLike) -> np.ndarray:
  """Reads one IDX file, the format of the MNIST family (LeCun et al.).

  Any valid IDX file is accepted (any shape and IDX element type); nothing is
  checked against a known data set, which is what :func:`load` adds.
  Gzip-compressed files are recognised by their magic bytes, whatever their
  name.

  Args:
    path: The file, e.g. ``train-images-idx3-ubyte.gz``.

  Returns:
    A read-only array of the shape in the header, e.g. uint8 (60000, 28, 28)
    for MNIST's training images; dtype uint8, int8, int16, int32, float32
    or float64 (native byte order) as the header's type code says.

  Raises:
    DataError: the file cannot be read or decompressed, or is not a
      well-formed IDX file (header, or data size for the header's shape).
  """
  path = Path(path)
  raw = _open_bytes(path, '', str(path))

  def bad(why: str) -> DataError:
    return DataError(f'{path} is not a valid IDX file: {why}')

  return _parse_idx(raw, bad)[0]


def _read_idx(path: Path, name: str, part: str, shown: str | None = None) -> np.ndarray:
  """Reads one IDX file of ``name`` and checks it is the original; ``shown`` names it in errors.

  Returns:
    uint8 array of the shape in ``_IDX_FILES[part]`` (read-only view).

  Raises:
    DataError: unreadable file, wrong header or size, labels out of range,
      or decoded content different from the original.
  """
  how = _idx_how_to_get(name)
  shown = shown or str(path)
  raw = _open_bytes(path, how, shown)
  shape = _IDX_FILES[part][1]

  def bad(why: str) -> DataError:
    return DataError(
      f'{shown} is not the original {_PRETTY[name]} {part.replace("_", " ")} '
      f'file: {why}. Replace it with a good copy:{how}'
    )

  # The originals are uint8 (type code 08) with this many dimensions.
  if raw[:4] != b'\x00\x00\x08' + bytes([len(shape)]):
    raise bad(f'bad IDX header {raw[:4].hex() or "(empty file)"} (expected 000008{len(shape):02x})')
  data, offset = _parse_idx(raw, bad, shape)
  if part.endswith('labels') and data.max() > 9:
    raise bad(f'label {int(data.max())} out of range 0..9')
  digest = hashlib.sha256(memoryview(raw)[offset:]).hexdigest()
  if digest != _IDX_SHA256[name][part]:
    known = _KNOWN_IDX.get(digest)
    if known:
      raise bad(f'it is the {_PRETTY[known[0]]} {known[1].replace("_", " ")} file')
    raise bad(
      f'decoded content has sha256 {digest}, expected '
      f'{_IDX_SHA256[name][part]} (altered or a different dataset)'
    )
  return data


def _idx_files_in(folder: Path) -> dict[str, Path] | None:
  """Maps part -> file if ``folder`` holds any IDX file, else None.

  Raises:
    DataError: some but not all four files are there.
  """
  found, missing = {}, []
  for part, (stem, _) in _IDX_FILES.items():
    for candidate in (folder / (stem + '.gz'), folder / stem):
      if candidate.is_file():
        found[part] = candidate
        break
    else:
      missing.append(stem + '.gz')
  if not found:
    return None
  if missing:
    raise DataError(f'incomplete copy in {folder}: missing {", ".join(missing)}')
  return found


def _candidate_folders(root: Path, name: str) -> list[Path]:
  return [root] + [root / sub for sub in _SUBDIRS[name]]


def _search_roots(data_dir, name: str) -> list[tuple[str, Path | None]]:
  """(what, folder) pairs for lookup steps 1-3; folder None means 'not set'."""
  env = os.environ.get(DATA_DIR_ENV)
  roots = [
    ('data_dir argument', Path(data_dir).expanduser() if data_dir is not None else None),
    (f'${DATA_DIR_ENV}', Path(env).expanduser() if env else None),
  ]
  if name in _DEBIAN_DIRS:
    roots.append((_DEBIAN_WHAT, _SYSTEM_DATA_DIR / _DEBIAN_DIRS[name]))
  return roots


def _cache_root() -> Path:
  if os.environ.get(CACHE_DIR_ENV):
    return Path(os.environ[CACHE_DIR_ENV]).expanduser()
  xdg = os.environ.get('XDG_CACHE_HOME')
  return (Path(xdg) if xdg else Path.home() / '.cache') / 'adadecay_optax'


def _load_idx_folder(name: str, files: dict[str, Path], what: str) -> Dataset:
  arrays = {part: _read_idx(path, name, part) for part, path in files.items()}
  folders = sorted({str(p.parent) for p in files.values()})
  return Dataset(
    name=name,
    train_images=arrays['train_images'][..., None],
    train_labels=arrays['train_labels'].astype(np.int32),
    test_images=arrays['test_images'][..., None],
    test_labels=arrays['test_labels'].astype(np.int32),
    num_classes=10,
    source=f'original IDX files in {", ".join(folders)} ({what}; decoded content verified)',
  )


def _find_in_folders(roots, name, finder, looked, tfds_too=False):
  """First (what, finder result) over roots and their dataset subfolders.

  With ``tfds_too``, a user's folder (steps 1-2) that holds a TFDS-prepared
  ``name`` (``<root>/<name>/<version>/``) is a hit too, as ``(what, _TfdsCopy)``.
  Appends a line per place to ``looked``.
  """
  for what, root in roots:
    if root is None:
      looked.append(f'{what}: not set')
      continue
    if not root.is_dir():
      looked.append(f'{what} {root}: no such folder')
      continue
    for folder in _candidate_folders(root, name):
      if folder.is_dir():
        hit = finder(folder)
        if hit is not None:
          return what, hit
    tfds_too_here = tfds_too and name in _TFDS_NAMES and what != _DEBIAN_WHAT
    if tfds_too_here and _tfds_versions(root, name):
      return what, _TfdsCopy(root)
    tfds_note = f' (and no TFDS-prepared {root / name / "<version>"}/)' if tfds_too_here else ''
    looked.append(
      f'{what} {root}: nothing for {name} in it or in its subfolders '
      f'{", ".join(s + "/" for s in _SUBDIRS[name])}{tfds_note}'
    )
  return None


def _cached_idx_or_download(name: str, download: bool, looked: list[str], use):
  """Steps 5-6 for the MNIST family: ``use(files, what)`` of the cache, downloading if asked.

  ``use`` reads the files (and so verifies them: a damaged cache is then
  downloaded again when ``download``).

  Raises:
    DataError: nothing found (listing ``looked``), a damaged cache without
      ``download``, or a failed download.
  """
  cache = _cache_root() / name
  try:
    files = _idx_files_in(cache) if cache.is_dir() else None
    if files:
      return use(files, 'cache')
  except DataError as e:
    # The cache is ours: a damaged one is repaired by downloading again.
    if not download:
      raise DataError(
        f'{e}\n(this is the download cache: delete {cache}, or download again with download=True)'
      ) from e
  looked.append(f'cache {cache}: ' + ('empty or damaged' if cache.is_dir() else 'no such folder'))
  if download:
    try:
      _download_idx(name, cache)
    except DataError as e:
      raise DataError(
        f'{e}\nNo local copy of {name} either. Looked at:'
        + ''.join(f'\n  - {line}' for line in looked)
        + '\nOther ways to get it:'
        + _idx_how_to_get(name, False)
      ) from e
    return use(_idx_files_in(cache), f'downloaded from {_MIRRORS[name]}')
  looked.append('download: not requested (download=False)')
  raise DataError(
    f'no copy of {name} found. Looked at:'
    + ''.join(f'\n  - {line}' for line in looked)
    + '\nWays to get it:'
    + _idx_how_to_get(name)
  )


def _load_mnist_family(name: str, data_dir, download: bool) -> Dataset:
  looked: list[str] = []
  hit = _find_in_folders(_search_roots(data_dir, name), name, _idx_files_in, looked, tfds_too=True)
  if hit:
    if isinstance(hit[1], _TfdsCopy):
      return _read_tfds(name, hit[1].data_dir, hit[0])
    return _load_idx_folder(name, hit[1], hit[0])
  ds = _load_tfds_default(name, looked)
  if ds is not None:
    return ds
  return _cached_idx_or_download(
    name, download, looked, lambda files, what: _load_idx_folder(name, files, what)
  )


def _fetch(url: str, folder: Path, prefix: str, suffix: str) -> tuple[Path, str]:
  """Downloads ``url`` into a new hidden file in ``folder``; returns it and its sha256.

  Raises:
    DataError: the download failed (the partial file is removed).
  """
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
  digest = hashlib.sha256()
  try:
    with (
      os.fdopen(fd, 'wb') as out,
      urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as resp,
    ):
      while chunk := resp.read(1 << 20):
        digest.update(chunk)
        out.write(chunk)
  except OSError as e:  # URLError, HTTPError, timeouts, disk full
    Path(tmp).unlink(missing_ok=True)
    raise DataError(f'download of {url} failed: {e} (no internet access on this machine?)') from e
  return Path(tmp), digest.hexdigest()


def _make_cache(cache: Path) -> None:
  try:
    cache.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise DataError(
      f'cannot create the download cache {cache}: {e}; set {CACHE_DIR_ENV} to a writable folder'
    ) from e


def _download_idx(name: str, cache: Path) -> None:
  """Fetches the 4 original files into ``cache``, verified before they appear there.

  Raises:
    DataError: network failure or a file that fails verification; nothing
      is left behind in ``cache`` then.
  """
  _make_cache(cache)
  temps: dict[str, Path] = {}
  try:
    for part, (stem, _) in _IDX_FILES.items():
      url = _MIRRORS[name] + stem + '.gz'
      temps[stem], _ = _fetch(url, cache, f'.{stem}.part-', '.gz')
      try:
        _read_idx(temps[stem], name, part, shown=f'the file downloaded from {url}')
      except DataError as e:
        raise DataError(f'nothing was stored in the cache: {e}') from e
    # Only complete, verified files become visible under their real names.
    for stem, tmp in temps.items():
      os.replace(tmp, cache / (stem + '.gz'))
  finally:
    for tmp in temps.values():
      tmp.unlink(missing_ok=True)
    if not any(cache.iterdir()):
      cache.rmdir()  # Leave no empty cache folder behind a failed download.


# --------------------------------------------------------------------------
# TFDS (optional: `pip install tensorflow-datasets`; reading needs no TensorFlow)

_COUNTS = {
  'mnist': (60000, 10000),
  'fashion_mnist': (60000, 10000),
  'cifar10': (50000, 10000),
  'cifar10_jpeg': (50000, 10000),
}
_IMAGE_SHAPES = {
  'mnist': (28, 28, 1),
  'fashion_mnist': (28, 28, 1),
  'cifar10': (32, 32, 3),
  'cifar10_jpeg': (32, 32, 3),
}
_TFDS_NAMES = ('mnist', 'fashion_mnist', 'cifar10')  # TFDS's names for them

# sha256 of each split's (label byte, image bytes) records sorted bytewise: the
# same whatever order TFDS stores the examples in. Computed from the IDX
# files verified by _IDX_SHA256 (tests/test_tfds.py recomputes them so).
_SORTED_SHA256 = {
  'mnist': {
    'train': 'da6370735bf1d490f086dde49c15f2ed0480ad05dc7c70abf5d36bf471d5e312',
    'test': '0c7bc63f656fb2440dc2b5bea4ff3ac8632e305b73ec1dc88141a32d36204fac',
  },
  'fashion_mnist': {
    'train': '56016b2341e99c383df5cc0ed736f4afb12a6c90855d9f3d69981b294a0159ad',
    'test': 'b73438e78d64c9f337edad19c3eea888b49d646dbe27b46e4e3177218f3581e7',
  },
}


@dataclasses.dataclass(frozen=True)
class _TfdsCopy:
  data_dir: Path


def _tfds_versions(data_dir: Path, name: str) -> list[str]:
  """Versions of ``name`` that TFDS prepared in ``data_dir``.

  A prepared version is a folder ``<data_dir>/<name>/<version>/`` holding
  ``dataset_info.json``.
  """
  if name not in _TFDS_NAMES:
    return []
  return sorted(p.parent.name for p in (data_dir / name).glob('*/dataset_info.json'))


def _tfds_default_dir() -> Path:
  # TFDS's own default (tensorflow_datasets.core.constants.DATA_DIR), read without
  # importing TFDS so that looking costs nothing when there is nothing there.
  return Path(os.environ.get('TFDS_DATA_DIR') or Path.home() / 'tensorflow_datasets').expanduser()


def sorted_records_sha256(images: np.ndarray, labels: np.ndarray) -> str:
  """Checksum of a split that does not depend on the order of its examples.

  Args:
    images: uint8 (N, ...) images.
    labels: (N,) integer labels in 0..255.

  Returns:
    The sha256 (hex) of the N records ``label byte + image bytes``, sorted
    bytewise and concatenated.
  """
  n = len(labels)
  records = np.concatenate(
    [
      np.asarray(labels).astype(np.uint8).reshape(n, 1),
      np.asarray(images, np.uint8).reshape(n, -1),
    ],
    axis=1,
  )
  rows = np.ascontiguousarray(records).view(np.dtype((np.void, records.shape[1]))).ravel()
  return hashlib.sha256(np.sort(rows).tobytes()).hexdigest()


def _check_split(
  name: str, split: str, images: np.ndarray, labels: np.ndarray, what: str, counts=None
) -> None:
  """Checks count, shape, dtype and label range of one split.

  Raises:
    DataError: naming ``what`` (the file or source) and the mismatch.
  """
  n = dict(zip(('train', 'test'), counts or _COUNTS[name]))[split]
  want = (n, *_IMAGE_SHAPES[name])
  problem = None
  if images.shape != want or images.dtype != np.uint8:
    problem = f'{split} images are {images.dtype} {images.shape}, expected uint8 {want}'
  elif labels.shape != (n,):
    problem = f'{split} labels have shape {labels.shape}, expected ({n},)'
  elif n and (labels.min() < 0 or labels.max() > 9):
    problem = f'{split} labels outside 0..9 ({labels.min()}..{labels.max()})'
  if problem:
    raise DataError(f'{what} is not a complete {_PRETTY[name]}: {problem}')


def _tfds_how_to_get(name: str) -> str:
  if name == 'cifar10':
    return _CIFAR_HOW_TO_GET
  return _idx_how_to_get(name)


def _read_tfds_split(tfds, name: str, split: str, data_dir: Path):
  """(images, labels) of one split of a prepared copy, without downloading anything."""
  try:  # Random access (array_record format) needs no TensorFlow.
    source = tfds.data_source(name, split=split, data_dir=str(data_dir), download=False)
    examples = source.__getitems__(range(len(source)))
    return (
      np.stack([np.asarray(ex['image']) for ex in examples]),
      np.asarray([ex['label'] for ex in examples]),
    )
  except Exception as e:  # tfrecord format: tfds.load can read it, with TensorFlow.
    first = e
  try:
    batch = tfds.as_numpy(
      tfds.load(
        name, split=split, data_dir=str(data_dir), batch_size=-1, download=False, try_gcs=False
      )
    )
  except Exception as e:  # pylint: disable=broad-except  (TFDS raises many kinds)

    def line(err):
      return f'{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ""}'

    raise DataError(
      f'cannot read the TFDS-prepared {name} in {data_dir}: {line(first)}; with tfds.load:'
      f" {line(e)}. Prepare it again (file_format='array_record' reads without "
      f'TensorFlow), or use the original files instead:{_tfds_how_to_get(name)}'
    ) from e
  return np.asarray(batch['image']), np.asarray(batch['label'])


def _read_tfds(name: str, data_dir: Path, what: str) -> Dataset:
  """Reads and verifies the copy of ``name`` that TFDS prepared in ``data_dir``.

  Raises:
    DataError: TFDS is not installed, or the copy is unreadable, incomplete or altered.
  """
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise DataError(
      f'{data_dir} holds a TFDS-prepared {name} ({what}), but '
      f'tensorflow_datasets is not installed: pip install '
      f"'adadecay-optax[tfds]', or use the original files instead:"
      f'{_tfds_how_to_get(name)}'
    ) from e
  shown = f'TFDS {name} {_tfds_versions(data_dir, name)[-1]} in {data_dir}'
  arrays = {split: _read_tfds_split(tfds, name, split, data_dir) for split in ('train', 'test')}
  for split, (images, labels) in arrays.items():
    _check_split(name, split, images, labels, shown)
    if name in _SORTED_SHA256:
      digest = sorted_records_sha256(images, labels)
      if digest != _SORTED_SHA256[name][split]:
        raise DataError(
          f'{shown} is not the original {_PRETTY[name]}: its {split} '
          f'examples have sha256 {digest} (sorted records), expected '
          f'{_SORTED_SHA256[name][split]}. Prepare it again from the '
          f'original files, or use them instead:{_tfds_how_to_get(name)}'
        )
  checked = (
    'decoded content verified, in any order'
    if name in _SORTED_SHA256
    else 'counts, shapes and labels verified'
  )
  return Dataset(
    name=name,
    train_images=arrays['train'][0],
    train_labels=arrays['train'][1].astype(np.int32),
    test_images=arrays['test'][0],
    test_labels=arrays['test'][1].astype(np.int32),
    num_classes=10,
    source=f"{shown} ({what}; {checked}; the examples are in TFDS's order)",
  )


def _load_tfds_default(name: str, looked: list[str]) -> Dataset | None:
  """Step 4: the copy in TFDS's default folder; None (and a line in ``looked``) if none."""
  tfds_dir = _tfds_default_dir()
  if not _tfds_versions(tfds_dir, name):
    looked.append(f'TFDS folder {tfds_dir}: no prepared {name} ($TFDS_DATA_DIR to change it)')
    return None
  try:
    # Only whether it imports (_read_tfds imports it again to use it).
    importlib.import_module('tensorflow_datasets')
  except ImportError:
    looked.append(
      f'TFDS folder {tfds_dir}: holds {name}, but tensorflow_datasets is not '
      f"installed (pip install 'adadecay-optax[tfds]')"
    )
    return None
  return _read_tfds(name, tfds_dir, 'TFDS folder')


# --------------------------------------------------------------------------
# CIFAR-10, original binary distribution

_CIFAR_TAR = 'cifar-10-binary.tar.gz'
_CIFAR_DIR = 'cifar-10-batches-bin'
_CIFAR_BATCHES = {'train': [f'data_batch_{i}.bin' for i in range(1, 6)], 'test': ['test_batch.bin']}
_CIFAR_RECORD = 1 + 3 * 32 * 32  # label byte, then the image as 3 planes (CHW) of 32x32.
_CIFAR_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'
# sha256 of the original tarball at _CIFAR_URL, as listed in TFDS's
# url_checksums/cifar10.txt (tests/test_tfds.py compares with the installed TFDS).
_CIFAR_TAR_SHA256 = 'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd'
_CIFAR_HOW_TO_GET = (
  "\n  - download the original into the cache (needs internet): load('cifar10', download=True)"
  ' or `python -m train.data download cifar10`'
  '\n  - install tensorflow-datasets and prepare cifar10 on a machine with internet'
  f'\n  - get the binary version {_CIFAR_URL} (from https://www.cs.toronto.edu/~kriz/cifar.html;'
  ' not the python version) and put it '
  f'in a folder passed as data_dir or named by {DATA_DIR_ENV}'
)


def _parse_cifar_records(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
  """Splits CIFAR-10 binary records into images (N, 32, 32, 3) and labels (N,)."""
  if len(data) % _CIFAR_RECORD:
    raise DataError(
      f'{where}: {len(data)} bytes is not a whole number of '
      f'{_CIFAR_RECORD}-byte records (truncated?); get a good copy:' + _CIFAR_HOW_TO_GET
    )
  records = np.frombuffer(data, np.uint8).reshape(-1, _CIFAR_RECORD)
  images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  return np.ascontiguousarray(images), records[:, 0].astype(np.int32)


def _read_cifar10_binary(
  path: Path, counts: tuple[int, int] | None = None, what: str = ''
) -> Dataset:
  """Reads the binary distribution from its tarball or extracted folder.

  Args:
    path: ``cifar-10-binary.tar.gz`` or a ``cifar-10-batches-bin`` folder.
    counts: expected (train, test) sizes; only tests change it (default
      ``_COUNTS['cifar10']``).
    what: where it was found, for ``Dataset.source``.

  Raises:
    DataError: missing batch file, truncated data, wrong counts or labels.
  """
  splits = {}
  if path.is_dir():

    def read(fname):
      file = path / fname
      if not file.is_file():
        raise DataError(f'{file} is missing; get a complete copy:' + _CIFAR_HOW_TO_GET)
      return file.read_bytes(), str(file)

    for split, fnames in _CIFAR_BATCHES.items():
      splits[split] = [_parse_cifar_records(*read(f)) for f in fnames]
  else:
    try:
      # Members are read into memory by basename, never extracted to disk.
      with tarfile.open(path, 'r:*') as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        for split, fnames in _CIFAR_BATCHES.items():
          parts = []
          for fname in fnames:
            if fname not in members:
              raise DataError(f'{path} has no {fname}; get a complete copy:' + _CIFAR_HOW_TO_GET)
            data = tar.extractfile(members[fname]).read()
            parts.append(_parse_cifar_records(data, f'{path}:{fname}'))
          splits[split] = parts
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
      raise DataError(
        f'cannot read {path}: {type(e).__name__}: {e}. The file is '
        f'truncated or corrupt; get a good copy:' + _CIFAR_HOW_TO_GET
      ) from e
  arrays = {
    split: (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    for split, parts in splits.items()
  }
  for split, (images, labels) in arrays.items():
    _check_split('cifar10', split, images, labels, str(path), counts or _COUNTS['cifar10'])
    # CIFAR-10 is balanced: 5000 train and 1000 test images per class.
    per_class = np.bincount(labels, minlength=10)
    if len(labels) % 10 == 0 and not np.all(per_class == len(labels) // 10):
      raise DataError(
        f'{path} is not a complete CIFAR-10: {split} has {per_class.tolist()} images per class'
      )
  return Dataset(
    name='cifar10',
    train_images=arrays['train'][0],
    train_labels=arrays['train'][1],
    test_images=arrays['test'][0],
    test_labels=arrays['test'][1],
    num_classes=10,
    source=f'original CIFAR-10 binary distribution {path} '
    f'({what + "; " if what else ""}counts and label range verified)',
  )


def _cifar_binary_in(folder: Path) -> Path | None:
  for candidate in (folder / _CIFAR_TAR, folder / _CIFAR_DIR):
    if candidate.exists():
      return candidate
  return None


def _cached_cifar10_or_download(download: bool, looked: list[str]) -> tuple[Path, str]:
  """Steps 5-6 for CIFAR-10: (tarball or folder, what) from the cache, downloading if asked."""
  cache = _cache_root() / 'cifar10'
  found = _cifar_binary_in(cache) if cache.is_dir() else None
  if found:
    return found, 'cache'
  looked.append(f'cache {cache}: no {_CIFAR_TAR} or {_CIFAR_DIR}/')
  if download:
    try:
      return _download_cifar10(cache), f'downloaded from {_CIFAR_URL}'
    except DataError as e:
      raise DataError(
        f'{e}\nNo local copy of cifar10 either. Looked at:'
        + ''.join(f'\n  - {line}' for line in looked)
        + '\nOther ways to get it:'
        + _CIFAR_HOW_TO_GET
      ) from e
  looked.append('download: not requested (download=False)')
  raise DataError(
    'no copy of cifar10 found (the lossy cifar10_jpeg copy is never used '
    'in its place). Looked at:'
    + ''.join(f'\n  - {line}' for line in looked)
    + '\nWays to get it:'
    + _CIFAR_HOW_TO_GET
  )


def _download_cifar10(cache: Path) -> Path:
  """Fetches the original tarball into ``cache``; stored only if its sha256 is the published one.

  Raises:
    DataError: network failure or a different file; nothing is left in ``cache`` then.
  """
  _make_cache(cache)
  tmp = None
  try:
    tmp, digest = _fetch(_CIFAR_URL, cache, f'.{_CIFAR_TAR}.part-', '')
    if digest != _CIFAR_TAR_SHA256:
      raise DataError(
        f'nothing was stored in the cache: the file downloaded from '
        f'{_CIFAR_URL} has sha256 {digest}, expected {_CIFAR_TAR_SHA256} '
        f'(the published checksum; truncated or altered)'
      )
    os.replace(tmp, cache / _CIFAR_TAR)
  finally:
    if tmp is not None:
      tmp.unlink(missing_ok=True)
    if not any(cache.iterdir()):
      cache.rmdir()  # Leave no empty cache folder behind a failed download.
  return cache / _CIFAR_TAR


def _load_cifar10(data_dir, download: bool) -> Dataset:
  looked: list[str] = []
  hit = _find_in_folders(
    _search_roots(data_dir, 'cifar10'), 'cifar10', _cifar_binary_in, looked, tfds_too=True
  )
  if hit:
    if isinstance(hit[1], _TfdsCopy):
      return _read_tfds('cifar10', hit[1].data_dir, hit[0])
    return _read_cifar10_binary(hit[1], what=hit[0])
  ds = _load_tfds_default('cifar10', looked)
  if ds is not None:
    return ds
  path, what = _cached_cifar10_or_download(download, looked)
  return _read_cifar10_binary(path, what=what)


# --------------------------------------------------------------------------
# CIFAR-10 lossy JPEG copy

_JPEG_TAR = 'cifar10-jpeg.tar.gz'
_JPEG_MEMBER = re.compile(r'(?:\./)?(train|test)/([a-z]+)/(\d+)\.jpg')
_JPEG_PER_CLASS = {'train': 5000, 'test': 1000}
_JPEG_HOW_TO_GET = (
  f'\n  - {_JPEG_TAR} is a JPEG copy made for this project; pass the folder '
  f'holding it (or its cifar10-jpeg/ parent) as data_dir or set {DATA_DIR_ENV}'
)


def _decode_cifar10_jpeg(path: Path, per_class: dict[str, int] | None = None):
  """Decodes the JPEG tarball into {'train'|'test': (images, labels)}.

  Images are ordered by class, then by file number, whatever the tar order.

  Args:
    path: the tarball.
    per_class: expected images per class and split; only tests change it.

  Raises:
    DataError: unreadable tarball or image, unknown class, wrong counts.
  """
  from PIL import Image  # Only this path needs Pillow.

  per_class = per_class or _JPEG_PER_CLASS
  found: dict[tuple[str, int, int], np.ndarray] = {}

  def bad(why: str) -> DataError:
    return DataError(f'{path} is not a good {_PRETTY["cifar10_jpeg"]}: {why}' + _JPEG_HOW_TO_GET)

  try:
    with tarfile.open(path, 'r:*') as tar:
      for member in tar:
        match = _JPEG_MEMBER.fullmatch(member.name)
        if not member.isfile() or not member.name.endswith('.jpg'):
          continue
        if not match or match[2] not in CIFAR10_CLASSES:
          raise bad(f'unexpected member {member.name}')
        key = (match[1], CIFAR10_CLASSES.index(match[2]), int(match[3]))
        if key in found:
          raise bad(f'duplicate member {member.name}')
        image = Image.open(io.BytesIO(tar.extractfile(member).read()))
        # Check the header before decoding, so a huge image cannot exhaust memory.
        if image.format != 'JPEG' or image.size != (32, 32):
          raise bad(f'{member.name} is {image.format} {image.size}, expected JPEG 32x32')
        found[key] = np.asarray(image if image.mode == 'RGB' else image.convert('RGB'))
  except DataError:
    raise
  except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as e:
    raise bad(f'{type(e).__name__}: {e} (truncated or corrupt)') from e

  out = {}
  for split, n in per_class.items():
    keys = sorted(k for k in found if k[0] == split)
    labels = np.array([k[1] for k in keys], np.int32)
    counts = np.bincount(labels, minlength=10)
    if not np.all(counts == n):
      raise bad(f'{split} has {counts.tolist()} images per class, expected {n} each')
    out[split] = (np.stack([found[k] for k in keys]), labels)
  return out


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
  # Imported here: train.results pulls in scipy, which the rest of this
  # module (and `python -m train.data`) does not need.
  from train.files import write_atomic  # pylint: disable=g-import-not-at-top

  write_atomic(path, lambda f: np.save(f, array, allow_pickle=False))


def _find_jpeg_tar(data_dir) -> Path:
  looked: list[str] = []
  roots = _search_roots(data_dir, 'cifar10_jpeg')
  hit = _find_in_folders(
    roots, 'cifar10_jpeg', lambda f: f / _JPEG_TAR if (f / _JPEG_TAR).is_file() else None, looked
  )
  if not hit:
    raise DataError(
      'no copy of cifar10_jpeg found. Looked at:'
      + ''.join(f'\n  - {line}' for line in looked)
      + '\nWays to get it:'
      + _JPEG_HOW_TO_GET
    )
  return hit[1]


def _load_cifar10_jpeg(data_dir) -> Dataset:
  tar_path = _find_jpeg_tar(data_dir)
  sha = hashlib.sha256(tar_path.read_bytes()).hexdigest()
  # Keyed by the tarball's content, so a changed tarball never reuses stale arrays.
  cache = _cache_root() / 'cifar10_jpeg' / sha
  parts = ('train_images', 'train_labels', 'test_images', 'test_labels')
  arrays = None
  how = 'decoded from the tarball'
  try:
    arrays = {p: np.load(cache / f'{p}.npy', allow_pickle=False) for p in parts}
    for split in ('train', 'test'):
      _check_split(
        'cifar10_jpeg', split, arrays[f'{split}_images'], arrays[f'{split}_labels'], str(cache)
      )
      if arrays[f'{split}_labels'].dtype != np.int32 or not np.all(
        np.bincount(arrays[f'{split}_labels'], minlength=10) == _JPEG_PER_CLASS[split]
      ):
        raise DataError('wrong labels')
    how = f'decoded arrays from the cache {cache}'
  except (OSError, ValueError, DataError):  # Missing or damaged cache: decode again.
    arrays = None
  if arrays is None:
    decoded = _decode_cifar10_jpeg(tar_path)
    arrays = {
      f'{s}_{k}': decoded[s][i]
      for s in ('train', 'test')
      for i, k in enumerate(('images', 'labels'))
    }
    try:
      cache.mkdir(parents=True, exist_ok=True)
      for p in parts:
        _save_npy_atomic(cache / f'{p}.npy', arrays[p])
    except OSError as e:  # A read-only cache only costs time.
      warnings.warn(f'could not cache decoded cifar10_jpeg in {cache}: {e}')
  return Dataset(
    name='cifar10_jpeg',
    num_classes=10,
    **arrays,
    source=f'LOSSY JPEG copy {_JPEG_TAR} in {tar_path.parent} '
    f'(sha256 {sha[:12]}…; '
    f'JPEG quality about 75, not the original CIFAR-10 pixels; {how}; '
    f'counts and labels verified)',
  )


# --------------------------------------------------------------------------


def _check_args(name: str, data_dir) -> None:
  if name not in DATASETS:
    raise ValueError(f'unknown dataset {name!r}; known: {", ".join(DATASETS)}')
  if data_dir is not None and not Path(data_dir).expanduser().is_dir():
    # A typo must not silently fall through to another copy.
    raise DataError(
      f'data_dir {str(data_dir)!r} is not a folder; fix the path, or leave'
      f' it unset to search ${DATA_DIR_ENV}, /usr/share/datasets, TFDS and'
      ' the download cache.'
    )


def load(
  name: str, data_dir: str | os.PathLike | None = None, *, download: bool = False
) -> Dataset:
  """Finds, verifies and loads a dataset.

  Args:
    name: One of :data:`DATASETS`. ``cifar10_jpeg`` is the lossy JPEG copy
      and is never substituted for ``cifar10``.
    data_dir: Folder holding the files, directly or in a subfolder named
      after the dataset (e.g. ``<data_dir>/fashion-mnist/``), or a TFDS
      data folder where ``name`` is prepared (``<data_dir>/mnist/3.0.1/``).
      Searched first; see the module docstring for the full lookup order.
    download: For ``mnist``, ``fashion_mnist`` and ``cifar10``: if no copy
      is found, download the original files into the cache (verified
      before they are stored). Never done otherwise.

  Returns:
    A :class:`Dataset`; images uint8 (N, H, W, C), labels int32 (N,).

  Raises:
    ValueError: ``name`` is not in :data:`DATASETS`.
    DataError: ``data_dir`` is not a folder; no copy was found (the message
      lists every place looked at and how to get the data), a found copy is
      incomplete, truncated, altered or of another dataset (the message
      names the file), or a requested download failed.
  """
  _check_args(name, data_dir)
  if name in _MIRRORS:
    return _load_mnist_family(name, data_dir, download)
  if name == 'cifar10':
    return _load_cifar10(data_dir, download)
  return _load_cifar10_jpeg(data_dir)


def locate(name: str, data_dir: str | os.PathLike | None = None, *, download: bool = False) -> Path:
  """Finds the original files of a dataset, downloading them into the cache if asked.

  The same search as :func:`load` without TFDS (whose copies are not plain
  files): ``data_dir``, ``$ADADECAY_DATA_DIR``, ``/usr/share/datasets``,
  the cache, then with ``download`` a verified download. A copy found is
  not decoded here; :func:`load` verifies it.

  Args:
    name: One of :data:`DATASETS`.
    data_dir: As for :func:`load`.
    download: For ``mnist``, ``fashion_mnist`` and ``cifar10``: download the
      originals into the cache when no copy is found.

  Returns:
    The folder holding the four IDX files (``mnist``, ``fashion_mnist``),
    ``cifar-10-binary.tar.gz`` or a ``cifar-10-batches-bin`` folder
    (``cifar10``), or ``cifar10-jpeg.tar.gz`` (``cifar10_jpeg``).

  Raises:
    ValueError: ``name`` is not in :data:`DATASETS`.
    DataError: as for :func:`load` when nothing is found or a download fails.
  """
  _check_args(name, data_dir)
  looked: list[str] = []
  roots = _search_roots(data_dir, name)
  if name in _MIRRORS:
    hit = _find_in_folders(roots, name, _idx_files_in, looked)
    if hit:
      return hit[1]['train_images'].parent
    return _cached_idx_or_download(
      name, download, looked, lambda files, what: files['train_images'].parent
    )
  if name == 'cifar10':
    hit = _find_in_folders(roots, name, _cifar_binary_in, looked)
    return hit[1] if hit else _cached_cifar10_or_download(download, looked)[0]
  return _find_jpeg_tar(data_dir)


def main(argv: list[str]) -> int:
  """absl main of ``python -m train.data download NAME [--data-dir DIR]``.

  Args:
    argv: The program name, then the positional arguments: the command
      (``download``, the only one) and the dataset's name.

  Returns:
    The exit status: 0, or 1 when the dataset cannot be found or fetched.

  Raises:
    app.UsageError: for a missing or unknown command or dataset name (exit
      status 2).
  """
  args = list(argv[1:])
  if not args or args[0] != 'download':
    got = f'unknown command {args[0]!r}' if args else 'no command'
    raise app.UsageError(f'{got}; the command is: download NAME [--data-dir DIR]', exitcode=2)
  if len(args) != 2 or args[1] not in DATASETS:
    got = (
      f'unknown dataset {args[1]!r}'
      if len(args) == 2
      else f'download takes one dataset name, got {len(args) - 1}'
    )
    raise app.UsageError(f'{got}; NAME is one of {", ".join(DATASETS)}', exitcode=2)
  try:
    ds = load(args[1], flags.FLAGS['data-dir'].value, download=True)
  except DataError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  print(f'{ds.name}: {len(ds.train_labels)} train, {len(ds.test_labels)} test; {ds.source}')
  return 0


if __name__ == '__main__':
  # Defined only when run as a program: a program importing this module keeps
  # its own flags.
  flags.DEFINE_string('data-dir', None, 'Folder searched first (see the lookup order above).')
  app.run(main)
