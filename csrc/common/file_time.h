// A file's modification and access times in nanoseconds, on Linux and macOS alike.
#pragma once
#include <sys/stat.h>

#include <cstdint>

namespace fastchunk {

inline int64_t mtime_ns(const struct stat& st) {
#ifdef __APPLE__
  return int64_t(st.st_mtimespec.tv_sec) * 1000000000 + st.st_mtimespec.tv_nsec;
#else
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
#endif
}

inline int64_t atime_ns(const struct stat& st) {
#ifdef __APPLE__
  return int64_t(st.st_atimespec.tv_sec) * 1000000000 + st.st_atimespec.tv_nsec;
#else
  return int64_t(st.st_atim.tv_sec) * 1000000000 + st.st_atim.tv_nsec;
#endif
}

}  // namespace fastchunk
