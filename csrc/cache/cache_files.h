// The files of a FileCache: how an entry is laid out (a header with a hash
// of itself, the key, a tag, the bytes), how keys become file names, and the
// small file-system helpers every part of the cache uses.
#pragma once
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

bool pid_alive(long pid);
// A name for a temporary file of this process (.tmp.<pid>.<n>), and the pid
// in such a name (-1 when it is not one).
std::string temp_name();
long temp_pid(const char* name);

// Whole reads and writes at an offset, retried when interrupted.
bool write_all(int fd, const void* data, size_t n, uint64_t offset);
bool read_all(int fd, void* data, size_t n, uint64_t offset);

void make_dir(const std::string& path);   // mode 0700; throws an I/O Error
void make_dirs(const std::string& path);
// Our own directory, not one another user prepared for us to read from.
void check_owner(const std::string& dir);

}  // namespace cache_files
}  // namespace fastchunk
