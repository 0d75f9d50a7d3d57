// Decodes a batch of encoded chunks of one array, each into its own region of
// a caller's buffer: the read step of a zarr-python codec pipeline, where the
// caller (zarr's indexer) has already worked out, chunk by chunk, which
// elements are wanted and where they go.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "codecs/chain.h"
#include "common/buffer.h"
#include "io/byte_source.h"
#include "plan/positions.h"

namespace fastchunk {

// One chunk axis of an orthogonal region: n positions in the chunk, n in the
// destination axis of `dst_stride` bytes and `dst_extent` elements (stride 0,
// extent 1 for an axis the destination drops).
struct BatchAxis {
  Positions in;
  Positions out;
  int64_t n = 0;
  int64_t dst_stride = 0;
  int64_t dst_extent = 1;
};

enum class BatchSource : int { kMissing = 0, kBytes = 1, kFile = 2 };

struct BatchChunk {
  std::string key;          // named in errors
  BatchSource source = BatchSource::kMissing;
  ByteView encoded;         // kBytes
  std::string path;         // kFile: the file, and which of its bytes
  ByteRange range;
  std::string version;      // kFile: the version the file must have ("": any; a shard's index's)
  uint8_t* dst = nullptr;   // destination base (element 0 of the destination)
  // Orthogonal: the product of the axes' positions. Points: axes[d].in gives
  // point k's coordinate along chunk axis d (all axes have n points), and
  // `point_dst` its position along the destination's single axis.
  bool points = false;
  std::vector<BatchAxis> axes;
  Positions point_dst;
  int64_t point_dst_stride = 0;
  int64_t point_dst_extent = 0;
};

struct BatchLayout {
  std::string name;                  // store or array, named in errors
  ChainSpec chain;
  std::vector<int64_t> chunk_shape;  // logical chunk shape
  std::vector<int64_t> src_strides;  // bytes per step along each logical axis of a decoded chunk
  int64_t itemsize = 1;
  std::vector<uint8_t> fill;         // one element, in the destination's byte order
};

// Checks every position against the chunk shape and destination extents, then
// decodes each chunk (or fills its region when it is missing) on the native
// thread pool; files are read through engine/stored_read.h. Errors name the
// layout and the chunk key.
void decode_batch(const BatchLayout& layout, const std::vector<BatchChunk>& chunks);

}  // namespace fastchunk
