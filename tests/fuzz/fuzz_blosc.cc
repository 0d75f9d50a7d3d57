// Hostile bytes through the blosc codec: whole-frame decode, then partial
// decode of an item range (the blocks that hold it), then a decode split in
// pieces of blocks. Input: u32 expected
// decoded size, u32 first item, u32 item count, then the frame.
#include <memory>
#include <vector>

#include "fuzz_codecs.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fastchunk;
  static const auto codec = fuzz::codec_named("blosc");
  fuzz::Input in(data, size);
  const size_t out_size = in.u32() % fuzz::kMaxOut;
  const int64_t first = int64_t(in.u32() % fuzz::kMaxOut);
  const int64_t count = int64_t(in.u32() % fuzz::kMaxOut);
  const ByteView rest = in.rest();
  std::unique_ptr<uint8_t[]> payload(new uint8_t[rest.size]);
  if (rest.size) std::memcpy(payload.get(), rest.data, rest.size);
  const ByteView frame{payload.get(), rest.size};

  std::unique_ptr<uint8_t[]> out(new uint8_t[out_size]);
  fuzz::expect_rejection_or_success([&] { codec->decode(frame, out.get(), out_size); });

  // Partial decoding needs the frame's own decoded size (the reader's chunk
  // size, which its header must agree with); the item size is the frame's.
  int64_t nbytes = -1;
  fuzz::expect_rejection_or_success([&] { nbytes = int64_t(codec->decoded_size(frame).value_or(-1)); });
  if (nbytes < 0 || size_t(nbytes) > fuzz::kMaxOut) return 0;
  const int64_t typesize = frame.size > 3 && frame.data[3] ? frame.data[3] : 1;
  NeededBytes needed;
  needed.starts = {first * typesize, (first + count) * typesize / 2};
  needed.run = std::max<int64_t>(typesize, count * typesize / 2);
  needed.end = size_t(std::min<int64_t>(nbytes, (first + count) * typesize));
  std::unique_ptr<uint8_t[]> whole(new uint8_t[size_t(nbytes)]);
  ByteRanges written;
  fuzz::expect_rejection_or_success([&] {
    codec->abilities().partial->decode_part(frame, needed, whole.get(), size_t(nbytes), [] {},
                                            &written);
  });
  for (const auto& r : written)
    if (r.first > r.second || r.second > size_t(nbytes)) __builtin_trap();

  std::vector<DecodePiece> pieces;
  fuzz::expect_rejection_or_success([&] {
    const SplitDecoding* split = codec->abilities().split;
    if (!split->split(frame, size_t(nbytes), 1 + count % 8, size_t(typesize), &pieces)) return;
    for (const DecodePiece& piece : pieces) {
      if (piece.out_begin > piece.out_end || piece.out_end > size_t(nbytes)) __builtin_trap();
      split->decode_piece(frame, piece, whole.get(), size_t(nbytes));
    }
  });
  return 0;
}
