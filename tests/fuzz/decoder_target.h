// One registered codec fed hostile bytes. Input: u32 expected decoded size
// (modulo kMaxOut), then the encoded stream. Included by the per-codec
// targets, which define FUZZ_CODEC (the codec's registered name) first.
#pragma once
#include <memory>

#include "fuzz_codecs.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fastchunk;
  static const auto codec = fuzz::codec_named(FUZZ_CODEC);
  fuzz::Input in(data, size);
  const size_t out_size = in.u32() % fuzz::kMaxOut;
  // Copied so that reads past the stream's end hit ASan's redzone.
  const ByteView rest = in.rest();
  std::unique_ptr<uint8_t[]> payload(new uint8_t[rest.size]);
  if (rest.size) std::memcpy(payload.get(), rest.data, rest.size);
  const ByteView stream{payload.get(), rest.size};
  std::unique_ptr<uint8_t[]> out(new uint8_t[out_size]);
  fuzz::expect_rejection_or_success([&] { codec->decoded_size(stream); });
  fuzz::expect_rejection_or_success([&] { codec->check_decoded_size(stream, out_size); });
  fuzz::expect_rejection_or_success([&] { codec->decode(stream, out.get(), out_size); });
  return 0;
}
