// Hostile bytes through the zstd codec: the whole-chunk decode, then the
// prefix decode that partial reads use. Input: u32 expected decoded size
// (modulo kMaxOut), u32 prefix length (modulo the decoded size + 1), then the
// stream.
#include <memory>

#include "fuzz_codecs.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fastchunk;
  static const auto codec = fuzz::codec_named("zstd");
  fuzz::Input in(data, size);
  const size_t out_size = in.u32() % fuzz::kMaxOut;
  const size_t prefix = in.u32() % (out_size + 1);
  const ByteView rest = in.rest();
  std::unique_ptr<uint8_t[]> payload(new uint8_t[rest.size]);
  if (rest.size) std::memcpy(payload.get(), rest.data, rest.size);
  const ByteView stream{payload.get(), rest.size};
  std::unique_ptr<uint8_t[]> out(new uint8_t[out_size]);
  fuzz::expect_rejection_or_success([&] { codec->decoded_size(stream); });
  fuzz::expect_rejection_or_success([&] { codec->decode(stream, out.get(), out_size); });
  NeededBytes needed;
  needed.starts = {0};
  needed.run = int64_t(prefix);
  needed.end = prefix;
  ByteRanges written;
  fuzz::expect_rejection_or_success(
      [&] { codec->abilities().partial->decode_part(stream, needed, out.get(), out_size, [] {},
                                                    &written); });
  return 0;
}
