#include "codecs/chain.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <utility>

#include "codecs/registry.h"
#include "common/error.h"
#include "common/scratch.h"

namespace fastchunk {
namespace {

constexpr size_t kKeepScratchBytes = size_t(512) << 20;

// Streams between compressors whose sizes only their headers tell are
// compressed data: never much larger than the chunk. Anything claiming more is
// rejected before allocating.
size_t intermediate_limit(size_t largest) { return largest + largest / 2 + 65536; }

ByteBuffer& scratch(int which) {
  return fastchunk::scratch(which == 0 ? Scratch::kCodecIn : Scratch::kCodecOut);
}

// sizes[i]: the decoded size of codecs[i] when the codecs inside it fix it
// (sizes[0] = out_size); sizes[n]: the stored size of the first n codecs.
std::vector<KnownSize> fixed_sizes(const ChainSpec& chain, size_t n, size_t out_size) {
  std::vector<KnownSize> sizes(n + 1);
  sizes[0] = out_size;
  for (size_t i = 0; i < n && sizes[i]; ++i)
    sizes[i + 1] = chain.codecs[i]->encoded_size(size_t(*sizes[i]));
  return sizes;
}

const TrailerChecksum* trailer(const ChainSpec& chain, size_t i) {
  return chain.codecs[i]->abilities().trailer;
}

// The number of codecs left once the checksums at the outside are stripped
// from `body` (by size only: nothing is verified).
size_t strip_outer_checksums(const ChainSpec& chain, ByteView& body) {
  size_t n = chain.codecs.size();
  while (n > 0 && trailer(chain, n - 1)) {
    body.size = size_t(*chain.codecs[n - 1]->decoded_size(body));
    --n;
  }
  return n;
}

}  // namespace

ChainSpec build_chain(const std::vector<CodecStep>& steps, const std::string& dtype,
                      int zarr_format) {
  ChainSpec chain;
  CodecContext context{ElementType::parse(dtype), zarr_format};
  for (const CodecStep& step : steps) {
    std::shared_ptr<const Codec> codec = make_codec(step.name, step.config, context);
    context.element = codec->encoded_element(context.element);
    if (!codec->abilities().identity) chain.codecs.push_back(std::move(codec));
  }
  return chain;
}

void decode_chunk(const ChainSpec& chain, ByteView encoded, uint8_t* out, size_t out_size) {
  const auto& codecs = chain.codecs;
  ByteView current = encoded;
  // Checksums at the outside of the chain only verify; they need no copy.
  size_t n = codecs.size();
  while (n > 0 && trailer(chain, n - 1)) current = trailer(chain, --n)->strip_trailer(current);
  // Codecs at the inside that decode in place run last, on `out` itself.
  size_t k = 0;
  while (k < n && codecs[k]->abilities().in_place) ++k;
  const std::vector<KnownSize> sizes = fixed_sizes(chain, n, out_size);
  size_t largest = out_size;
  for (const KnownSize& s : sizes)
    if (s) largest = std::max(largest, size_t(*s));
  int ping = 0;
  for (size_t i = n; i-- > k;) {
    const Codec& codec = *codecs[i];
    if (const TrailerChecksum* t = codec.abilities().trailer) {
      current = t->strip_trailer(current);
      continue;
    }
    if (i == k) {  // the decoder checks the size it is given
      codec.decode(current, out, out_size);
      current = ByteView{out, out_size};
      break;
    }
    KnownSize size = sizes[i];
    if (!size) {
      const KnownSize announced = codec.decoded_size(current);
      if (!announced)
        throw Error(ErrorKind::kUnsupported,
                    "codec chain: an inner codec does not announce its decoded size");
      if (*announced > intermediate_limit(largest))
        throw_decode("codec chain: intermediate stream claims " + std::to_string(*announced) +
                     " bytes, more than the chunk can hold");
      size = announced;
    }
    const size_t decoded = size_t(*size);
    codec.check_decoded_size(current, decoded);
    ByteBuffer& buf = scratch(ping);
    ping ^= 1;
    uint8_t* dst = buf.reserve(decoded);
    codec.decode(current, dst, decoded);
    current = ByteView{dst, decoded};
  }
  if (current.data != out) {
    if (current.size != out_size)
      throw_decode("raw chunk holds " + std::to_string(current.size) + " bytes, expected " +
                   std::to_string(out_size));
    if (out_size) std::memmove(out, current.data, out_size);
  }
  for (size_t i = k; i-- > 0;) codecs[i]->abilities().in_place->decode_in_place(out, out_size);
  scratch(0).shrink_if_above(kKeepScratchBytes);
  scratch(1).shrink_if_above(kKeepScratchBytes);
}

bool split_decode(const ChainSpec& chain, ByteView encoded, size_t out_size, size_t most,
                  SplitDecode* plan) {
  const auto& codecs = chain.codecs;
  if (most < 2 || codecs.empty()) return false;
  size_t n = codecs.size();
  while (n > 0 && trailer(chain, n - 1)) --n;
  size_t k = 0, align = 1;
  while (k < n && codecs[k]->abilities().element_alignment && codecs[k]->abilities().in_place) {
    align = std::lcm(align, codecs[k]->abilities().element_alignment);
    ++k;
  }
  if (n != k + 1) return false;
  const SplitDecoding* splitter = codecs[k]->abilities().split;
  if (!splitter) return false;
  ByteView body = encoded;  // the checksums are verified here, once
  for (size_t i = codecs.size(); i-- > n;) body = trailer(chain, i)->strip_trailer(body);
  plan->pieces.clear();
  if (!splitter->split(body, out_size, most, align, &plan->pieces) || plan->pieces.size() < 2)
    return false;
  plan->chain = &chain;
  plan->body = body;
  plan->codec = k;
  plan->out_size = out_size;
  return true;
}

void decode_piece(const SplitDecode& plan, size_t i, uint8_t* out) {
  const auto& codecs = plan.chain->codecs;
  const DecodePiece& p = plan.pieces[i];
  codecs[plan.codec]->abilities().split->decode_piece(plan.body, p, out, plan.out_size);
  for (size_t j = plan.codec; j-- > 0;)
    codecs[j]->abilities().in_place->decode_in_place(out + p.out_begin, p.out_end - p.out_begin);
}

void check_announced_size(const ChainSpec& chain, ByteView encoded, size_t out_size) {
  ByteView body = encoded;
  const size_t n = strip_outer_checksums(chain, body);
  const std::vector<KnownSize> sizes = fixed_sizes(chain, n, out_size);
  if (sizes[n]) {
    if (body.size != *sizes[n])
      throw_decode((n == 0 ? std::string("raw chunk") : std::string("filtered chunk")) +
                   " holds " + std::to_string(body.size) + " bytes, expected " +
                   std::to_string(*sizes[n]));
    return;
  }
  // Only the outermost codec's header can be read without decoding.
  if (sizes[n - 1]) chain.codecs[n - 1]->check_decoded_size(body, size_t(*sizes[n - 1]));
}

bool decode_chunk_part(const ChainSpec& chain, ByteView encoded, NeededBytes needed,
                       uint8_t* out, size_t out_size) {
  const auto& codecs = chain.codecs;
  ByteView body = encoded;
  const size_t n = strip_outer_checksums(chain, body);
  // Byte order at the inside applies to whatever part gets decoded.
  size_t k = 0;
  while (k < n && codecs[k]->abilities().element_alignment && codecs[k]->abilities().in_place) {
    needed.align = std::lcm(needed.align, codecs[k]->abilities().element_alignment);
    ++k;
  }
  if (n != k + 1) return false;
  const PartialDecoding* partial = codecs[k]->abilities().partial;
  if (!partial) return false;
  // The outer checksums are verified only once partial decoding is chosen:
  // a whole-chunk decode verifies them itself.
  const auto verify = [&] {
    ByteView v = encoded;
    for (size_t i = codecs.size(); i-- > n;) v = trailer(chain, i)->strip_trailer(v);
  };
  ByteRanges written;
  if (!partial->decode_part(body, needed, out, out_size, verify, &written)) return false;
  for (size_t i = k; i-- > 0;)
    for (const auto& r : written)
      codecs[i]->abilities().in_place->decode_in_place(out + r.first, r.second - r.first);
  return true;
}

void encode_chunk(const ChainSpec& chain, ByteView data, std::string* out) {
  std::string current, next;
  ByteView view = data;
  for (const auto& codec : chain.codecs) {
    next.clear();
    codec->encode(view, &next);
    std::swap(current, next);
    view = ByteView{reinterpret_cast<const uint8_t*>(current.data()), current.size()};
  }
  if (chain.codecs.empty()) {
    out->assign(reinterpret_cast<const char*>(data.data), data.size);
    return;
  }
  *out = std::move(current);
}

KnownSize encoded_size(const ChainSpec& chain, size_t decoded) {
  return fixed_sizes(chain, chain.codecs.size(), decoded).back();
}

}  // namespace fastchunk
