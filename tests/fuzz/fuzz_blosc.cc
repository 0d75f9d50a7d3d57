// Hostile bytes through the blosc decoder: whole-frame decode, then partial
// decode of an item range (blosc_getitem). Input: u32 expected decoded size,
// u32 first item, u32 item count, then the frame.
#include <memory>

#include "codecs/byte_codecs.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fastchunk;
  fuzz::Input in(data, size);
  const size_t out_size = in.u32() % fuzz::kMaxOut;
  const int64_t first = int64_t(in.u32() % fuzz::kMaxOut);
  const int64_t count = int64_t(in.u32() % fuzz::kMaxOut);
  const ByteView rest = in.rest();
  std::unique_ptr<uint8_t[]> payload(new uint8_t[rest.size]);
  if (rest.size) std::memcpy(payload.get(), rest.data, rest.size);
  const ByteView frame{payload.get(), rest.size};

  std::unique_ptr<uint8_t[]> out(new uint8_t[out_size]);
  fuzz::expect_rejection_or_success(
      [&] { decode_bytes_into(ByteCodecId::kBlosc, frame, out.get(), out_size); });

  // blosc_decode_items writes count * typesize bytes; the typesize is the
  // frame's own (byte 3), as the reader would size its buffer from metadata
  // that agrees with it.
  const int64_t typesize = frame.size > 3 && frame.data[3] ? frame.data[3] : 1;
  const int64_t items = count;
  const size_t part_size = size_t(items * typesize);
  if (part_size > fuzz::kMaxOut) return 0;
  std::unique_ptr<uint8_t[]> part(new uint8_t[part_size]);
  fuzz::expect_rejection_or_success(
      [&] { blosc_decode_items(frame, first, items, part.get()); });
  return 0;
}
