#include "cache/process_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>

#include "cache/cache_files.h"
#include "common/buffer_pool.h"
#include "common/error.h"
#include "common/fork_safe_mutex.h"

namespace fastchunk {
namespace {

constexpr uint64_t kMagic = 0x66636873746174ULL;  // "fchstat"
const char kPrefix[] = "fastchunk-process-";
const char kSuffix[] = ".stats";
constexpr size_t kPageBytes = 4096;

struct Level {
  std::atomic<uint64_t> capacity, used, entries, hits, misses, evictions;
};

struct Page {
  std::atomic<uint64_t> magic;
  uint64_t pid;
  uint64_t start_time;  // the process's start time (clock ticks since boot), against pid reuse
  Level levels[int(ProcessLevel::kCount)];
};
static_assert(sizeof(Page) <= kPageBytes, "one page");

std::string* const g_dir = new std::string;  // the directory named; "" when not publishing
int g_dir_fd = -1;             // it, opened once it was checked
bool g_dir_refused = false;    // it was not safe: no page (until another is named)
std::string* const g_name = new std::string;  // this process's page in it
Page* g_page = nullptr;  // guarded by g_mutex for changes; read without it
std::atomic<Page*> g_live{nullptr};
std::atomic<bool> g_publishing{false};

// Field 22 of /proc/PID/stat; 0 where unknown (then only the pid is checked).
uint64_t start_time_of(int64_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');  // the command may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  return 0;
}

// The pid a page's name gives: fastchunk-process-PID.RANDOM.stats; -1 when
// the name is not one.
int64_t pid_in_name(const std::string& name) {
  const size_t np = sizeof kPrefix - 1, ns = sizeof kSuffix - 1;
  if (name.size() <= np + ns || name.compare(0, np, kPrefix) != 0 ||
      name.compare(name.size() - ns, ns, kSuffix) != 0)
    return -1;
  char* end = nullptr;
  const long long pid = std::strtoll(name.c_str() + np, &end, 10);
  return end && *end == '.' && pid > 0 ? int64_t(pid) : -1;
}

// A name no other user can guess (they could otherwise plant a file or a
// link under it first).
std::string page_name() {
  std::random_device random;
  char tail[24];
  std::snprintf(tail, sizeof tail, ".%08x%08x", unsigned(random()), unsigned(random()));
  return kPrefix + std::to_string(getpid()) + tail + kSuffix;
}

// Opens the named directory once it is checked; caller holds g_mutex.
// Throws (an I/O Error) when another user could change it.
void open_dir() {
  if (g_dir_fd >= 0 || g_dir->empty() || g_dir_refused) return;
  try {
    g_dir_fd = cache_files::open_trusted_dir(*g_dir, true, false);
  } catch (...) {
    g_dir_refused = true;
    throw;
  }
}

// Maps this process's page, a file it makes itself (O_EXCL, never through a
// link) under a name no one can guess; caller holds g_mutex.
void open_page() {
  if (g_page || g_dir_fd < 0) return;
  int fd = -1;
  std::string name;
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    name = page_name();
    fd = ::openat(g_dir_fd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0644);
    if (fd < 0 && errno != EEXIST) return;
  }
  if (fd < 0) return;
  void* p = MAP_FAILED;
  if (::ftruncate(fd, kPageBytes) == 0)
    p = ::mmap(nullptr, kPageBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) {
    ::unlinkat(g_dir_fd, name.c_str(), 0);
    return;
  }
  // The file is this process's alone: only it (or root) can cut it short
  // under the mapping.
  Page* page = static_cast<Page*>(p);
  page->pid = uint64_t(getpid());
  page->start_time = start_time_of(getpid());
  page->magic.store(kMagic, std::memory_order_release);
  *g_name = name;
  g_page = page;
  g_live.store(page, std::memory_order_release);
}

// The page stays mapped (4 KiB, unlinked): a thread that loaded g_live just
// before never writes into unmapped memory.
void close_page(bool remove) {
  if (!g_page) return;
  g_live.store(nullptr);
  g_page = nullptr;
  if (remove && g_dir_fd >= 0) ::unlinkat(g_dir_fd, g_name->c_str(), 0);
  g_name->clear();
}

// Closes the page and forgets the directory; caller holds g_mutex.
void forget_dir() {
  close_page(true);
  if (g_dir_fd >= 0) ::close(g_dir_fd);
  g_dir_fd = -1;
  g_dir_refused = false;
  g_dir->clear();
  g_publishing.store(false);
}

// A forked child must not write into its parent's page: it opens its own on
// its next update.
void forget_page_in_child() {
  g_live.store(nullptr);
  g_page = nullptr;  // the parent's mapping stays mapped in the child, unused
  g_name->clear();
}

// Taken inside an LRU's lock (a value dropped there gives its buffer back to
// the pool, whose listener publishes): ranked after kLru.
ForkSafeMutex* const g_mutex = new ForkSafeMutex(LockRank::kProcessStats, forget_page_in_child);

const bool g_pool_listener = [] {
  set_buffer_pool_listener(&publish_buffer_pool);
  return true;
}();

}  // namespace

void publish_process_stats_in(const std::string& dir) {
  (void)g_pool_listener;
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  if (dir == *g_dir && (g_page || dir.empty())) return;
  if (dir != *g_dir) forget_dir();
  if (dir.empty()) return;
  *g_dir = dir;
  g_publishing.store(true);
  g_dir_refused = false;
  // A directory no other user can change (a sticky one such as /dev/shm is fine).
  open_dir();
  open_page();
}

void set_process_stats_dir(const std::string& dir) {
  (void)g_pool_listener;
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  if (dir == *g_dir) return;
  forget_dir();
  *g_dir = dir;
  g_publishing.store(!dir.empty());
}

bool process_stats_published() { return g_publishing.load(std::memory_order_relaxed); }

void publish_level(ProcessLevel level, const LevelNumbers& n) {
  if (!process_stats_published()) return;
  Page* page = g_live.load(std::memory_order_acquire);
  if (!page) {
    std::lock_guard<ForkSafeMutex> lock(*g_mutex);
    if (g_dir->empty() || g_dir_refused) return;
    try {
      open_dir();
    } catch (...) {
      return;  // no page in a directory another user could change
    }
    open_page();
    page = g_page;
    if (!page) return;
  }
  Level& l = page->levels[int(level)];
  const auto set = [](std::atomic<uint64_t>& a, uint64_t v) { a.store(v, std::memory_order_relaxed); };
  set(l.capacity, n.capacity);
  set(l.used, n.used);
  set(l.entries, n.entries);
  set(l.hits, n.hits);
  set(l.misses, n.misses);
  set(l.evictions, n.evictions);
}

void publish_buffer_pool() {
  if (!process_stats_published()) return;
  const BufferPoolStats s = buffer_pool_stats();
  if (!g_live.load(std::memory_order_acquire) && s.kept_bytes < kPoolPageBytes) return;
  publish_level(ProcessLevel::kBufferPool,
                LevelNumbers{s.budget, s.kept_bytes, s.kept_buffers, s.reused, s.made, s.released});
}

void unpublish_process_stats() {
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  forget_dir();
}

std::vector<PublishedProcess> read_published_processes(const std::string& dir) {
  std::vector<PublishedProcess> out;
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return out;
  const int list_fd = ::dup(dir_fd);
  DIR* d = list_fd >= 0 ? ::fdopendir(list_fd) : nullptr;
  if (!d) {
    if (list_fd >= 0) ::close(list_fd);
    ::close(dir_fd);
    return out;
  }
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const int64_t named_pid = pid_in_name(name);
    if (named_pid < 0) continue;
    // Pages are read, never mapped (a page cut short would raise SIGBUS),
    // and opened without blocking (a FIFO planted under the name).
    const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    alignas(Page) unsigned char raw[sizeof(Page)];
    const bool read = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                      cache_files::read_all(fd, raw, sizeof raw, 0);
    ::close(fd);
    if (!read) continue;
    const Page* page = reinterpret_cast<const Page*>(raw);
    PublishedProcess proc;
    proc.pid = int64_t(page->pid);
    const bool valid = page->magic.load(std::memory_order_relaxed) == kMagic && proc.pid == named_pid;
    if (!valid && ::time(nullptr) - st.st_mtime < 60) continue;  // a page being made right now
    const bool alive = valid && (::kill(pid_t(proc.pid), 0) == 0 || errno == EPERM) &&
                       (page->start_time == 0 || start_time_of(proc.pid) == page->start_time);
    if (alive) {
      for (int i = 0; i < int(ProcessLevel::kCount); ++i) {
        const Level& l = page->levels[i];
        LevelNumbers& n = proc.levels[i];
        n.capacity = l.capacity.load(std::memory_order_relaxed);
        n.used = l.used.load(std::memory_order_relaxed);
        n.entries = l.entries.load(std::memory_order_relaxed);
        n.hits = l.hits.load(std::memory_order_relaxed);
        n.misses = l.misses.load(std::memory_order_relaxed);
        n.evictions = l.evictions.load(std::memory_order_relaxed);
      }
      out.push_back(proc);
    } else if (st.st_uid == ::geteuid() || ::geteuid() == 0) {
      ::unlinkat(dir_fd, name.c_str(), 0);  // left by a process that is gone
    }
  }
  ::closedir(d);
  ::close(dir_fd);
  return out;
}

}  // namespace fastchunk
