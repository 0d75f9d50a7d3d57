# Icechunk repositories: repo info, snapshot and manifest files parsed and
# verified by the core (csrc/icechunk), the chunk-reference table of an
# array, local reads through it, and the routes of remote reads. Included by
# _core.pyx.

from fastchunk.includes.icechunk cimport *


cdef const uint8_t* _view_ptr(const uint8_t[::1] view):
    return &view[0] if view.shape[0] else <const uint8_t*>b""


cdef str _id_name(const uint8_t* data, size_t n):
    cdef string name
    check(api_icechunk_encode_id(string(<const char*>data, n), &name))
    return name.decode()


def icechunk_id_bytes(str name):
    """The 12 bytes an object id's base-32 name stands for (MetadataError
    unless it is one)."""
    cdef string out
    check(api_icechunk_decode_id(name.encode(), &out))
    return <bytes>out


def icechunk_id_name(bytes data):
    """The base-32 name of an object id."""
    return _id_name(<const uint8_t*><const char*>data, len(data))


def icechunk_magic(data):
    """Whether `data` starts with the magic bytes of Icechunk's files."""
    return bytes(memoryview(data).cast("B")[:12]) == "ICE\U0001f9caCHUNK".encode()


def parse_icechunk_repo_info(data, str what):
    """A spec-2 repo info file: dict of spec_version, branches and tags
    ({name: snapshot id}), deleted_tags, snapshots (list of dicts: id,
    parent (index or -1), flushed_at (microseconds), message), availability
    (0 online, 1 read-only, 2 offline) and availability_reason."""
    cdef const uint8_t[::1] view = memoryview(data).cast("B")
    cdef const uint8_t* ptr = _view_ptr(view)
    cdef size_t n = view.shape[0]
    cdef string c_what = what.encode()
    cdef RepoInfo info
    with nogil:
        check(api_icechunk_parse_repo_info(ptr, n, c_what, &info))
    return {
        "spec_version": info.spec_version,
        "branches": {r.name.decode("utf-8", "replace"): _id_name(r.snapshot.data(), 12)
                     for r in info.branches},
        "tags": {r.name.decode("utf-8", "replace"): _id_name(r.snapshot.data(), 12)
                 for r in info.tags},
        "deleted_tags": [t.decode("utf-8", "replace") for t in info.deleted_tags],
        "snapshots": [{"id": _id_name(s.id.data(), 12), "parent": s.parent,
                       "flushed_at": s.flushed_at,
                       "message": s.message.decode("utf-8", "replace")}
                      for s in info.snapshots],
        "availability": info.availability,
        "availability_reason": info.availability_reason.decode("utf-8", "replace"),
    }


def parse_icechunk_snapshot(data, str what):
    """A snapshot file: dict of spec_version, id, parent (or None),
    flushed_at, message and nodes, each a dict of path, node_id (8 bytes),
    user_data (the zarr.json bytes), is_array, shape and manifests (a list of
    (manifest id, [(from, to) per axis]))."""
    cdef const uint8_t[::1] view = memoryview(data).cast("B")
    cdef const uint8_t* ptr = _view_ptr(view)
    cdef size_t n = view.shape[0]
    cdef string c_what = what.encode()
    cdef Snapshot snap
    with nogil:
        check(api_icechunk_parse_snapshot(ptr, n, c_what, &snap))
    nodes = []
    for node in snap.nodes:
        nodes.append({
            "path": node.path.decode("utf-8", "replace"),
            "node_id": <bytes>string(<const char*>node.id.data(), 8),
            "user_data": <bytes>node.user_data,
            "is_array": node.is_array,
            "shape": tuple(node.shape),
            "manifests": [(_id_name(m.id.data(), 12), [(e.start, e.to) for e in m.extents])
                          for m in node.manifests],
        })
    return {
        "spec_version": snap.spec_version,
        "id": _id_name(snap.id.data(), 12),
        "parent": _id_name(snap.parent.value().data(), 12) if snap.parent.has_value() else None,
        "flushed_at": snap.flushed_at,
        "message": snap.message.decode("utf-8", "replace"),
        "nodes": nodes,
    }


cdef class IcechunkManifestFile:
    """A manifest file parsed and verified once by the core; the chunk
    references of its arrays are collected from it into ChunkRefs."""

    cdef shared_ptr[const IcechunkManifest] manifest

    def __init__(self, data, str what):
        cdef const uint8_t[::1] view = memoryview(data).cast("B")
        cdef const uint8_t* ptr = _view_ptr(view)
        cdef size_t n = view.shape[0]
        cdef string c_what = what.encode()
        with nogil:
            check(api_icechunk_parse_manifest(ptr, n, c_what, &self.manifest))

    @property
    def id(self):
        """The id the manifest holds (its file name should be this)."""
        return _id_name(self.manifest.get().id().data(), 12)

    @property
    def spec_version(self):
        return self.manifest.get().spec_version()

    @property
    def ref_count(self):
        return self.manifest.get().ref_count()

    @property
    def nbytes(self):
        return self.manifest.get().nbytes()


cdef class ChunkRefs:
    """The chunk references of one array in one snapshot (csrc/icechunk/
    chunk_refs.h), for a grid of `grid` stored objects per axis (chunks, or
    shards when sharded)."""

    cdef shared_ptr[ChunkRefTable] table
    cdef readonly tuple grid

    def __init__(self, grid):
        self.grid = tuple(int(g) for g in grid)
        cdef vector[uint64_t] c_grid = [g for g in self.grid]
        check(api_icechunk_new_refs(c_grid, &self.table))

    def collect(self, IcechunkManifestFile manifest, bytes node_id, extents, str what):
        """Adds the references of node `node_id` inside `extents` ((from, to)
        per axis) from `manifest`."""
        cdef vector[uint32_t] c_extents
        for lo, hi in extents:
            c_extents.push_back(lo)
            c_extents.push_back(hi)
        cdef string c_node = node_id
        cdef string c_what = what.encode()
        with nogil:
            check(api_icechunk_collect(deref(manifest.manifest), c_node, c_extents,
                                       deref(self.table), c_what))

    def seal(self, str what):
        """Sorts the references; a chunk referenced twice is a MetadataError."""
        cdef string c_what = what.encode()
        with nogil:
            check(api_icechunk_seal(deref(self.table), c_what))

    def __len__(self):
        return self.table.get().size()

    @property
    def nbytes(self):
        return self.table.get().nbytes()

    def targets(self):
        """(location, is_virtual, etag, last_modified) of every object the
        references point into: "chunks/<id>" under the repository for native
        references, a URL for virtual ones."""
        return [(t.location.decode("utf-8", "replace"), t.is_virtual,
                 t.etag.decode("utf-8", "replace"), t.last_modified)
                for t in self.table.get().targets()]

    def set_allowed(self, flags):
        """Whether each target may be read (virtual locations the reader
        authorized); a read of one that may not is an OSError."""
        cdef vector[ChunkTarget]* targets = &self.table.get().targets()
        flags = list(flags)
        if len(flags) != targets.size():
            raise ValueError(f"{len(flags)} flags for {targets.size()} targets")
        for i, flag in enumerate(flags):
            deref(targets)[i].allowed = bool(flag)

    def entries(self):
        """(coords, kind, target, length): numpy arrays over the references,
        coords of shape (n, ndim); kind 0 inline, 1 native, 2 virtual;
        target -1 for inline references."""
        cdef ChunkRefTable* t = self.table.get()
        cdef size_t n = t.size(), nd = t.ndim(), i, d
        coords = np.empty((n, nd), dtype=np.uint32)
        kinds = np.empty(n, dtype=np.uint8)
        targets = np.empty(n, dtype=np.int64)
        lengths = np.empty(n, dtype=np.uint64)
        cdef uint32_t[:, ::1] cv = coords
        cdef uint8_t[::1] kv = kinds
        cdef int64_t[::1] tv = targets
        cdef uint64_t[::1] lv = lengths
        cdef const uint32_t* c
        for i in range(n):
            c = t.coords_of(i)
            for d in range(nd):
                cv[i, d] = c[d]
            kv[i] = <uint8_t>t.ref(i).kind
            tv[i] = -1 if t.ref(i).kind == RefKind.kInline else t.ref(i).target
            lv[i] = t.ref(i).length
        return coords, kinds, targets, lengths

    def read(self, NativeArray array, str root, list indices, out, int num_threads=0,
             strides=None):
        """Reads the orthogonal selection `indices` of `array` into `out`
        (as NativeArray.read, `strides` included) through the references:
        native objects under the directory `root`, virtual references to
        local files."""
        cdef Selection sel
        cdef list keep = []
        nbytes = fill_selection(indices, array.shape, &sel, keep) * array.itemsize
        _fill_strides(strides, &sel)
        view = writable_bytes(out, nbytes, "out")
        cdef uint8_t[::1] dst = view
        cdef uint8_t* dst_ptr = &dst[0] if nbytes else NULL
        cdef uint64_t n = nbytes
        cdef string c_root = root.encode()
        with nogil:
            check(api_icechunk_read_local(array.spec, deref(self.table), c_root, sel, dst_ptr,
                                          n, num_threads))

    def route(self, NativeArray array, requests):
        """Routes a ReadPlan's requests (see ReadPlan) of `array`: returns
        (fetches, answers). fetches: (target index, offset, length) to
        fetch; answers, one per request: None (no reference: the fill value),
        (bytes, object size) for inline bytes, or (fetch index, start,
        length, object size): bytes [start, start + length) of that fetch."""
        cdef vector[ByteRequest] c_requests
        for r in requests:
            c_requests.push_back(_request_of(r))
        cdef Routes routes
        with nogil:
            check(api_icechunk_route(array.spec, deref(self.table), c_requests, &routes))
        fetches = [(f.target, f.offset, f.length) for f in routes.fetches]
        cdef ByteView inline = self.table.get().inline_data()
        answers = []
        for a in routes.answers:
            if a.kind == AnswerKind.kMissing:
                answers.append(None)
            elif a.kind == AnswerKind.kInline:
                answers.append((<bytes>(<const char*>inline.data)[a.start:a.start + a.length]
                                if a.length else b"", a.object_size))
            else:
                answers.append((a.fetch, a.start, a.length, a.object_size))
        return fetches, answers
