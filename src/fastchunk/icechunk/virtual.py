"""Virtual chunk references: byte ranges of files and objects outside the
repository (NetCDF/HDF5, GRIB, ...), each read only under a location the
reader authorized, and checked against the condition the reference carries.

A repository names its virtual locations itself, so reading them is opt-in,
as in Icechunk: `authorize_virtual_chunk_access` maps URL prefixes
("s3://bucket/data/", "file:///mnt/archive/", "https://host/path/") to the
storage_options of their stores (None: the defaults, or a local directory).
A location under no prefix is an error naming it. A reference may require
the object's ETag, or that it was not modified after a time: the answer to
the very request that fetched the bytes is checked, and a mismatch is a
ChunkDecodeError; changed bytes are never decoded."""

from __future__ import annotations

import os
import stat
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from fastchunk.errors import ChunkDecodeError, UnsupportedError

SCHEMES = {"s3": "s3", "gs": "gs", "gcs": "gs", "http": "http", "https": "https", "file": "file"}

# (location, offset, length, etag, last_modified): one range to read.
VirtualRange = tuple[str, int, int, str, int]


class VirtualAccess:
    """The virtual locations a reader may read, with their stores' options."""

    def __init__(self, authorize: Mapping[str, Mapping[str, Any] | None] | None = None) -> None:
        if authorize is not None and not isinstance(authorize, Mapping):
            raise TypeError(
                "authorize_virtual_chunk_access must be a dict of URL prefix -> "
                "storage_options (or None)"
            )
        self._authorize = {str(k): (dict(v) if v else None) for k, v in (authorize or {}).items()}
        entries = []
        for prefix, options in self._authorize.items():
            scheme, netloc, path = _split(prefix, what="authorized prefix")
            if scheme != "file" and not netloc:
                raise ValueError(f"authorized prefix {prefix!r} names no bucket or host")
            if scheme == "file" and options:
                raise ValueError(f"authorized prefix {prefix!r}: local files take no options")
            entries.append((scheme, netloc, path, options))
        # Longest first: the most specific prefix gives the options.
        self._entries = sorted(entries, key=lambda e: -len(e[2]) - len(e[1]))
        self._stores: dict[tuple[str, str, int], Any] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"authorize": self._authorize}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["authorize"])  # type: ignore[misc]

    @property
    def prefixes(self) -> list[str]:
        return list(self._authorize)

    def _entry(self, location: str) -> int | None:
        """Index into _entries of the prefix `location` falls under, or None."""
        try:
            scheme, netloc, path = _split(location, what="virtual chunk location")
        except (ValueError, UnsupportedError):
            return None
        for i, (s, n, p, _o) in enumerate(self._entries):
            if s == scheme and n == netloc and _under(path, p):
                return i
        return None

    def allowed(self, location: str) -> bool:
        return self._entry(location) is not None

    def read(self, ranges: Sequence[VirtualRange]) -> list[Any]:
        """The bytes of each range, its object's condition checked; missing
        objects, unauthorized locations and failed conditions raise."""
        out: list[Any] = [None] * len(ranges)
        by_store: dict[tuple[str, str, int], list[int]] = {}
        for i, (location, *_rest) in enumerate(ranges):
            entry = self._entry(location)
            if entry is None:
                raise PermissionError(
                    f"virtual chunk in {location}: that location is not under "
                    f"any authorized prefix ({', '.join(self.prefixes) or 'none'}); "
                    f"pass authorize_virtual_chunk_access"
                )
            scheme, netloc, _path = _split(location, what="virtual chunk location")
            by_store.setdefault((scheme, netloc, entry), []).append(i)
        for (scheme, netloc, entry), items in by_store.items():
            if scheme == "file":
                for i in items:
                    out[i] = _read_file(ranges[i])
                continue
            store = self._store(scheme, netloc, entry)
            requests = [(_key_of(ranges[i][0]), ranges[i][1], ranges[i][2]) for i in items]
            got = store.get_ranges_stamped(requests)
            for i, answer in zip(items, got, strict=True):
                location, _offset, _length, etag, modified = ranges[i]
                if answer is None:
                    raise ChunkDecodeError(
                        f"virtual chunk in {location}: the object does not "
                        f"exist (the reference points to it)"
                    )
                blob, stamp = answer
                _check(location, etag, modified, stamp.etag, stamp.last_modified)
                if memoryview(blob).nbytes != ranges[i][2]:
                    raise ChunkDecodeError(f"virtual chunk in {location}: the object is shorter "
                                           f"than the reference says")
                out[i] = blob
        return out

    def _store(self, scheme: str, netloc: str, entry: int) -> Any:
        key = (scheme, netloc, entry)
        with self._lock:
            store = self._stores.get(key)
            if store is None:
                from fastchunk.store.remote import RemoteStore

                store = RemoteStore(f"{scheme}://{netloc}", self._entries[entry][3] or {})
                self._stores[key] = store
            return store


def _split(location: str, what: str) -> tuple[str, str, str]:
    """(scheme, bucket or host, decoded path) of a URL; dot segments refused."""
    if not isinstance(location, str) or "://" not in location:
        raise ValueError(f"{what} {location!r} is not a URL")
    parsed = urllib.parse.urlsplit(location)
    scheme = SCHEMES.get(parsed.scheme.lower())
    if scheme is None:
        raise UnsupportedError(
            f"{what} {location!r}: fastchunk reads virtual chunks from "
            f"s3://, gs://, http(s):// and file:// locations"
        )
    netloc = parsed.netloc
    if scheme == "file" and netloc in ("", "localhost"):
        netloc = ""
    path = urllib.parse.unquote(parsed.path)
    if any(part in (".", "..") for part in path.split("/")) or "\0" in path:
        raise ValueError(f"{what} {location!r} has '.' or '..' segments")
    return scheme, netloc, path


def _under(path: str, prefix: str) -> bool:
    if not prefix or prefix == "/":
        return True
    if prefix.endswith("/"):
        return path.startswith(prefix)
    return path == prefix or path.startswith(prefix + "/")


def _key_of(location: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(location).path).lstrip("/")


def bare_etag(etag: str | None) -> str | None:
    if etag is None:
        return None
    if etag.startswith("W/"):
        etag = etag[2:]
    if len(etag) >= 2 and etag[0] == '"' and etag[-1] == '"':
        etag = etag[1:-1]
    return etag


def _check(
    location: str, etag: str, modified: int, got_etag: str | None, got_modified: float | None
) -> None:
    where = f"virtual chunk in {location}: "
    if etag:
        if got_etag is None:
            raise ChunkDecodeError(
                where + "the store gave no ETag; the reference's ETag condition cannot be checked"
            )
        if bare_etag(got_etag) != bare_etag(etag):
            raise ChunkDecodeError(
                where + f"the object changed since the reference was written "
                f"(ETag {got_etag}, the reference expects {etag}); not reading "
                f"changed bytes"
            )
    elif modified:
        if got_modified is None:
            raise ChunkDecodeError(
                where + "the store gave no Last-Modified time; the "
                "reference's condition cannot be checked"
            )
        if got_modified > modified:
            raise ChunkDecodeError(
                where + f"the object was modified at {_utc(got_modified)}, "
                f"after {_utc(modified)} as the reference requires; not "
                f"reading changed bytes"
            )


def _utc(seconds: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def local_file_etag(st: os.stat_result) -> str:
    """The ETag object_store (so Icechunk) gives a local file."""
    return f"{st.st_ino:x}-{st.st_mtime_ns // 1000:x}-{st.st_size:x}"


def _read_file(r: VirtualRange) -> bytes:
    location, offset, length, etag, modified = r
    path = urllib.parse.unquote(urllib.parse.urlsplit(location).path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ChunkDecodeError(
            f"virtual chunk in {location}: the file does not exist (the reference points to it)"
        ) from None
    try:
        before = os.fstat(fd)
        if stat.S_ISDIR(before.st_mode):
            raise ChunkDecodeError(f"virtual chunk in {location}: a directory")
        if offset + length > before.st_size:
            raise ChunkDecodeError(
                f"virtual chunk in {location}: bytes [{offset}, +{length}) "
                f"lie outside the {before.st_size}-byte file"
            )
        data = os.pread(fd, length, offset)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if (before.st_size, before.st_mtime_ns, before.st_ino) != (
        after.st_size,
        after.st_mtime_ns,
        after.st_ino,
    ) or len(data) != length:
        raise ChunkDecodeError(f"virtual chunk in {location}: the file changed while it was read")
    _check(location, etag, modified, local_file_etag(after), after.st_mtime_ns / 1e9)
    return data
