# Reads: NativeArray (an ArraySpec built once per array), local reads in one
# call, and ReadPlan, the handle remote reads are served through. Included by
# _core.pyx.


cdef int fill_shard_spec(ShardSpec* shard, dict layout) except -1:
    shard.chunks_per_shard = list(layout["chunks_per_shard"])
    shard.index_at_start = layout["index_at_start"]
    fill_chain(&shard.index_chain, layout["index_codecs"])
    return 0


cdef class NativeArray:
    """An ArraySpec built once per array; plans and runs reads of it."""

    cdef ArraySpec spec
    cdef string root
    cdef readonly tuple shape
    cdef readonly int64_t itemsize
    cdef public object store_name

    cdef object known_versions
    # False: plans ask for each inner chunk of a shard on its own (a disk
    # cache below keys them so and coalesces what it fetches itself).
    cdef public cbool coalesce

    def __init__(self, *, store_name, store_id, root, array_path, shape, chunk_shape, itemsize,
                 fill, codecs, stored_axes, key_prefix, separator, zero_dim_key,
                 nested_fallback, shard=None, known_versions=None, decoding=None):
        """`store_id` names the store precisely (the caches key on it);
        `known_versions(keys)` (the Store protocol's) the versions the store
        learned of objects, under which plans look up cached shard indexes and
        decoded chunks; `decoding` names what decodes chunks that reach the
        core decoded (no `codecs`)."""
        self.known_versions = known_versions
        self.coalesce = True
        self.store_name = store_name
        self.shape = tuple(int(n) for n in shape)
        self.itemsize = itemsize
        self.spec.store_name = store_name.encode()
        self.spec.store_id = store_id.encode()
        if codecs:  # the chain as the metadata names it: the decoded caches key on it
            self.spec.decoding = json.dumps(
                [codecs.zarr_format, codecs.dtype, [list(s) for s in codecs.steps]],
                sort_keys=True, default=str).encode()
        elif decoding:  # chunks decoded in Python: what decodes them, named by the caller
            self.spec.decoding = decoding.encode()
        self.root = root.encode() if root is not None else b""
        self.spec.array_path = array_path.encode()
        self.spec.shape = list(shape)
        self.spec.chunk_shape = list(chunk_shape)
        self.spec.itemsize = itemsize
        self.spec.fill = list(bytes(fill))
        fill_chain(&self.spec.chain, codecs)
        self.spec.stored_axes = list(stored_axes) if stored_axes is not None else []
        self.spec.keys.prefix = key_prefix.encode()
        self.spec.keys.separator = ord(separator)
        self.spec.keys.zero_dim_key = zero_dim_key.encode()
        self.spec.keys.nested_fallback = nested_fallback
        if shard is not None:
            self.spec.sharded = True
            fill_shard_spec(&self.spec.shard, shard)
        check(api_verify_spec(self.spec))

    def read(self, list indices, out, int num_threads=0, strides=None):
        """Reads the orthogonal selection `indices` (per axis a `range` or an
        integer array of positions inside the array) of a local store into
        `out`, a writable C-contiguous buffer of exactly the selection's size,
        in one call with the GIL released. num_threads < 1: the process-wide
        setting. `strides`: bytes between neighbours along each axis of the
        output, for an output laid out with its axes in another order
        (checked by the core: the strides of a C-order array of the
        selection's counts in some axis order); None: C order."""
        cdef Selection sel
        cdef list keep = []
        nbytes = fill_selection(indices, self.shape, &sel, keep) * self.itemsize
        _fill_strides(strides, &sel)
        view = writable_bytes(out, nbytes, "out")
        cdef uint8_t[::1] dst = view
        cdef uint8_t* dst_ptr = &dst[0] if nbytes else NULL
        cdef uint64_t n = nbytes
        with nogil:
            check(api_read_local(self.spec, self.root, sel, dst_ptr, n, num_threads))

    def plan(self, list indices, out=None, int num_threads=0, cbool skip_cached=True,
             strides=None):
        """The ReadPlan of the selection `indices`, decoding into `out` (a
        writable C-contiguous buffer of exactly the selection's size; None
        for a plan that only names what the read needs), its axes laid out
        by `strides` as in read(). With skip_cached false it asks for every
        stored object, chunks in the decoded-chunk cache included."""
        return ReadPlan._make(self, indices, out, num_threads, skip_cached, strides)


cdef int _fill_strides(object strides, Selection* sel) except -1:
    if strides is None:
        return 0
    strides = tuple(strides)
    if len(strides) != sel.axes.size():
        raise ValueError(f"strides: {len(strides)} for {sel.axes.size()} axes")
    for s in strides:
        sel.out_strides.push_back(<int64_t>int(s))
    return 0


cdef object _request_of_c(const ByteRequest& r):
    key = r.key.decode()
    if r.range.kind == RangeKind.kWhole:
        return Request.whole(key)
    if r.range.kind == RangeKind.kSuffix:
        return Request.suffix(key, r.range.length)
    return Request.range_of(key, r.range.offset, r.range.length)


cdef ByteRequest _request_of(object request) except *:
    """The core's request of a Request (or a tuple of the same form)."""
    cdef ByteRequest r
    request = Request(*request)
    kind = request.kind  # ValueError for a tuple of no kind
    r.key = request.key.encode()
    if kind == SUFFIX:
        r.range.kind = RangeKind.kSuffix
        r.range.length = request.length
    elif kind == WHOLE:
        r.range.kind = RangeKind.kWhole
    else:
        r.range.kind = RangeKind.kSlice
        r.range.offset = request.offset
        r.range.length = request.length
    return r


# How the plans coalesce neighbouring inner chunks of a shard into one range
# request; a disk cache coalesces the chunks it lacks by the same rule.
COALESCE_GAP = kCoalesceGap
MAX_REQUEST = kMaxRequest


cdef class ReadPlan:
    """One read planned once by the core (csrc/engine/read_plan.h), served
    by the caller in rounds (store/serve.py does it through the Store
    protocol):

        plan = native.plan(indices, out)
        while plan.decode_ready():           # tasks left
            requests = plan.pending()        # [Request]
            plan.provide(requests, store.read(requests))
        plan.finish()

    A request is a store.protocol.Request: the whole object, a byte range,
    or the last bytes and the object's size. Its answer is an Answer (bytes,
    object size, version), a bare buffer (bytes only), or None when the
    object does not exist. Provided buffers are held until every chunk they
    hold is decoded. decode_ready() decodes each task whose bytes are all
    present, exactly once: call it as objects arrive to decode while others
    are in flight. After an error the plan is spent."""

    cdef unique_ptr[CReadPlan] plan
    cdef NativeArray array
    cdef object out_view
    cdef uint8_t* out_ptr
    cdef dict held
    cdef readonly object nbytes

    @staticmethod
    cdef ReadPlan _make(NativeArray array, list indices, object out, int num_threads,
                        cbool skip_cached, object strides):
        cdef ReadPlan self = ReadPlan.__new__(ReadPlan)
        self.array = array
        self.held = {}
        cdef Selection sel
        cdef list keep = []
        self.nbytes = fill_selection(indices, array.shape, &sel, keep) * array.itemsize
        _fill_strides(strides, &sel)
        cdef uint8_t[::1] dst
        if out is not None:
            self.out_view = writable_bytes(out, self.nbytes, "out")
            dst = self.out_view
            self.out_ptr = &dst[0] if self.nbytes else NULL
        with nogil:
            check(api_plan_make(array.spec, sel, num_threads, skip_cached, &self.plan))
            if not array.coalesce:
                check(api_plan_set_coalesce(deref(self.plan), False))
        if array.known_versions is not None:
            # Shard indexes and decoded chunks are looked up under these.
            keys = self.keys()
            self.know_versions(keys, array.known_versions(keys))
        return self

    @property
    def sharded(self):
        """Whether the plan reads shards (through their indexes)."""
        return bool(self.array.spec.sharded)

    def know_versions(self, keys, versions):
        """The versions ("" unknown) the caller's store learned for objects
        `keys` of this read: shard indexes and decoded chunks are looked up
        in their caches under them. Call before pending(); plans of an array made with
        `known_versions` are told at once."""
        cdef vector[string] c_keys = [k.encode() for k in keys]
        cdef vector[string] c_versions = [(v or "").encode() for v in versions]
        with nogil:
            check(api_plan_know_versions(deref(self.plan), c_keys, c_versions))

    def __init__(self):
        raise TypeError("a ReadPlan comes from NativeArray.plan()")

    cdef uint8_t* _out(self) except? NULL:
        if self.out_view is None:
            raise ValueError("this plan was made without an output buffer")
        return self.out_ptr

    def pending(self):
        """The requests whose answers the plan still lacks."""
        cdef vector[ByteRequest] requests
        with nogil:
            check(api_plan_pending(deref(self.plan), &requests))
        return [_request_of_c(r) for r in requests]

    def provide(self, requests, results):
        """Hands over the answers to `requests` (from pending()), in order."""
        requests = list(requests)
        results = list(results)
        if len(requests) != len(results):
            raise ValueError(f"{len(results)} answers to {len(requests)} requests")
        for request, result in zip(requests, results):
            self._provide(request, result)

    def provide_object(self, key, blob, version=""):
        """The whole object `key` (None: it does not exist), as it arrives."""
        self._provide(Request.whole(key), None if blob is None else Answer(blob, None, version))

    cdef _provide(self, object request, object result):
        cdef ByteRequest r = _request_of(request)
        cdef uint64_t size = kUnknownObjectSize
        cdef string version
        cdef const uint8_t[::1] data
        cdef const uint8_t* ptr = NULL
        cdef size_t n = 0
        if result is not None:
            if isinstance(result, tuple):  # an Answer (or (bytes, size))
                blob = result[0]
                if len(result) > 1 and result[1] is not None:
                    size = result[1]
                if len(result) > 2 and result[2]:
                    version = result[2].encode()
            else:
                blob = result
            if r.range.kind == RangeKind.kSuffix and size == kUnknownObjectSize:
                raise ValueError(f"the answer to {tuple(request)!r} lacks the object's size")
            if r.range.kind == RangeKind.kWhole:
                size = kUnknownObjectSize  # a whole object is its own size (decoded ones too)
            view = memoryview(blob)
            if not view.c_contiguous:
                raise ValueError(f"the bytes of {request[0]!r} are not contiguous")
            if view.ndim != 1 or view.format != "B":
                view = view.cast("B")
            data = view
            n = data.shape[0]
            ptr = &data[0] if n else <const uint8_t*>b""
            self.held.setdefault(request[0], []).append(view)
        with nogil:
            check(api_plan_provide(deref(self.plan), r, ptr, n, size, version))

    def decode_ready(self):
        """Decodes every task whose bytes are present; returns the tasks left."""
        cdef uint8_t* out = self._out()
        cdef int64_t left = 0
        with nogil:
            check(api_plan_decode_ready(deref(self.plan), out, &left))
        self._let_go()
        return left

    def finish(self):
        """Decodes what is left; raises if any chunk's bytes never came."""
        cdef uint8_t* out = self._out()
        with nogil:
            check(api_plan_finish(deref(self.plan), out))
        self._let_go()

    cdef _let_go(self):
        cdef vector[string] keys
        check(api_plan_take_released(deref(self.plan), &keys))
        for k in keys:
            self.held.pop(k.decode(), None)

    def keys(self):
        """The stored objects (chunk or shard keys) the read touches."""
        cdef vector[string] keys
        with nogil:
            check(api_plan_object_keys(deref(self.plan), &keys))
        return [k.decode() for k in keys]

    @property
    def held_objects(self):
        """Keys whose provided bytes the plan still holds."""
        return list(self.held)


def decode_shard_index(data, dict layout):
    """The (inner chunks, 2) uint64 array of (offset, nbytes) of the index of
    the whole shard object `data`, decoded and checked by the core; `layout`
    as NativeArray's `shard`. Empty entries have nbytes 2**64 - 1."""
    cdef ShardSpec shard
    fill_shard_spec(&shard, layout)
    cdef const uint8_t[::1] src = memoryview(data).cast("B")
    cdef const uint8_t* ptr = &src[0] if src.shape[0] else <const uint8_t*>b""
    cdef size_t n = src.shape[0]
    cdef vector[uint64_t] entries
    with nogil:
        check(api_decode_shard_index(shard, ptr, n, &entries))
    return np.asarray(entries, dtype=np.uint64).reshape(-1, 2)


def read_shard_index_file(str path, dict layout):
    """(entries, version) of the shard file `path`: its index as
    decode_shard_index gives it, read and checked by the core, and the
    version of the file it was read from (size, modification time, inode);
    (None, "") when there is no such file."""
    cdef ShardSpec shard
    fill_shard_spec(&shard, layout)
    cdef string cpath = path.encode()
    cdef vector[uint64_t] entries
    cdef string version
    cdef cbool found = False
    with nogil:
        check(api_read_shard_index_file(shard, cpath, &entries, &version, &found))
    if not found:
        return None, ""
    return np.asarray(entries, dtype=np.uint64).reshape(-1, 2), version.decode()
