#include "io/fetched_source.h"

#include <string>

#include "common/error.h"

namespace fastchunk {

void FetchedSource::provide(const std::string& key, const ByteRange& range, ByteView bytes,
                            uint64_t object_size, const std::string& version) {
  Object& o = objects_[key];
  if (!version.empty() && version != o.version) {
    if (!o.version.empty()) o = Object{};  // pieces of an older object: never mixed in
    o.version = version;
  }
  o.missing = false;
  switch (range.kind) {
    case ByteRange::Kind::kWhole:
      if (object_size != kUnknownObjectSize && object_size != bytes.size)
        throw_decode("object '" + key + "' arrived with " + std::to_string(bytes.size) +
                     " of its " + std::to_string(object_size) + " bytes");
      o.size = bytes.size;
      o.pieces.push_back(Piece{0, bytes});
      return;
    case ByteRange::Kind::kSlice:
      if (bytes.size != range.length)
        throw_decode("ranged read of '" + key + "' " + range.describe() + " returned " +
                     std::to_string(bytes.size) + " bytes");
      if (object_size != kUnknownObjectSize) o.size = object_size;
      if (bytes.size) o.pieces.push_back(Piece{range.offset, bytes});
      return;
    case ByteRange::Kind::kSuffix:
      if (object_size == kUnknownObjectSize)
        throw Error(ErrorKind::kInternal, "a tail of '" + key + "' came without the object's size");
      if (bytes.size != range.length || bytes.size > object_size)
        throw_decode("read of the last " + std::to_string(range.length) + " bytes of '" + key +
                     "' (an object of " + std::to_string(object_size) + " bytes) returned " +
                     std::to_string(bytes.size) + " bytes");
      o.size = object_size;
      if (bytes.size) o.pieces.push_back(Piece{object_size - bytes.size, bytes});
      return;
  }
}

void FetchedSource::provide_missing(const std::string& key) {
  Object& o = objects_[key];
  o = Object{};
  o.missing = true;
}

void FetchedSource::know_version(const std::string& key, const std::string& version) {
  if (version.empty()) return;
  Object& o = objects_[key];
  if (o.version.empty() && o.pieces.empty() && !o.missing) o.version = version;
}

std::string FetchedSource::version(const std::string& key) {
  auto it = objects_.find(key);
  return it == objects_.end() ? std::string() : it->second.version;
}

bool FetchedSource::known_missing(const std::string& key) const {
  auto it = objects_.find(key);
  return it != objects_.end() && it->second.missing;
}

void FetchedSource::release(const std::string& key) { objects_.erase(key); }

const FetchedSource::Piece* FetchedSource::covering(const Object& o, uint64_t offset,
                                                    uint64_t length) {
  for (const Piece& p : o.pieces)
    if (offset >= p.offset && offset - p.offset <= p.bytes.size &&
        length <= p.bytes.size - (offset - p.offset))
      return &p;
  return nullptr;
}

bool FetchedSource::as_slice(const Object& o, const ByteRange& range, ByteRange& slice) {
  if (range.kind == ByteRange::Kind::kSlice) {
    slice = range;
    return true;
  }
  if (o.size == kUnknownObjectSize) return false;
  slice = resolve_range(range, o.size);
  return true;
}

bool FetchedSource::has(const std::string& key, const ByteRange& range) const {
  auto it = objects_.find(key);
  if (it == objects_.end()) return false;
  const Object& o = it->second;
  if (o.missing) return true;
  ByteRange slice;
  try {
    if (!as_slice(o, range, slice)) return false;
  } catch (const Error&) {
    return true;  // get() answers: the range lies outside the object
  }
  return slice.length == 0 || covering(o, slice.offset, slice.length) != nullptr;
}

bool FetchedSource::get(const std::string& key, const ByteRange& range, ByteBuffer&,
                        ObjectBytes& out) {
  auto it = objects_.find(key);
  if (it == objects_.end())
    throw Error(ErrorKind::kNotFetched, "object '" + key + "' was not fetched");
  const Object& o = it->second;
  if (o.missing) return false;
  ByteRange slice;
  if (!as_slice(o, range, slice))
    throw Error(ErrorKind::kNotFetched,
                "the size of '" + key + "' was not fetched (" + range.describe() + ")");
  if (o.size != kUnknownObjectSize) resolve_range(slice, o.size);  // throws when outside the object
  out.object_size = o.size;
  out.version = o.version;
  if (slice.length == 0) {
    out.bytes = ByteView{reinterpret_cast<const uint8_t*>(""), 0};
    return true;
  }
  const Piece* p = covering(o, slice.offset, slice.length);
  if (!p)
    throw Error(ErrorKind::kNotFetched,
                range.describe() + " of '" + key + "' were not fetched");
  out.bytes = ByteView{p->bytes.data + (slice.offset - p->offset), slice.length};
  return true;
}

}  // namespace fastchunk
