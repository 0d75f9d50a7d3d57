#include "icechunk/ref_source.h"

#include "common/error.h"
#include "engine/chunk_keys.h"
#include "icechunk/virtual_condition.h"

namespace fastchunk {

ByteRange range_in_target(const ChunkRef& ref, const ByteRange& range) {
  const ByteRange at = resolve_range(range, ref.length);  // throws outside the reference
  return ByteRange::slice(ref.offset + at.offset, at.length);
}

RefSource::RefSource(const ArraySpec& spec, const ChunkRefTable& refs, ByteSource& repo,
                     ByteSource& files)
    : spec_(spec), refs_(refs), repo_(repo), files_(files) {
  target_keys_.reserve(refs.targets().size());
  for (const ChunkTarget& t : refs.targets())
    target_keys_.push_back(t.is_virtual ? local_path_of(t.location) : t.location);
}

bool RefSource::resolve(const std::string& key, Resolved& r) const {
  thread_local std::vector<int64_t> coords;
  if (!parse_chunk_key(spec_.array_path, spec_.keys, spec_.shape.size(), key, coords))
    return false;
  r.ref = refs_.find(coords.data());
  if (!r.ref) return false;
  if (r.ref->kind == ChunkRef::Kind::kInline) return true;
  const ChunkTarget& target = refs_.targets()[r.ref->target];
  r.target_key = &target_keys_[r.ref->target];
  if (!target.is_virtual) {
    r.source = &repo_;
    return true;
  }
  if (!target.allowed)
    throw Error(ErrorKind::kIO, "virtual chunk in " + target.location +
                                    ": that location was not authorized when the repository "
                                    "was opened (authorize_virtual_chunk_access)");
  if (r.target_key->empty())
    throw Error(ErrorKind::kInternal, "virtual chunk in " + target.location +
                                          ": not a local file; read through the remote path");
  r.source = &files_;
  return true;
}

bool RefSource::read(const std::string& key, const ByteRange& range, ByteBuffer& storage,
                     ObjectBytes& out, bool again) {
  Resolved r;
  if (!resolve(key, r)) return false;
  const ChunkRef& ref = *r.ref;
  if (ref.kind == ChunkRef::Kind::kInline) {
    const ByteRange at = resolve_range(range, ref.length);
    const ByteView all = refs_.inline_bytes(ref);
    out = ObjectBytes{};
    out.bytes = ByteView{all.data + at.offset, size_t(at.length)};
    out.object_size = ref.length;
    out.version = "inline";
    return true;
  }
  const ByteRange target_range = range_in_target(ref, range);
  const ChunkTarget& target = refs_.targets()[ref.target];
  const char* kind = target.is_virtual ? "virtual chunk in " : "chunk object ";
  bool found;
  try {
    found = again ? r.source->reread(*r.target_key, target_range, storage, out)
                  : r.source->get(*r.target_key, target_range, storage, out);
  } catch (const Error& e) {
    throw Error(e.kind(), kind + target.location + ": " + e.what());
  }
  if (!found)
    throw Error(ErrorKind::kDecode, std::string(kind) + target.location +
                                        " does not exist (the reference points to it)");
  if (target.is_virtual) check_local_condition(target, out.version);
  out.object_size = ref.length;
  return true;
}

bool RefSource::get(const std::string& key, const ByteRange& range, ByteBuffer& storage,
                    ObjectBytes& out) {
  return read(key, range, storage, out, false);
}

bool RefSource::reread(const std::string& key, const ByteRange& range, ByteBuffer& storage,
                       ObjectBytes& out) {
  return read(key, range, storage, out, true);
}

std::string RefSource::version(const std::string& key) {
  Resolved r;
  if (!resolve(key, r)) return {};
  if (r.ref->kind == ChunkRef::Kind::kInline) return "inline";
  const std::string v = r.source->version(*r.target_key);
  if (v.empty()) return {};
  return v + '@' + std::to_string(r.ref->offset) + '+' + std::to_string(r.ref->length);
}

bool RefSource::unchanged(const std::string& key, const ObjectBytes& got) {
  Resolved r;
  if (!resolve(key, r) || !r.source) return true;
  return r.source->unchanged(*r.target_key, got);
}

void RefSource::prefetch(const std::string& key, const ByteRange& range) {
  Resolved r;
  try {
    if (!resolve(key, r) || !r.source) return;
    r.source->prefetch(*r.target_key, range_in_target(*r.ref, range));
  } catch (const Error&) {
    // A hint: the read itself reports the problem.
  }
}

}  // namespace fastchunk
