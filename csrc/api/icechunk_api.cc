#include "api/icechunk_api.h"

#include <algorithm>

#include "engine/read_plan.h"
#include "icechunk/binary_file.h"
#include "icechunk/ref_source.h"
#include "io/local_source.h"

namespace fastchunk {

ErrorInfo api_icechunk_parse_repo_info(const uint8_t* data, size_t size, const std::string& what,
                                       RepoInfo* out) {
  return guarded([&] { *out = parse_repo_info(ByteView{data, size}, what); });
}

ErrorInfo api_icechunk_parse_snapshot(const uint8_t* data, size_t size, const std::string& what,
                                      Snapshot* out) {
  return guarded([&] { *out = parse_snapshot(ByteView{data, size}, what); });
}

ErrorInfo api_icechunk_parse_manifest(const uint8_t* data, size_t size, const std::string& what,
                                      std::shared_ptr<const Manifest>* out) {
  return guarded([&] { *out = Manifest::parse(ByteView{data, size}, what); });
}

ErrorInfo api_icechunk_new_refs(const std::vector<uint64_t>& grid,
                                std::shared_ptr<ChunkRefTable>* out) {
  return guarded([&] { *out = std::make_shared<ChunkRefTable>(grid); });
}

ErrorInfo api_icechunk_collect(const Manifest& manifest, const std::string& node_id,
                               const std::vector<uint32_t>& extents, ChunkRefTable& refs,
                               const std::string& what) {
  return guarded([&] {
    if (node_id.size() != 8 || extents.size() != 2 * refs.ndim())
      throw Error(ErrorKind::kInternal, "collect: a node id of 8 bytes and 2 extents per axis");
    ObjectId8 node;
    std::copy(node_id.begin(), node_id.end(), node.begin());
    std::vector<ManifestExtent> ext(refs.ndim());
    for (size_t d = 0; d < ext.size(); ++d) ext[d] = ManifestExtent{extents[2 * d], extents[2 * d + 1]};
    manifest.collect(node, ext, refs, what);
  });
}

ErrorInfo api_icechunk_seal(ChunkRefTable& refs, const std::string& what) {
  return guarded([&] { refs.seal(what); });
}

ErrorInfo api_icechunk_decode_id(const std::string& name, std::string* bytes) {
  return guarded([&] {
    const ObjectId12 id = decode_object_id12(name);
    bytes->assign(id.begin(), id.end());
  });
}

ErrorInfo api_icechunk_encode_id(const std::string& bytes, std::string* name) {
  return guarded([&] {
    *name = encode_object_id(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  });
}

ErrorInfo api_icechunk_read_local(const ArraySpec& spec, const ChunkRefTable& refs,
                                  const std::string& root, const Selection& sel, uint8_t* out,
                                  uint64_t out_nbytes, int num_threads) {
  return guarded([&] {
    ReadPlan plan(spec, sel, num_threads);
    if (plan.output_nbytes() != out_nbytes)
      throw Error(ErrorKind::kIndex, "the output holds " + std::to_string(out_nbytes) +
                                         " bytes, the selection " +
                                         std::to_string(plan.output_nbytes()));
    LocalSource repo(root);
    LocalSource files("");
    RefSource source(spec, refs, repo, files);
    plan.execute(source, out);
  });
}

ErrorInfo api_icechunk_route(const ArraySpec& spec, const ChunkRefTable& refs,
                             const std::vector<ByteRequest>& requests, Routes* out) {
  return guarded([&] {
    *out = route_requests(spec, refs, requests, ReadPlan::kCoalesceGap, ReadPlan::kMaxRequest);
  });
}

}  // namespace fastchunk
