# Binding for the batch decoder the zarr-python codec pipeline uses
# (csrc/engine/chunk_batch.h); included by _core.pyx.

from libc.stdint cimport uintptr_t


def decode_batch(str name, codecs, chunk_shape, src_strides, int itemsize, fill, list items):
    """Decodes encoded chunks into regions of numpy arrays, in parallel with the
    GIL released. `codecs`: the chain of registered codecs that decodes one
    chunk (fastchunk.zarr.codecs.CodecChain); `src_strides`: bytes per step
    along each logical axis of a decoded chunk; `fill`: one element in the
    destinations' byte order.

    Each item is (key, source, dst, axes, point_dst): source None (missing:
    fill), a str (a local file holding the encoded chunk), a (path, offset,
    length, version) tuple (that range of a local file, which must be of
    `version` unless it is "": a shard's, as its index was read) or a
    bytes-like object; dst a writable numpy array; axes one (in, out,
    dst_axis) per chunk axis, in/out positions (a `range` or an integer
    array), dst_axis -1 for an axis dst drops. point_dst None for an
    orthogonal region (the product of the axes), or the positions along 1-d
    dst of the points whose coordinates the axes' `in` give."""
    cdef BatchLayout layout
    cdef vector[BatchChunk] chunks
    cdef BatchChunk* c
    cdef BatchAxis* a
    cdef const uint8_t[::1] blob
    cdef list keep = []
    cdef Py_ssize_t i, d, nd = len(chunk_shape)
    cdef int64_t n
    layout.name = name.encode()
    fill_chain(&layout.chain, codecs)
    layout.chunk_shape = list(chunk_shape)
    layout.src_strides = list(src_strides)
    layout.itemsize = itemsize
    layout.fill = list(bytes(fill))
    chunks.resize(len(items))
    for i, (key, source, dst, axes, point_dst) in enumerate(items):
        c = &chunks[i]
        c.key = key.encode()
        if not isinstance(dst, np.ndarray) or not dst.flags.writeable:
            raise TypeError("destination must be a writable numpy array")
        keep.append(dst)
        c.dst = <uint8_t*><uintptr_t>dst.__array_interface__["data"][0]
        if source is None:
            c.source = BatchSource.kMissing
        elif isinstance(source, str):
            c.source = BatchSource.kFile
            c.path = source.encode()
        elif isinstance(source, tuple):
            c.source = BatchSource.kFile
            c.path = source[0].encode()
            c.range_.kind = RangeKind.kSlice
            c.range_.offset = source[1]
            c.range_.length = source[2]
            c.version = source[3].encode()
        else:
            c.source = BatchSource.kBytes
            blob = memoryview(source).cast("B")
            keep.append(source)
            c.encoded.data = &blob[0] if blob.shape[0] else <const uint8_t*>""
            c.encoded.size = blob.shape[0]
        if len(axes) != nd:
            raise ValueError(f"chunk '{key}': {len(axes)} axes for a {nd}-d chunk")
        c.axes.resize(nd)
        c.points = point_dst is not None
        for d in range(nd):
            a = &c.axes[d]
            in_spec, out_spec, dst_axis = axes[d]
            a.n = fill_positions(&a.in_, in_spec, keep, f"chunk '{key}' axis {d}")
            if c.points:
                continue
            if dst_axis < 0:
                a.out.table = NULL
                a.out.first = 0
                a.out.step = 0
                a.dst_stride = 0
                a.dst_extent = 1
            else:
                n = fill_positions(&a.out, out_spec, keep, f"chunk '{key}' axis {d}")
                if n != a.n:
                    raise ValueError(f"chunk '{key}': axis {d} selects {a.n} elements "
                                     f"but places {n}")
                a.dst_stride = dst.strides[dst_axis]
                a.dst_extent = dst.shape[dst_axis]
        if c.points:
            if dst.ndim != 1:
                raise ValueError("point regions need a 1-d destination")
            n = fill_positions(&c.point_dst, point_dst, keep, f"chunk '{key}' points")
            if nd and n != c.axes[0].n:
                raise ValueError(f"chunk '{key}': {c.axes[0].n} points but {n} destinations")
            c.point_dst_stride = dst.strides[0]
            c.point_dst_extent = dst.shape[0]
    with nogil:
        check(api_decode_batch(layout, chunks))
