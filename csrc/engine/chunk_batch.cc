#include "engine/chunk_batch.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "common/error.h"
#include "common/scratch.h"
#include "engine/chunk_task.h"
#include "engine/partial_decode.h"
#include "engine/thread_pool.h"
#include "io/local_source.h"
#include "plan/region_copy.h"

namespace fastchunk {
namespace {

// The one place that knows where encoded bytes come from. Returns false when
// the chunk is not stored (reads as the fill value); `held` keeps a file's
// bytes alive. `again`: the first answer was not intact (a mapped file shrank
// while it was decoded): read once more, never through a mapping.
bool load_encoded(const BatchChunk& c, ByteView& raw, ObjectBytes& held, bool again = false) {
  switch (c.source) {
    case BatchSource::kMissing: return false;
    case BatchSource::kBytes: raw = c.encoded; return true;
    case BatchSource::kFile: {
      LocalSource files("");
      const ByteRange range = c.length == UINT64_MAX ? ByteRange::whole()
                                                     : ByteRange::slice(c.offset, c.length);
      ByteBuffer& storage = scratch(Scratch::kRead);
      held = ObjectBytes{};
      const bool found = again ? files.reread(c.path, range, storage, held)
                               : files.get(c.path, range, storage, held);
      if (!found) return false;
      raw = held.bytes;
      return true;
    }
  }
  return false;
}

// Whether the bytes decoded stayed what the file held: a mapped file that
// shrank reads as zero pages (not intact), and a file rewritten in place may
// hand out a mix of both versions (changed).
bool stayed(const BatchChunk& c, const ObjectBytes& held) {
  if (c.source != BatchSource::kFile) return true;
  return held.intact() && LocalSource("").unchanged(c.path, held);
}

void check_positions(const BatchPositions& p, int64_t n, int64_t limit, const char* what,
                     size_t axis) {
  if (n == 0) return;
  int64_t lo = p.at(0), hi = lo;
  if (p.array) {
    for (int64_t k = 1; k < n; ++k) {
      lo = std::min(lo, p.array[k]);
      hi = std::max(hi, p.array[k]);
    }
  } else {
    hi = p.at(n - 1);
    if (hi < lo) std::swap(lo, hi);
  }
  if (lo < 0 || hi >= limit)
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
AxisSpan span_of(const BatchAxis& a) {
  const auto positions = [](const BatchPositions& p) {
    return p.array ? Positions::of(p.array) : Positions::run(p.start, p.step);
  };
  return runs_detected(AxisSpan{positions(a.out), positions(a.in), a.n});
}

void orthogonal_chunk(const BatchLayout& layout, const BatchChunk& c, size_t nbytes,
                      int split) {
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
  ByteView raw;
  ObjectBytes held;
  if (!load_encoded(c, raw, held)) {
    fill_region(geom, layout.fill.data(), c.dst);
    return;
  }
  const auto decode = [&] {
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
  bool done = false;
  try {
    decode();
    done = stayed(c, held);
  } catch (const Error&) {
    if (stayed(c, held)) throw;
  }
  if (!done) {  // what the file holds now, once more
    if (!load_encoded(c, raw, held, true)) {
      fill_region(geom, layout.fill.data(), c.dst);
      return;
    }
    decode();
    if (!stayed(c, held)) throw_decode("the file was rewritten while it was read; read it again");
  }
  trim_scratch();
}

void points_chunk(const BatchLayout& layout, const BatchChunk& c, size_t nbytes) {
  const size_t nd = layout.chunk_shape.size();
  const int64_t n = nd ? c.axes[0].n : 1;
  const size_t item = size_t(layout.itemsize);
  ByteView raw;
  ObjectBytes held;
  const uint8_t* src = layout.fill.data();
  bool stored = load_encoded(c, raw, held);
  if (stored) {
    uint8_t* chunk = scratch(Scratch::kChunk).reserve(nbytes);
    const auto decode = [&] {
      check_announced_size(layout.chain, raw, nbytes);
      decode_chunk(layout.chain, raw, chunk, nbytes);
    };
    bool done = false;
    try {
      decode();
      done = stayed(c, held);
    } catch (const Error&) {
      if (stayed(c, held)) throw;
    }
    if (!done) {  // what the file holds now, once more
      stored = load_encoded(c, raw, held, true);
      if (stored) decode();
      if (stored && !stayed(c, held))
        throw_decode("the file was rewritten while it was read; read it again");
    }
    if (stored) src = chunk;
  }
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
  parallel_for(int64_t(chunks.size()), [&](int64_t i) {
    const BatchChunk& c = chunks[size_t(i)];
    try {
      if (c.points)
        points_chunk(layout, c, nbytes);
      else
        orthogonal_chunk(layout, c, nbytes, split);
    } catch (const Error& e) {
      throw Error(e.kind(), layout.name + ": chunk '" + c.key + "': " + e.what());
    } catch (const std::bad_alloc&) {
      throw Error(ErrorKind::kMemory, layout.name + ": chunk '" + c.key + "': out of memory");
    }
  });
}

}  // namespace fastchunk
