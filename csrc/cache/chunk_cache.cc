#include "cache/chunk_cache.h"

#include <pthread.h>

#include <atomic>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace fastchunk {
namespace {

struct Lru {
  using Entry = std::pair<std::string, std::shared_ptr<const CachedChunk>>;
  std::list<Entry> order;  // front = most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> index;
  size_t used = 0;
  uint64_t hits = 0, misses = 0, evictions = 0;

  void evict_to(size_t limit) {
    while (used > limit && !order.empty()) {
      used -= order.back().second->size;
      index.erase(order.back().first);
      order.pop_back();
      ++evictions;
    }
  }
};

std::atomic<size_t> g_capacity{0};
Lru* g_lru = new Lru;
std::mutex* g_mutex = new std::mutex;

// Taken before fork and released in parent and child: a child never inherits
// the list and map half updated by a thread that does not exist there.
const bool g_atfork = [] {
  pthread_atfork([] { g_mutex->lock(); }, [] { g_mutex->unlock(); }, [] { g_mutex->unlock(); });
  return true;
}();

}  // namespace

ChunkCache& ChunkCache::instance() {
  static ChunkCache cache;
  (void)g_atfork;
  return cache;
}

void ChunkCache::set_capacity(size_t bytes) {
  std::lock_guard<std::mutex> lock(*g_mutex);
  g_capacity.store(bytes);
  g_lru->evict_to(bytes);
}

size_t ChunkCache::capacity() const { return g_capacity.load(); }

size_t ChunkCache::used() const {
  std::lock_guard<std::mutex> lock(*g_mutex);
  return g_lru->used;
}

bool ChunkCache::enabled() const { return g_capacity.load(std::memory_order_relaxed) > 0; }

void ChunkCache::clear() {
  std::lock_guard<std::mutex> lock(*g_mutex);
  g_lru->evict_to(0);
}

std::shared_ptr<const CachedChunk> ChunkCache::get(const std::string& key) {
  std::lock_guard<std::mutex> lock(*g_mutex);
  auto it = g_lru->index.find(key);
  if (it == g_lru->index.end()) {
    ++g_lru->misses;
    return nullptr;
  }
  ++g_lru->hits;
  g_lru->order.splice(g_lru->order.begin(), g_lru->order, it->second);
  return it->second->second;
}

bool ChunkCache::contains(const std::string& key) const {
  std::lock_guard<std::mutex> lock(*g_mutex);
  return g_lru->index.count(key) != 0;
}

void ChunkCache::put(const std::string& key, const uint8_t* data, size_t size) {
  if (size > capacity()) return;
  auto chunk = std::make_shared<CachedChunk>();
  chunk->data.reset(new uint8_t[size ? size : 1]);
  if (size) std::memcpy(chunk->data.get(), data, size);
  chunk->size = size;
  std::lock_guard<std::mutex> lock(*g_mutex);
  if (g_lru->index.count(key)) return;  // another thread decoded it too
  g_lru->order.emplace_front(key, std::move(chunk));
  g_lru->index[key] = g_lru->order.begin();
  g_lru->used += size;
  g_lru->evict_to(g_capacity.load());
}

ChunkCache::Stats ChunkCache::stats() const {
  std::lock_guard<std::mutex> lock(*g_mutex);
  return Stats{g_lru->hits, g_lru->misses, g_lru->evictions};
}

}  // namespace fastchunk
