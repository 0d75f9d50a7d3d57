"""Local (or network) file systems."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence

from fastchunk.errors import ChunkDecodeError, FastchunkError
from fastchunk.store.protocol import StoreBase


class LocalStore(StoreBase):
    """A directory on a local or network file system. Never written to."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        path = os.fspath(root)
        if path.startswith("file://"):
            path = path[len("file://") :]
        path = os.path.abspath(os.path.expanduser(path))
        if not os.path.isdir(path):
            raise FileNotFoundError(f"no zarr store at {path!r}")
        self.name = path
        self.local_root = path
        # The directory itself, whatever path led to it (shared caches key on it).
        self.store_id = "file://" + os.path.realpath(path)

    def _path(self, key: str) -> str:
        return os.path.join(self.local_root or "", *key.split("/"))

    def get(self, key: str) -> bytes | None:
        """The object `key`, or None when there is none. A directory where an
        object should be is a broken store, not a missing object."""
        try:
            with open(self._path(key), "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except IsADirectoryError:
            raise self._directory(key) from None

    def _directory(self, key: str) -> FastchunkError:
        return FastchunkError(
            f"{self.name}: '{key}' is a directory where a stored object should be"
        )

    def known_versions(self, keys: Sequence[str]) -> list[str]:
        """The version of each file now (size, mtime in ns, inode: what the
        core's local reads use), "" where there is none: the decoded caches
        key the chunks Python reads and decodes (numcodecs fallback,
        strings) on it."""
        out = []
        for key in keys:
            try:
                st = os.stat(self._path(key))
            except OSError:
                out.append("")
                continue
            out.append(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}")
        return out

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        return {k: self.get(k) for k in keys}

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[bytes | None]:
        """Bytes [offset, offset + length) of each (key, offset, length), read
        from the files themselves; a range past a file's end is a
        ChunkDecodeError."""
        out: list[bytes | None] = []
        for key, offset, length in requests:
            try:
                with open(self._path(key), "rb") as f:
                    f.seek(offset)
                    data = f.read(length)
            except (FileNotFoundError, NotADirectoryError):
                out.append(None)
                continue
            except IsADirectoryError:
                raise self._directory(key) from None
            if len(data) != length:
                raise ChunkDecodeError(
                    f"{self.name}: {key}: bytes [{offset}, +{length}) lie outside the object"
                )
            out.append(data)
        return out

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every object under `prefix` (a folder key, '' for all)."""
        base = self._path(prefix) if prefix else (self.local_root or "")
        root = self.local_root or ""
        for dirpath, _dirs, files in os.walk(base):
            for fname in files:
                full = os.path.join(dirpath, fname)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                yield rel, os.path.getsize(full)

    def list_dir(self, prefix: str) -> list[str]:
        """Names of the subdirectories of `prefix` ('' or 'a/b/')."""
        try:
            with os.scandir(self._path(prefix) if prefix else (self.local_root or "")) as it:
                return sorted(e.name for e in it if e.is_dir())
        except (FileNotFoundError, NotADirectoryError):
            return []

    def __repr__(self) -> str:
        return f"LocalStore({self.name!r})"
