#include "io/memory_source.h"

#include <string>

#include "common/error.h"

namespace fastchunk {

std::unordered_map<std::string, ByteView>::const_iterator MemorySource::find(
    const std::string& key) const {
  auto it = objects_.find(key);
  if (it == objects_.end()) throw Error(ErrorKind::kNotFetched, "object '" + key + "' was not fetched");
  return it;
}

bool MemorySource::get(const std::string& key, ByteBuffer&, ByteView& view) {
  auto it = find(key);
  if (!it->second.data) return false;
  view = it->second;
  return true;
}

bool MemorySource::get_range(const std::string& key, uint64_t offset, uint64_t length,
                             ByteBuffer&, ByteView& view) {
  auto it = find(key);
  if (!it->second.data) return false;
  const ByteView all = it->second;
  if (offset > all.size || length > all.size - offset)
    throw_decode("byte range [" + std::to_string(offset) + ", +" + std::to_string(length) +
                 ") lies outside the " + std::to_string(all.size) + "-byte object");
  view = ByteView{all.data + offset, length};
  return true;
}

bool MemorySource::get_suffix(const std::string& key, uint64_t length, ByteBuffer&,
                              ByteView& view, uint64_t& object_size) {
  auto it = find(key);
  if (!it->second.data) return false;
  const ByteView all = it->second;
  object_size = all.size;
  if (length > all.size)
    throw_decode("object of " + std::to_string(all.size) + " bytes is shorter than its " +
                 std::to_string(length) + "-byte shard index");
  view = ByteView{all.data + all.size - length, length};
  return true;
}

}  // namespace fastchunk
