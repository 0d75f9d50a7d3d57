#include "icechunk/virtual_condition.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "common/error.h"

namespace fastchunk {
namespace {

std::string utc(int64_t seconds) {
  std::time_t t = std::time_t(seconds);
  std::tm tm{};
  if (!gmtime_r(&t, &tm)) return std::to_string(seconds);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string local_file_etag(uint64_t inode, int64_t mtime_ns, uint64_t size) {
  char buf[64];
  const uint64_t micros = mtime_ns > 0 ? uint64_t(mtime_ns) / 1000 : 0;
  std::snprintf(buf, sizeof(buf), "%" PRIx64 "-%" PRIx64 "-%" PRIx64, inode, micros, size);
  return buf;
}

std::string bare_etag(const std::string& etag) {
  std::string e = etag;
  if (e.compare(0, 2, "W/") == 0) e = e.substr(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

void check_local_condition(const ChunkTarget& target, const std::string& version) {
  if (target.etag.empty() && target.last_modified == 0) return;
  unsigned long long size = 0, inode = 0;
  long long mtime_ns = 0;
  const std::string where = "virtual chunk in " + target.location + ": ";
  if (std::sscanf(version.c_str(), "%llu:%lld:%llu", &size, &mtime_ns, &inode) != 3)
    throw_decode(where + "the file's version is unknown, its condition cannot be checked");
  if (!target.etag.empty()) {
    const std::string now = local_file_etag(inode, mtime_ns, size);
    if (bare_etag(target.etag) != now)
      throw_decode(where + "the file changed since the reference was written (ETag " + now +
                   ", the reference expects " + target.etag + "); not reading changed bytes");
    return;
  }
  if (mtime_ns > int64_t(target.last_modified) * 1000000000LL)
    throw_decode(where + "the file was modified at " + utc(mtime_ns / 1000000000LL) +
                 ", after " + utc(target.last_modified) +
                 " as the reference requires; not reading changed bytes");
}

std::string local_path_of(const std::string& location) {
  static const std::string kScheme = "file://";
  if (location.compare(0, kScheme.size(), kScheme) != 0) return {};
  std::string rest = location.substr(kScheme.size());
  if (rest.compare(0, 9, "localhost") == 0) rest = rest.substr(9);
  if (rest.empty() || rest[0] != '/') return {};  // file://host/...: not this machine's
  std::string path;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '%' && i + 2 < rest.size() && hex_value(rest[i + 1]) >= 0 &&
        hex_value(rest[i + 2]) >= 0) {
      path += char(hex_value(rest[i + 1]) * 16 + hex_value(rest[i + 2]));
      i += 2;
    } else if (rest[i] == '?' || rest[i] == '#') {
      break;
    } else {
      path += rest[i];
    }
  }
  if (path.find('\0') != std::string::npos) return {};
  return path;
}

}  // namespace fastchunk
