// A whole read: planning, shard index, decode and copy into the output, with
// every stored object holding the fuzzed bytes. Input layout (see
// make_corpus.py, which writes seeds in it):
//   u8 flags  rank = flags % 3 + 1; bit2 sharded; bit3 transposed chunks;
//             bit4 index at start; bit5 every other object missing; bit6 two threads
//   u8 chain  index into kChains
//   u8 dtype  itemsize = {1, 2, 4, 8}[dtype % 4]; bit2 byte-swapped; bit3 large:
//             shapes, chunks and indices scaled by 64 (multi-block blosc frames)
//   per axis: u8 shape % 64, u8 chunk % 16 + 1, u8 chunks per shard % 4 + 1
//   per axis: u8 count % 8, then count u8 indices (modulo the axis length)
//   the rest: the stored object (chunk, or shard when sharded)
#include <memory>
#include <string>
#include <vector>

#include "engine/reader.h"
#include "engine/thread_pool.h"
#include "fuzz_codecs.h"
#include "fuzz_input.h"
#include "io/memory_source.h"

namespace {

const std::vector<std::vector<std::string>> kChains = {
    {},
    {"zstd"},
    {"blosc"},
    {"gzip"},
    {"zlib"},
    {"lz4"},
    {"zstd", "crc32c"},
    {"crc32c"},
    {"shuffle", "bz2"},
    {"delta", "lzma"},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fastchunk;
  fuzz::Input in(data, size);
  const uint8_t flags = in.u8();
  const size_t rank = flags % 3 + 1;
  ArraySpec spec;
  spec.store_name = "fuzz";
  const std::vector<std::string>& names = kChains[in.u8() % kChains.size()];
  const uint8_t dtype = in.u8();
  spec.itemsize = int64_t(1) << (dtype % 4);
  try {
    spec.chain = fuzz::chain_of(names, (dtype & 4) && spec.itemsize > 1 ? int(spec.itemsize) : 0);
  } catch (const Error&) {
    return 0;  // a configuration these items do not allow
  }
  const int64_t scale = dtype & 8 ? 64 : 1;
  spec.fill.assign(size_t(spec.itemsize), 0xAB);
  spec.keys.prefix = "c/";
  spec.keys.separator = '/';
  spec.keys.zero_dim_key = "c";
  spec.sharded = flags & 4;
  spec.shard.index_at_start = flags & 16;
  spec.shard.index_chain = fuzz::chain_of({"crc32c"}, 0);
  for (size_t d = 0; d < rank; ++d) {
    spec.shape.push_back(in.u8() % 64 * scale);
    spec.chunk_shape.push_back((in.u8() % 16 + 1) * scale);
    spec.shard.chunks_per_shard.push_back(in.u8() % 4 + 1);
  }
  if (flags & 8)
    for (size_t d = rank; d-- > 0;) spec.stored_axes.push_back(int(d));

  std::vector<std::vector<int64_t>> indices(rank);
  Selection sel;
  size_t out_bytes = size_t(spec.itemsize);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t count = spec.shape[d] ? in.u8() % 8 : 0;
    for (int64_t i = 0; i < count; ++i) indices[d].push_back(in.u8() * scale % spec.shape[d]);
    sel.indices.push_back(indices[d].data());
    sel.counts.push_back(count);
    out_bytes *= size_t(count);
  }
  const ByteView rest = in.rest();
  std::unique_ptr<uint8_t[]> object(new uint8_t[rest.size]);
  if (rest.size) std::memcpy(object.get(), rest.data, rest.size);

  try {
    spec.verify();
  } catch (const Error&) {
    return 0;
  }
  // Chunks whose headers agree with a huge size are decoded whole, as they
  // must be; the harness keeps them within libFuzzer's malloc limit.
  if (spec.chunk_nbytes() > (int64_t(128) << 20)) return 0;
  MemorySource source;
  std::vector<std::string> keys;
  fuzz::expect_rejection_or_success([&] { keys = needed_keys(spec, sel, false); });
  for (size_t k = 0; k < keys.size(); ++k)
    if (!(flags & 32) || k % 2 == 0) source.add(keys[k], object.get(), rest.size);

  set_num_threads(flags & 64 ? 2 : 1);
  std::unique_ptr<uint8_t[]> out(new uint8_t[out_bytes]);
  fuzz::expect_rejection_or_success([&] { read_selection(spec, source, sel, out.get()); });
  return 0;
}
