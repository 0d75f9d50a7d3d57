#include "engine/chunk_batch.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "common/error.h"
#include "common/scratch.h"
#include "engine/chunk_task.h"
#include "engine/partial_decode.h"
#include "engine/stored_read.h"
#include "engine/thread_pool.h"
#include "io/local_source.h"
#include "plan/region_copy.h"

namespace fastchunk {
namespace {

// Reads (kFile) or takes (kBytes) chunk c's encoded bytes and calls
// decode(bytes); false when the chunk is not stored.
template <typename Decode>
bool with_encoded(const BatchChunk& c, ByteSource& files, Decode&& decode) {
  switch (c.source) {
    case BatchSource::kMissing: return false;
    case BatchSource::kBytes: decode(c.encoded); return true;
    case BatchSource::kFile: {
      StoredPlace place;
      place.key = c.path;
      place.range = c.range;
      place.version = c.version;
      const StoredRead read =
          read_and_decode(files, place, [&](const ObjectBytes& got) { decode(got.bytes); });
      if (read == StoredRead::kStale)
        throw_decode("the shard was rewritten while it was read; read again");
      return read == StoredRead::kDecoded;
    }
  }
  return false;
}

void check_positions(const Positions& p, int64_t n, int64_t limit, const char* what,
                     size_t axis) {
  int64_t lo = 0, hi = 0;
  if (n == 0) return;
  if (!position_bounds(p, n, lo, hi) || lo < 0 || hi >= limit)
    throw Error(ErrorKind::kInternal, std::string(what) + " position " +
                                          std::to_string(lo < 0 ? lo : hi) + " on axis " +
                                          std::to_string(axis) + " outside [0, " +
                                          std::to_string(limit) + ")");
}

void check_chunk(const BatchLayout& layout, const BatchChunk& c) {
  const size_t nd = layout.chunk_shape.size();
  if (c.axes.size() != nd) throw Error(ErrorKind::kInternal, "region rank differs from chunk rank");
  if (!c.dst) throw Error(ErrorKind::kInternal, "no destination");
  for (size_t d = 0; d < nd; ++d) {
    const BatchAxis& a = c.axes[d];
    if (a.n < 0) throw Error(ErrorKind::kInternal, "negative region size");
    if (c.points && a.n != c.axes[0].n)
      throw Error(ErrorKind::kInternal, "point coordinates differ in length");
    check_positions(a.in, a.n, layout.chunk_shape[d], "chunk", d);
    if (!c.points) check_positions(a.out, a.n, a.dst_extent, "destination", d);
  }
  if (c.points) check_positions(c.point_dst, nd ? c.axes[0].n : 1, c.point_dst_extent,
                                "destination", 0);
}

// Positions of one axis as the region copy walks them: runs stay runs,
// tables that step by +1 become runs.
AxisSpan span_of(const BatchAxis& a) { return runs_detected(AxisSpan{a.out, a.in, a.n}); }

void orthogonal_chunk(const BatchLayout& layout, const BatchChunk& c, size_t nbytes,
                      int split, ByteSource& files) {
  const size_t nd = layout.chunk_shape.size();
  for (const BatchAxis& a : c.axes)
    if (a.n == 0) return;
  thread_local std::vector<AxisSpan> spans;
  thread_local std::vector<int64_t> dst_strides;
  spans.resize(nd);
  dst_strides.resize(nd);
  for (size_t d = 0; d < nd; ++d) {
    spans[d] = span_of(c.axes[d]);
    dst_strides[d] = c.axes[d].dst_stride;
  }
  const RegionGeometry geom{int(nd), layout.itemsize, spans.data(), layout.src_strides.data(),
                            dst_strides.data()};
  const auto decode = [&](ByteView raw) {
    check_announced_size(layout.chain, raw, nbytes);  // before allocating for a hostile header
    const Collapsed col = collapse_region(geom);
    if (col.outer == 0 && size_t(col.block) == nbytes) {
      decode_chunk_on(layout.chain, raw, c.dst + region_dst_offset(geom), nbytes, split);
    } else {
      uint8_t* chunk = scratch(Scratch::kChunk).reserve(nbytes);
      if (!decode_needed_part(layout.chain, raw, geom, chunk, nbytes))
        decode_chunk(layout.chain, raw, chunk, nbytes);
      copy_region(geom, chunk, c.dst);
    }
  };
  if (!with_encoded(c, files, decode)) fill_region(geom, layout.fill.data(), c.dst);
  trim_scratch();
}

void points_chunk(const BatchLayout& layout, const BatchChunk& c, size_t nbytes,
                  ByteSource& files) {
  const size_t nd = layout.chunk_shape.size();
  const int64_t n = nd ? c.axes[0].n : 1;
  const size_t item = size_t(layout.itemsize);
  uint8_t* chunk = nullptr;
  const bool stored = with_encoded(c, files, [&](ByteView raw) {
    check_announced_size(layout.chain, raw, nbytes);
    chunk = scratch(Scratch::kChunk).reserve(nbytes);
    decode_chunk(layout.chain, raw, chunk, nbytes);
  });
  const uint8_t* src = stored ? chunk : layout.fill.data();
  for (int64_t k = 0; k < n; ++k) {
    int64_t off = 0;
    if (stored)
      for (size_t d = 0; d < nd; ++d) off += c.axes[d].in.at(k) * layout.src_strides[d];
    std::memcpy(c.dst + c.point_dst.at(k) * c.point_dst_stride, src + off, item);
  }
  trim_scratch();
}

size_t verified_chunk_nbytes(const BatchLayout& layout) {
  const size_t nd = layout.chunk_shape.size();
  if (layout.itemsize < 1) throw Error(ErrorKind::kInternal, "item size must be positive");
  if (int64_t(layout.fill.size()) != layout.itemsize)
    throw Error(ErrorKind::kInternal, "fill value size differs from item size");
  if (layout.src_strides.size() != nd)
    throw Error(ErrorKind::kInternal, "chunk strides rank differs from chunk rank");
  int64_t total = layout.itemsize;
  int64_t last = layout.itemsize;  // one past the last byte the strides reach
  for (size_t d = 0; d < nd; ++d) {
    const int64_t c = layout.chunk_shape[d];
    if (c < 1) throw Error(ErrorKind::kMetadata, "chunk dimensions must be positive");
    if (__builtin_mul_overflow(total, c, &total))
      throw Error(ErrorKind::kMetadata, "chunk size overflows 64 bits");
    if (layout.src_strides[d] < 0) throw Error(ErrorKind::kInternal, "negative chunk stride");
    last += (c - 1) * layout.src_strides[d];
  }
  if (last > total) throw Error(ErrorKind::kInternal, "chunk strides reach past the chunk");
  return size_t(total);
}

}  // namespace

void decode_batch(const BatchLayout& layout, const std::vector<BatchChunk>& chunks) {
  const size_t nbytes = verified_chunk_nbytes(layout);
  for (const BatchChunk& c : chunks) check_chunk(layout, c);
  const int split = decode_threads_per_task(int64_t(chunks.size()), 0);
  LocalSource files("");  // paths are absolute
  parallel_for(int64_t(chunks.size()), [&](int64_t i) {
    const BatchChunk& c = chunks[size_t(i)];
    try {
      if (c.points)
        points_chunk(layout, c, nbytes, files);
      else
        orthogonal_chunk(layout, c, nbytes, split, files);
    } catch (const Error& e) {
      throw e.in(layout.name + ": chunk '" + c.key + "': ");
    } catch (const std::bad_alloc&) {
      throw Error(ErrorKind::kMemory, layout.name + ": chunk '" + c.key + "': out of memory");
    }
  });
}

}  // namespace fastchunk
