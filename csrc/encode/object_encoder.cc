#include "encode/object_encoder.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/buffer.h"
#include "common/error.h"
#include "engine/thread_pool.h"

namespace fastchunk {
namespace {

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

void check_request(const EncodeRequest& r) {
  const size_t nd = r.array_shape.size();
  if (r.slab_origin.size() != nd || r.slab_shape.size() != nd || r.chunk_shape.size() != nd)
    throw Error(ErrorKind::kInternal, "encode: slab or chunk rank does not match the array");
  if (r.itemsize < 1 || int64_t(r.fill.size()) != r.itemsize)
    throw Error(ErrorKind::kInternal, "encode: fill value does not match the item size");
  if (r.sharded && r.chunks_per_shard.size() != nd)
    throw Error(ErrorKind::kInternal, "encode: chunks_per_shard rank does not match the array");
  if (nd > 0 && r.object_coords.size() % nd != 0)
    throw Error(ErrorKind::kInternal, "encode: object coordinates are not whole");
  for (size_t d = 0; d < nd; ++d)
    if (r.chunk_shape[d] < 1 || r.slab_shape[d] < 0 || r.slab_origin[d] < 0)
      throw Error(ErrorKind::kInternal, "encode: invalid slab or chunk shape");
}

// Copies the part of chunk `start` that lies inside the array out of the slab
// into `dst` (a whole chunk, C order), filling the rest with the fill value.
void extract_chunk(const EncodeRequest& r, const uint8_t* slab, const std::vector<int64_t>& start,
                   uint8_t* dst) {
  const size_t nd = r.array_shape.size();
  const int64_t isz = r.itemsize;
  if (nd == 0) {
    std::memcpy(dst, slab, size_t(isz));
    return;
  }
  std::vector<int64_t> extent(nd);
  bool partial = false;
  for (size_t d = 0; d < nd; ++d) {
    extent[d] = std::max<int64_t>(0, std::min(r.chunk_shape[d], r.array_shape[d] - start[d]));
    if (extent[d] < r.chunk_shape[d]) partial = true;
    if (extent[d] > 0 && (start[d] < r.slab_origin[d] ||
                          start[d] + extent[d] > r.slab_origin[d] + r.slab_shape[d]))
      throw Error(ErrorKind::kInternal, "encode: a chunk reaches outside the slab it is cut from");
  }
  const int64_t chunk_items = product(r.chunk_shape);
  if (partial) {
    for (int64_t i = 0; i < chunk_items; ++i) std::memcpy(dst + i * isz, r.fill.data(), size_t(isz));
  }
  for (size_t d = 0; d < nd; ++d)
    if (extent[d] == 0) return;
  // Strides in items, of the slab and of the chunk.
  std::vector<int64_t> slab_stride(nd), chunk_stride(nd);
  slab_stride[nd - 1] = chunk_stride[nd - 1] = 1;
  for (size_t d = nd - 1; d-- > 0;) {
    slab_stride[d] = slab_stride[d + 1] * r.slab_shape[d + 1];
    chunk_stride[d] = chunk_stride[d + 1] * r.chunk_shape[d + 1];
  }
  int64_t slab_base = 0;
  for (size_t d = 0; d < nd; ++d) slab_base += (start[d] - r.slab_origin[d]) * slab_stride[d];
  const size_t row_bytes = size_t(extent[nd - 1] * isz);
  std::vector<int64_t> idx(nd, 0);  // odometer over the leading nd-1 axes
  for (;;) {
    int64_t s = slab_base, c = 0;
    for (size_t d = 0; d + 1 < nd; ++d) {
      s += idx[d] * slab_stride[d];
      c += idx[d] * chunk_stride[d];
    }
    std::memcpy(dst + c * isz, slab + s * isz, row_bytes);
    size_t d = nd - 1;
    while (d-- > 0) {
      if (++idx[d] < extent[d]) break;
      idx[d] = 0;
    }
    if (d == size_t(-1)) return;
  }
}

ByteBuffer& chunk_scratch() {
  thread_local ByteBuffer buffer;
  return buffer;
}

// Index entries in this machine's order: the index chain stores them.
void append_u64(uint64_t v, std::string* out) {
  char b[8];
  std::memcpy(b, &v, 8);
  out->append(b, 8);
}

}  // namespace

void encode_objects(const EncodeRequest& r, const uint8_t* slab,
                    std::vector<std::string>* objects) {
  check_request(r);
  const size_t nd = r.array_shape.size();
  const int64_t nobj = nd == 0 ? 1 : int64_t(r.object_coords.size() / nd);  // 0-d: one chunk
  std::vector<int64_t> per(nd, 1);
  if (r.sharded) per = r.chunks_per_shard;
  const int64_t inner = product(per);
  const int64_t chunk_bytes = product(r.chunk_shape) * r.itemsize;

  // One task per (object, inner chunk); empty marks inner chunks outside the array.
  std::vector<std::string> encoded(size_t(nobj * inner));
  std::vector<char> empty(size_t(nobj * inner), 0);
  parallel_for(nobj * inner, [&](int64_t t) {
    const int64_t o = t / inner;
    int64_t rem = t % inner;
    std::vector<int64_t> start(nd);
    bool outside = false;
    for (size_t d = nd; d-- > 0;) {
      const int64_t in_shard = rem % per[d];
      rem /= per[d];
      start[d] = (r.object_coords[size_t(o) * nd + d] * per[d] + in_shard) * r.chunk_shape[d];
      if (start[d] >= r.array_shape[d]) outside = true;
    }
    if (outside) {
      if (!r.sharded)
        throw Error(ErrorKind::kInternal, "encode: object coordinates outside the chunk grid");
      empty[size_t(t)] = 1;
      return;
    }
    uint8_t* buf = chunk_scratch().reserve(size_t(chunk_bytes));
    extract_chunk(r, slab, start, buf);
    encode_chunk(r.chain, ByteView{buf, size_t(chunk_bytes)}, &encoded[size_t(t)]);
    chunk_scratch().shrink_if_above(size_t(256) << 20);
  });

  objects->assign(size_t(nobj), std::string());
  if (!r.sharded) {
    for (int64_t o = 0; o < nobj; ++o) (*objects)[size_t(o)] = std::move(encoded[size_t(o)]);
    return;
  }
  parallel_for(nobj, [&](int64_t o) {
    std::string& shard = (*objects)[size_t(o)];
    size_t total = 0;
    for (int64_t i = 0; i < inner; ++i) total += encoded[size_t(o * inner + i)].size();
    shard.reserve(total + size_t(inner) * 16 + 16);
    std::string index;
    index.reserve(size_t(inner) * 16);
    for (int64_t i = 0; i < inner; ++i) {
      const size_t t = size_t(o * inner + i);
      if (empty[t]) {
        append_u64(~uint64_t(0), &index);
        append_u64(~uint64_t(0), &index);
        continue;
      }
      append_u64(shard.size(), &index);
      append_u64(encoded[t].size(), &index);
      shard += encoded[t];
      std::string().swap(encoded[t]);
    }
    std::string encoded_index;
    encode_chunk(r.index_chain,
                 ByteView{reinterpret_cast<const uint8_t*>(index.data()), index.size()},
                 &encoded_index);
    shard += encoded_index;
  });
}

}  // namespace fastchunk
