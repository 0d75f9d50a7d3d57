#include "codecs/blosc_frame.h"

#include <blosc.h>
#include <libdeflate.h>
#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "codecs/byte_planes.h"
#include "codecs/deflate_framing.h"
#include "codecs/zstd_context.h"
#include "common/error.h"

namespace fastchunk {
namespace {

constexpr size_t kHeaderSize = 16;
constexpr uint8_t kShuffle = 0x1, kBitShuffle = 0x4, kReservedFlag = 0x8, kDontSplit = 0x10;
constexpr int kLz4 = 1, kZlib = 3, kZstd = 4;  // the compressor, in bits 5-7 of the flags
// c-blosc splits a block into one stream per byte of the type when the type
// has at most kMaxSplits bytes and the block at least kMinSplitItems items.
constexpr size_t kMaxSplits = 16, kMinSplitItems = 128;
// Staging blocks above this are not kept per thread; c-blosc decodes such frames.
constexpr size_t kMostStagedBlock = size_t(8) << 20;

uint32_t read_le32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) |
         (uint32_t(p[3]) << 24);
}

[[noreturn]] void throw_block(size_t b, const std::string& what) {
  throw_decode("blosc: block " + std::to_string(b) + ": " + what);
}

void decompress_stream(int compressor, const uint8_t* src, size_t size, uint8_t* dst,
                       size_t want, size_t b) {
  size_t got = 0;
  if (compressor == kLz4) {
    const int n = LZ4_decompress_safe(reinterpret_cast<const char*>(src),
                                      reinterpret_cast<char*>(dst), int(size), int(want));
    if (n < 0) throw_block(b, "corrupt lz4 stream");
    got = size_t(n);
  } else if (compressor == kZstd) {
    const size_t n = ZSTD_decompressDCtx(thread_zstd_dctx(), dst, want, src, size);
    if (ZSTD_isError(n)) throw_block(b, std::string("corrupt zstd stream: ") + ZSTD_getErrorName(n));
    got = n;
  } else {
    const libdeflate_result r = libdeflate_zlib_decompress(thread_deflate_decompressor(), src,
                                                           size, dst, want, &got);
    if (r != LIBDEFLATE_SUCCESS) throw_block(b, "corrupt zlib stream");
  }
  if (got != want)
    throw_block(b, "a stream decodes to " + std::to_string(got) + " bytes, expected " +
                       std::to_string(want));
}

// The number of streams block b is stored in: one per byte of the type
// when c-blosc split it, else one.
size_t block_splits(const BloscFrame& f, size_t size) {
  const bool leftover = size < f.blocksize;
  return !(f.flags & kDontSplit) && f.typesize <= kMaxSplits &&
                 size / f.typesize >= kMinSplitItems && !leftover
             ? f.typesize
             : 1;
}

// Where block b's stream j starts (its 4-byte length first), checked; `at`
// is the previous stream's end or the block table's entry.
size_t stream_at(ByteView in, const BloscFrame& f, size_t b, size_t at, size_t* stored) {
  const size_t end = f.cbytes;
  if (at < kHeaderSize + 4 * f.nblocks || at > end || end - at < 4)
    throw_block(b, "stream offset " + std::to_string(at) + " outside the frame");
  *stored = read_le32(in.data + at);
  at += 4;
  if (*stored > end - at)
    throw_block(b, "stream of " + std::to_string(*stored) + " bytes runs past the frame");
  return at;
}

// Block b's `splits` streams of stream_size bytes each: compressed ones
// decoded into stage + j * stream_size; stored ones read where they lie in
// the frame, or copied into stage with `copy_stored`. streams[j] receives
// where stream j's bytes are.
void read_streams(ByteView in, const BloscFrame& f, size_t b, size_t splits, size_t stream_size,
                  uint8_t* stage, bool copy_stored, const uint8_t** streams) {
  size_t at = read_le32(in.data + kHeaderSize + 4 * b);
  const int compressor = f.flags >> 5;
  for (size_t j = 0; j < splits; ++j) {
    size_t stored = 0;
    at = stream_at(in, f, b, at, &stored);
    uint8_t* decoded = stage + j * stream_size;
    streams[j] = decoded;
    if (stored != stream_size)
      decompress_stream(compressor, in.data + at, stored, decoded, stream_size, b);
    else if (copy_stored)
      std::memcpy(decoded, in.data + at, stored);
    else
      streams[j] = in.data + at;
    at += stored;
  }
}

void decode_block(ByteView in, const BloscFrame& f, size_t b, uint8_t* out) {
  const size_t begin = b * f.blocksize;
  const size_t size = std::min(f.blocksize, f.nbytes - begin);
  uint8_t* dest = out + begin;
  if (f.memcpyed()) {
    std::memcpy(dest, in.data + kHeaderSize + begin, size);
    return;
  }
  const bool shuffled = (f.flags & kShuffle) && f.typesize > 1;
  const size_t splits = block_splits(f, size);
  const size_t stream_size = size / splits;
  // Shuffled: planes are read where they lie, a stored stream in the frame,
  // a compressed one in the staging block, and interleaved into dest.
  thread_local ByteBuffer staging;
  uint8_t* stage = shuffled ? staging.reserve(f.blocksize) : dest;
  const uint8_t* streams[kMaxSplits];
  read_streams(in, f, b, splits, stream_size, stage, !shuffled, streams);
  if (!shuffled) return;
  const size_t items = size / f.typesize, whole = items * f.typesize;
  if (splits == f.typesize) return from_byte_planes(streams, dest, items, f.typesize);
  // One stream holds every plane, then the bytes of a last partial item.
  from_byte_planes(streams[0], dest, items, f.typesize);
  std::memcpy(dest + whole, streams[0] + whole, size - whole);
}

}  // namespace

bool BloscFrame::decodes_blocks() const {
  if (version != BLOSC_VERSION_FORMAT || blocksize == 0 || blocksize % typesize ||
      blocksize > kMostStagedBlock || (flags & kBitShuffle))
    return false;
  if (memcpyed()) return true;
  const int compressor = flags >> 5;
  return compressor == kLz4 || compressor == kZlib || compressor == kZstd;
}

// The checks c-blosc makes before it decodes a frame (blosc.c: the
// decompression context's set-up and blosc_cbuffer_validate), made here too:
// the frames this file decodes itself must fail where c-blosc's would.
BloscFrame parse_blosc_frame(ByteView in) {
  if (in.size < kHeaderSize) throw_decode("blosc: frame shorter than its 16-byte header");
  BloscFrame f;
  f.version = in.data[0];
  f.flags = in.data[2];
  f.typesize = in.data[3];
  f.nbytes = read_le32(in.data + 4);
  f.blocksize = read_le32(in.data + 8);
  f.cbytes = read_le32(in.data + 12);
  if (f.cbytes < kHeaderSize || f.cbytes > in.size)
    throw_decode("blosc: header claims " + std::to_string(f.cbytes) +
                 " compressed bytes but the chunk holds " + std::to_string(in.size));
  size_t validated = 0;
  if (blosc_cbuffer_validate(in.data, in.size, &validated) != 0)
    throw_decode("blosc: invalid frame header");
  if (f.nbytes == 0) {  // empty: nothing else is read (c-blosc stops here too)
    if (f.typesize == 0) f.typesize = 1;
    return f;
  }
  if (f.typesize == 0) throw_decode("blosc: header gives an item size of 0");
  if (f.flags & kReservedFlag) throw_decode("blosc: header sets a reserved flag (0x08)");
  if (f.blocksize == 0) throw_decode("blosc: header gives a block size of 0");
  if (f.blocksize > f.nbytes)
    throw_decode("blosc: header gives a block size of " + std::to_string(f.blocksize) +
                 " bytes, more than the " + std::to_string(f.nbytes) + " decoded bytes");
  f.nblocks = (f.nbytes + f.blocksize - 1) / f.blocksize;
  if (f.memcpyed() ? f.cbytes != kHeaderSize + f.nbytes : 4 * f.nblocks > f.cbytes - kHeaderSize)
    throw_decode("blosc: frame of " + std::to_string(f.cbytes) + " bytes cannot hold " +
                 (f.memcpyed() ? "exactly its copied bytes" : "its block table"));
  return f;
}

bool blosc_block_decodes_items(const BloscFrame& f, size_t b) {
  if (!f.decodes_blocks() || f.memcpyed() || !(f.flags & kShuffle) || f.typesize < 2 ||
      f.typesize > kMaxSplits || b >= f.nblocks)
    return false;
  return b * f.blocksize + f.blocksize <= f.nbytes;  // a whole block
}

void decode_blosc_block_items(ByteView in, const BloscFrame& f, size_t b, const ItemRuns& runs,
                              uint8_t* out) {
  const size_t items = f.blocksize / f.typesize;
  if (!blosc_block_decodes_items(f, b)) throw_block(b, "cannot be decoded in part");
  size_t prev = 0;
  for (const auto& r : runs) {
    if (r.first < prev || r.first > r.second || r.second > items)
      throw_block(b, "item runs out of order or outside the block");
    prev = r.second;
  }
  if (runs.empty()) return;
  const size_t splits = block_splits(f, f.blocksize);
  const size_t stream_size = f.blocksize / splits;
  thread_local ByteBuffer staging;
  uint8_t* const stage = staging.reserve(f.blocksize);
  const uint8_t* planes[kMaxSplits];
  read_streams(in, f, b, splits, stream_size, stage, false, planes);
  if (splits == 1)  // one stream holding every plane
    for (size_t j = 1; j < f.typesize; ++j) planes[j] = planes[0] + j * items;
  uint8_t* const block = out + b * f.blocksize;
  const uint8_t* from[kMaxSplits];
  for (const auto& r : runs) {
    for (size_t j = 0; j < f.typesize; ++j) from[j] = planes[j] + r.first;
    from_byte_planes(from, block + r.first * f.typesize, r.second - r.first, f.typesize);
  }
}

void decode_blosc_blocks(ByteView in, const BloscFrame& f, size_t first, size_t last,
                         uint8_t* out) {
  for (size_t b = first; b < std::min(last, f.nblocks); ++b) decode_block(in, f, b, out);
}

}  // namespace fastchunk
