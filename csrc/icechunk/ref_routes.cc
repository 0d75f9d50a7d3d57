#include "icechunk/ref_routes.h"

#include <algorithm>
#include <tuple>

#include "common/error.h"
#include "engine/chunk_keys.h"
#include "icechunk/ref_source.h"

namespace fastchunk {
namespace {

struct Piece {
  uint32_t target;
  uint64_t offset;
  uint64_t length;
  size_t answer;
};

}  // namespace

Routes route_requests(const ArraySpec& spec, const ChunkRefTable& refs,
                      const std::vector<ByteRequest>& requests, uint64_t gap,
                      uint64_t max_fetch) {
  Routes routes;
  routes.answers.resize(requests.size());
  std::vector<Piece> pieces;
  std::vector<int64_t> coords;
  for (size_t i = 0; i < requests.size(); ++i) {
    const ByteRequest& req = requests[i];
    RoutedAnswer& answer = routes.answers[i];
    try {
      if (!parse_chunk_key(spec.array_path, spec.keys, spec.shape.size(), req.key, coords))
        throw Error(ErrorKind::kInternal, "not a chunk key of this array");
      const ChunkRef* ref = refs.find(coords.data());
      if (!ref) continue;  // kMissing
      answer.object_size = ref->length;
      if (ref->kind == ChunkRef::Kind::kInline) {
        const ByteRange at = resolve_range(req.range, ref->length);
        answer.kind = RoutedAnswer::Kind::kInline;
        answer.start = ref->offset + at.offset;
        answer.length = at.length;
        continue;
      }
      const ChunkTarget& target = refs.targets()[ref->target];
      if (target.is_virtual && !target.allowed)
        throw Error(ErrorKind::kIO, "virtual chunk in " + target.location +
                                        ": that location was not authorized when the "
                                        "repository was opened (authorize_virtual_chunk_access)");
      const ByteRange at = range_in_target(*ref, req.range);
      answer.kind = RoutedAnswer::Kind::kFetched;
      answer.length = at.length;
      if (at.length == 0) {
        // The size alone (an index at the start of a shard): nothing to fetch.
        answer.kind = RoutedAnswer::Kind::kInline;
        answer.start = 0;
        continue;
      }
      pieces.push_back(Piece{ref->target, at.offset, at.length, i});
    } catch (const Error& e) {
      throw Error(e.kind(), spec.store_name + ": chunk '" + req.key + "': " + e.what());
    }
  }
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
    return std::tie(a.target, a.offset, a.length) < std::tie(b.target, b.offset, b.length);
  });
  bool open = false;
  RoutedFetch current;
  uint64_t end = 0;
  for (const Piece& p : pieces) {
    const uint64_t stop = p.offset + p.length;  // no overflow: checked when collected
    if (open && p.target == current.target && p.offset <= end + gap &&
        std::max(end, stop) - current.offset <= max_fetch) {
      end = std::max(end, stop);
    } else {
      if (open) {
        current.length = end - current.offset;
        routes.fetches.push_back(current);
      }
      current = RoutedFetch{p.target, p.offset, 0};
      end = stop;
      open = true;
    }
    RoutedAnswer& a = routes.answers[p.answer];
    a.fetch = uint32_t(routes.fetches.size());
    a.start = p.offset - current.offset;
  }
  if (open) {
    current.length = end - current.offset;
    routes.fetches.push_back(current);
  }
  return routes;
}

}  // namespace fastchunk
