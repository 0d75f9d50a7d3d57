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

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    throw_io("cannot create cache directory " + path, errno);
}

void make_dirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/') make_dir(path.substr(0, i));
}

void check_owner(const std::string& dir) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0)
    throw_io("cannot use cache directory " + dir, errno);
  if (!S_ISDIR(st.st_mode)) throw Error(ErrorKind::kIO, dir + " is not a directory", ENOTDIR);
  if (st.st_uid != ::geteuid())
    throw Error(ErrorKind::kIO, "cache directory " + dir + " belongs to another user", EPERM);
}

}  // namespace cache_files
}  // namespace fastchunk
