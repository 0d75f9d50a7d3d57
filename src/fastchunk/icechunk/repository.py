"""An Icechunk repository: its format version, branches, tags and snapshots.

Format version 1 keeps each branch and tag as a JSON file,
refs/branch.NAME/ref.json and refs/tag.NAME/ref.json (a deleted tag leaves
ref.json.deleted beside it); version 2 keeps them all in the repo info file
`repo`. Both name snapshots by id; a snapshot file lives at snapshots/ID."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from fastchunk import _core
from fastchunk.errors import FastchunkError, MetadataError
from fastchunk.store import Store

REPO_INFO = "repo"
V1_MAIN_REF = "refs/branch.main/ref.json"
# What the layout probe asks for: an Icechunk marker of either version.
MARKERS = (REPO_INFO, V1_MAIN_REF)
_MAX_REF_BYTES = 1 << 16
_OFFLINE = 2


class Repository:
    """The Icechunk repository held by `store` (a LocalStore or RemoteStore
    of its root). `found` holds what a probe already fetched of MARKERS."""

    def __init__(self, store: Store, found: Mapping[str, Any] | None = None) -> None:
        self.store = store
        self.name = store.name
        got = dict(found) if found is not None else fetch_markers(store)
        self._lock = threading.Lock()
        self._snapshots: dict[str, dict[str, Any]] = {}
        self._main_ref = got.get(V1_MAIN_REF)  # what the probe fetched: no second request
        self.info: dict[str, Any] | None = None
        repo = got.get(REPO_INFO)
        if repo is not None and _core.icechunk_magic(repo):
            self.info = _core.parse_icechunk_repo_info(repo, f"{self.name}/{REPO_INFO}")
            self.format_version = int(self.info["spec_version"])
            if self.info["availability"] == _OFFLINE:
                reason = self.info["availability_reason"]
                raise FastchunkError(
                    f"{self.name}: the Icechunk repository is offline"
                    + (f" ({reason})" if reason else "")
                )
        elif got.get(V1_MAIN_REF) is not None:
            self.format_version = 1
        else:
            raise FileNotFoundError(f"no Icechunk repository at {self.name!r}")

    def __repr__(self) -> str:
        return f"<fastchunk.icechunk.Repository {self.name} format {self.format_version}>"

    # ------------------------------------------------------------ refs
    def branches(self) -> dict[str, str]:
        """Branch name -> snapshot id."""
        if self.info is not None:
            return dict(self.info["branches"])
        return {name: self._v1_ref("branch", name) for name in self._v1_names("branch")}

    def tags(self) -> dict[str, str]:
        """Tag name -> snapshot id (deleted tags left out)."""
        if self.info is not None:
            return dict(self.info["tags"])
        names = self._v1_names("tag")
        tombstones = self.store.get_many([f"refs/tag.{n}/ref.json.deleted" for n in names])
        return {
            n: self._v1_ref("tag", n)
            for n in names
            if tombstones.get(f"refs/tag.{n}/ref.json.deleted") is None
        }

    def resolve(
        self, branch: str | None = None, tag: str | None = None, snapshot: str | None = None
    ) -> str:
        """The snapshot id a branch (default: main), a tag or a snapshot id
        (checked, canonical) names; at most one of the three."""
        given = [k for k, v in (("branch", branch), ("tag", tag), ("snapshot", snapshot)) if v]
        if len(given) > 1:
            raise ValueError(f"give one of branch, tag and snapshot, not {' and '.join(given)}")
        if snapshot is not None:
            if not isinstance(snapshot, str):
                raise TypeError(
                    f"snapshot must be a snapshot id (str), got {type(snapshot).__name__}"
                )
            return _canonical_id(snapshot)
        if tag is not None:
            return self._lookup("tag", _ref_name(tag, "tag"))
        return self._lookup("branch", _ref_name(branch or "main", "branch"))

    def _lookup(self, kind: str, name: str) -> str:
        if self.info is not None:
            table = self.info["branches" if kind == "branch" else "tags"]
            if name in table:
                return str(table[name])
            if kind == "tag" and name in self.info["deleted_tags"]:
                raise KeyError(f"{self.name}: tag {name!r} was deleted")
            raise KeyError(
                f"{self.name}: no {kind} {name!r} (there are: {', '.join(sorted(table)) or 'none'})"
            )
        if kind == "tag":
            if self.store.get(f"refs/tag.{name}/ref.json.deleted") is not None:
                raise KeyError(f"{self.name}: tag {name!r} was deleted")
        return self._v1_ref(kind, name)

    def _v1_ref(self, kind: str, name: str) -> str:
        key = f"refs/{kind}.{name}/ref.json"
        raw = self._main_ref if key == V1_MAIN_REF and self._main_ref else self.store.get(key)
        if raw is None:
            raise KeyError(f"{self.name}: no {kind} {name!r}")
        where = f"{self.name}/{key}"
        if len(raw) > _MAX_REF_BYTES:
            raise MetadataError(f"{where}: {len(raw)} bytes, not a ref file")
        try:
            doc = json.loads(bytes(raw))
        except (ValueError, UnicodeDecodeError) as e:
            raise MetadataError(f"{where} is not valid JSON: {e}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("snapshot"), str):
            raise MetadataError(f'{where}: a JSON object with a "snapshot" id expected')
        try:
            return _canonical_id(doc["snapshot"])
        except MetadataError as e:
            raise MetadataError(f"{where}: {e}") from None

    def _v1_names(self, kind: str) -> list[str]:
        start = f"{kind}."
        return sorted(d[len(start) :] for d in self.store.list_dir("refs/") if d.startswith(start))

    # ------------------------------------------------------------ snapshots
    def snapshot(self, snapshot_id: str) -> dict[str, Any]:
        """The parsed snapshot file of `snapshot_id` (see
        fastchunk._core.parse_icechunk_snapshot), read once."""
        with self._lock:
            found = self._snapshots.get(snapshot_id)
        if found is not None:
            return found
        key = f"snapshots/{snapshot_id}"
        raw = self.store.get(key)
        if raw is None:
            raise FileNotFoundError(f"{self.name}: no snapshot {snapshot_id} ({key} is missing)")
        snap = _core.parse_icechunk_snapshot(raw, f"{self.name}/{key}")
        if snap["id"] != snapshot_id:
            raise MetadataError(f"{self.name}/{key} holds snapshot {snap['id']}")
        with self._lock:
            self._snapshots[snapshot_id] = snap
        return snap

    def ancestry(self, snapshot_id: str) -> list[dict[str, Any]]:
        """The snapshot and its ancestors, newest first: dicts of id,
        message and flushed_at (microseconds since the epoch)."""
        out = []
        if self.info is not None:
            by_id = {s["id"]: i for i, s in enumerate(self.info["snapshots"])}
            at = by_id.get(snapshot_id)
            while at is not None and at >= 0 and len(out) <= len(by_id):
                s = self.info["snapshots"][at]
                out.append({"id": s["id"], "message": s["message"], "flushed_at": s["flushed_at"]})
                at = s["parent"]
            return out
        seen = set()
        current: str | None = snapshot_id
        while current is not None and current not in seen:
            seen.add(current)
            snap = self.snapshot(current)
            out.append(
                {"id": snap["id"], "message": snap["message"], "flushed_at": snap["flushed_at"]}
            )
            current = snap["parent"]
        return out


def probe(store: Store, found: Mapping[str, Any]) -> Repository | None:
    """The Icechunk repository `store` holds, judged from `found` (what
    fetch_markers fetched), or None when it holds none."""
    repo = found.get(REPO_INFO)
    if repo is not None and _core.icechunk_magic(repo):
        return Repository(store, found)
    if found.get(V1_MAIN_REF) is not None:
        return Repository(store, {V1_MAIN_REF: found[V1_MAIN_REF]})
    return None


def fetch_markers(store: Store, also: tuple[str, ...] = ()) -> dict[str, Any]:
    """MARKERS and the keys `also`, in one batch of requests; a key that is
    a directory (a zarr node named "repo") reads as absent."""
    keys = list(dict.fromkeys((*also, *MARKERS)))
    try:
        # bytes, as Store.get gives them (get_many may give views)
        return {k: None if v is None else bytes(v) for k, v in store.get_many(keys).items()}
    except FastchunkError:
        found: dict[str, Any] = {}
        for key in keys:
            try:
                found[key] = store.get(key)
            except FastchunkError:
                found[key] = None
        return found


def _canonical_id(name: str) -> str:
    return str(_core.icechunk_id_name(_core.icechunk_id_bytes(name)))


def _ref_name(name: Any, kind: str) -> str:
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{name!r} is not a {kind} name (a non-empty string without '/')")
    return name
