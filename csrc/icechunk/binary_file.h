// The binary format every Icechunk metadata file shares (repo info,
// snapshots, manifests, transaction logs): a 39-byte header, then a
// flatbuffers payload, zstd-compressed or not.
//
//   12 bytes  magic: "ICE🧊CHUNK" in UTF-8
//   24 bytes  name of the writing implementation, space-padded
//    1 byte   spec version: 1 (Icechunk 1.x) or 2 (spec 2 and 2.1)
//    1 byte   file type: 1 snapshot, 2 manifest, 4 transaction log, 6 repo info
//    1 byte   compression: 0 none, 1 zstd
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/buffer.h"

namespace fastchunk {

enum class IcechunkFileType : uint8_t {
  kSnapshot = 1,
  kManifest = 2,
  kTransactionLog = 4,
  kRepoInfo = 6,
};

constexpr size_t kIcechunkHeaderSize = 39;
constexpr uint8_t kIcechunkMinSpecVersion = 1;
constexpr uint8_t kIcechunkMaxSpecVersion = 2;
// A flatbuffer cannot be larger (32-bit offsets); what a decompression may
// produce at most unless the caller asks for less.
constexpr uint64_t kMaxIcechunkPayload = (uint64_t(1) << 31) - 1;
// A zstd payload may also decompress to at most 1024 times its size, or
// this, whichever is more.
constexpr uint64_t kMinPayloadCap = uint64_t(64) << 20;

struct IcechunkFile {
  uint8_t spec_version = 0;
  std::string implementation;    // trailing spaces removed
  std::vector<uint8_t> payload;  // the flatbuffer, decompressed (8-aligned storage)
};

// Whether `bytes` starts with the magic (any file type, any version).
bool has_icechunk_magic(ByteView bytes);

// Checks the header (magic, a known spec version, the file type expected, a
// known compression) and returns the payload, decompressed into at most
// `max_payload` bytes and at most max(kMinPayloadCap, 1024 x its compressed
// size) (allocated as the decompressor produces them, never on the word of a
// frame header). Errors are Error(kMetadata) or, for a spec
// version this reader does not know, Error(kUnsupported) naming the version.
// `what` names the file in messages.
IcechunkFile read_icechunk_file(ByteView bytes, IcechunkFileType expected,
                                const std::string& what,
                                uint64_t max_payload = kMaxIcechunkPayload);

}  // namespace fastchunk
