#include "io/mapped_files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/vfs.h>
#endif

#include <algorithm>
#include <cstdlib>

#include "common/file_time.h"
#include "io/sigbus_guard.h"

namespace fastchunk {
namespace {

// Filesystems whose files may be mapped: local ones, where the page cache is
// coherent with every writer of the node. Anything else is read with pread.
[[maybe_unused]] bool local_filesystem(long type) {
  switch (static_cast<unsigned long>(type)) {
    case 0xEF53:      // ext2/3/4
    case 0x58465342:  // xfs
    case 0x9123683E:  // btrfs
    case 0x01021994:  // tmpfs
    case 0xF2F52010:  // f2fs
    case 0x2FC12FC1:  // zfs
    case 0x794C7630:  // overlayfs
    case 0xCA451A4E:  // bcachefs
      return true;
    default:
      return false;
  }
}

size_t default_budget() {
  if (const char* env = std::getenv("FASTCHUNK_MAP_BYTES")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 10);
    if (end != env) return size_t(v);
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const size_t memory = pages > 0 && page > 0 ? size_t(pages) * size_t(page) : size_t(16) << 30;
  return std::min(memory / 4, size_t(64) << 30);
}

// Made while the extension loads, never destroyed (worker threads may read
// through mappings while the process exits).
MappedFiles* const g_files = &MappedFiles::instance();

}  // namespace

MappedFile::MappedFile(const uint8_t* data, size_t size, int guard_slot, std::string version)
    : data_(data), size_(size), guard_slot_(guard_slot), version_(std::move(version)) {}

MappedFile::~MappedFile() {
  SigbusGuard::leave(guard_slot_);
  munmap(const_cast<uint8_t*>(data_), size_);
}

bool MappedFile::intact() const { return SigbusGuard::faults(guard_slot_) == 0; }

std::string MappedFiles::version_of(const struct stat& st) {
  return std::to_string(st.st_size) + ':' + std::to_string(mtime_ns(st)) + ':' +
         std::to_string(st.st_ino);
}

MappedFiles& MappedFiles::instance() {
  static MappedFiles* files = new MappedFiles;
  return *files;
}

MappedFiles::MappedFiles() : lru_(default_budget()) {}

void MappedFiles::set_budget(size_t bytes) { lru_.set_capacity(bytes); }

MappedFilesStats MappedFiles::stats() const {
  std::lock_guard<ForkSafeMutex> lock(mutex_);
  MappedFilesStats s = stats_;
  s.evictions = lru_.stats().evictions;
  return s;
}

bool MappedFiles::mappable_filesystem(int fd, dev_t dev) {
  {
    std::lock_guard<ForkSafeMutex> lock(mutex_);
    auto it = filesystems_.find(uint64_t(dev));
    if (it != filesystems_.end()) return it->second;
  }
#ifdef __linux__
  struct statfs fs;
  const bool ok = fstatfs(fd, &fs) == 0 && local_filesystem(long(fs.f_type));
#else
  const bool ok = false;  // elsewhere the filesystem is not told apart: pread only
#endif
  std::lock_guard<ForkSafeMutex> lock(mutex_);
  filesystems_[uint64_t(dev)] = ok;
  return ok;
}

int MappedFiles::resident(const std::string& path, uint64_t offset, uint64_t length) const {
  if (!lru_.enabled()) return -1;
  const auto m = lru_.peek(path);
  if (!m || offset >= m->size()) return -1;
  if (length == 0 || length > m->size() - offset) length = m->size() - offset;
  static const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096);
  const uintptr_t base = reinterpret_cast<uintptr_t>(m->data());
  for (const uint64_t at : {offset, offset + length - 1}) {
    unsigned char in_core = 0;
    void* p = reinterpret_cast<void*>((base + at) / page * page);
    if (mincore(p, 1, &in_core) != 0) return -1;
    if (!(in_core & 1)) return 0;
  }
  return 1;
}

std::shared_ptr<const MappedFile> MappedFiles::get(const std::string& path,
                                                   const struct stat& st) {
  const size_t budget = lru_.capacity();
  if (!budget || !S_ISREG(st.st_mode) || st.st_size <= 0) return nullptr;
  const std::string version = version_of(st);
  // Each mapping costs at least budget / kMaxMappings: at most kMaxMappings
  // of them fit, whatever their sizes.
  const size_t cost = std::max(size_t(st.st_size), budget / kMaxMappings);
  if (cost > budget) return nullptr;
  if (auto m = lru_.get(path)) {
    if (m->version() == version && m->intact()) {
      // Another handler may have taken SIGBUS since the mapping was made
      // (faulthandler, a DataLoader worker's): put the guard back in front.
      SigbusGuard::ensure_installed();
      std::lock_guard<ForkSafeMutex> lock(mutex_);
      ++stats_.hits;
      return m;
    }
    lru_.erase(path);  // an older version of the file, or one that shrank
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat now;
  std::shared_ptr<const MappedFile> made;
  if (fstat(fd, &now) == 0 && version_of(now) == version && now.st_dev == st.st_dev &&
      mappable_filesystem(fd, now.st_dev)) {
    void* p = mmap(nullptr, size_t(now.st_size), PROT_READ, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
      const int slot = SigbusGuard::enter(p, size_t(now.st_size));
      if (slot < 0) {
        munmap(p, size_t(now.st_size));
      } else {
        made = std::make_shared<MappedFile>(static_cast<const uint8_t*>(p), size_t(now.st_size),
                                            slot, version);
      }
    }
  }
  ::close(fd);
  {
    std::lock_guard<ForkSafeMutex> lock(mutex_);
    ++(made ? stats_.maps : stats_.refused);
  }
  if (made) lru_.put(path, made, cost);
  return made;
}

}  // namespace fastchunk
