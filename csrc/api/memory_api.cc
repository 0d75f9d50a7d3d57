#include "api/memory_api.h"

#include <algorithm>

#include "common/buffer_pool.h"
#include "engine/thread_pool.h"

namespace fastchunk {
namespace {

constexpr size_t kPiece = size_t(1) << 20;

}  // namespace

uint8_t* api_take_output_buffer(size_t n, size_t* capacity, int threads) {
  bool fresh = false;
  size_t cap = 0;
  uint8_t* p = take_buffer(n, cap, &fresh);
  *capacity = cap;
  if (!p || !fresh) return p;
  if (threads < 1) threads = num_threads();
  if (threads > 1 && populate_leaves_contents()) {
    note_unpopulated(p, cap);  // the read into it populates it (engine/output_pages.h)
    return p;
  }
  const int64_t pieces = std::min<int64_t>(threads, int64_t(cap / kPiece));
  if (pieces <= 1) {
    populate(p, cap);
    return p;
  }
  // Page-aligned pieces (cap is whole pages, pieces of >= 1 MiB).
  const size_t per = (cap / size_t(pieces) + 4095) / 4096 * 4096;
  try {
    parallel_for(pieces, [&](int64_t i) {
      const size_t begin = std::min(cap, size_t(i) * per);
      populate(p + begin, std::min(cap, begin + per) - begin);
    }, int(pieces));
  } catch (...) {
    // Populating is an optimisation: the pages fault in as they are written.
  }
  return p;
}

}  // namespace fastchunk
