// Hostile bytes through a whole codec chain as the reader runs it: checksums,
// filters, intermediate streams, the final decode and the byte order. Input:
// u8 chain choice, u8 swap unit choice, u32 decoded size, then the stored chunk.
#include <memory>
#include <string>
#include <vector>

#include "fuzz_codecs.h"
#include "fuzz_input.h"

namespace {

// Encode order, as in the metadata; decoded last to first. New chains go at
// the end: the seeds name them by index.
const std::vector<std::vector<std::string>>& chains() {
  static const std::vector<std::vector<std::string>> all = {
      {},
      {"crc32c"},
      {"zstd", "crc32c"},
      {"blosc", "crc32c"},
      {"gzip", "crc32c"},
      {"zstd", "zstd"},
      {"blosc", "zstd"},
      {"lz4", "gzip"},
      {"zlib", "lz4"},
      {"crc32c", "zstd", "crc32c"},
      {"zlib"},
      {"bz2"},
      {"lzma", "crc32c"},
      {"shuffle", "zstd"},
      {"delta", "shuffle", "bz2"},
      {"delta", "lzma"},
      {"shuffle"},
  };
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fastchunk;
  fuzz::Input in(data, size);
  const std::vector<std::string>& names = chains()[in.u8() % chains().size()];
  static const int kSwapUnits[] = {0, 2, 4, 8, 3, 16};
  const ChainSpec chain = fuzz::chain_of(names, kSwapUnits[in.u8() % 6]);
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
