// Helpers for the C++ unit tests: small array specs, shard objects built by
// hand, and temporary directories. Header-only; never part of the library.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "codecs/chain.h"
#include "codecs/codec_config.h"
#include "codecs/crc32c.h"
#include "engine/array_spec.h"
#include "engine/shard_index.h"

namespace fastchunk::testing {

// A float32-free, 1-byte-item array of `shape` in chunks of `chunks`, stored
// raw (no codec), keys "c/i/j" under array path "a/", fill value 0xEE.
inline ArraySpec raw_spec(std::vector<int64_t> shape, std::vector<int64_t> chunks) {
  ArraySpec spec;
  spec.store_name = "test-store";
  spec.store_id = "test://store";
  spec.array_path = "a/";
  spec.shape = std::move(shape);
  spec.chunk_shape = std::move(chunks);
  spec.itemsize = 1;
  spec.fill = {0xEE};
  spec.keys.prefix = "c/";
  spec.keys.separator = '/';
  spec.keys.zero_dim_key = "c";
  return spec;
}

// The index codecs of zarr's default: little-endian entries and a crc32c.
inline void crc32c_index(ShardSpec& shard) {
  CodecConfig little;
  little.set_string("endian", "little");
  shard.index_chain = build_chain({{"bytes", little}, {"crc32c", CodecConfig{}}}, "<u8", 3);
}

// Makes `spec` sharded with `per` inner chunks per shard along each axis and
// the default index (crc32c) at the end, or at the start.
inline void shard(ArraySpec& spec, std::vector<int64_t> per, bool at_start = false) {
  spec.sharded = true;
  spec.shard.chunks_per_shard = std::move(per);
  spec.shard.index_at_start = at_start;
  crc32c_index(spec.shard);
}

// The stored bytes of an index: (offset, nbytes) pairs, little-endian, crc32c.
inline std::string index_bytes(const std::vector<ShardEntry>& entries) {
  std::string out(entries.size() * 16, '\0');
  std::memcpy(&out[0], entries.data(), out.size());  // the tests run little-endian
  const uint32_t crc = crc32c(reinterpret_cast<const uint8_t*>(out.data()), out.size());
  out.append(reinterpret_cast<const char*>(&crc), 4);
  return out;
}

constexpr ShardEntry kEmpty{UINT64_MAX, UINT64_MAX};

// A shard object holding `chunks` (one per inner chunk, "" = not stored), the
// index at the end or at the start.
inline std::string shard_object(const std::vector<std::string>& chunks, bool at_start = false) {
  const uint64_t index_size = chunks.size() * 16 + 4;
  std::vector<ShardEntry> entries;
  std::string body;
  const uint64_t base = at_start ? index_size : 0;
  for (const std::string& c : chunks) {
    if (c.empty()) {
      entries.push_back(kEmpty);
      continue;
    }
    entries.push_back(ShardEntry{base + body.size(), c.size()});
    body += c;
  }
  const std::string index = index_bytes(entries);
  return at_start ? index + body : body + index;
}

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/fastchunk-test-XXXXXX";
    path_ = mkdtemp(&pattern[0]) ? pattern : "";
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  void write(const std::string& key, const std::string& bytes) const {
    const std::string full = path_ + "/" + key;
    std::system(("mkdir -p \"$(dirname '" + full + "')\"").c_str());
    std::ofstream(full, std::ios::binary | std::ios::trunc) << bytes;
  }
  void mkdir(const std::string& key) const {
    std::system(("mkdir -p '" + path_ + "/" + key + "'").c_str());
  }

 private:
  std::string path_;
};

}  // namespace fastchunk::testing
