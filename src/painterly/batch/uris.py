"""Paths and URIs as batch inputs and outputs: local files, ``file://``, ``s3://``, ``gs://`` ...

A batch names each image by a string: a local path (made absolute, so a
worker on another node of a shared file system finds it) or a URI that
fsspec opens (pyarrow's file systems are the fallback when fsspec is
missing). Workers copy a URI input to a local temporary file, paint it with
the job layer's :func:`~painterly.jobs.run.paint_one` and copy the result
back, so remote images take exactly the code path of local ones and come
out byte for byte the same. Nothing here needs configuring beyond the URI:
credentials come from the file system's usual places (``~/.aws``, env).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, List, Tuple

from ..errors import ImageNotFoundError, MissingDependencyError, OutputError, PainterlyError, UsageError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_uri(text: Any) -> bool:
    """True for ``scheme://...`` (``file://``, ``s3://``); False for plain and Windows paths (``C:\\x``)."""
    return isinstance(text, str) and bool(_SCHEME.match(text))


def local_path(text: str) -> Path:
    """A plain path made absolute (``~`` expanded); workers may run in another folder or node."""
    return Path(os.path.abspath(os.path.expanduser(text)))


class _ArrowFS:
    """The few fsspec calls we use, on a pyarrow file system (when fsspec is not installed)."""

    def __init__(self, fs: Any) -> None:
        self.fs = fs

    def _info(self, path: str) -> Any:
        return self.fs.get_file_info(path)

    def isdir(self, path: str) -> bool:
        import pyarrow.fs as pafs

        return self._info(path).type == pafs.FileType.Directory

    def isfile(self, path: str) -> bool:
        import pyarrow.fs as pafs

        return self._info(path).type == pafs.FileType.File

    def exists(self, path: str) -> bool:
        import pyarrow.fs as pafs

        return self._info(path).type != pafs.FileType.NotFound

    def ls(self, path: str, detail: bool = False) -> List[str]:
        import pyarrow.fs as pafs

        return [i.path for i in self.fs.get_file_info(pafs.FileSelector(path)) if i.type == pafs.FileType.File]

    def get_file(self, remote: str, local: str) -> None:
        with self.fs.open_input_stream(remote) as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)

    def put_file(self, local: str, remote: str) -> None:
        with open(local, "rb") as src, self.fs.open_output_stream(remote) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)

    def makedirs(self, path: str, exist_ok: bool = True) -> None:
        self.fs.create_dir(path, recursive=True)


def filesystem(uri: str) -> Tuple[Any, str]:
    """The file system that opens ``uri`` and the path within it.

    Raises:
        MissingDependencyError: neither fsspec nor pyarrow can open the scheme
            (with the package to install, e.g. s3fs).
    """
    try:
        import fsspec
    except ImportError:
        fsspec = None
    if fsspec is not None:
        try:
            return fsspec.core.url_to_fs(uri)
        except ImportError as exc:  # fsspec knows the scheme but its package is missing
            raise MissingDependencyError(f"cannot open {uri}: {exc}") from None
        except ValueError as exc:
            raise UsageError(f"cannot open {uri}: {exc}") from None
    try:
        import pyarrow.fs as pafs
    except ImportError:
        raise MissingDependencyError(
            f"cannot open {uri}: URIs need fsspec (pip install 'painterly[cluster]') or pyarrow"
        ) from None
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid and friends
        raise UsageError(f"cannot open {uri}: {exc}") from None
    return _ArrowFS(fs), path


def join(base: str, name: str) -> str:
    """``base`` (a folder URI or path) / ``name``."""
    if is_uri(base):
        return base.rstrip("/") + "/" + name
    return str(Path(base) / name)


def basename(name: str) -> str:
    """The last part of a path or URI (query strings are not supported)."""
    return name.rstrip("/").rsplit("/", 1)[-1] if is_uri(name) else Path(name).name


def exists(name: str) -> bool:
    """True when the file ``name`` (path or URI) exists; False when it cannot be checked."""
    if not is_uri(name):
        return Path(name).is_file()
    try:
        fs, path = filesystem(name)
        return bool(fs.isfile(path))
    except Exception:  # noqa: BLE001 - an unreachable store means "not there", the image is redone
        return False


def list_images(uri: str, suffixes: Tuple[str, ...]) -> Tuple[List[str], bool]:
    """The images under folder ``uri`` (not recursive, sorted), or ``[uri]`` for a file.

    Returns:
        ``(names, is_folder)``.
    """
    fs, path = filesystem(uri)
    try:
        if not fs.isdir(path):
            return [uri], False
        found = fs.ls(path, detail=False)
    except PainterlyError:
        raise
    except Exception as exc:  # noqa: BLE001 - a listing error of any store
        raise ImageNotFoundError(f"cannot list {uri}: {exc}") from None
    names = []
    for entry in found:
        entry = str(entry)
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith(".") or Path(name).suffix.lower() not in suffixes:
            continue
        names.append(join(uri, name))
    return sorted(names), True


def fetch(uri: str, local: Path) -> None:
    """Copy ``uri`` to the local file ``local``.

    Raises:
        ImageNotFoundError: it is missing or cannot be read.
    """
    try:
        fs, path = filesystem(uri)
        fs.get_file(path, str(local))
    except PainterlyError:
        raise
    except FileNotFoundError:
        raise ImageNotFoundError(f"image not found: {uri}") from None
    except Exception as exc:  # noqa: BLE001 - any store's read error
        raise ImageNotFoundError(f"cannot read {uri}: {' '.join(str(exc).split())}") from None


def upload(local: Path, uri: str) -> None:
    """Copy the local file ``local`` to ``uri`` (stores replace objects whole, so readers never see half).

    Raises:
        OutputError: the write failed.
    """
    try:
        fs, path = filesystem(uri)
        fs.put_file(str(local), path)
    except PainterlyError:
        raise
    except Exception as exc:  # noqa: BLE001 - any store's write error
        raise OutputError(f"cannot write {uri}: {' '.join(str(exc).split())}") from None


def make_folder(uri: str) -> None:
    """Create the output folder ``uri`` (a no-op on object stores, which have no folders).

    Raises:
        OutputError: it cannot be created.
    """
    try:
        fs, path = filesystem(uri)
        fs.makedirs(path, exist_ok=True)
    except PainterlyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise OutputError(f"cannot create output folder {uri}: {exc}") from None


__all__ = ["basename", "exists", "fetch", "filesystem", "is_uri", "join", "list_images", "local_path", "make_folder", "upload"]
