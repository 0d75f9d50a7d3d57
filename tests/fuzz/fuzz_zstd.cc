// Hostile bytes through the native zstd decoder: the whole-chunk decode, then
// the prefix decode that partial reads use. Input: u32 expected decoded size
// (modulo kMaxOut), u32 prefix length (modulo the decoded size + 1), then the
// stream.
#include <memory>

#include "codecs/byte_codecs.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fastchunk;
  fuzz::Input in(data, size);
  const size_t out_size = in.u32() % fuzz::kMaxOut;
  const size_t prefix = in.u32() % (out_size + 1);
  const ByteView rest = in.rest();
  std::unique_ptr<uint8_t[]> payload(new uint8_t[rest.size]);
  if (rest.size) std::memcpy(payload.get(), rest.data, rest.size);
  const ByteView stream{payload.get(), rest.size};
  std::unique_ptr<uint8_t[]> out(new uint8_t[out_size]);
  fuzz::expect_rejection_or_success([&] { announced_decoded_size(ByteCodecId::kZstd, stream); });
  fuzz::expect_rejection_or_success(
      [&] { decode_bytes_into(ByteCodecId::kZstd, stream, out.get(), out_size); });
  fuzz::expect_rejection_or_success(
      [&] { zstd_decode_prefix(stream, out.get(), prefix, out_size); });
  return 0;
}
