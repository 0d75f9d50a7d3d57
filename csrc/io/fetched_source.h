// Bytes the Python layer fetched from an object store, handed to the core
// piece by piece: whole objects, byte ranges, object tails with the object's
// size, or word that an object does not exist. The memory stays the caller's
// and must outlive the pieces (ReadPlan's Python handle keeps it alive).
// Asking for bytes that were not provided is an Error(kNotFetched).
#pragma once
#include <string>
#include <unordered_map>
#include <vector>

#include "io/byte_source.h"

namespace fastchunk {

class FetchedSource : public ByteSource {
 public:
  // The answer to a request for `range` of `key`. `object_size` where known
  // (always for kSuffix answers; kUnknownObjectSize otherwise); `version` as
  // the store reported it with the answer ("" when it did not). An object
  // holds the pieces of one version: a piece of another version replaces
  // everything provided for the object before (it was rewritten meanwhile).
  // Throws Error(kDecode) when the bytes cannot be the range asked for.
  void provide(const std::string& key, const ByteRange& range, ByteView bytes,
               uint64_t object_size, const std::string& version = std::string());
  void provide_missing(const std::string& key);
  // The version the caller's store learned for `key` before fetching it:
  // version(key) says it until an answer says otherwise (the caches look up
  // what they hold under it).
  void know_version(const std::string& key, const std::string& version);
  std::string version(const std::string& key) override;

  // Whether get(key, range) would answer without kNotFetched.
  bool has(const std::string& key, const ByteRange& range) const;
  bool known_missing(const std::string& key) const;
  // Forgets everything provided for `key`.
  void release(const std::string& key);

  bool get(const std::string& key, const ByteRange& range, ByteBuffer& storage,
           ObjectBytes& out) override;

 private:
  struct Piece {
    uint64_t offset;
    ByteView bytes;
  };
  struct Object {
    bool missing = false;
    uint64_t size = kUnknownObjectSize;
    std::vector<Piece> pieces;
    std::string version;
  };
  // The piece holding [offset, offset + length), or null.
  static const Piece* covering(const Object& o, uint64_t offset, uint64_t length);
  // The slice `range` stands for, or false when that needs the unknown size.
  static bool as_slice(const Object& o, const ByteRange& range, ByteRange& slice);

  std::unordered_map<std::string, Object> objects_;
};

}  // namespace fastchunk
