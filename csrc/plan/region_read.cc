#include "plan/region_read.h"

#include "common/scratch.h"

namespace fastchunk {
namespace {

// Blocks at least this long are read one by one straight into the output.
constexpr int64_t kDirectBlock = 4096;
constexpr int64_t kMaxDirectBlocks = 4096;

}  // namespace

bool copy_region_from(const RegionGeometry& g, ChunkBytes& chunk, uint8_t* out) {
  const Collapsed c = collapse_region(g);
  if (c.outer == 0) {  // one block: a whole chunk, or one run of it
    int64_t src = 0, dst = 0;
    inner_offsets(g, c, src, dst);
    return chunk.read(uint64_t(src), out + dst, size_t(c.block));
  }
  int64_t blocks = 1, needed = g.itemsize;
  for (int d = 0; d < g.ndim; ++d) {
    needed *= g.axes[d].n;
    if (d < c.outer) blocks *= g.axes[d].n;
  }
  if (c.block >= kDirectBlock && blocks <= kMaxDirectBlocks) {
    bool ok = true;
    for_each_block(g, [&](int64_t s, int64_t d, int64_t n) {
      ok = ok && chunk.read(uint64_t(s), out + d, size_t(n));
    });
    return ok;
  }
  if (size_t(needed) * 4 < chunk.size()) {  // few pages: map and touch only those
    if (const uint8_t* mapped = chunk.map()) {
      copy_region(g, mapped, out);
      return chunk.intact();
    }
  }
  ByteBuffer& whole = scratch(Scratch::kChunk);
  uint8_t* bytes = whole.reserve(chunk.size());
  if (!chunk.read(0, bytes, chunk.size())) return false;
  copy_region(g, bytes, out);
  return true;
}

}  // namespace fastchunk
