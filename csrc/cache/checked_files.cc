#include "cache/checked_files.h"

#include <pthread.h>

#include <mutex>
#include <unordered_set>

#include "cache/cache_files.h"

namespace fastchunk {
namespace {

struct FileIdentityHash {
  size_t operator()(const FileIdentity& f) const {
    using cache_files::mix64;
    return size_t(mix64(f.dev ^ mix64(f.ino ^ mix64(f.size ^ uint64_t(f.mtime_ns)))));
  }
};

constexpr size_t kMaxChecked = size_t(1) << 20;
std::mutex g_mutex;
auto* g_checked = new std::unordered_set<FileIdentity, FileIdentityHash>;

const bool g_atfork = [] {
  pthread_atfork([] { g_mutex.lock(); }, [] { g_mutex.unlock(); }, [] { g_mutex.unlock(); });
  return true;
}();

}  // namespace

bool already_checked(const FileIdentity& f) {
  (void)g_atfork;
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_checked->count(f) != 0;
}

void note_checked(const FileIdentity& f) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_checked->size() >= kMaxChecked) g_checked->clear();
  g_checked->insert(f);
}

}  // namespace fastchunk
