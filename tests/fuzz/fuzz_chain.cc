// Hostile bytes through a whole codec chain as the reader runs it: checksums,
// intermediate streams, the final decode and the byte swap. Input: u8 chain
// choice, u8 swap unit choice, u32 decoded size, then the stored chunk.
#include <memory>
#include <vector>

#include "codecs/chain.h"
#include "fuzz_input.h"

namespace {

using fastchunk::ByteCodecId;

// Encode order, as in the metadata; decoded last to first.
const std::vector<std::vector<ByteCodecId>>& chains() {
  static const std::vector<std::vector<ByteCodecId>> all = {
      {},
      {ByteCodecId::kCrc32c},
      {ByteCodecId::kZstd, ByteCodecId::kCrc32c},
      {ByteCodecId::kBlosc, ByteCodecId::kCrc32c},
      {ByteCodecId::kGzip, ByteCodecId::kCrc32c},
      {ByteCodecId::kZstd, ByteCodecId::kZstd},
      {ByteCodecId::kBlosc, ByteCodecId::kZstd},
      {ByteCodecId::kLz4, ByteCodecId::kGzip},
      {ByteCodecId::kZlib, ByteCodecId::kLz4},
      {ByteCodecId::kCrc32c, ByteCodecId::kZstd, ByteCodecId::kCrc32c},
      {ByteCodecId::kZlib},
  };
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fastchunk;
  fuzz::Input in(data, size);
  ChainSpec chain;
  chain.byte_codecs = chains()[in.u8() % chains().size()];
  static const int kSwapUnits[] = {0, 2, 4, 8, 3, 16};
  chain.swap_unit = kSwapUnits[in.u8() % 6];
  const size_t out_size = in.u32() % fuzz::kMaxOut;
  const ByteView rest = in.rest();
  std::unique_ptr<uint8_t[]> payload(new uint8_t[rest.size]);
  if (rest.size) std::memcpy(payload.get(), rest.data, rest.size);
  const ByteView stored{payload.get(), rest.size};
  fuzz::expect_rejection_or_success([&] { check_announced_size(chain, stored, out_size); });
  std::unique_ptr<uint8_t[]> out(new uint8_t[out_size]);
  fuzz::expect_rejection_or_success([&] { decode_chunk(chain, stored, out.get(), out_size); });
  return 0;
}
