#include "engine/output_pages.h"

#include <algorithm>

#include "common/buffer_pool.h"

namespace fastchunk {
namespace {

// Pieces taken in order, from the start of the output, as decoding writes it.
constexpr size_t kPiece = size_t(1) << 20;

}  // namespace

void populate_now(uint8_t* p, size_t n, int threads) {
  if (!p || !n) return;
  const int64_t pieces = int64_t((n + kPiece - 1) / kPiece);
  try {
    parallel_for(pieces, [&](int64_t i) {
      const size_t begin = size_t(i) * kPiece;
      populate(p + begin, std::min(kPiece, n - begin));
    }, threads);
  } catch (...) {
    // Populating is an optimisation: the pages fault in as they are written.
  }
}

PopulateAlongside::PopulateAlongside(uint8_t* out, size_t n, int threads) {
  if (!out || !n) return;
  const PageRange range = take_unpopulated(out, n);
  if (!range.size) return;
  if (threads < 1) threads = num_threads();
  if (threads < 2) {  // no other thread to do it alongside: at once
    populate(range.data, range.size);
    return;
  }
  const int64_t pieces = int64_t((range.size + kPiece - 1) / kPiece);
  work_.reset(new BackgroundWork(
      pieces,
      [range](int64_t i) {
        const size_t begin = size_t(i) * kPiece;
        populate(range.data + begin, std::min(kPiece, range.size - begin));
      },
      threads));
}

PopulateAlongside::~PopulateAlongside() = default;

}  // namespace fastchunk
