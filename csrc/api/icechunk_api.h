// The boundary's Icechunk calls: parsing repo info, snapshot and manifest
// files, building an array's chunk-reference table, local reads through it
// and the routing of remote reads. Each returns an ErrorInfo.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/guarded.h"
#include "engine/array_spec.h"
#include "engine/task_grid.h"
#include "icechunk/chunk_refs.h"
#include "icechunk/manifest.h"
#include "icechunk/ref_routes.h"
#include "icechunk/repo_info.h"
#include "icechunk/snapshot.h"

namespace fastchunk {

ErrorInfo api_icechunk_parse_repo_info(const uint8_t* data, size_t size, const std::string& what,
                                       RepoInfo* out);
ErrorInfo api_icechunk_parse_snapshot(const uint8_t* data, size_t size, const std::string& what,
                                      Snapshot* out);
ErrorInfo api_icechunk_parse_manifest(const uint8_t* data, size_t size, const std::string& what,
                                      std::shared_ptr<const Manifest>* out);
ErrorInfo api_icechunk_new_refs(const std::vector<uint64_t>& grid,
                                std::shared_ptr<ChunkRefTable>* out);
ErrorInfo api_icechunk_collect(const Manifest& manifest, const std::string& node_id,
                               const std::vector<uint32_t>& extents, ChunkRefTable& refs,
                               const std::string& what);
ErrorInfo api_icechunk_seal(ChunkRefTable& refs, const std::string& what);
ErrorInfo api_icechunk_decode_id(const std::string& name, std::string* bytes);
ErrorInfo api_icechunk_encode_id(const std::string& bytes, std::string* name);

// A whole read of `sel` through the references: native objects under `root`
// (the repository's directory), virtual local files by their paths.
ErrorInfo api_icechunk_read_local(const ArraySpec& spec, const ChunkRefTable& refs,
                                  const std::string& root, const Selection& sel, uint8_t* out,
                                  uint64_t out_nbytes, int num_threads);
ErrorInfo api_icechunk_route(const ArraySpec& spec, const ChunkRefTable& refs,
                             const std::vector<ByteRequest>& requests, Routes* out);

}  // namespace fastchunk
