// Hostile shard objects through the shard index parser. Input: u8 flags
// (bit0 index at start, bit1 no crc32c, bits2-3 rank - 1), one u8 per axis
// (inner chunks per shard, modulo 8, plus 1), then the shard object.
#include <string>

#include "engine/shard_index.h"
#include "fuzz_codecs.h"
#include "fuzz_input.h"
#include "io/memory_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fastchunk;
  fuzz::Input in(data, size);
  const uint8_t flags = in.u8();
  ArraySpec spec;
  spec.sharded = true;
  spec.shard.index_at_start = flags & 1;
  if (!(flags & 2)) spec.shard.index_chain = fuzz::chain_of({"crc32c"}, 0);
  const int rank = (flags >> 2) % 3 + 1;
  for (int d = 0; d < rank; ++d) spec.shard.chunks_per_shard.push_back(in.u8() % 8 + 1);
  const ByteView object = in.rest();

  MemorySource source;
  source.add("s", object.data, object.size);
  ShardIndex index;
  try {
    index = read_shard_index(spec, source, "s");
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kInternal) __builtin_trap();
    return 0;
  }
  // An accepted index must be safe to follow: every entry inside the object.
  for (const ShardEntry& e : index.entries) {
    if (e.empty()) continue;
    if (e.offset > object.size || e.nbytes > object.size - e.offset) __builtin_trap();
    ByteBuffer storage;
    ByteView view;
    source.get_range("s", e.offset, e.nbytes, storage, view);
  }
  return 0;
}
