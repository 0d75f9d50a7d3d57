#include "cache/process_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/buffer_pool.h"
#include "common/fork_safe_mutex.h"

namespace fastchunk {
namespace {

constexpr uint64_t kMagic = 0x66636873746174ULL;  // "fchstat"
const char kPrefix[] = "fastchunk-process-";
const char kSuffix[] = ".stats";

struct Level {
  std::atomic<uint64_t> capacity, used, entries, hits, misses, evictions;
};

struct Page {
  std::atomic<uint64_t> magic;
  uint64_t pid;
  uint64_t start_time;  // the process's start time (clock ticks since boot), against pid reuse
  Level levels[int(ProcessLevel::kCount)];
};
static_assert(sizeof(Page) <= 4096, "one page");

ForkSafeMutex* const g_mutex = new ForkSafeMutex;
std::string* const g_dir = new std::string;
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

std::string page_path(const std::string& dir, int64_t pid) {
  return dir + "/" + kPrefix + std::to_string(pid) + kSuffix;
}

// Maps this process's page; caller holds g_mutex.
void open_page() {
  if (g_page || g_dir->empty()) return;
  ::mkdir(g_dir->c_str(), 0700);
  const std::string path = page_path(*g_dir, getpid());
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  void* p = nullptr;
  if (::ftruncate(fd, 4096) == 0)
    p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (!p || p == MAP_FAILED) {
    ::unlink(path.c_str());
    return;
  }
  Page* page = static_cast<Page*>(p);
  page->pid = uint64_t(getpid());
  page->start_time = start_time_of(getpid());
  page->magic.store(kMagic, std::memory_order_release);
  g_page = page;
  g_live.store(page, std::memory_order_release);
}

// The page stays mapped (4 KiB, unlinked): a thread that loaded g_live just
// before never writes into unmapped memory.
void close_page(bool remove) {
  if (!g_page) return;
  g_live.store(nullptr);
  g_page = nullptr;
  if (remove) ::unlink(page_path(*g_dir, getpid()).c_str());
}

// A forked child must not write into its parent's page: it opens its own on
// its next update.
const bool g_atfork = [] {
  pthread_atfork(nullptr, nullptr, [] {
    g_live.store(nullptr);
    g_page = nullptr;  // the parent's mapping stays mapped in the child, unused
  });
  return true;
}();

const bool g_pool_listener = [] {
  set_buffer_pool_listener(&publish_buffer_pool);
  return true;
}();

}  // namespace

void publish_process_stats_in(const std::string& dir) {
  (void)g_atfork;
  (void)g_pool_listener;
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  if (dir == *g_dir && (g_page || dir.empty())) return;
  close_page(true);
  *g_dir = dir;
  g_publishing.store(!dir.empty());
  open_page();
}

void set_process_stats_dir(const std::string& dir) {
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  if (dir == *g_dir) return;
  close_page(true);
  *g_dir = dir;
  g_publishing.store(!dir.empty());
}

bool process_stats_published() { return g_publishing.load(std::memory_order_relaxed); }

void publish_level(ProcessLevel level, const LevelNumbers& n) {
  if (!process_stats_published()) return;
  Page* page = g_live.load(std::memory_order_acquire);
  if (!page) {
    std::lock_guard<ForkSafeMutex> lock(*g_mutex);
    if (g_dir->empty()) return;
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
  close_page(true);
  g_dir->clear();
  g_publishing.store(false);
}

std::vector<PublishedProcess> read_published_processes(const std::string& dir) {
  std::vector<PublishedProcess> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  const size_t np = std::strlen(kPrefix), ns = std::strlen(kSuffix);
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() <= np + ns || name.compare(0, np, kPrefix) != 0 ||
        name.compare(name.size() - ns, ns, kSuffix) != 0)
      continue;
    const std::string path = dir + "/" + name;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    void* p = nullptr;
    if (fstat(fd, &st) == 0 && st.st_size >= off_t(sizeof(Page)))
      p = mmap(nullptr, sizeof(Page), PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (!p || p == MAP_FAILED) continue;
    const Page* page = static_cast<const Page*>(p);
    PublishedProcess proc;
    proc.pid = int64_t(page->pid);
    const bool valid = page->magic.load(std::memory_order_acquire) == kMagic;
    if (!valid && ::time(nullptr) - st.st_mtime < 60) {  // a page being made right now
      munmap(p, sizeof(Page));
      continue;
    }
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
    }
    munmap(p, sizeof(Page));
    if (!alive) ::unlink(path.c_str());
  }
  ::closedir(d);
  return out;
}

}  // namespace fastchunk
