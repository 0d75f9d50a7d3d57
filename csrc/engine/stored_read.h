// The one way stored bytes are read and decoded: read through a source,
// decode, verify that the bytes stayed what the object held while they
// decoded, and read and decode once more (never through a mapping) when they
// did not. Chunk tasks (local reads and remote read plans), batch decodes
// (the zarr-python pipeline) and shard indexes all read through it.
//
// Bytes may stop being the object's in two ways: a mapped file that shrank
// reads as zero pages (ObjectBytes::intact), and a file rewritten in place
// may hand out a mix of both versions (ByteSource::unchanged). A decode that
// fails on such bytes is retried too: its error may be the mix's.
#pragma once
#include <string>

#include "common/error.h"
#include "io/byte_source.h"

namespace fastchunk {

// Where a chunk's (or an index's) stored bytes are.
struct StoredPlace {
  std::string key;      // the object
  ByteRange range;      // its bytes: the whole object, a shard entry, an index
  std::string alt_key;  // read when `key` is missing ("": none): v2 nested keys
  std::string version;  // the version the object must have ("": any): a shard's index's
};

enum class StoredRead {
  kDecoded,  // decode ran on bytes that stayed the object's
  kMissing,  // nothing is stored: decode never ran
  kStale,    // the object is not of `version` (rewritten since its index was read)
};

namespace detail {
// One read of `place` into `got` (`again`: reread, never through a mapping);
// `from` says which key answered.
StoredRead read_place(ByteSource& source, const StoredPlace& place, ObjectBytes& got,
                      std::string& from, bool again);
inline bool stayed(ByteSource& source, const std::string& from, const ObjectBytes& got) {
  return got.intact() && source.unchanged(from, got);
}
}  // namespace detail

// Reads `place` through `source` and calls decode(const ObjectBytes&) on the
// answer, then verifies it stayed the object's; if not, reads it again and
// decodes once more, and throws Error(kDecode) if that read was not stable
// either. Reads go into the calling thread's Scratch::kRead buffer.
template <typename Decode>
StoredRead read_and_decode(ByteSource& source, const StoredPlace& place, Decode&& decode) {
  ObjectBytes got;
  std::string from;
  StoredRead r = detail::read_place(source, place, got, from, false);
  if (r != StoredRead::kDecoded) return r;
  try {
    decode(got);
    if (detail::stayed(source, from, got)) return r;
  } catch (const Error&) {
    if (detail::stayed(source, from, got)) throw;
  }
  got = ObjectBytes{};
  r = detail::read_place(source, place, got, from, true);
  if (r != StoredRead::kDecoded) return r;
  decode(got);
  if (!detail::stayed(source, from, got))
    throw_decode("'" + from + "' was rewritten while it was read; read it again");
  return r;
}

}  // namespace fastchunk
