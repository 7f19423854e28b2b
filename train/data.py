"""Verified loading of the image datasets used by the AdaDecay harness.

One entry point, :func:`load`, returns a :class:`Dataset` of uint8 images and
int32 labels for ``mnist``, ``fashion_mnist``, ``cifar10`` and
``cifar10_jpeg``. Every copy read is checked before use (counts, shapes,
label range and, for the MNIST family, a sha256 of the decoded pixels and
labels), and ``Dataset.source`` says exactly what was read, so a run's record
can show which copy of the data it saw.

Where MNIST / Fashion-MNIST are looked for, in order:

1. the ``data_dir`` argument;
2. the environment variable ``ADADECAY_DATA_DIR``;
3. Debian's ``/usr/share/datasets/<name>`` (``apt-get install
   dataset-fashion-mnist`` installs ``/usr/share/datasets/fashion-mnist``);
4. TFDS, only if ``tensorflow_datasets`` is installed and the dataset is
   already prepared (never downloads);
5. the cache ``~/.cache/adadecay_optax/<name>`` (``$ADADECAY_CACHE_DIR`` or
   ``$XDG_CACHE_HOME/adadecay_optax`` when set), where downloads are stored;
6. with ``download=True`` only: the original files from the public mirrors.

A folder matches if it holds the four IDX files itself or in a subfolder named
after the dataset (``mnist/``, ``fashion-mnist/``, ``fashion_mnist/``), so a
single data root with one subfolder per dataset works. A copy that is found
but fails verification is an error; the search does not go on past it.

CIFAR-10 is read from TFDS or the original binary distribution
(``cifar-10-binary.tar.gz`` or its ``cifar-10-batches-bin/`` folder), never
from the pickled "python version". ``cifar10_jpeg`` is a lossy JPEG copy that
is read only when asked for by that name.

Command line: ``python -m train.data download NAME`` fetches and verifies a
dataset into the cache (and prints where it came from if it was already there).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import warnings
import zlib
from pathlib import Path

import numpy as np

__all__ = ["CIFAR10_CLASSES", "DATASETS", "DataError", "Dataset", "load"]

DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar10_jpeg")
"""Names accepted by :func:`load`."""

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
"""CIFAR-10 class names; a label is the index of its class in this tuple."""

DATA_DIR_ENV = "ADADECAY_DATA_DIR"
CACHE_DIR_ENV = "ADADECAY_CACHE_DIR"

# Module-level so tests can point them elsewhere.
_SYSTEM_DATA_DIR = Path("/usr/share/datasets")
_DOWNLOAD_TIMEOUT_S = 60


class DataError(Exception):
    """A dataset is missing, incomplete, corrupt, or not the expected one.

    The message names the file or the places looked at, and how to get a good
    copy.
    """


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """A verified train/test split held in memory.

    The arrays are read-only, so one loaded copy can be shared safely.

    Attributes:
      name: One of :data:`DATASETS`.
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
        for split in ("train", "test"):
            images = getattr(self, f"{split}_images")
            labels = getattr(self, f"{split}_labels")
            if images.dtype != np.uint8 or images.ndim != 4:
                raise ValueError(f"{split}_images must be uint8 (N, H, W, C), "
                                 f"got {images.dtype} {images.shape}")
            if labels.dtype != np.int32 or labels.shape != images.shape[:1]:
                raise ValueError(f"{split}_labels must be int32 ({len(images)},), "
                                 f"got {labels.dtype} {labels.shape}")
            images.flags.writeable = False
            labels.flags.writeable = False


# --------------------------------------------------------------------------
# MNIST / Fashion-MNIST (IDX files)

_IDX_FILES = {  # part -> (file stem, shape)
    "train_images": ("train-images-idx3-ubyte", (60000, 28, 28)),
    "train_labels": ("train-labels-idx1-ubyte", (60000,)),
    "test_images": ("t10k-images-idx3-ubyte", (10000, 28, 28)),
    "test_labels": ("t10k-labels-idx1-ubyte", (10000,)),
}

# sha256 of the decoded data, i.e. the bytes after the IDX header, so that a
# re-compressed copy (Debian normalises the gzip headers) is still accepted.
# Computed from /work/shared/data/{mnist,fashion-mnist}, whose .gz files have
# the sha256 listed in TFDS's url_checksums (mnist.txt; fashion_mnist) and in
# the Fashion-MNIST README: that match of the compressed files is the
# independent reason to trust these constants. Debian's dataset-fashion-mnist
# 0.0~git20200523.55506a9-1 decodes to the same four hashes.
_IDX_SHA256 = {
    "mnist": {
        "train_images": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
        "train_labels": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
        "test_images": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
        "test_labels": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
    },
    "fashion_mnist": {
        "train_images": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
        "train_labels": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
        "test_images": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
        "test_labels": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
    },
}
# Reverse map, to say "this is the Fashion-MNIST file" when the datasets are mixed up.
_KNOWN_IDX = {h: (ds, part) for ds, parts in _IDX_SHA256.items() for part, h in parts.items()}

_MIRRORS = {
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
_SUBDIRS = {
    "mnist": ("mnist",),
    "fashion_mnist": ("fashion-mnist", "fashion_mnist"),
    "cifar10": ("cifar10", "cifar-10"),
    "cifar10_jpeg": ("cifar10-jpeg", "cifar10_jpeg"),
}
_DEBIAN_DIRS = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}
_PRETTY = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST",
           "cifar10": "CIFAR-10", "cifar10_jpeg": "CIFAR-10 (JPEG copy)"}


def _idx_how_to_get(name: str, offer_download: bool = True) -> str:
    files = ", ".join(stem + ".gz" for stem, _ in _IDX_FILES.values())
    ways = []
    if name == "fashion_mnist":
        ways.append("on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist "
                    "(installs /usr/share/datasets/fashion-mnist)")
    if offer_download:
        ways.append(f"download the originals into the cache (needs internet): "
                    f"load({name!r}, download=True) or `python -m train.data download {name}`")
    ways.append(f"put the 4 original files ({files}, from {_MIRRORS[name]}) in a folder and "
                f"pass it as data_dir or set {DATA_DIR_ENV} to it")
    return "".join(f"\n  - {w}" for w in ways)


def _open_bytes(path: Path, how_to_get: str, shown: str) -> bytes:
    """Reads a file, gunzipping ``*.gz``; any failure becomes a DataError."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    # Truncated gzip raises EOFError, corrupt streams BadGzipFile (an OSError) or zlib.error.
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"cannot read {shown}: {type(e).__name__}: {e}. The file is "
                        f"truncated or corrupt; replace it with a good copy:{how_to_get}") from e


def _read_idx(path: Path, name: str, part: str, shown: str | None = None) -> np.ndarray:
    """Parses and verifies one IDX file of ``name``; ``shown`` names it in errors.

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
        return DataError(f"{shown} is not the original {_PRETTY[name]} {part.replace('_', ' ')} "
                         f"file: {why}. Replace it with a good copy:{how}")

    # IDX header: two zero bytes, type code 0x08 (uint8), ndim, then ndim big-endian uint32 dims.
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08" or raw[3] != len(shape):
        raise bad(f"bad IDX header {raw[:4].hex() or '(empty file)'} "
                  f"(expected 000008{len(shape):02x})")
    offset = 4 + 4 * len(shape)
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=len(shape), offset=4)) \
        if len(raw) >= offset else ()
    if dims != shape:
        raise bad(f"dimensions {dims}, expected {shape}")
    if len(raw) - offset != int(np.prod(shape)):
        raise bad(f"{len(raw) - offset} data bytes, expected {int(np.prod(shape))}")
    data = np.frombuffer(raw, np.uint8, offset=offset).reshape(shape)
    if part.endswith("labels") and data.max() > 9:
        raise bad(f"label {int(data.max())} out of range 0..9")
    digest = hashlib.sha256(memoryview(raw)[offset:]).hexdigest()
    if digest != _IDX_SHA256[name][part]:
        known = _KNOWN_IDX.get(digest)
        if known:
            raise bad(f"it is the {_PRETTY[known[0]]} {known[1].replace('_', ' ')} file")
        raise bad(f"decoded content has sha256 {digest}, expected "
                  f"{_IDX_SHA256[name][part]} (altered or a different dataset)")
    return data


def _idx_files_in(folder: Path) -> dict[str, Path] | None:
    """Maps part -> file if ``folder`` holds any IDX file, else None.

    Raises:
      DataError: some but not all four files are there.
    """
    found, missing = {}, []
    for part, (stem, _) in _IDX_FILES.items():
        for candidate in (folder / (stem + ".gz"), folder / stem):
            if candidate.is_file():
                found[part] = candidate
                break
        else:
            missing.append(stem + ".gz")
    if not found:
        return None
    if missing:
        raise DataError(f"incomplete copy in {folder}: missing {', '.join(missing)}")
    return found


def _candidate_folders(root: Path, name: str) -> list[Path]:
    return [root] + [root / sub for sub in _SUBDIRS[name]]


def _search_roots(data_dir, name: str) -> list[tuple[str, Path | None]]:
    """(what, folder) pairs for lookup steps 1-3; folder None means 'not set'."""
    env = os.environ.get(DATA_DIR_ENV)
    roots = [("data_dir argument", Path(data_dir).expanduser() if data_dir is not None else None),
             (f"${DATA_DIR_ENV}", Path(env).expanduser() if env else None)]
    if name in _DEBIAN_DIRS:
        roots.append(("Debian datasets folder", _SYSTEM_DATA_DIR / _DEBIAN_DIRS[name]))
    return roots


def _cache_root() -> Path:
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "adadecay_optax"


def _load_idx_folder(name: str, files: dict[str, Path], what: str) -> Dataset:
    arrays = {part: _read_idx(path, name, part) for part, path in files.items()}
    folders = sorted({str(p.parent) for p in files.values()})
    return Dataset(
        name=name,
        train_images=arrays["train_images"][..., None],
        train_labels=arrays["train_labels"].astype(np.int32),
        test_images=arrays["test_images"][..., None],
        test_labels=arrays["test_labels"].astype(np.int32),
        num_classes=10,
        source=f"original IDX files in {', '.join(folders)} ({what}; decoded content verified)",
    )


def _find_in_folders(roots, name, finder, looked):
    """First (what, finder result) over roots and their dataset subfolders.

    Appends a line per place to ``looked``.
    """
    for what, root in roots:
        if root is None:
            looked.append(f"{what}: not set")
            continue
        if not root.is_dir():
            looked.append(f"{what} {root}: no such folder")
            continue
        for folder in _candidate_folders(root, name):
            if folder.is_dir():
                hit = finder(folder)
                if hit is not None:
                    return what, hit
        looked.append(f"{what} {root}: nothing for {name} in it or in its subfolders "
                      f"{', '.join(s + '/' for s in _SUBDIRS[name])}")
    return None


def _load_mnist_family(name: str, data_dir, download: bool) -> Dataset:
    looked: list[str] = []
    hit = _find_in_folders(_search_roots(data_dir, name), name, _idx_files_in, looked)
    if hit:
        return _load_idx_folder(name, hit[1], hit[0])
    ds = _load_tfds(name, looked)
    if ds is not None:
        return ds
    cache = _cache_root() / name
    try:
        files = _idx_files_in(cache) if cache.is_dir() else None
        if files:
            return _load_idx_folder(name, files, "cache")
    except DataError as e:
        # The cache is ours: a damaged one is repaired by downloading again.
        if not download:
            raise DataError(f"{e}\n(this is the download cache: delete {cache}, or "
                            f"download again with download=True)") from e
    looked.append(f"cache {cache}: " + ("empty or damaged" if cache.is_dir() else "no such folder"))
    if download:
        try:
            _download_idx(name, cache)
        except DataError as e:
            raise DataError(f"{e}\nNo local copy of {name} either. Looked at:"
                            + "".join(f"\n  - {line}" for line in looked)
                            + "\nOther ways to get it:" + _idx_how_to_get(name, False)) from e
        return _load_idx_folder(name, _idx_files_in(cache), f"downloaded from {_MIRRORS[name]}")
    looked.append("download: not requested (download=False)")
    raise DataError(f"no copy of {name} found. Looked at:"
                    + "".join(f"\n  - {line}" for line in looked)
                    + "\nWays to get it:" + _idx_how_to_get(name))


def _download_idx(name: str, cache: Path) -> None:
    """Fetches the 4 original files into ``cache``, verified before they appear there.

    Raises:
      DataError: network failure or a file that fails verification; nothing
        is left behind in ``cache`` then.
    """
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create the download cache {cache}: {e}; set "
                        f"{CACHE_DIR_ENV} to a writable folder") from e
    temps: dict[str, Path] = {}
    try:
        for part, (stem, _) in _IDX_FILES.items():
            url = _MIRRORS[name] + stem + ".gz"
            # Hidden name, but still ending in .gz so it is read the way it will be stored.
            fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{stem}.part-", suffix=".gz")
            temps[stem] = Path(tmp)
            try:
                with os.fdopen(fd, "wb") as out, \
                        urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as resp:
                    shutil.copyfileobj(resp, out, 1 << 20)
            except OSError as e:  # URLError, HTTPError, timeouts, disk full
                raise DataError(f"download of {url} failed: {e} "
                                f"(no internet access on this machine?)") from e
            try:
                _read_idx(Path(tmp), name, part, shown=f"the file downloaded from {url}")
            except DataError as e:
                raise DataError(f"nothing was stored in the cache: {e}") from e
        # Only complete, verified files become visible under their real names.
        for stem, tmp in temps.items():
            os.replace(tmp, cache / (stem + ".gz"))
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        if not any(cache.iterdir()):
            cache.rmdir()  # Leave no empty cache folder behind a failed download.


# --------------------------------------------------------------------------
# TFDS (optional)

_COUNTS = {"mnist": (60000, 10000), "fashion_mnist": (60000, 10000),
           "cifar10": (50000, 10000), "cifar10_jpeg": (50000, 10000)}
_IMAGE_SHAPES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1),
                 "cifar10": (32, 32, 3), "cifar10_jpeg": (32, 32, 3)}


def _check_split(name: str, split: str, images: np.ndarray, labels: np.ndarray,
                 what: str, counts=None) -> None:
    """Checks count, shape, dtype and label range of one split.

    Raises:
      DataError: naming ``what`` (the file or source) and the mismatch.
    """
    n = dict(zip(("train", "test"), counts or _COUNTS[name]))[split]
    want = (n, *_IMAGE_SHAPES[name])
    problem = None
    if images.shape != want or images.dtype != np.uint8:
        problem = f"{split} images are {images.dtype} {images.shape}, expected uint8 {want}"
    elif labels.shape != (n,):
        problem = f"{split} labels have shape {labels.shape}, expected ({n},)"
    elif n and (labels.min() < 0 or labels.max() > 9):
        problem = f"{split} labels outside 0..9 ({labels.min()}..{labels.max()})"
    if problem:
        raise DataError(f"{what} is not a complete {_PRETTY[name]}: {problem}")


def _load_tfds(name: str, looked: list[str]) -> Dataset | None:
    """Reads an already prepared TFDS copy; None (and a line in ``looked``) if there is none."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        looked.append("TFDS: tensorflow_datasets is not installed")
        return None
    arrays = {}
    try:
        for split in ("train", "test"):
            try:  # Random access (array_record format) needs no TensorFlow.
                source = tfds.data_source(name, split=split, download=False)
                examples = list(source)
                images = np.stack([np.asarray(ex["image"]) for ex in examples])
                labels = np.asarray([ex["label"] for ex in examples])
            except Exception:  # tfrecord format or no data source support: needs TensorFlow.
                batch = tfds.as_numpy(tfds.load(name, split=split, batch_size=-1,
                                                download=False, try_gcs=False))
                images, labels = np.asarray(batch["image"]), np.asarray(batch["label"])
            arrays[split] = images, labels
    # TFDS signals "not prepared" with several exception types (AssertionError among them).
    except Exception as e:
        looked.append(f"TFDS: {name} not prepared or not readable ({type(e).__name__}: "
                      f"{str(e).splitlines()[0] if str(e) else ''})")
        return None
    what = f"TFDS {name}"
    for split, (images, labels) in arrays.items():
        _check_split(name, split, images, labels, what)
    return Dataset(name=name,
                   train_images=arrays["train"][0],
                   train_labels=arrays["train"][1].astype(np.int32),
                   test_images=arrays["test"][0],
                   test_labels=arrays["test"][1].astype(np.int32),
                   num_classes=10,
                   source=f"TFDS {name} (prepared copy; counts, shapes and labels verified)")


# --------------------------------------------------------------------------
# CIFAR-10, original binary distribution

_CIFAR_TAR = "cifar-10-binary.tar.gz"
_CIFAR_DIR = "cifar-10-batches-bin"
_CIFAR_BATCHES = {"train": [f"data_batch_{i}.bin" for i in range(1, 6)],
                  "test": ["test_batch.bin"]}
_CIFAR_RECORD = 1 + 3 * 32 * 32  # label byte, then the image as 3 planes (CHW) of 32x32.
_CIFAR_HOW_TO_GET = (
    "\n  - install tensorflow-datasets and prepare cifar10 on a machine with internet"
    "\n  - get the binary version cifar-10-binary.tar.gz from "
    "https://www.cs.toronto.edu/~kriz/cifar.html (not the python version) and put it "
    f"in a folder passed as data_dir or named by {DATA_DIR_ENV}")


def _parse_cifar_records(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Splits CIFAR-10 binary records into images (N, 32, 32, 3) and labels (N,)."""
    if len(data) % _CIFAR_RECORD:
        raise DataError(f"{where}: {len(data)} bytes is not a whole number of "
                        f"{_CIFAR_RECORD}-byte records (truncated?); get a good copy:"
                        + _CIFAR_HOW_TO_GET)
    records = np.frombuffer(data, np.uint8).reshape(-1, _CIFAR_RECORD)
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), records[:, 0].astype(np.int32)


def _read_cifar10_binary(path: Path, counts: tuple[int, int] = (50000, 10000)) -> Dataset:
    """Reads the binary distribution from its tarball or extracted folder.

    Args:
      path: ``cifar-10-binary.tar.gz`` or a ``cifar-10-batches-bin`` folder.
      counts: expected (train, test) sizes; only tests change it.

    Raises:
      DataError: missing batch file, truncated data, wrong counts or labels.
    """
    splits = {}
    if path.is_dir():
        def read(fname):
            file = path / fname
            if not file.is_file():
                raise DataError(f"{file} is missing; get a complete copy:" + _CIFAR_HOW_TO_GET)
            return file.read_bytes(), str(file)
        for split, fnames in _CIFAR_BATCHES.items():
            splits[split] = [_parse_cifar_records(*read(f)) for f in fnames]
    else:
        try:
            # Members are read into memory by basename, never extracted to disk.
            with tarfile.open(path, "r:*") as tar:
                members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
                for split, fnames in _CIFAR_BATCHES.items():
                    parts = []
                    for fname in fnames:
                        if fname not in members:
                            raise DataError(f"{path} has no {fname}; get a complete copy:"
                                            + _CIFAR_HOW_TO_GET)
                        data = tar.extractfile(members[fname]).read()
                        parts.append(_parse_cifar_records(data, f"{path}:{fname}"))
                    splits[split] = parts
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            raise DataError(f"cannot read {path}: {type(e).__name__}: {e}. The file is "
                            f"truncated or corrupt; get a good copy:" + _CIFAR_HOW_TO_GET) from e
    arrays = {split: (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
              for split, parts in splits.items()}
    for split, (images, labels) in arrays.items():
        _check_split("cifar10", split, images, labels, str(path), counts)
        # CIFAR-10 is balanced: 5000 train and 1000 test images per class.
        per_class = np.bincount(labels, minlength=10)
        if len(labels) % 10 == 0 and not np.all(per_class == len(labels) // 10):
            raise DataError(f"{path} is not a complete CIFAR-10: {split} has "
                            f"{per_class.tolist()} images per class")
    return Dataset(name="cifar10",
                   train_images=arrays["train"][0], train_labels=arrays["train"][1],
                   test_images=arrays["test"][0], test_labels=arrays["test"][1],
                   num_classes=10,
                   source=f"original CIFAR-10 binary distribution {path} "
                          f"(counts and label range verified; no content checksum)")


def _cifar_binary_in(folder: Path) -> Path | None:
    for candidate in (folder / _CIFAR_TAR, folder / _CIFAR_DIR):
        if candidate.exists():
            return candidate
    return None


def _load_cifar10(data_dir, download: bool) -> Dataset:
    looked: list[str] = []
    hit = _find_in_folders(_search_roots(data_dir, "cifar10"), "cifar10", _cifar_binary_in, looked)
    if hit:
        return _read_cifar10_binary(hit[1])
    ds = _load_tfds("cifar10", looked)
    if ds is not None:
        return ds
    cache = _cache_root() / "cifar10"
    found = _cifar_binary_in(cache) if cache.is_dir() else None
    if found:
        return _read_cifar10_binary(found)
    looked.append(f"cache {cache}: no {_CIFAR_TAR} or {_CIFAR_DIR}/")
    if download:
        looked.append("download=True: not supported for cifar10 (use TFDS or the binary tarball)")
    raise DataError("no copy of cifar10 found (the lossy cifar10_jpeg copy is never used "
                    "in its place). Looked at:" + "".join(f"\n  - {line}" for line in looked)
                    + "\nWays to get it:" + _CIFAR_HOW_TO_GET)


# --------------------------------------------------------------------------
# CIFAR-10 lossy JPEG copy

_JPEG_TAR = "cifar10-jpeg.tar.gz"
_JPEG_MEMBER = re.compile(r"(?:\./)?(train|test)/([a-z]+)/(\d+)\.jpg")
_JPEG_PER_CLASS = {"train": 5000, "test": 1000}
_JPEG_HOW_TO_GET = (f"\n  - {_JPEG_TAR} is a JPEG copy made for this project; pass the folder "
                    f"holding it (or its cifar10-jpeg/ parent) as data_dir or set {DATA_DIR_ENV}")


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
        return DataError(f"{path} is not a good {_PRETTY['cifar10_jpeg']}: {why}"
                         + _JPEG_HOW_TO_GET)

    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                match = _JPEG_MEMBER.fullmatch(member.name)
                if not member.isfile() or not member.name.endswith(".jpg"):
                    continue
                if not match or match[2] not in CIFAR10_CLASSES:
                    raise bad(f"unexpected member {member.name}")
                key = (match[1], CIFAR10_CLASSES.index(match[2]), int(match[3]))
                if key in found:
                    raise bad(f"duplicate member {member.name}")
                image = Image.open(io.BytesIO(tar.extractfile(member).read()))
                # Check the header before decoding, so a huge image cannot exhaust memory.
                if image.format != "JPEG" or image.size != (32, 32):
                    raise bad(f"{member.name} is {image.format} {image.size}, expected JPEG 32x32")
                found[key] = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    except DataError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as e:
        raise bad(f"{type(e).__name__}: {e} (truncated or corrupt)") from e

    out = {}
    for split, n in per_class.items():
        keys = sorted(k for k in found if k[0] == split)
        labels = np.array([k[1] for k in keys], np.int32)
        counts = np.bincount(labels, minlength=10)
        if not np.all(counts == n):
            raise bad(f"{split} has {counts.tolist()} images per class, expected {n} each")
        out[split] = (np.stack([found[k] for k in keys]), labels)
    return out


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    # Imported here: train.results pulls in scipy, which the rest of this
    # module (and `python -m train.data`) does not need.
    from train.results import write_atomic  # pylint: disable=g-import-not-at-top
    write_atomic(path, lambda f: np.save(f, array, allow_pickle=False))


def _load_cifar10_jpeg(data_dir) -> Dataset:
    looked: list[str] = []
    roots = _search_roots(data_dir, "cifar10_jpeg")
    hit = _find_in_folders(roots, "cifar10_jpeg",
                           lambda f: f / _JPEG_TAR if (f / _JPEG_TAR).is_file() else None, looked)
    if not hit:
        raise DataError("no copy of cifar10_jpeg found. Looked at:"
                        + "".join(f"\n  - {line}" for line in looked)
                        + "\nWays to get it:" + _JPEG_HOW_TO_GET)
    tar_path = hit[1]
    sha = hashlib.sha256(tar_path.read_bytes()).hexdigest()
    # Keyed by the tarball's content, so a changed tarball never reuses stale arrays.
    cache = _cache_root() / "cifar10_jpeg" / sha
    parts = ("train_images", "train_labels", "test_images", "test_labels")
    arrays = None
    how = "decoded from the tarball"
    try:
        arrays = {p: np.load(cache / f"{p}.npy", allow_pickle=False) for p in parts}
        for split in ("train", "test"):
            _check_split("cifar10_jpeg", split, arrays[f"{split}_images"],
                         arrays[f"{split}_labels"], str(cache))
            if arrays[f"{split}_labels"].dtype != np.int32 or not np.all(
                    np.bincount(arrays[f"{split}_labels"], minlength=10) == _JPEG_PER_CLASS[split]):
                raise DataError("wrong labels")
        how = f"decoded arrays from the cache {cache}"
    except (OSError, ValueError, DataError):  # Missing or damaged cache: decode again.
        arrays = None
    if arrays is None:
        decoded = _decode_cifar10_jpeg(tar_path)
        arrays = {f"{s}_{k}": decoded[s][i] for s in ("train", "test")
                  for i, k in enumerate(("images", "labels"))}
        try:
            cache.mkdir(parents=True, exist_ok=True)
            for p in parts:
                _save_npy_atomic(cache / f"{p}.npy", arrays[p])
        except OSError as e:  # A read-only cache only costs time.
            warnings.warn(f"could not cache decoded cifar10_jpeg in {cache}: {e}")
    return Dataset(name="cifar10_jpeg", num_classes=10, **arrays,
                   source=f"LOSSY JPEG copy {_JPEG_TAR} in {tar_path.parent} "
                          f"(sha256 {sha[:12]}…; "
                          f"JPEG quality about 75, not the original CIFAR-10 pixels; {how}; "
                          f"counts and labels verified)")


# --------------------------------------------------------------------------

def load(name: str, data_dir: str | os.PathLike | None = None, *,
         download: bool = False) -> Dataset:
    """Finds, verifies and loads a dataset.

    Args:
      name: One of :data:`DATASETS`. ``cifar10_jpeg`` is the lossy JPEG copy
        and is never substituted for ``cifar10``.
      data_dir: Folder holding the files, directly or in a subfolder named
        after the dataset (e.g. ``<data_dir>/fashion-mnist/``). Searched
        first; see the module docstring for the full lookup order.
      download: For ``mnist`` / ``fashion_mnist`` only: if no copy is found,
        download the original files into the cache. Never done otherwise.

    Returns:
      A :class:`Dataset`; images uint8 (N, H, W, C), labels int32 (N,).

    Raises:
      ValueError: ``name`` is not in :data:`DATASETS`.
      DataError: ``data_dir`` is not a folder; no copy was found (the message
        lists every place looked at
        and how to get the data), a found copy is incomplete, truncated,
        altered or of another dataset (the message names the file), or a
        requested download failed.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        # A typo must not silently fall through to another copy.
        raise DataError(f"data_dir {str(data_dir)!r} is not a folder; fix the path, or leave"
                        f" it unset to search ${DATA_DIR_ENV}, /usr/share/datasets, TFDS and"
                        " the download cache.")
    if name in _MIRRORS:
        return _load_mnist_family(name, data_dir, download)
    if name == "cifar10":
        return _load_cifar10(data_dir, download)
    return _load_cifar10_jpeg(data_dir)


def _main(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m train.data")
    sub = parser.add_subparsers(dest="command", required=True)
    dl = sub.add_parser("download", help="find or download a dataset, verify it, print its source")
    dl.add_argument("name", choices=DATASETS)
    dl.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    try:
        ds = load(args.name, args.data_dir, download=True)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{ds.name}: {len(ds.train_labels)} train, {len(ds.test_labels)} test; {ds.source}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
