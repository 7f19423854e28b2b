"""Files that are never half-written: atomic writes, strict JSON, figures.

Every result, report, checkpoint side file and cached data array of the
harness goes through `write_atomic`: the content is written to a temporary
file in the destination's folder, flushed, fsync'ed and renamed over the
destination, so a reader (or a run resumed after a crash) sees the old or the
new file, never a mix.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

import numpy as np

__all__ = [
  'dumps',
  'plain',
  'save_figure',
  'write_atomic',
  'write_json_atomic',
  'write_text_atomic',
]


def _fsync_dir(directory: pathlib.Path) -> None:
  """Makes the rename itself durable (POSIX); a no-op where unsupported."""
  if os.name == 'nt':
    return
  try:
    fd = os.open(directory, os.O_RDONLY)
  except OSError:
    return
  try:
    os.fsync(fd)
  except OSError:
    pass
  finally:
    os.close(fd)


def write_atomic(path: str | os.PathLike[str], write: Callable[[BinaryIO], Any]) -> None:
  """Writes a file so that readers see the old or the new content, never half.

  ``write(f)`` fills a uniquely named temporary file in the same directory
  (``os.replace`` is atomic only within one file system), which is flushed,
  fsync'ed and renamed over ``path``. On any error the temporary file is
  removed and an existing ``path`` is left untouched.

  Args:
    path: Destination file; its directory must exist.
    write: Called with the temporary file, opened for binary writing.
  """
  path = pathlib.Path(path)
  tmp = path.with_name(f'.{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp')
  # O_EXCL: never clobber another writer's temp file; mode 0o666 & ~umask
  # gives the same permissions as a plain open().
  fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0), 0o666)
  try:
    with os.fdopen(fd, 'wb') as f:
      write(f)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    try:
      os.unlink(tmp)
    except FileNotFoundError:
      pass
    raise
  _fsync_dir(path.parent)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
  """Writes UTF-8 ``text`` to ``path`` atomically (see `write_atomic`)."""
  data = text.encode('utf-8')
  write_atomic(path, lambda f: f.write(data))


def plain(obj: Any) -> Any:
  """Converts numpy values, paths, tuples and config objects to JSON types."""
  if isinstance(obj, np.ndarray):
    return obj.tolist()
  if isinstance(obj, np.generic):
    return obj.item()
  if isinstance(obj, pathlib.PurePath):
    return str(obj)
  if isinstance(obj, (dict, list, str, int, float, bool)) or obj is None:
    return obj
  if isinstance(obj, Mapping):
    return dict(obj)
  if isinstance(obj, tuple):
    return list(obj)
  if callable(getattr(obj, 'to_dict', None)):  # ml_collections.ConfigDict, Summary
    return obj.to_dict()
  raise TypeError(f'Object of type {type(obj).__name__} is not JSON serializable')


def _is_scalar(x: Any) -> bool:
  return x is None or isinstance(x, (bool, int, float, str))


def dumps(obj: Any, level: int = 0, indent: int = 2) -> str:
  """Indented JSON, but lists of scalars on one line (one trial per line).

  Plain ``json.dumps(indent=...)`` would put each of the trials x epochs
  accuracies on its own line.
  """
  obj = plain(obj)
  pad, inner = ' ' * (indent * level), ' ' * (indent * (level + 1))
  if isinstance(obj, dict):
    if not obj:
      return '{}'
    items = []
    for k, v in obj.items():
      if not isinstance(k, str):
        if isinstance(k, (bool, int, float)) or k is None:
          k = json.dumps(k)  # json.dumps' own key coercion (True -> "true")
        else:
          raise TypeError(f'keys must be str, int, float, bool or None, not {type(k).__name__}')
      items.append(f'{inner}{json.dumps(k)}: {dumps(v, level + 1, indent)}')
    return '{\n' + ',\n'.join(items) + '\n' + pad + '}'
  if isinstance(obj, list):
    elems = [plain(v) for v in obj]
    if all(_is_scalar(v) for v in elems):
      return json.dumps(elems, allow_nan=False)
    return '[\n' + ',\n'.join(inner + dumps(v, level + 1, indent) for v in elems) + '\n' + pad + ']'
  return json.dumps(obj, allow_nan=False)


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
  """Serialises ``obj`` as strict JSON and writes it with `write_text_atomic`.

  Serialisation happens completely before the file is touched, so an
  unserialisable object (or a NaN, which strict JSON lacks) raises and leaves
  an existing file intact. numpy arrays and scalars, paths, tuples and
  objects with a ``to_dict()`` method are converted.

  Args:
    path: Destination file; its directory must exist.
    obj: JSON-compatible data.

  Raises:
    TypeError: For an unserialisable object.
    ValueError: For NaN or infinite floats.
  """
  write_text_atomic(path, dumps(obj) + '\n')


def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int = 120) -> pathlib.Path:
  """Renders a matplotlib figure to ``path`` atomically (see `write_atomic`).

  The format comes from the suffix (PNG without one); ``bbox_inches='tight'``
  keeps legends placed outside the axes. The folder is created if missing.

  Returns:
    ``path`` as a `pathlib.Path`.
  """
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fmt = path.suffix.lstrip('.').lower() or 'png'
  write_atomic(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi, bbox_inches='tight'))
  return path
