#include "cache/buffer_pool.h"

#include <pthread.h>

#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

namespace fastchunk {
namespace {

constexpr size_t kPoolBytes = size_t(256) << 20;
constexpr size_t kPoolBuffers = 64;
std::mutex g_pool_mutex;
std::vector<std::pair<size_t, uint8_t*>>* g_pool = new std::vector<std::pair<size_t, uint8_t*>>;
size_t g_pool_bytes = 0;

const bool g_atfork = [] {
  pthread_atfork([] { g_pool_mutex.lock(); }, [] { g_pool_mutex.unlock(); },
                 [] { g_pool_mutex.unlock(); });
  return true;
}();

}  // namespace

uint8_t* take_buffer(size_t n, size_t& capacity) {
  (void)g_atfork;
  {
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    size_t best = g_pool->size();
    for (size_t i = 0; i < g_pool->size(); ++i) {
      const size_t cap = (*g_pool)[i].first;
      if (cap >= n && cap / 2 <= n && (best == g_pool->size() || cap < (*g_pool)[best].first))
        best = i;
    }
    if (best < g_pool->size()) {
      uint8_t* p = (*g_pool)[best].second;
      capacity = (*g_pool)[best].first;
      g_pool_bytes -= capacity;
      (*g_pool)[best] = g_pool->back();
      g_pool->pop_back();
      return p;
    }
  }
  capacity = n ? n : 1;
  return static_cast<uint8_t*>(std::malloc(capacity));
}

void give_buffer(uint8_t* p, size_t capacity) {
  {
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    if (g_pool_bytes + capacity <= kPoolBytes && g_pool->size() < kPoolBuffers) {
      g_pool->emplace_back(capacity, p);
      g_pool_bytes += capacity;
      return;
    }
  }
  std::free(p);
}

}  // namespace fastchunk
