// The files of a FileCache: how an entry is laid out (a header with a hash
// of itself, the key, a tag, the bytes), how keys become file names, and the
// small file-system helpers every part of the cache uses.
#pragma once
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace fastchunk {
namespace cache_files {

constexpr char kEntryMagic[8] = {'F', 'C', 'E', 'N', 'T', 'R', 'Y', '1'};

struct EntryHeader {
  char magic[8];
  uint64_t key_size;
  uint64_t tag_size;
  uint64_t data_size;
  uint64_t data_offset;
  uint32_t data_crc;
  uint32_t has_crc;
  uint64_t check;  // hash of the fields above: a damaged header is not trusted
};

uint64_t mix64(uint64_t h);
uint64_t header_check(const EntryHeader& h);
// File name of a key: 128 bits of two independent hashes. The key itself is
// stored in the entry and compared, so a collision is a miss, never a wrong hit.
std::string name_of(const std::string& key);
inline size_t align64(size_t n) { return (n + 63) & ~size_t(63); }
// CRC-32 as libdeflate computes it (PCLMUL: 15 GB/s here, against 6 for the
// core's CRC-32C).
uint32_t checksum(const uint8_t* data, size_t size);

std::string errno_text();
bool pid_alive(long pid);
// A name for a temporary file of this process (.tmp.<pid>.<n>), and the pid
// in such a name (-1 when it is not one).
std::string temp_name();
long temp_pid(const char* name);

// Whole reads and writes at an offset, retried when interrupted.
bool write_all(int fd, const void* data, size_t n, uint64_t offset);
bool read_all(int fd, void* data, size_t n, uint64_t offset);

// Opens the directory `path` so that no other user can change what is found
// through it: every directory on the way is owned by root or by this user
// and writable by no one else unless it is sticky (/tmp, /dev/shm: others
// cannot rename or remove what is ours there), and is walked with
// O_NOFOLLOW (symlinks in `path` are resolved first, then each directory
// they lead to is checked the same way). With `own_last`, the directory
// itself must be this user's and writable by no one else; otherwise it may
// also be a sticky shared one. create: missing directories are made (0700).
// Returns the directory's descriptor, or -1 with errno ENOENT when it is
// missing and !create. Throws an I/O Error naming the directory at fault.
int open_trusted_dir(const std::string& path, bool create, bool own_last);
// Opens (making it when missing, 0700) the subdirectory `name` of `dir_fd`,
// which must be this user's and writable by no one else.
int open_private_subdir(int dir_fd, const char* name, const std::string& shown_as);
// Whether `st` is a regular file of this user that no one else may write:
// what every cache file must be before a byte of it is trusted.
bool our_private_file(const struct stat& st);

}  // namespace cache_files
}  // namespace fastchunk
