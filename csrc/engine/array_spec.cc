#include "engine/array_spec.h"

#include <limits>

#include "common/error.h"
#include "engine/shard_index.h"

namespace fastchunk {
namespace {

bool mul_overflows(int64_t a, int64_t b, int64_t& out) {
  return __builtin_mul_overflow(a, b, &out);
}

}  // namespace

int64_t ArraySpec::chunk_nbytes() const {
  int64_t n = itemsize;
  for (int64_t c : chunk_shape) n *= c;
  return n;
}

bool ArraySpec::verify() const {
  const size_t nd = shape.size();
  if (chunk_shape.size() != nd) throw Error(ErrorKind::kMetadata, "chunk shape rank differs from shape rank");
  if (itemsize < 1) throw Error(ErrorKind::kMetadata, "item size must be positive");
  if (int64_t(fill.size()) != itemsize) throw Error(ErrorKind::kMetadata, "fill value size differs from item size");
  int64_t total = itemsize;
  for (size_t d = 0; d < nd; ++d) {
    if (shape[d] < 0) throw Error(ErrorKind::kMetadata, "negative array dimension");
    if (chunk_shape[d] < 1) throw Error(ErrorKind::kMetadata, "chunk dimensions must be positive");
    if (mul_overflows(total, chunk_shape[d], total))
      throw Error(ErrorKind::kMetadata, "chunk size overflows 64 bits");
  }
  if (!stored_axes.empty() && stored_axes.size() != nd)
    throw Error(ErrorKind::kMetadata, "axis permutation rank differs from shape rank");
  if (sharded) {
    if (shard.chunks_per_shard.size() != nd)
      throw Error(ErrorKind::kMetadata, "shard rank differs from shape rank");
    int64_t inner = 1;
    for (int64_t c : shard.chunks_per_shard) {
      if (c < 1) throw Error(ErrorKind::kMetadata, "shard must hold at least one chunk per axis");
      if (mul_overflows(inner, c, inner)) throw Error(ErrorKind::kMetadata, "shard index size overflows 64 bits");
    }
    if (inner > (int64_t(1) << 40)) throw Error(ErrorKind::kMetadata, "shard index too large");
    shard_index_nbytes(shard);  // index codecs of a fixed size
  }
  return true;
}

}  // namespace fastchunk
