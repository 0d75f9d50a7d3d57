// The condition a virtual chunk reference may carry on the object it points
// into: its ETag, or a time it must not have been modified after. Checked
// against what the read itself saw, so that changed bytes are never decoded.
#pragma once
#include <cstdint>
#include <string>

#include "icechunk/chunk_refs.h"

namespace fastchunk {

// The ETag object_store (and so Icechunk) gives a local file:
// "<inode>-<mtime in microseconds>-<size>", in lower-case hexadecimal.
std::string local_file_etag(uint64_t inode, int64_t mtime_ns, uint64_t size);

// An ETag without quotes or the weak marker, for comparisons.
std::string bare_etag(const std::string& etag);

// Throws Error(kDecode) naming the target unless a local file of version
// `version` (LocalSource's "size:mtime_ns:inode") meets the target's condition.
void check_local_condition(const ChunkTarget& target, const std::string& version);

// The local path of a file:// URL (percent-decoded, absolute), or "" when the
// location is not a local file.
std::string local_path_of(const std::string& location);

}  // namespace fastchunk
