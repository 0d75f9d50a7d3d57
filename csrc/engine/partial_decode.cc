#include "engine/partial_decode.h"

#include <algorithm>
#include <vector>

#include "codecs/byte_codecs.h"

namespace fastchunk {
namespace {

// Partial decoding pays off only when it skips a good share of the chunk.
constexpr double kWorthwhileFraction = 0.6;
constexpr int64_t kMaxSegments = 1 << 14;

// A chunk's outer crc32c checksums: verified only once partial decoding is
// chosen, since a whole-chunk decode verifies them itself.
struct Checksums {
  ByteView raw;
  int count;
  void verify() const {
    ByteView v = raw;
    for (int i = 0; i < count; ++i) v = strip_crc32c(v);
  }
};

// Byte offset one past the last byte of the chunk the region reads.
size_t needed_end(const RegionGeometry& g) {
  int64_t end = g.itemsize;
  for (int d = 0; d < g.ndim; ++d) {
    const AxisSpan& a = g.axes[d];
    end += *std::max_element(a.in, a.in + a.n) * g.src_strides[d];
  }
  return size_t(end);
}

// Start offsets (in the chunk) of the contiguous segments the region reads;
// false when there are too many to be worth listing.
bool segment_starts(const RegionGeometry& g, const Collapsed& c, std::vector<int64_t>& out) {
  int64_t count = 1;
  for (int d = 0; d < c.outer; ++d) {
    count *= g.axes[d].n;
    if (count > kMaxSegments) return false;
  }
  int64_t inner = 0;
  for (int d = c.outer; d < g.ndim; ++d) inner += g.axes[d].in[0] * g.src_strides[d];
  out.assign(1, inner);
  for (int d = 0; d < c.outer; ++d) {
    std::vector<int64_t> next;
    next.reserve(out.size() * size_t(g.axes[d].n));
    for (int64_t base : out)
      for (int64_t k = 0; k < g.axes[d].n; ++k)
        next.push_back(base + g.axes[d].in[k] * g.src_strides[d]);
    out.swap(next);
  }
  return true;
}

bool blosc_blocks(const ChainSpec& chain, ByteView raw, const Checksums& sums,
                  const RegionGeometry& g, uint8_t* scratch, size_t nbytes) {
  const BloscLayout layout = blosc_layout(raw);
  if (layout.nbytes != nbytes || layout.blocksize == 0 || layout.blocksize >= nbytes ||
      layout.blocksize % layout.typesize || nbytes % layout.typesize)
    return false;
  const Collapsed c = collapse_region(g);
  std::vector<int64_t> starts;
  if (!segment_starts(g, c, starts)) return false;
  const size_t bs = layout.blocksize;
  const size_t nblocks = (nbytes + bs - 1) / bs;
  std::vector<char> needed(nblocks, 0);
  for (int64_t s : starts) {
    const size_t first = size_t(s) / bs, last = (size_t(s) + size_t(c.block) - 1) / bs;
    for (size_t b = first; b <= last && b < nblocks; ++b) needed[b] = 1;
  }
  const size_t count = size_t(std::count(needed.begin(), needed.end(), 1));
  if (double(count * bs) >= kWorthwhileFraction * double(nbytes)) return false;
  sums.verify();
  for (size_t b = 0; b < nblocks;) {
    if (!needed[b]) {
      ++b;
      continue;
    }
    size_t e = b;
    while (e < nblocks && needed[e]) ++e;
    const size_t begin = b * bs, end = std::min(e * bs, nbytes);
    blosc_decode_items(raw, int64_t(begin / layout.typesize),
                       int64_t((end - begin) / layout.typesize), scratch + begin);
    if (chain.swap_unit > 1) swap_bytes_inplace(scratch + begin, end - begin, chain.swap_unit);
    b = e;
  }
  return true;
}

bool zstd_prefix(const ChainSpec& chain, ByteView raw, const Checksums& sums,
                 const RegionGeometry& g, uint8_t* scratch, size_t nbytes) {
  const size_t end = needed_end(g);
  if (double(end) >= kWorthwhileFraction * double(nbytes)) return false;
  sums.verify();
  if (!zstd_decode_prefix(raw, scratch, end, nbytes)) return false;
  if (chain.swap_unit > 1) swap_bytes_inplace(scratch, end, chain.swap_unit);
  return true;
}

}  // namespace

bool decode_needed_part(const ChainSpec& chain, ByteView raw, const RegionGeometry& g,
                        uint8_t* scratch, size_t chunk_nbytes) {
  size_t n = chain.byte_codecs.size();
  while (n > 0 && chain.byte_codecs[n - 1] == ByteCodecId::kCrc32c) --n;
  const Checksums sums{raw, int(chain.byte_codecs.size() - n)};
  if (n != 1 || raw.size < 4 * size_t(sums.count)) return false;
  const ByteView body{raw.data, raw.size - 4 * size_t(sums.count)};
  switch (chain.byte_codecs[0]) {
    case ByteCodecId::kBlosc: return blosc_blocks(chain, body, sums, g, scratch, chunk_nbytes);
    case ByteCodecId::kZstd: return zstd_prefix(chain, body, sums, g, scratch, chunk_nbytes);
    default: return false;
  }
}

}  // namespace fastchunk
