// Icechunk object ids: 12 random bytes for snapshots, manifests and chunks, 8
// for nodes. In object names they are Crockford base 32, upper case, without
// padding (the last character holds the low bits, zero-padded): 20
// characters for 12 bytes, 13 for 8.
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace fastchunk {

using ObjectId12 = std::array<uint8_t, 12>;
using ObjectId8 = std::array<uint8_t, 8>;

// The base 32 name of an id.
std::string encode_object_id(const uint8_t* bytes, size_t n);
inline std::string encode_object_id(const ObjectId12& id) {
  return encode_object_id(id.data(), id.size());
}
inline std::string encode_object_id(const ObjectId8& id) {
  return encode_object_id(id.data(), id.size());
}

// The id a 20-character name stands for (lower case accepted); throws
// Error(kMetadata) for anything else, the padding bits included, so that one
// id has one name.
ObjectId12 decode_object_id12(const std::string& name);

// Snapshots, manifests and chunks live under these prefixes of the repository.
inline std::string snapshot_key(const ObjectId12& id) {
  return "snapshots/" + encode_object_id(id);
}
inline std::string manifest_key(const ObjectId12& id) {
  return "manifests/" + encode_object_id(id);
}
inline std::string chunk_object_key(const ObjectId12& id) {
  return "chunks/" + encode_object_id(id);
}

}  // namespace fastchunk
