"""Files: reads and atomic writes with typed errors, and JSON; the bottom layer (imports only kgtransfer.errors).

Every file kgtransfer writes goes to a temporary file beside its final name first and is then
renamed into place, so a run killed mid-write leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from kgtransfer.errors import FileAccessError, SourceNotFoundError


def is_plain_name(name) -> bool:
    r"""Whether ``name`` can name a folder inside another: not empty, ``.`` or ``..``; no ``/``, ``\`` or NUL."""
    return isinstance(name, str) and name not in ("", ".", "..") and not any(c in name for c in "/\\\0")


def current_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of the file ``path``.

    Raises:
        SourceNotFoundError: there is no such file.
        FileAccessError: it cannot be read (permissions, a folder); names ``path``.
    """
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise SourceNotFoundError(f"{path}: no such file") from None
    except OSError as e:
        raise FileAccessError(f"{path}: cannot be read ({e.strerror or e})") from None


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place.

    A symlink is written through (its target is replaced, the link stays) and an existing file
    keeps its permission bits; a new file gets the usual ``0666 & ~umask``.

    Raises:
        FileAccessError: ``path`` cannot be written (a read-only folder, a folder of that name, a
            file where a parent folder belongs, a full disk); names ``path``, and whatever was there stays.
    """
    try:
        _atomic_write_bytes(path, data)
    except FileAccessError:
        raise
    except OSError as e:
        raise FileAccessError(f"{path}: cannot be written ({e.strerror or e})") from None


def _atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path) as f:
        f.write(data)


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", **kwargs) -> Iterator[IO]:
    """A file object (``open``'s ``mode`` and ``kwargs``) on a temporary file beside ``path``, renamed into place.

    The temporary gets an unpredictable name (:func:`tempfile.mkstemp`), is flushed and fsynced,
    given the mode of :func:`atomic_write_bytes` and renamed over ``path`` when the block ends; an
    exception in the block removes it and leaves ``path`` as it was.
    """
    path = Path(os.path.realpath(path))
    if path.is_dir():
        raise FileAccessError(f"{path}: is a folder, not a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        file_mode = path.stat().st_mode & 0o7777
    except OSError:
        file_mode = 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode)  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def settle_file(path: str | os.PathLike) -> None:
    """Give a new file another library wrote the mode and durability of :func:`atomic_write_bytes`.

    ``0666 & ~umask`` (safetensors creates ``0600``), and its bytes fsynced before it is renamed into place.
    """
    os.chmod(path, 0o666 & ~current_umask())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode())


def save_json(path: str | os.PathLike, data) -> None:
    """Write ``data`` as indented UTF-8 JSON, atomically (numpy/torch scalars and paths become plain values)."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=_json_default))


def load_json(path: str | os.PathLike):
    """The JSON value stored at ``path``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _json_default(value):
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def keep_experiment_file(file: str | Path, out: str | Path) -> Path:
    """Copy the experiment ``file`` to ``out/experiment.toml``, so the results say how to rerun them.

    A first comment line names the original (its relative paths resolve beside it, not beside the copy).
    """
    file = Path(file)
    text = read_bytes(file).decode("utf-8-sig")
    copy = Path(out) / "experiment.toml"
    atomic_write_text(
        copy, f"# the experiment of these results: {file.resolve()} (relative paths resolve beside it)\n{text}"
    )
    return copy
