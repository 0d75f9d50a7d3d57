#include "io/local_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/error.h"
#include "common/file_time.h"

namespace fastchunk {
namespace {

class File {
 public:
  File(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0 && errno != ENOENT && errno != ENOTDIR)
      throw Error(ErrorKind::kIO, "cannot open " + path + ": " + std::strerror(errno));
  }
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool exists() const { return fd_ >= 0; }
  uint64_t size(const std::string& path) const {
    struct stat st;
    if (fstat(fd_, &st) != 0)
      throw Error(ErrorKind::kIO, "cannot stat " + path + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) return UINT64_MAX;
    return uint64_t(st.st_size);
  }
  void read_exact(const std::string& path, uint8_t* dst, uint64_t offset, uint64_t n) const {
    while (n > 0) {
      const ssize_t got = ::pread(fd_, dst, n, off_t(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        throw Error(ErrorKind::kIO, "cannot read " + path + ": " + std::strerror(errno));
      }
      if (got == 0) throw_decode("file shrank while being read");
      dst += got;
      offset += uint64_t(got);
      n -= uint64_t(got);
    }
  }

 private:
  int fd_;
};

}  // namespace

LocalSource::LocalSource(std::string root) : root_(std::move(root)) {
  if (!root_.empty() && root_.back() != '/') root_ += '/';
}

bool LocalSource::get(const std::string& key, ByteBuffer& storage, ByteView& view) {
  const std::string path = root_ + key;
  File f(path);
  if (!f.exists()) return false;
  const uint64_t size = f.size(path);
  if (size == UINT64_MAX) return false;  // a directory is not a chunk
  uint8_t* dst = storage.reserve(size);
  f.read_exact(path, dst, 0, size);
  view = ByteView{dst, size};
  return true;
}

bool LocalSource::get_range(const std::string& key, uint64_t offset, uint64_t length,
                            ByteBuffer& storage, ByteView& view) {
  const std::string path = root_ + key;
  File f(path);
  if (!f.exists()) return false;
  const uint64_t size = f.size(path);
  if (size == UINT64_MAX) return false;
  if (offset > size || length > size - offset)
    throw_decode("byte range [" + std::to_string(offset) + ", +" + std::to_string(length) +
                 ") lies outside the " + std::to_string(size) + "-byte object");
  uint8_t* dst = storage.reserve(length);
  f.read_exact(path, dst, offset, length);
  view = ByteView{dst, length};
  return true;
}

bool LocalSource::get_suffix(const std::string& key, uint64_t length, ByteBuffer& storage,
                             ByteView& view, uint64_t& object_size) {
  const std::string path = root_ + key;
  File f(path);
  if (!f.exists()) return false;
  object_size = f.size(path);
  if (object_size == UINT64_MAX) return false;
  if (length > object_size)
    throw_decode("object of " + std::to_string(object_size) + " bytes is shorter than its " +
                 std::to_string(length) + "-byte shard index");
  uint8_t* dst = storage.reserve(length);
  f.read_exact(path, dst, object_size - length, length);
  view = ByteView{dst, length};
  return true;
}

std::string LocalSource::version(const std::string& key) {
  struct stat st;
  if (::stat((root_ + key).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::string();
  return std::to_string(st.st_size) + ':' + std::to_string(mtime_ns(st)) + ':' +
         std::to_string(st.st_ino);
}

}  // namespace fastchunk
