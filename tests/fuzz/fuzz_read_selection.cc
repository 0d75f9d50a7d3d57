// A whole read: planning, shard index, decode and copy into the output, with
// every stored object holding the fuzzed bytes. Input layout (see
// make_corpus.py, which writes seeds in it):
//   u8 flags  rank = flags % 3 + 1; bit2 sharded; bit3 transposed chunks;
//             bit4 index at start; bit5 every other object missing; bit6 two threads;
//             bit7 whole objects handed over at once (else the plan's rounds of
//             pending / provide / decode_ready, answered from the stored object)
//   u8 chain  index into kChains
//   u8 dtype  itemsize = {1, 2, 4, 8}[dtype % 4]; bit2 byte-swapped; bit3 large:
//             shapes, chunks and indices scaled by 64 (multi-block blosc frames);
//             bit4 axes as runs (start = the first index, step = the second
//             minus the first, count as given: the core checks the bounds)
//   per axis: u8 shape % 64, u8 chunk % 16 + 1, u8 chunks per shard % 4 + 1
//   per axis: u8 count % 8, then count u8 indices (modulo the axis length)
//   the rest: the stored object (chunk, or shard when sharded)
#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/read_plan.h"
#include "engine/thread_pool.h"
#include "fuzz_codecs.h"
#include "fuzz_input.h"
#include "io/fetched_source.h"

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
  const bool runs = dtype & 16;
  spec.fill.assign(size_t(spec.itemsize), 0xAB);
  spec.keys.prefix = "c/";
  spec.keys.separator = '/';
  spec.keys.zero_dim_key = "c";
  spec.sharded = flags & 4;
  spec.shard.index_at_start = flags & 16;
  spec.shard.index_chain = fuzz::chain_of({"crc32c"}, 0);
  spec.store_id = "fuzz";
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
    if (runs && count > 0) {
      const int64_t step = count > 1 ? indices[d][1] - indices[d][0] : 1;
      sel.axes.push_back(AxisSelection::run(indices[d][0], count, step));
    } else {
      sel.axes.push_back(AxisSelection::table(indices[d].data(), count));
    }
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
  set_num_threads(flags & 64 ? 2 : 1);
  std::unique_ptr<uint8_t[]> out(new uint8_t[out_bytes]);
  const ByteView stored{object.get(), rest.size};
  fuzz::expect_rejection_or_success([&] {
    ReadPlan plan(spec, sel);
    std::vector<std::string> keys = plan.object_keys();
    std::unordered_map<std::string, size_t> order;
    for (size_t k = 0; k < keys.size(); ++k) order.emplace(keys[k], k);
    auto stored_under = [&](const std::string& key) {
      auto it = order.find(key);
      return it != order.end() && (!(flags & 32) || it->second % 2 == 0);
    };
    if (flags & 128) {
      FetchedSource source;
      for (const std::string& key : keys)
        if (stored_under(key)) source.provide(key, ByteRange::whole(), stored, stored.size);
        else source.provide_missing(key);
      plan.execute(source, out.get());
      return;
    }
    for (int round = 0; plan.decode_ready(out.get()) > 0; ++round) {
      const std::vector<ByteRequest> requests = plan.pending();
      if (requests.empty() || round > 8) break;  // finish() names what is left
      for (const ByteRequest& r : requests) {
        if (!stored_under(r.key)) {
          plan.provide_missing(r);
          continue;
        }
        ByteRange at = r.range;
        if (at.kind == ByteRange::Kind::kWhole) {
          plan.provide(r, stored, stored.size);
          continue;
        }
        if (at.kind == ByteRange::Kind::kSuffix) {
          const uint64_t n = std::min<uint64_t>(at.length, stored.size);
          plan.provide(r, ByteView{stored.data + stored.size - n, n}, stored.size);
          continue;
        }
        // A range past the end comes back short, as from a server.
        const uint64_t begin = std::min<uint64_t>(at.offset, stored.size);
        const uint64_t n = std::min<uint64_t>(at.length, stored.size - begin);
        plan.provide(r, ByteView{stored.data + begin, n}, kUnknownObjectSize);
      }
    }
    plan.finish(out.get());
  });
  return 0;
}
