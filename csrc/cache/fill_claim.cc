#include "cache/fill_claim.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <unordered_set>
#include <utility>

#include "cache/cache_files.h"
#include "common/fork_safe_mutex.h"

namespace fastchunk {
namespace {

// The descriptors of this process's claims, so that a forked child closes
// its copies (the lock would otherwise stay held by the child after the
// parent let go). The lock also keeps a fork from landing between the
// opening of a claim and its listing.
std::unordered_set<int>* g_fds = new std::unordered_set<int>;

void close_claims_in_child() {
  for (int fd : *g_fds) ::close(fd);
  g_fds->clear();
}

ForkSafeMutex* const g_mutex = new ForkSafeMutex(LockRank::kFillClaims, close_claims_in_child);

constexpr int kOpenFlags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC;

}  // namespace

FillClaim::FillClaim(FillClaim&& o) noexcept { *this = std::move(o); }

FillClaim& FillClaim::operator=(FillClaim&& o) noexcept {
  if (this != &o) {
    release();
    fd_ = o.fd_;
    dir_fd_ = o.dir_fd_;
    name_ = std::move(o.name_);
    o.fd_ = -1;
    o.dir_fd_ = -1;
  }
  return *this;
}

void FillClaim::release() {
  if (fd_ < 0) return;
  // Unlinked first: a waiter never finds a released claim under the name.
  struct stat mine, named;
  if (::fstat(fd_, &mine) == 0 &&
      ::fstatat(dir_fd_, name_.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 &&
      mine.st_ino == named.st_ino)
    ::unlinkat(dir_fd_, name_.c_str(), 0);
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  g_fds->erase(fd_);
  g_fds->erase(dir_fd_);
  ::close(fd_);
  ::close(dir_fd_);
  fd_ = dir_fd_ = -1;
}

bool take_claim(int dir_fd, const std::string& name, FillClaim& claim) {
  claim.release();
  const std::string tmp = cache_files::temp_name();
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  const int fd =
      ::openat(dir_fd, tmp.c_str(), O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::unlinkat(dir_fd, tmp.c_str(), 0);
    ::close(fd);
    return false;
  }
  // The claim appears under its name already locked.
  const bool linked = ::linkat(dir_fd, tmp.c_str(), dir_fd, name.c_str(), 0) == 0;
  ::unlinkat(dir_fd, tmp.c_str(), 0);
  const int dir_copy = linked ? ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0) : -1;
  if (dir_copy < 0) {
    if (linked) ::unlinkat(dir_fd, name.c_str(), 0);
    ::close(fd);
    return false;
  }
  g_fds->insert(fd);
  g_fds->insert(dir_copy);
  claim.fd_ = fd;
  claim.dir_fd_ = dir_copy;
  claim.name_ = name;
  return true;
}

bool claim_held(int dir_fd, const std::string& name) {
  const int fd = ::openat(dir_fd, name.c_str(), kOpenFlags);
  if (fd < 0) return false;
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);  // releases the probe's lock, if it got it
  return !free;
}

bool claim_released(int fd, int dir_fd, const std::string& name) {
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) return false;
  struct stat mine, named;
  if (::fstat(fd, &mine) == 0 &&
      ::fstatat(dir_fd, name.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 &&
      mine.st_ino == named.st_ino)
    ::unlinkat(dir_fd, name.c_str(), 0);  // still under its name: its holder died without filling it
  ::flock(fd, LOCK_UN);
  return true;
}

void remove_stale_claims(int dir_fd) {
  const int list_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (list_fd < 0) return;
  DIR* d = ::fdopendir(list_fd);
  if (!d) {
    ::close(list_fd);
    return;
  }
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  while (dirent* e = ::readdir(d)) {
    const long pid = cache_files::temp_pid(e->d_name);
    if (e->d_name[0] == '.' && pid < 0) continue;
    if (e->d_name[0] == '.') {
      if (pid != ::getpid() && !cache_files::pid_alive(pid)) ::unlinkat(dir_fd, e->d_name, 0);
      continue;
    }
    struct stat st;
    if (::fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(st.st_mode)) {
      ::unlinkat(dir_fd, e->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);  // not a claim
      continue;
    }
    const int fd = ::openat(dir_fd, e->d_name, kOpenFlags);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) ::unlinkat(dir_fd, e->d_name, 0);  // holder gone
    ::close(fd);
  }
  ::closedir(d);
}

}  // namespace fastchunk
