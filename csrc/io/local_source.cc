#include "io/local_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/error.h"
#include "common/file_time.h"
#include "engine/thread_pool.h"

namespace fastchunk {
namespace {

// The same string the shared caches have keyed local objects on since they came.
std::string version_of(const struct stat& st) {
  return std::to_string(st.st_size) + ':' + std::to_string(mtime_ns(st)) + ':' +
         std::to_string(st.st_ino);
}

[[noreturn]] void directory_error() {
  throw Error(ErrorKind::kDecode, "a directory where a stored object should be");
}

class File {
 public:
  explicit File(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0 && errno != ENOENT && errno != ENOTDIR)
      throw Error(ErrorKind::kIO, "cannot open " + path + ": " + std::strerror(errno));
  }
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  bool exists() const { return fd_ >= 0; }
  struct stat status(const std::string& path) const {
    struct stat st;
    if (fstat(fd_, &st) != 0)
      throw Error(ErrorKind::kIO, "cannot stat " + path + ": " + std::strerror(errno));
    return st;
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

bool LocalSource::get(const std::string& key, const ByteRange& range, ByteBuffer& storage,
                      ObjectBytes& out) {
  const std::string path = root_ + key;
  File f(path);
  if (!f.exists()) return false;
  const struct stat st = f.status(path);
  if (S_ISDIR(st.st_mode)) directory_error();
  out.object_size = uint64_t(st.st_size);
  out.version = version_of(st);
  const ByteRange at = resolve_range(range, out.object_size);
  uint8_t* dst = storage.reserve(at.length);
  f.read_exact(path, dst, at.offset, at.length);
  out.bytes = ByteView{dst, at.length};
  return true;
}

void LocalSource::get_many(const std::vector<ByteRequest>& requests,
                           std::vector<ByteBuffer>& storage, std::vector<ObjectBytes>& out,
                           std::vector<uint8_t>& found, int num_threads) {
  storage = std::vector<ByteBuffer>(requests.size());
  out.assign(requests.size(), ObjectBytes{});
  found.assign(requests.size(), 0);
  parallel_for(
      int64_t(requests.size()),
      [&](int64_t i) {
        const ByteRequest& r = requests[size_t(i)];
        try {
          found[size_t(i)] = get(r.key, r.range, storage[size_t(i)], out[size_t(i)]);
        } catch (const Error& e) {
          throw Error(e.kind(), "'" + r.key + "': " + e.what());
        }
      },
      num_threads);
}

std::string LocalSource::version(const std::string& key) {
  struct stat st;
  if (::stat((root_ + key).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  return version_of(st);
}

}  // namespace fastchunk
