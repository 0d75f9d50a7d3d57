// A ByteSource that reads an Icechunk array's stored objects (its chunks, or
// shards) through the array's chunk references: the engine asks for a chunk
// key and a byte range of it as for any zarr store; this source finds the
// reference and answers from the inline bytes, from the byte range of a
// native object in the repository, or from a virtual reference's file, the
// file's condition checked against the version the read saw. Requests are
// relative to the reference's range, whose length is the object's size.
// Virtual references to anything but local files are read by the remote
// path (ref_routes.h), never here.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/array_spec.h"
#include "icechunk/chunk_refs.h"
#include "io/byte_source.h"

namespace fastchunk {

class RefSource : public ByteSource {
 public:
  // `repo` reads keys under the repository (chunks/<id>), `files` absolute
  // paths; both must outlive this source, as must `spec` and `refs`.
  RefSource(const ArraySpec& spec, const ChunkRefTable& refs, ByteSource& repo, ByteSource& files);

  bool get(const std::string& key, const ByteRange& range, ByteBuffer& storage,
           ObjectBytes& out) override;
  bool reread(const std::string& key, const ByteRange& range, ByteBuffer& storage,
              ObjectBytes& out) override;
  std::string version(const std::string& key) override;
  bool unchanged(const std::string& key, const ObjectBytes& got) override;
  void prefetch(const std::string& key, const ByteRange& range) override;

 private:
  struct Resolved {
    const ChunkRef* ref = nullptr;
    ByteSource* source = nullptr;  // null for inline bytes
    const std::string* target_key = nullptr;
  };
  // The reference behind `key`: false when nothing is stored for it.
  bool resolve(const std::string& key, Resolved& r) const;
  bool read(const std::string& key, const ByteRange& range, ByteBuffer& storage,
            ObjectBytes& out, bool again);

  const ArraySpec& spec_;
  const ChunkRefTable& refs_;
  ByteSource& repo_;
  ByteSource& files_;
  std::vector<std::string> target_keys_;  // per target: the repo key or the local path
};

// The range of the target object that `range` of a reference's bytes is.
ByteRange range_in_target(const ChunkRef& ref, const ByteRange& range);

}  // namespace fastchunk
