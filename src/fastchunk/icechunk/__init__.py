"""Icechunk repositories (icechunk.io/spec), read natively.

A repository is recognised by its layout: `repo` (format version 2) or
`refs/branch.main/ref.json` (format version 1) at its root. Opening one picks
a snapshot (a branch, `main` by default; a tag; or a snapshot id, for
reproducible runs) and presents it as a read-only store of zarr nodes
(SnapshotStore): fastchunk.open returns the same Array and Group types as for
a plain zarr store. The repo info, snapshot and manifest files are parsed and
verified by the core (csrc/icechunk); chunks come from inline bytes, native
objects of the repository or virtual byte ranges of other files, fetched
through the read plans."""

from __future__ import annotations

from fastchunk.icechunk.repository import Repository, fetch_markers, probe
from fastchunk.icechunk.snapshot_store import SnapshotStore, open_snapshot
from fastchunk.icechunk.virtual import VirtualAccess

__all__ = [
    "Repository",
    "SnapshotStore",
    "VirtualAccess",
    "fetch_markers",
    "open_snapshot",
    "probe",
]
