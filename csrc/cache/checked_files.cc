#include "cache/checked_files.h"

#include <mutex>
#include <unordered_set>

#include "cache/cache_files.h"
#include "common/fork_safe_mutex.h"

namespace fastchunk {
namespace {

struct FileIdentityHash {
  size_t operator()(const FileIdentity& f) const {
    using cache_files::mix64;
    return size_t(mix64(f.dev ^ mix64(f.ino ^ mix64(f.size ^ uint64_t(f.mtime_ns)))));
  }
};

constexpr size_t kMaxChecked = size_t(1) << 20;
ForkSafeMutex* const g_mutex = new ForkSafeMutex(LockRank::kCheckedFiles);
auto* g_checked = new std::unordered_set<FileIdentity, FileIdentityHash>;

}  // namespace

bool already_checked(const FileIdentity& f) {
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  return g_checked->count(f) != 0;
}

void note_checked(const FileIdentity& f) {
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  if (g_checked->size() >= kMaxChecked) g_checked->clear();
  g_checked->insert(f);
}

}  // namespace fastchunk
