#include "cache/file_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "common/buffer_pool.h"
#include "cache/cache_files.h"
#include "cache/checked_files.h"
#include "common/error.h"
#include "common/fork_safe_mutex.h"
#include "io/sigbus_guard.h"
#include "common/file_time.h"

namespace fastchunk {

using cache_files::align64;
using cache_files::checksum;
using cache_files::EntryHeader;
using cache_files::errno_text;
using cache_files::header_check;
using cache_files::kEntryMagic;
using cache_files::name_of;
using cache_files::our_private_file;
using cache_files::pid_alive;
using cache_files::read_all;
using cache_files::temp_name;
using cache_files::temp_pid;
using cache_files::write_all;

struct FileCache::Control {
  char magic[8];
  uint64_t layout;
  uint64_t control_inode;  // set by the creator; tells a replaced cache from this one
  std::atomic<uint64_t> budget, used, entries;
  std::atomic<uint64_t> hits, misses, inserts, evictions, waits, dropped;
  std::atomic<int64_t> dirty;  // pid of a process inside an accounting section, else 0
};

namespace {

constexpr char kControlMagic[8] = {'F', 'C', 'C', 'A', 'C', 'H', 'E', '1'};
constexpr size_t kControlBytes = 4096;
// A temporary file older than this is left over whatever its pid says (pid reuse).
constexpr time_t kStaleTempSeconds = 3600;
// How long a lookup waits for another process's claim on the same key.
constexpr auto kClaimWait = std::chrono::seconds(10);
// Hits refresh an entry's access time (its LRU position) at most this often.
// The modification time is left alone: it tells a file written over (by
// anyone) from the one this process has checked.
constexpr time_t kTouchSeconds = 1;

static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared counters need lock-free atomics");
static_assert(sizeof(FileCache::Control) <= kControlBytes, "control block too large");

// Accounting sections of this process run one at a time under this lock
// (the flock orders them between processes); a child never inherits a
// section half done.
ForkSafeMutex* const g_section_mutex = new ForkSafeMutex(LockRank::kFileCacheSection);

}  // namespace

// ---------------------------------------------------------------- CachedFile
CachedFile::CachedFile(CachedFile&& o) noexcept { *this = std::move(o); }

CachedFile& CachedFile::operator=(CachedFile&& o) noexcept {
  if (this != &o) {
    reset();
    found_ = o.found_;
    fd_ = o.fd_;
    offset_ = o.offset_;
    map_ = o.map_;
    map_size_ = o.map_size_;
    guard_slot_ = o.guard_slot_;
    owned_ = o.owned_;
    owned_capacity_ = o.owned_capacity_;
    data_ = o.data_;
    size_ = o.size_;
    tag_ = std::move(o.tag_);
    o.found_ = false;
    o.fd_ = -1;
    o.map_ = nullptr;
    o.guard_slot_ = -1;
    o.owned_ = nullptr;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

CachedFile::~CachedFile() { reset(); }

void CachedFile::reset() {
  if (map_) {
    SigbusGuard::leave(guard_slot_);
    ::munmap(map_, map_size_);
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  map_ = nullptr;
  guard_slot_ = -1;
  if (owned_) give_buffer(owned_, owned_capacity_);
  owned_ = nullptr;
  data_ = nullptr;
  size_ = 0;
  found_ = false;
}

const uint8_t* CachedFile::data() {
  if (data_ || !found_) return data_;
  const size_t total = size_t(offset_) + size_;
  const size_t length = total ? total : 1;
  void* p = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) return nullptr;
  // A file cut short under the mapping faults into zero pages, not a SIGBUS.
  const int slot = SigbusGuard::enter(p, length);
  if (slot < 0) {
    ::munmap(p, length);
    return nullptr;
  }
  map_ = p;
  map_size_ = length;
  guard_slot_ = slot;
  data_ = static_cast<const uint8_t*>(p) + offset_;
  return data_;
}

bool CachedFile::intact() const { return !map_ || SigbusGuard::faults(guard_slot_) == 0; }

bool CachedFile::read(uint64_t offset, uint8_t* dst, size_t n) {
  if (!found_ || offset > size_ || n > size_ - offset)
    throw Error(ErrorKind::kInternal, "read outside a cache entry");
  if (owned_) {
    std::memcpy(dst, owned_ + offset, n);
    return true;
  }
  if (fd_ < 0) return false;
  return read_all(fd_, dst, n, offset_ + offset);
}

bool CachedFile::load() {
  if (!found_) return false;
  if (owned_) return true;
  size_t capacity = 0;
  uint8_t* bytes = take_buffer(size_, capacity);
  if (!bytes) throw std::bad_alloc();
  if (fd_ < 0 || !read_all(fd_, bytes, size_, offset_)) {
    give_buffer(bytes, capacity);
    return false;
  }
  if (map_) {  // the bytes now live in memory of their own
    SigbusGuard::leave(guard_slot_);
    ::munmap(map_, map_size_);
    map_ = nullptr;
    guard_slot_ = -1;
  }
  owned_ = bytes;
  owned_capacity_ = capacity;
  data_ = owned_;
  return true;
}

// ---------------------------------------------------------------- Section
// One accounting update: this process's lock, then the cache's flock.
class FileCache::Section {
 public:
  explicit Section(FileCache& cache) : cache_(cache), lock_(*g_section_mutex) {
    // Opened anew each time: a flock belongs to an open file, which a forked
    // child would share with its parent.
    fd_ = ::openat(cache.dir_fd_, "control", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd_ < 0) return;  // the cache was removed: nothing to account
    struct stat st;
    if (::fstat(fd_, &st) != 0 || uint64_t(st.st_ino) != cache.control_->control_inode) {
      ::close(fd_);  // removed and created anew: this process's mapping is stale
      fd_ = -1;
      return;
    }
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd_);
        fd_ = -1;
        return;
      }
    }
    Control& c = *cache.control_;
    if (c.dirty.load() != 0) {
      // The last holder died inside its update: the numbers may be off.
      c.dirty.store(::getpid());
      recount(0);
    }
    c.dirty.store(::getpid());
  }
  ~Section() {
    if (fd_ < 0) return;
    cache_.control_->dirty.store(0);
    ::close(fd_);  // releases the flock
  }
  bool ok() const { return fd_ >= 0; }

  // Counts the directory (removing temporary files of dead processes, stale
  // claims, and anything that is not an entry of this user) and, to make
  // room for `incoming` bytes, evicts the least recently used entries. Sets
  // used and entries from what it found.
  void recount(uint64_t incoming, bool evict_all = false) {
    Control& c = *cache_.control_;
    struct Item {
      int64_t used_ns;
      uint64_t size;
      std::string name;
    };
    std::vector<Item> items;
    uint64_t used = 0;
    const int dir = cache_.entries_fd_;
    const time_t now = ::time(nullptr);
    const int list_fd = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (DIR* d = list_fd >= 0 ? ::fdopendir(list_fd) : nullptr) {
      while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && !e->d_name[2])))
          continue;
        struct stat st;
        if (::fstatat(dir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!our_private_file(st)) {  // never written by this cache: not kept
          if (::unlinkat(dir, e->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == 0)
            c.dropped.fetch_add(1);
          continue;
        }
        const long pid = temp_pid(e->d_name);
        if (e->d_name[0] == '.') {
          if (pid != ::getpid() && (!pid_alive(pid) || now - st.st_mtime > kStaleTempSeconds)) {
            ::unlinkat(dir, e->d_name, 0);
          } else {
            used += uint64_t(st.st_size);  // being written: its reservation stands
          }
          continue;
        }
        items.push_back({atime_ns(st), uint64_t(st.st_size), e->d_name});
        used += uint64_t(st.st_size);
      }
      ::closedir(d);
    } else if (list_fd >= 0) {
      ::close(list_fd);
    }
    const uint64_t budget = c.budget.load();
    const uint64_t low = budget - budget / 16;  // evict a little more: fewer scans
    const uint64_t goal = evict_all ? 0 : (incoming <= low ? low : budget);
    uint64_t evicted = 0;
    if (used + incoming > goal) {
      std::sort(items.begin(), items.end(),
                [](const Item& a, const Item& b) { return a.used_ns < b.used_ns; });
      size_t i = 0;
      for (; i < items.size() && used + incoming > goal; ++i) {
        if (::unlinkat(dir, items[i].name.c_str(), 0) == 0 || errno == ENOENT) {
          used -= items[i].size;
          ++evicted;
        }
      }
      items.erase(items.begin(), items.begin() + long(i));
    }
    if (!evict_all) c.evictions.fetch_add(evicted);
    c.used.store(used);
    c.entries.store(items.size());
    remove_stale_claims(cache_.claims_fd_);
  }

 private:
  FileCache& cache_;
  std::lock_guard<ForkSafeMutex> lock_;
  int fd_ = -1;
};

// ---------------------------------------------------------------- FileCache
FileCache::FileCache(std::string dir, int dir_fd, int entries_fd, int claims_fd,
                     Control* control, Options options)
    : dir_(std::move(dir)),
      dir_fd_(dir_fd),
      entries_fd_(entries_fd),
      claims_fd_(claims_fd),
      control_(control),
      options_(options) {}

FileCache::~FileCache() {
  ::munmap(control_, kControlBytes);
  ::close(claims_fd_);
  ::close(entries_fd_);
  ::close(dir_fd_);
}

namespace {

// The control file of the cache in `dir_fd` mapped, or nullptr when there is
// none. Throws when it is not one of ours.
FileCache::Control* map_control(int dir_fd, const std::string& shown_as) {
  const int fd = ::openat(dir_fd, "control", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return nullptr;
    throw Error(ErrorKind::kIO, "cannot open " + shown_as + ": " + errno_text());
  }
  struct stat st;
  void* p = MAP_FAILED;
  if (::fstat(fd, &st) == 0 && our_private_file(st) && st.st_size == off_t(kControlBytes))
    p = ::mmap(nullptr, kControlBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) throw Error(ErrorKind::kIO, shown_as + " is not a fastchunk cache control file of this user");
  auto* c = static_cast<FileCache::Control*>(p);
  if (std::memcmp(c->magic, kControlMagic, sizeof kControlMagic) != 0 || c->layout != 1 ||
      c->control_inode != uint64_t(st.st_ino)) {
    ::munmap(p, kControlBytes);
    throw Error(ErrorKind::kIO, shown_as + " is not a fastchunk cache control file");
  }
  return c;
}

// Writes a complete control file under a temporary name, then links it into
// place: concurrent creators agree on one, and no one maps a half-made one.
void create_control(int dir_fd, const std::string& dir) {
  const std::string tmp = temp_name();
  const int fd =
      ::openat(dir_fd, tmp.c_str(), O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) throw Error(ErrorKind::kIO, "cannot create " + dir + "/" + tmp + ": " + errno_text());
  struct stat st;
  bool ok = ::ftruncate(fd, kControlBytes) == 0 && ::fstat(fd, &st) == 0;
  void* p = ok ? ::mmap(nullptr, kControlBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
               : MAP_FAILED;
  ::close(fd);
  if (p == MAP_FAILED) {
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    throw Error(ErrorKind::kIO, "cannot create " + dir + "/" + tmp + ": " + errno_text());
  }
  auto* c = new (p) FileCache::Control();
  std::memcpy(c->magic, kControlMagic, sizeof kControlMagic);
  c->layout = 1;
  c->control_inode = uint64_t(st.st_ino);
  ::munmap(p, kControlBytes);
  if (::linkat(dir_fd, tmp.c_str(), dir_fd, "control", 0) != 0 && errno != EEXIST) {
    const std::string why = errno_text();
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    throw Error(ErrorKind::kIO, "cannot create " + dir + "/control: " + why);
  }
  ::unlinkat(dir_fd, tmp.c_str(), 0);
}

// Closes the descriptors it holds unless released.
struct Fds {
  int fd[3] = {-1, -1, -1};
  ~Fds() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
};

}  // namespace

std::shared_ptr<FileCache> FileCache::open(const std::string& dir, uint64_t budget,
                                           Options options) {
  Fds fds;
  fds.fd[0] = cache_files::open_trusted_dir(dir, true, true);
  fds.fd[1] = cache_files::open_private_subdir(fds.fd[0], "entries", dir + "/entries");
  fds.fd[2] = cache_files::open_private_subdir(fds.fd[0], "claims", dir + "/claims");
  Control* c = map_control(fds.fd[0], dir + "/control");
  if (!c) {
    create_control(fds.fd[0], dir);
    c = map_control(fds.fd[0], dir + "/control");
    if (!c) throw Error(ErrorKind::kIO, "cannot open " + dir + "/control: " + errno_text());
  }
  std::shared_ptr<FileCache> cache(new FileCache(dir, fds.fd[0], fds.fd[1], fds.fd[2], c, options));
  fds.fd[0] = fds.fd[1] = fds.fd[2] = -1;
  if (budget > 0) cache->set_budget(budget);
  return cache;
}

std::shared_ptr<FileCache> FileCache::open_existing(const std::string& dir, Options options) {
  Fds fds;
  fds.fd[0] = cache_files::open_trusted_dir(dir, false, true);
  if (fds.fd[0] < 0) return nullptr;
  Control* c = map_control(fds.fd[0], dir + "/control");
  if (!c) return nullptr;
  try {
    fds.fd[1] = cache_files::open_private_subdir(fds.fd[0], "entries", dir + "/entries");
    fds.fd[2] = cache_files::open_private_subdir(fds.fd[0], "claims", dir + "/claims");
  } catch (...) {
    ::munmap(c, kControlBytes);
    throw;
  }
  std::shared_ptr<FileCache> cache(new FileCache(dir, fds.fd[0], fds.fd[1], fds.fd[2], c, options));
  fds.fd[0] = fds.fd[1] = fds.fd[2] = -1;
  return cache;
}

void FileCache::drop_damaged(const std::string& name, uint64_t inode) {
  Section s(*this);
  if (!s.ok()) return;
  struct stat st;
  if (::fstatat(entries_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      uint64_t(st.st_ino) != inode)
    return;
  if (::unlinkat(entries_fd_, name.c_str(), 0) != 0) return;
  control_->dropped.fetch_add(1);
  s.recount(0);  // its size may have changed since it was counted: count again (rare)
}

void FileCache::drop(const std::string& key) {
  const std::string name = name_of(key);
  struct stat st;
  if (::fstatat(entries_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  drop_damaged(name, uint64_t(st.st_ino));
}

CachedFile FileCache::read_entry(const std::string& name, const std::string& key,
                                 size_t expected_size) {
  CachedFile out;
  const int fd = ::openat(entries_fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return out;
  out.fd_ = fd;  // closed with `out`
  struct stat st;
  if (::fstat(fd, &st) != 0) return out;
  if (!our_private_file(st)) {  // not written by this cache: never trusted
    out.reset();
    drop_damaged(name, uint64_t(st.st_ino));
    return out;
  }
  const uint64_t file_size = uint64_t(st.st_size);
  EntryHeader h;
  const bool header_ok =
      file_size >= sizeof h && read_all(fd, &h, sizeof h, 0) &&
      std::memcmp(h.magic, kEntryMagic, sizeof h.magic) == 0 && h.check == header_check(h) &&
      h.key_size <= file_size && h.tag_size <= file_size && h.data_offset <= file_size &&
      h.data_offset >= sizeof h + h.key_size + h.tag_size && h.data_size == file_size - h.data_offset;
  if (!header_ok) {  // truncated, extended or overwritten
    out.reset();
    drop_damaged(name, uint64_t(st.st_ino));
    return out;
  }
  std::string stored(h.key_size, '\0');
  if (!read_all(fd, &stored[0], h.key_size, sizeof h) || stored != key) return out;  // a collision
  if (expected_size != kAnySize && h.data_size != expected_size) return out;
  std::string tag(h.tag_size, '\0');
  if (h.tag_size && !read_all(fd, &tag[0], h.tag_size, sizeof h + h.key_size)) return out;
  out.offset_ = h.data_offset;
  out.size_ = h.data_size;
  const FileIdentity identity{uint64_t(st.st_dev), uint64_t(st.st_ino), file_size, mtime_ns(st)};
  const bool check = h.has_crc && options_.checksum && !already_checked(identity);
  if (!options_.map || check) {
    out.owned_ = take_buffer(h.data_size, out.owned_capacity_);
    if (!out.owned_ || !read_all(fd, out.owned_, h.data_size, h.data_offset)) {
      out.reset();
      return out;
    }
    out.data_ = out.owned_;
  }
  if (check) {
    if (checksum(out.data_, out.size_) != h.data_crc) {
      out.reset();
      drop_damaged(name, uint64_t(st.st_ino));
      return out;
    }
    note_checked(identity);
  }
  out.tag_ = std::move(tag);
  out.found_ = true;
  if (::time(nullptr) - st.st_atime >= kTouchSeconds) {  // LRU order
    const struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    ::futimens(fd, times);
  }
  if (!options_.map) {  // all read: the descriptor is not needed
    ::close(out.fd_);
    out.fd_ = -1;
  }
  return out;
}

CachedFile FileCache::find(const std::string& key, size_t expected_size) {
  CachedFile e = read_entry(name_of(key), key, expected_size);
  (e ? control_->hits : control_->misses).fetch_add(1, std::memory_order_relaxed);
  return e;
}

// Waits while another process holds the claim on `key`. true with `out` set
// when its entry appeared; false when the claim went away without one (try
// again) or the wait timed out (`out` stays empty either way).
bool FileCache::wait_for_claim(const std::string& name, const std::string& key,
                               size_t expected_size, CachedFile& out) {
  const int fd = ::openat(claims_fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + kClaimWait;
  auto pause = std::chrono::microseconds(50);
  for (;;) {
    out = read_entry(name, key, expected_size);
    if (out) break;
    if (claim_released(fd, claims_fd_, name)) {
      out = read_entry(name, key, expected_size);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(2000));
  }
  ::close(fd);
  return bool(out);
}

CachedFile FileCache::find_or_claim(const std::string& key, size_t expected_size,
                                    FillClaim& claim, bool* busy) {
  const std::string name = name_of(key);
  for (int attempt = 0; attempt < 4; ++attempt) {
    CachedFile e = read_entry(name, key, expected_size);
    if (e) {
      control_->hits.fetch_add(1, std::memory_order_relaxed);
      return e;
    }
    if (take_claim(claims_fd_, name, claim)) {
      e = read_entry(name, key, expected_size);  // filled just before we claimed
      if (e) {
        claim.release();
        control_->hits.fetch_add(1, std::memory_order_relaxed);
        return e;
      }
      control_->misses.fetch_add(1, std::memory_order_relaxed);
      return e;
    }
    if (busy && claim_held(claims_fd_, name)) {
      *busy = true;
      return e;
    }
    const auto started = std::chrono::steady_clock::now();
    if (wait_for_claim(name, key, expected_size, e)) {
      control_->hits.fetch_add(1, std::memory_order_relaxed);
      control_->waits.fetch_add(1, std::memory_order_relaxed);
      return e;
    }
    if (std::chrono::steady_clock::now() - started >= kClaimWait) break;  // holder too slow
  }
  control_->misses.fetch_add(1, std::memory_order_relaxed);
  return CachedFile();
}

bool FileCache::insert(const std::string& key, const uint8_t* data, size_t size,
                       const std::string& tag) {
  return store(key, data, size, tag, false);
}

bool FileCache::replace(const std::string& key, const uint8_t* data, size_t size,
                        const std::string& tag) {
  return store(key, data, size, tag, true);
}

bool FileCache::store(const std::string& key, const uint8_t* data, size_t size,
                      const std::string& tag, bool overwrite) {
  EntryHeader h{};
  std::memcpy(h.magic, kEntryMagic, sizeof h.magic);
  h.key_size = key.size();
  h.tag_size = tag.size();
  h.data_size = size;
  h.data_offset = align64(sizeof h + key.size() + tag.size());
  if (options_.checksum) {
    h.data_crc = checksum(data, size);
    h.has_crc = 1;
  }
  h.check = header_check(h);
  const uint64_t total = h.data_offset + size;
  if (total > control_->budget.load()) return false;
  const std::string name = name_of(key);
  const std::string tmp = temp_name();
  const int dir = entries_fd_;
  int fd = -1;
  {
    // Reserve the bytes before writing them: the budget holds while files grow.
    Section s(*this);
    if (!s.ok()) return false;
    struct stat st;
    if (!overwrite && ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return false;
    if (control_->used.load() + total > control_->budget.load()) s.recount(total);
    if (control_->used.load() + total > control_->budget.load()) return false;
    fd = ::openat(dir, tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    if (::ftruncate(fd, off_t(total)) != 0) {
      ::unlinkat(dir, tmp.c_str(), 0);
      ::close(fd);
      return false;
    }
    control_->used.fetch_add(total);
  }
  bool written = write_all(fd, &h, sizeof h, 0) && write_all(fd, key.data(), key.size(), sizeof h) &&
                 write_all(fd, tag.data(), tag.size(), sizeof h + key.size()) &&
                 write_all(fd, data, size, h.data_offset);
  ::close(fd);
  Section s(*this);
  auto release = [&] {
    ::unlinkat(dir, tmp.c_str(), 0);
    if (s.ok()) control_->used.fetch_sub(std::min<uint64_t>(total, control_->used.load()));
    return false;
  };
  if (!written || !s.ok()) return release();
  struct stat st;
  const bool exists = ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && !overwrite) return release();  // another process stored it meanwhile
  if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) return release();
  if (exists) {
    control_->used.fetch_sub(std::min<uint64_t>(uint64_t(st.st_size), control_->used.load()));
  } else {
    control_->entries.fetch_add(1);
  }
  control_->inserts.fetch_add(1);
  return true;
}

void FileCache::remove(const std::string& key) {
  const std::string name = name_of(key);
  Section s(*this);
  if (!s.ok()) return;
  struct stat st;
  if (::fstatat(entries_fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      ::unlinkat(entries_fd_, name.c_str(), 0) != 0)
    return;
  control_->used.fetch_sub(std::min<uint64_t>(uint64_t(st.st_size), control_->used.load()));
  if (control_->entries.load() > 0) control_->entries.fetch_sub(1);
}

void FileCache::set_budget(uint64_t bytes) {
  control_->budget.store(bytes);
  if (control_->used.load() > bytes) {
    Section s(*this);
    if (s.ok()) s.recount(0);
  }
}

void FileCache::clear() {
  Section s(*this);
  if (!s.ok()) return;
  s.recount(0, true);
  for (auto* counter : {&control_->hits, &control_->misses, &control_->inserts,
                        &control_->evictions, &control_->waits, &control_->dropped})
    counter->store(0);
}

uint64_t FileCache::recount() {
  Section s(*this);
  if (s.ok()) s.recount(0);
  return control_->used.load();
}

FileCacheStats FileCache::stats() const {
  const Control& c = *control_;
  FileCacheStats st;
  st.budget = c.budget.load();
  st.used = c.used.load();
  st.entries = c.entries.load();
  st.hits = c.hits.load();
  st.misses = c.misses.load();
  st.inserts = c.inserts.load();
  st.evictions = c.evictions.load();
  st.waits = c.waits.load();
  st.dropped = c.dropped.load();
  return st;
}

}  // namespace fastchunk
