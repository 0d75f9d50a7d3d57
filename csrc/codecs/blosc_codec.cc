// Blosc 1 frames (numcodecs Blosc, zarr v3 blosc). Blocks decode
// independently, so a selection decodes only the blocks that hold it and one
// chunk's decode splits over threads. Frames blosc_frame decodes itself go
// there; the others through c-blosc's context API and blosc_getitem (both
// safe from many threads: neither uses c-blosc's global context).
#include <blosc.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "codecs/blosc_frame.h"
#include "codecs/config_binder.h"
#include "codecs/registry.h"
#include "common/error.h"

namespace fastchunk {
namespace {

const char* const kShuffleNames[] = {"noshuffle", "shuffle", "bitshuffle"};

// Decoding a byte-shuffled block: the share of the time that goes to
// decompressing its streams (the rest is unshuffling: 0.8 measured on lz4
// blocks of 512 KiB), and how much of a whole decode a decode of parts of
// every block must save to be chosen (it costs nothing a whole decode does
// not, so less than whole blocks must).
constexpr double kDecompressShare = 0.8;
constexpr double kItemsWorthwhileFraction = 0.9;
constexpr size_t kItemsPerRun = 16;  // what starting one more run costs, in items unshuffled

// Decodes items [first, first + count) of the frame, decompressing only the
// blocks that hold them.
void decode_items(ByteView in, const BloscFrame& h, int64_t first, int64_t count, uint8_t* out) {
  if (first < 0 || count < 0 || (first + count) * int64_t(h.typesize) > int64_t(h.nbytes))
    throw_decode("blosc: item range outside the frame");
  if (count == 0) return;
  const int n = blosc_getitem(in.data, int(first), int(count), out);
  if (n < 0 || n != count * int64_t(h.typesize))
    throw_decode("blosc: partial decompression failed (code " + std::to_string(n) + ")");
}

// Decodes bytes [begin, end) of the chunk, whole blocks, into out (the whole
// decoded chunk's buffer).
void decode_blocks(ByteView in, const BloscFrame& h, size_t begin, size_t end, uint8_t* out) {
  if (h.decodes_blocks())
    return decode_blosc_blocks(in, h, begin / h.blocksize, (end + h.blocksize - 1) / h.blocksize,
                               out);
  decode_items(in, h, int64_t(begin / h.typesize), int64_t((end - begin) / h.typesize),
               out + begin);
}

// What encoding needs; decoding needs none of it (the frame says all). The
// shuffle is a name in zarr v3 (with the typesize), a number in numcodecs
// (-1: AUTOSHUFFLE, bit shuffle for 1-byte items).
struct BloscSettings {
  std::string cname = "lz4";
  int64_t clevel = 5;
  int64_t shuffle = 1;  // 0 none, 1 byte, 2 bit
  int64_t typesize = 1;
  int64_t blocksize = 0;  // 0: automatic

  void bind(ConfigBinder& b) {
    b.text("cname", cname, {"blosclz", "lz4", "lz4hc", "zstd", "zlib"});
    b.integer("clevel", clevel, 0, 9);
    if (b.reading()) {
      const int64_t given = b.source().get_int("typesize", typesize);
      typesize = given >= 1 && given <= 255 ? given : 1;
      if (b.source().is_string("shuffle")) {
        const std::string name = b.source().get_string("shuffle", "shuffle");
        shuffle = std::find(std::begin(kShuffleNames), std::end(kShuffleNames), name) -
                  std::begin(kShuffleNames);
        if (shuffle > 2) out_of_range("shuffle", "\"" + name + "\"",
                                      "noshuffle, shuffle or bitshuffle");
      } else {
        shuffle = b.source().get_int("shuffle", 1);
        if (shuffle == -1) shuffle = typesize == 1 ? 2 : 1;  // numcodecs AUTOSHUFFLE
        if (shuffle < 0 || shuffle > 2) out_of_range("shuffle", std::to_string(shuffle), "-1..2");
      }
    } else if (b.zarr_format() == 3) {
      std::string name = kShuffleNames[shuffle];
      b.text("shuffle", name).integer("typesize", typesize, 1, 255);
    } else {
      b.integer("shuffle", shuffle, 0, 2);
    }
    b.integer("blocksize", blocksize, 0, int64_t(BLOSC_MAX_BUFFERSIZE));
  }
};

class BloscCodec final : public BytesToBytesCodec, SplitDecoding, PartialDecoding {
 public:
  explicit BloscCodec(BloscSettings settings)
      : BytesToBytesCodec(std::nullopt), settings_(std::move(settings)) {
    abilities_.split = this;
    abilities_.partial = this;
  }

  void decode(ByteView in, uint8_t* out, size_t out_size) const override {
    const BloscFrame h = parse_blosc_frame(in);
    if (h.nbytes != out_size)
      throw_decode("blosc: header announces " + std::to_string(h.nbytes) +
                   " decoded bytes, expected " + std::to_string(out_size));
    if (out_size == 0) return;
    if (h.decodes_blocks()) return decode_blosc_blocks(in, h, 0, h.nblocks, out);
    const int n = blosc_decompress_ctx(in.data, out, out_size, 1);
    if (n < 0 || size_t(n) != out_size)
      throw_decode("blosc: decompression failed (code " + std::to_string(n) + ")");
  }

  KnownSize decoded_size(ByteView in) const override { return parse_blosc_frame(in).nbytes; }
  // No ratio bound: a frame's header says its size, and check_decoded_size
  // compares it before anything is allocated.
  KnownSize most_decoded_bytes(size_t) const override { return std::nullopt; }

  // Blocks decode independently: pieces of whole blocks, each decoded with
  // blosc_getitem (thread-safe in c-blosc 1.x: it works on a context of its
  // own, never the global one; the ctx API's internal threads are not used).
  bool split(ByteView in, size_t out_size, size_t most, size_t align,
             std::vector<DecodePiece>* pieces) const override {
    const BloscFrame h = parse_blosc_frame(in);
    if (h.nbytes != out_size)
      throw_decode("blosc: header announces " + std::to_string(h.nbytes) +
                   " decoded bytes, expected " + std::to_string(out_size));
    const size_t bs = h.blocksize;
    if (out_size == 0 || bs == 0 || bs >= out_size || bs % h.typesize ||
        out_size % h.typesize || bs % align)
      return false;
    const size_t nblocks = (out_size + bs - 1) / bs;
    const size_t n = std::min(most, nblocks);
    for (size_t p = 0; p < n; ++p) {
      const size_t first = nblocks * p / n, last = nblocks * (p + 1) / n;
      pieces->push_back(DecodePiece{0, in.size, first * bs, std::min(last * bs, out_size)});
    }
    return true;
  }

  void decode_piece(ByteView in, const DecodePiece& piece, uint8_t* out,
                    size_t out_size) const override {
    const BloscFrame h = parse_blosc_frame(in);
    decode_blocks(in, h, piece.out_begin, piece.out_end, out);
  }

  bool decode_part(ByteView in, const NeededBytes& needed, uint8_t* out, size_t nbytes,
                   const std::function<void()>& before_decoding,
                   ByteRanges* written) const override {
    const BloscFrame h = parse_blosc_frame(in);
    const size_t bs = h.blocksize;
    if (h.nbytes != nbytes || bs == 0 || bs >= nbytes || bs % h.typesize ||
        nbytes % h.typesize || bs % needed.align || needed.starts.empty() || needed.run <= 0)
      return false;
    const size_t nblocks = (nbytes + bs - 1) / bs;
    std::vector<char> wanted(nblocks, 0);
    for (int64_t s : needed.starts) {
      const size_t first = size_t(s) / bs, last = (size_t(s) + size_t(needed.run) - 1) / bs;
      for (size_t b = first; b <= last && b < nblocks; ++b) wanted[b] = 1;
    }
    const size_t count = size_t(std::count(wanted.begin(), wanted.end(), 1));
    if (double(count * bs) >= kWorthwhileFraction * double(nbytes))
      return decode_items_part(in, h, needed, out, before_decoding, written);
    before_decoding();
    for (size_t b = 0; b < nblocks;) {
      if (!wanted[b]) {
        ++b;
        continue;
      }
      size_t e = b;
      while (e < nblocks && wanted[e]) ++e;
      const size_t begin = b * bs, end = std::min(e * bs, nbytes);
      decode_blocks(in, h, begin, end, out);
      written->emplace_back(begin, end);
      b = e;
    }
    return true;
  }

  // Where (almost) every block holds needed bytes (a grid slice of every
  // variable, blocks spanning several variables): every block's streams
  // decompressed, but only the needed items unshuffled into place, when
  // that saves enough of a whole decode.
  static bool decode_items_part(ByteView in, const BloscFrame& h, const NeededBytes& needed,
                                uint8_t* out, const std::function<void()>& before_decoding,
                                ByteRanges* written) {
    const size_t bs = h.blocksize, ts = h.typesize, nbytes = h.nbytes;
    if (ts % needed.align) return false;
    std::vector<ItemRuns> runs(h.nblocks);
    for (int64_t s : needed.starts) {
      const size_t begin = size_t(s), end = std::min(nbytes, begin + size_t(needed.run));
      for (size_t b = begin / bs; b < h.nblocks && b * bs < end; ++b)
        runs[b].emplace_back((std::max(begin, b * bs) - b * bs) / ts,
                             (std::min(end, (b + 1) * bs) - b * bs + ts - 1) / ts);
    }
    // Cost in items against a whole decode's: decompressing the streams
    // (kDecompressShare of it), then unshuffling the needed items.
    double cost = 0;
    for (size_t b = 0; b < h.nblocks; ++b) {
      ItemRuns& r = runs[b];
      if (r.empty()) continue;
      if (!blosc_block_decodes_items(h, b)) {  // the last, shorter block: whole
        r.assign(1, {0, (std::min(bs, nbytes - b * bs) + ts - 1) / ts});
        cost += double(r[0].second);
        continue;
      }
      std::sort(r.begin(), r.end());
      size_t k = 0;  // merged in place
      for (size_t i = 1; i < r.size(); ++i) {
        if (r[i].first <= r[k].second)
          r[k].second = std::max(r[k].second, r[i].second);
        else
          r[++k] = r[i];
      }
      r.resize(k + 1);
      size_t unshuffled = 0;
      for (const auto& run : r) unshuffled += run.second - run.first + kItemsPerRun;
      cost += kDecompressShare * double(bs / ts) + (1 - kDecompressShare) * double(unshuffled);
    }
    if (cost * double(ts) >= kItemsWorthwhileFraction * double(nbytes)) return false;
    before_decoding();
    for (size_t b = 0; b < h.nblocks; ++b) {
      if (runs[b].empty()) continue;
      if (!blosc_block_decodes_items(h, b)) {
        decode_blocks(in, h, b * bs, std::min(nbytes, (b + 1) * bs), out);
        written->emplace_back(b * bs, std::min(nbytes, (b + 1) * bs));
        continue;
      }
      decode_blosc_block_items(in, h, b, runs[b], out);
      for (const auto& run : runs[b])
        written->emplace_back(b * bs + run.first * ts, b * bs + run.second * ts);
    }
    return true;
  }

  void encode(ByteView in, std::string* out) const override {
    const BloscSettings& s = settings_;
    if (in.size > size_t(BLOSC_MAX_BUFFERSIZE))
      throw Error(ErrorKind::kUnsupported, "blosc: chunks over 2 GiB cannot be blosc-compressed");
    const size_t start = out->size();
    out->resize(start + in.size + BLOSC_MAX_OVERHEAD);
    const int n = blosc_compress_ctx(int(s.clevel), int(s.shuffle), int(s.typesize), in.size, in.data,
                                     &(*out)[start], in.size + BLOSC_MAX_OVERHEAD,
                                     s.cname.c_str(), size_t(s.blocksize), 1);
    if (n <= 0)
      throw Error(ErrorKind::kUnsupported, "blosc: compression with '" + s.cname +
                                               "' failed (code " + std::to_string(n) + ")");
    out->resize(start + size_t(n));
  }

  CodecConfig configuration(int zarr_format) const override {
    return write_settings(settings_, zarr_format);
  }

 private:
  BloscSettings settings_;
};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext& context) {
  BloscSettings s;
  s.typesize = context.element.size;  // the default: the array's items
  ConfigBinder b = ConfigBinder::reader(config, context.zarr_format);
  s.bind(b);
  return std::make_unique<BloscCodec>(std::move(s));
}

}  // namespace

extern const CodecDefinition kBloscCodec = {"blosc", CodecKind::kBytesToBytes,
                                            kNumcodecsId | kZarrV3Name, "cname:clevel:shuffle",
                                            make};

}  // namespace fastchunk
