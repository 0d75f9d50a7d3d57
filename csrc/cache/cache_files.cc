#include "cache/cache_files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <algorithm>

#include <libdeflate.h>

#include "common/error.h"

namespace fastchunk {
namespace cache_files {
namespace {

constexpr const char* kTempPrefix = ".tmp.";

}  // namespace

uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

uint64_t header_check(const EntryHeader& h) {
  uint64_t x = 0x6a09e667f3bcc908ULL;
  for (uint64_t v : {h.key_size, h.tag_size, h.data_size, h.data_offset,
                     (uint64_t(h.data_crc) << 32) | h.has_crc})
    x = mix64(x ^ v);
  return x;
}

std::string name_of(const std::string& key) {
  uint64_t a = 0xcbf29ce484222325ULL, b = 0x9e3779b97f4a7c15ULL ^ key.size();
  for (unsigned char c : key) {
    a = (a ^ c) * 0x100000001b3ULL;
    b = mix64(b + c);
  }
  a = mix64(a ^ key.size());
  b = mix64(b ^ a);
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return buf;
}

uint32_t checksum(const uint8_t* data, size_t size) { return libdeflate_crc32(0, data, size); }

std::string errno_text() { return std::strerror(errno); }

bool pid_alive(long pid) {
  if (pid <= 0) return false;
  return ::kill(pid_t(pid), 0) == 0 || errno == EPERM;
}

long temp_pid(const char* name) {
  if (std::strncmp(name, kTempPrefix, 5) != 0) return -1;
  char* end = nullptr;
  const long pid = std::strtol(name + 5, &end, 10);
  return end && *end == '.' ? pid : -1;
}

std::string temp_name() {
  static std::atomic<uint64_t> seq{0};
  return std::string(kTempPrefix) + std::to_string(::getpid()) + '.' +
         std::to_string(seq.fetch_add(1));
}

bool write_all(int fd, const void* data, size_t n, uint64_t offset) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t put = ::pwrite(fd, p, n, off_t(offset));
    if (put < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += put;
    n -= size_t(put);
    offset += uint64_t(put);
  }
  return true;
}

bool read_all(int fd, void* data, size_t n, uint64_t offset) {
  uint8_t* p = static_cast<uint8_t*>(data);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, n, off_t(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= size_t(got);
    offset += uint64_t(got);
  }
  return true;
}

namespace {

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", unsigned(mode & 07777));
  return buf;
}

// Why another user could change what is found in (or under) the directory
// `st` describes; "" when no one but root and this user can.
std::string why_not_trusted(const struct stat& st, bool own) {
  if (!S_ISDIR(st.st_mode)) return "it is not a directory";
  const uid_t me = ::geteuid();
  if (own) {
    if (st.st_uid != me)
      return "it belongs to another user (uid " + std::to_string(st.st_uid) + ")";
    if (st.st_mode & (S_IWGRP | S_IWOTH))
      return "others can write it (mode " + mode_text(st.st_mode) + ")";
    return "";
  }
  if (st.st_uid != me && st.st_uid != 0)
    return "it belongs to another user (uid " + std::to_string(st.st_uid) + ")";
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
    return "others can write it and it is not sticky (mode " + mode_text(st.st_mode) + ")";
  return "";
}

[[noreturn]] void refuse(const std::string& dir, const std::string& cache, const std::string& why) {
  throw Error(ErrorKind::kIO,
              "refusing the cache directory " + cache + ": " + dir + " is not safe, " + why +
                  "; use a directory only you (and root) can write (under a sticky one such as "
                  "/dev/shm or /tmp is fine)");
}

// `path` with the symlinks of its longest existing prefix resolved.
std::string resolved(const std::string& path) {
  std::string head = path, tail;
  while (!head.empty()) {
    if (char* real = ::realpath(head.c_str(), nullptr)) {
      std::string out = real;
      std::free(real);
      if (!tail.empty()) out += (out == "/" ? "" : "/") + tail;
      return out;
    }
    const size_t slash = head.find_last_of('/');
    if (slash == std::string::npos) break;
    tail = head.substr(slash + 1) + (tail.empty() ? "" : "/" + tail);
    head = slash == 0 ? "/" : head.substr(0, slash);
    if (head == "/" && tail.empty()) break;
  }
  return path;
}

}  // namespace

int open_trusted_dir(const std::string& path, bool create, bool own_last) {
  if (path.empty()) throw Error(ErrorKind::kIO, "no cache directory named");
  std::string full = path;
  if (full[0] != '/') {
    char* cwd = ::getcwd(nullptr, 0);
    if (!cwd) throw Error(ErrorKind::kIO, "cannot resolve " + path + ": " + errno_text());
    full = std::string(cwd) + "/" + full;
    std::free(cwd);
  }
  full = resolved(full);
  std::vector<std::string> parts;
  for (size_t i = 0; i < full.size();) {
    const size_t j = std::min(full.find('/', i), full.size());
    const std::string part = full.substr(i, j - i);
    if (part == "..") throw Error(ErrorKind::kIO, "cannot resolve the cache directory " + path);
    if (!part.empty() && part != ".") parts.push_back(part);
    i = j + 1;
  }
  int fd = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorKind::kIO, "cannot open /: " + errno_text());
  std::string at = "/";
  for (size_t k = 0;; ++k) {
    const bool last = k == parts.size();
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      const std::string why = errno_text();
      ::close(fd);
      throw Error(ErrorKind::kIO, "cannot use " + at + ": " + why);
    }
    const std::string why = why_not_trusted(st, last && own_last);
    if (!why.empty()) {
      ::close(fd);
      refuse(at, path, why);
    }
    if (last) return fd;
    const char* name = parts[k].c_str();
    int next = ::openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (::mkdirat(fd, name, 0700) != 0 && errno != EEXIST) {
        const std::string why = errno_text();
        ::close(fd);
        throw Error(ErrorKind::kIO, "cannot create cache directory " + path + ": " + why);
      }
      next = ::openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    const int err = errno;
    ::close(fd);
    at += (at == "/" ? "" : "/") + parts[k];
    if (next < 0) {
      if (err == ENOENT && !create) {
        errno = ENOENT;
        return -1;
      }
      if (err == ELOOP || err == ENOTDIR) refuse(at, path, "it is not a directory (or was replaced by a link)");
      throw Error(ErrorKind::kIO, "cannot open " + at + ": " + std::strerror(err));
    }
    fd = next;
  }
}

int open_private_subdir(int dir_fd, const char* name, const std::string& shown_as) {
  if (::mkdirat(dir_fd, name, 0700) != 0 && errno != EEXIST)
    throw Error(ErrorKind::kIO, "cannot create " + shown_as + ": " + errno_text());
  const int fd = ::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP || errno == ENOTDIR) refuse(shown_as, shown_as, "it is not a directory");
    throw Error(ErrorKind::kIO, "cannot open " + shown_as + ": " + errno_text());
  }
  struct stat st;
  const std::string why = ::fstat(fd, &st) == 0 ? why_not_trusted(st, true) : errno_text();
  if (!why.empty()) {
    ::close(fd);
    refuse(shown_as, shown_as, why);
  }
  return fd;
}

bool our_private_file(const struct stat& st) {
  return S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
         !(st.st_mode & (S_IWGRP | S_IWOTH));
}

}  // namespace cache_files
}  // namespace fastchunk
