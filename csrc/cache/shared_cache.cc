#include "cache/shared_cache.h"

#include <pthread.h>

#include <mutex>
#include <utility>

#include "common/buffer.h"

namespace fastchunk {
namespace {

std::mutex g_mutex;
std::shared_ptr<FileCache>* g_cache = new std::shared_ptr<FileCache>;

// A fork while another thread swaps the cache would leave the child a held lock.
const bool g_atfork = [] {
  pthread_atfork([] { g_mutex.lock(); }, [] { g_mutex.unlock(); }, [] { g_mutex.unlock(); });
  return true;
}();

// Blocks at least this long are read one by one straight into the output.
constexpr int64_t kDirectBlock = 4096;
constexpr int64_t kMaxDirectBlocks = 4096;
constexpr size_t kKeepScratchBytes = size_t(512) << 20;

// Calls f(source offset, destination, bytes) for each contiguous block of
// the region, as copy_region copies them.
template <typename F>
void walk_blocks(const RegionGeometry& g, const Collapsed& c, int axis, int64_t src, uint8_t* dst,
                 F& f) {
  const AxisSpan& a = g.axes[axis];
  const int64_t ss = g.src_strides[axis], ds = g.dst_strides[axis];
  if (axis == c.outer - 1) {
    if (a.contiguous() && ss == c.block && ds == c.block) {
      f(src + a.in.at(0) * ss, dst + a.out.at(0) * ds, a.n * c.block);
      return;
    }
    for_each_position(a, ss, ds, [&](int64_t s, int64_t d) { f(src + s, dst + d, c.block); });
    return;
  }
  for_each_position(a, ss, ds,
                    [&](int64_t s, int64_t d) { walk_blocks(g, c, axis + 1, src + s, dst + d, f); });
}

void append_field(std::string& out, const std::string& field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

}  // namespace

void set_shared_cache(const std::string& dir, uint64_t budget) {
  (void)g_atfork;
  std::shared_ptr<FileCache> cache;
  if (budget > 0) cache = FileCache::open(dir, budget, FileCache::Options{true, false});
  std::lock_guard<std::mutex> lock(g_mutex);
  *g_cache = std::move(cache);
}

std::shared_ptr<FileCache> shared_cache() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return *g_cache;
}

std::string shared_chunk_key(const ArraySpec& spec, const std::string& key, int64_t inner,
                             const std::string& version) {
  if (spec.store_id.empty() || spec.decoding.empty() || version.empty()) return std::string();
  // Length-prefixed fields: no two different tuples give the same string.
  std::string k = "chunk1 ";
  append_field(k, spec.store_id);
  append_field(k, key);
  std::string layout = std::to_string(spec.itemsize) + ';' + std::to_string(spec.chunk_nbytes());
  for (int64_t c : spec.chunk_shape) layout += ',' + std::to_string(c);
  layout += ';';
  for (int a : spec.stored_axes) layout += std::to_string(a) + ',';
  append_field(k, layout);
  append_field(k, spec.decoding);
  append_field(k, spec.sharded ? std::to_string(inner) : std::string("-"));
  append_field(k, version);
  return k;
}

SharedChunk SharedChunk::find(const ArraySpec& spec, ByteSource& source, const std::string& key,
                              int64_t inner, size_t nbytes, bool may_defer) {
  SharedChunk chunk;
  // Stored bytes that are the decoded bytes gain nothing from sharing.
  if (spec.chain.codecs.empty()) return chunk;
  std::shared_ptr<FileCache> cache = shared_cache();
  if (!cache) return chunk;
  chunk.key_ = shared_chunk_key(spec, key, inner, source.version(key));
  if (chunk.key_.empty()) return chunk;
  chunk.hit_ = cache->find_or_claim(chunk.key_, nbytes, chunk.claim_,
                                    may_defer ? &chunk.busy_ : nullptr);
  if (!chunk.busy_) chunk.cache_ = std::move(cache);
  return chunk;
}

void SharedChunk::copy_to(const RegionGeometry& geom, uint8_t* out) {
  const Collapsed c = collapse_region(geom);
  if (c.outer == 0 && size_t(c.block) == hit_.size()) {
    hit_.read_into(out + region_dst_offset(geom));
    return;
  }
  int64_t blocks = 1, needed = geom.itemsize;
  for (int d = 0; d < geom.ndim; ++d) {
    needed *= geom.axes[d].n;
    if (d < c.outer) blocks *= geom.axes[d].n;
  }
  if (c.block >= kDirectBlock && blocks <= kMaxDirectBlocks) {
    int64_t src = 0, dst = 0;  // offsets of the collapsed inner axes
    inner_offsets(geom, c, src, dst);
    auto read = [&](int64_t from, uint8_t* to, int64_t n) { hit_.read_range(uint64_t(from), to, size_t(n)); };
    if (c.outer == 0) {
      read(src, out + dst, c.block);
    } else {
      walk_blocks(geom, c, 0, src, out + dst, read);
    }
    return;
  }
  if (size_t(needed) * 4 >= hit_.size()) {
    thread_local ByteBuffer scratch;
    uint8_t* whole = scratch.reserve(hit_.size());
    hit_.read_into(whole);
    copy_region(geom, whole, out);
    scratch.shrink_if_above(kKeepScratchBytes);
    return;
  }
  copy_region(geom, hit_.data(), out);  // few pages: map and touch only those
}

void SharedChunk::fill(const uint8_t* decoded, size_t nbytes) {
  if (!wanted()) return;
  cache_->insert(key_, decoded, nbytes);
  claim_.release();
}

}  // namespace fastchunk
