// Hostile variable-length string/bytes chunks through the framing parser.
// Input: u8 expected item count (modulo 64), then the decoded chunk.
#include <vector>

#include "fuzz_input.h"
#include "strings/vlen_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fastchunk;
  fuzz::Input in(data, size);
  const int64_t items = in.u8() % 64;
  const ByteView chunk = in.rest();
  std::vector<int64_t> starts(static_cast<size_t>(items)), lengths(static_cast<size_t>(items));
  bool accepted = false;
  fuzz::expect_rejection_or_success([&] {
    parse_vlen_frame(chunk, items, starts.data(), lengths.data());
    accepted = true;
  });
  if (!accepted) return 0;
  // Accepted items tile the chunk after their length fields, in order.
  int64_t pos = 4;
  for (int64_t i = 0; i < items; ++i) {
    if (starts[size_t(i)] != pos + 4 || lengths[size_t(i)] < 0) __builtin_trap();
    pos = starts[size_t(i)] + lengths[size_t(i)];
  }
  if (pos != int64_t(chunk.size)) __builtin_trap();
  return 0;
}
