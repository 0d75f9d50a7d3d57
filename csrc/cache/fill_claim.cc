#include "cache/fill_claim.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <unordered_set>
#include <utility>

#include "cache/cache_files.h"

namespace fastchunk {
namespace {

// The claim descriptors this process holds, so that a forked child closes
// its copies (the lock would otherwise stay held by the child after the
// parent let go). The mutex also keeps a fork from landing between the
// opening of a claim and its listing.
std::mutex g_mutex;
std::unordered_set<int>* g_fds = new std::unordered_set<int>;

const bool g_atfork = [] {
  pthread_atfork([] { g_mutex.lock(); }, [] { g_mutex.unlock(); },
                 [] {
                   for (int fd : *g_fds) ::close(fd);
                   g_fds->clear();
                   g_mutex.unlock();
                 });
  return true;
}();

}  // namespace

FillClaim::FillClaim(FillClaim&& o) noexcept { *this = std::move(o); }

FillClaim& FillClaim::operator=(FillClaim&& o) noexcept {
  if (this != &o) {
    release();
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}

void FillClaim::release() {
  if (fd_ < 0) return;
  // Unlinked first: a waiter never finds a released claim under the name.
  ::unlink(path_.c_str());
  std::lock_guard<std::mutex> lock(g_mutex);
  g_fds->erase(fd_);
  ::close(fd_);
  fd_ = -1;
}

bool take_claim(const std::string& claims_dir, const std::string& path, FillClaim& claim) {
  (void)g_atfork;
  const std::string tmp = claims_dir + "/" + cache_files::temp_name();
  std::lock_guard<std::mutex> lock(g_mutex);
  const int fd = ::open(tmp.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::unlink(tmp.c_str());
    ::close(fd);
    return false;
  }
  // The claim appears under its name already locked.
  const bool linked = ::link(tmp.c_str(), path.c_str()) == 0;
  ::unlink(tmp.c_str());
  if (!linked) {
    ::close(fd);
    return false;
  }
  g_fds->insert(fd);
  claim.release();
  claim.fd_ = fd;
  claim.path_ = path;
  return true;
}

bool claim_held(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::lock_guard<std::mutex> lock(g_mutex);
  const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);  // releases the probe's lock, if it got it
  return !free;
}

bool claim_released(int fd, const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) return false;
  struct stat mine, named;
  if (::fstat(fd, &mine) == 0 && ::lstat(path.c_str(), &named) == 0 &&
      mine.st_ino == named.st_ino)
    ::unlink(path.c_str());  // still under its name: its holder died without filling it
  ::flock(fd, LOCK_UN);
  return true;
}

void remove_stale_claims(const std::string& claims_dir) {
  DIR* d = ::opendir(claims_dir.c_str());
  if (!d) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  while (dirent* e = ::readdir(d)) {
    const long pid = cache_files::temp_pid(e->d_name);
    if (e->d_name[0] == '.' && pid < 0) continue;
    const std::string path = claims_dir + "/" + e->d_name;
    if (e->d_name[0] == '.') {
      if (pid != ::getpid() && !cache_files::pid_alive(pid)) ::unlink(path.c_str());
      continue;
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) ::unlink(path.c_str());  // holder gone
    ::close(fd);
  }
  ::closedir(d);
}

}  // namespace fastchunk
