// A least-recently-used map from string keys to shared, immutable values,
// bounded by a byte budget (the caller states each value's cost). Thread-safe
// and fork-safe: its lock is a ForkSafeMutex. The decoded-chunk cache and the
// shard-index cache are both one of these.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "common/fork_safe_mutex.h"

namespace fastchunk {

struct LruStats {
  uint64_t hits = 0, misses = 0, evictions = 0;
};

// Everything a report shows, taken under one lock.
struct LruSnapshot {
  size_t capacity = 0, used = 0, entries = 0;
  LruStats stats;
};

template <typename Value>
class ByteLru {
 public:
  explicit ByteLru(size_t capacity) : capacity_(capacity) {}
  ByteLru(const ByteLru&) = delete;
  ByteLru& operator=(const ByteLru&) = delete;

  void set_capacity(size_t bytes) {
    std::lock_guard<ForkSafeMutex> lock(mutex_);
    capacity_.store(bytes);
    evict_to(bytes);
  }
  size_t capacity() const { return capacity_.load(std::memory_order_relaxed); }
  bool enabled() const { return capacity() > 0; }
  size_t used() const {
    std::lock_guard<ForkSafeMutex> lock(mutex_);
    return used_;
  }
  size_t entries() const {
    std::lock_guard<ForkSafeMutex> lock(mutex_);
    return index_.size();
  }
  void clear() {
    std::lock_guard<ForkSafeMutex> lock(mutex_);
    evict_to(0);
  }
  LruStats stats() const {
    std::lock_guard<ForkSafeMutex> lock(mutex_);
    return stats_;
  }
  LruSnapshot snapshot() const {
    std::lock_guard<ForkSafeMutex> lock(mutex_);
    return LruSnapshot{capacity_.load(), used_, index_.size(), stats_};
  }

  // The value, now the most recently used; null on a miss.
  std::shared_ptr<const Value> get(const std::string& key) {
    std::lock_guard<ForkSafeMutex> lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      ++stats_.misses;
      return nullptr;
    }
    ++stats_.hits;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->value;
  }

  // The value without counting a hit or a miss or changing its recency; null when absent.
  std::shared_ptr<const Value> peek(const std::string& key) const {
    std::lock_guard<ForkSafeMutex> lock(mutex_);
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : it->second->value;
  }

  // No effect on recency or the counters.
  bool contains(const std::string& key) const {
    std::lock_guard<ForkSafeMutex> lock(mutex_);
    return index_.count(key) != 0;
  }

  // Keeps `value` unless it alone exceeds the budget; a key already present
  // keeps its value (another thread made the same one).
  void put(const std::string& key, std::shared_ptr<const Value> value, size_t cost) {
    std::lock_guard<ForkSafeMutex> lock(mutex_);
    const size_t limit = capacity_.load();
    if (cost > limit || index_.count(key)) return;
    order_.push_front(Entry{key, std::move(value), cost});
    index_.emplace(key, order_.begin());
    used_ += cost;
    evict_to(limit);
  }

  void erase(const std::string& key) {
    std::lock_guard<ForkSafeMutex> lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) return;
    used_ -= it->second->cost;
    order_.erase(it->second);
    index_.erase(it);
  }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const Value> value;
    size_t cost;
  };

  void evict_to(size_t limit) {
    while (used_ > limit && !order_.empty()) {
      used_ -= order_.back().cost;
      index_.erase(order_.back().key);
      order_.pop_back();
      ++stats_.evictions;
    }
  }

  mutable ForkSafeMutex mutex_{LockRank::kLru};
  std::atomic<size_t> capacity_;
  std::list<Entry> order_;  // front = most recently used
  std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
  size_t used_ = 0;
  LruStats stats_;
};

}  // namespace fastchunk
