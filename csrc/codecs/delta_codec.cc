// numcodecs Delta: each element stored as its difference to the previous one
// (the first as itself), in `astype`; decoding is the cumulative sum into
// `dtype`, computed as numpy's np.cumsum(encoded, out=decoded) does: in the
// promoted type of the two, cast to `dtype`. Integers (modular arithmetic:
// any mix of sizes gives the same bits) and float32/float64 decode here;
// other pairs (half floats, integers with floats, uint64 with signed types,
// which numpy sums in float64) are left to numcodecs.
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

#include "codecs/config_binder.h"
#include "codecs/registry.h"
#include "common/error.h"

namespace fastchunk {
namespace {

template <typename T>
T byteswap(T v) {
  if constexpr (sizeof(T) == 1) {
    return v;
  } else {
    using U = std::conditional_t<sizeof(T) == 2, uint16_t,
                                 std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>;
    U u;
    std::memcpy(&u, &v, sizeof(T));
    if constexpr (sizeof(T) == 2) u = __builtin_bswap16(u);
    if constexpr (sizeof(T) == 4) u = __builtin_bswap32(u);
    if constexpr (sizeof(T) == 8) u = __builtin_bswap64(u);
    std::memcpy(&v, &u, sizeof(T));
    return v;
  }
}

template <typename T>
T load(const uint8_t* p, bool swap) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return swap ? byteswap(v) : v;
}

template <typename T>
void store(uint8_t* p, T v, bool swap) {
  if (swap) v = byteswap(v);
  std::memcpy(p, &v, sizeof(T));
}

// Safe in place when In and Out have one size: element i is read before it is written.
template <typename In, typename Acc, typename Out>
void cumulative_sum(const uint8_t* in, uint8_t* out, size_t n, bool swap_in, bool swap_out) {
  Acc acc = 0;
  for (size_t i = 0; i < n; ++i) {
    acc = Acc(acc + Acc(load<In>(in + i * sizeof(In), swap_in)));
    store<Out>(out + i * sizeof(Out), Out(acc), swap_out);
  }
}

template <typename In, typename Diff, typename Out>
void differences(const uint8_t* in, uint8_t* out, size_t n, bool swap_in, bool swap_out) {
  Diff previous = 0;
  for (size_t i = 0; i < n; ++i) {
    const Diff v = Diff(load<In>(in + i * sizeof(In), swap_in));
    store<Out>(out + i * sizeof(Out), Out(Diff(v - previous)), swap_out);
    previous = v;
  }
}

template <typename T>
struct Tag {
  using type = T;
};

// Calls f(Tag<T>) with T the C type of an integer or float element type.
template <typename F>
void with_type(const ElementType& t, F&& f) {
  const bool is_signed = t.kind == 'i';
  if (t.kind == 'f') {
    if (t.size == 4) return f(Tag<float>{});
    return f(Tag<double>{});
  }
  switch (t.size) {
    case 1: return is_signed ? f(Tag<int8_t>{}) : f(Tag<uint8_t>{});
    case 2: return is_signed ? f(Tag<int16_t>{}) : f(Tag<uint16_t>{});
    case 4: return is_signed ? f(Tag<int32_t>{}) : f(Tag<uint32_t>{});
    default: return is_signed ? f(Tag<int64_t>{}) : f(Tag<uint64_t>{});
  }
}

// Integers of any sign store as the unsigned type of their size (modular).
template <typename F>
void with_storage_type(const ElementType& t, F&& f) {
  if (t.kind == 'f') return with_type(t, f);
  switch (t.size) {
    case 1: return f(Tag<uint8_t>{});
    case 2: return f(Tag<uint16_t>{});
    case 4: return f(Tag<uint32_t>{});
    default: return f(Tag<uint64_t>{});
  }
}

bool supported_size(const ElementType& t) {
  return t.size == 1 || t.size == 2 || t.size == 4 || t.size == 8;
}

struct DeltaSettings {
  std::string dtype;   // the decoded items
  std::string astype;  // the stored differences ("": dtype)
  void bind(ConfigBinder& b) {
    b.text("dtype", dtype);
    if (!b.reading() || b.source().has("astype")) b.text("astype", astype);
  }
};

class DeltaCodec final : public ArrayToArrayCodec, InPlaceDecoding {
 public:
  DeltaCodec(ElementType dtype, ElementType astype)
      : ArrayToArrayCodec(dtype, astype), dtype_(std::move(dtype)), astype_(std::move(astype)) {
    if (dtype_.size == astype_.size) abilities_.in_place = this;
  }

  void decode(ByteView in, uint8_t* out, size_t out_size) const override {
    const size_t n = items(in.size, astype_);
    if (n * size_t(dtype_.size) != out_size)
      throw_decode("delta: " + std::to_string(n) + " items decode to " +
                   std::to_string(n * dtype_.size) + " bytes, expected " + std::to_string(out_size));
    run_sum(in.data, out, n);
  }
  void decode_in_place(uint8_t* data, size_t size) const override {
    run_sum(data, data, items(size, astype_));
  }

  void encode(ByteView in, std::string* out) const override {
    const size_t n = items(in.size, dtype_);
    const size_t start = out->size();
    out->resize(start + n * size_t(astype_.size));
    uint8_t* dst = reinterpret_cast<uint8_t*>(&(*out)[start]);
    const bool swap_in = dtype_.is_swapped(), swap_out = astype_.is_swapped();
    with_type(dtype_, [&](auto in_tag) {
      using In = typename decltype(in_tag)::type;
      using Diff = std::conditional_t<std::is_floating_point_v<In>, In, uint64_t>;
      with_storage_type(astype_, [&](auto out_tag) {
        using Out = typename decltype(out_tag)::type;
        differences<In, Diff, Out>(in.data, dst, n, swap_in, swap_out);
      });
    });
  }

  CodecConfig configuration(int zarr_format) const override {
    return write_settings(DeltaSettings{dtype_.typestr, astype_.typestr}, zarr_format);
  }

 private:
  static size_t items(size_t bytes, const ElementType& t) {
    if (bytes % size_t(t.size))
      throw_decode("delta: " + std::to_string(bytes) + " bytes are not whole " + t.typestr +
                   " items");
    return bytes / size_t(t.size);
  }

  void run_sum(const uint8_t* in, uint8_t* out, size_t n) const {
    const bool swap_in = astype_.is_swapped(), swap_out = dtype_.is_swapped();
    with_type(astype_, [&](auto in_tag) {
      using In = typename decltype(in_tag)::type;
      with_storage_type(dtype_, [&](auto out_tag) {
        using Out = typename decltype(out_tag)::type;
        using Acc = std::conditional_t<std::is_floating_point_v<In>,
                                       std::conditional_t<(sizeof(In) > sizeof(Out)), In, Out>,
                                       uint64_t>;
        cumulative_sum<In, Acc, Out>(in, out, n, swap_in, swap_out);
      });
    });
  }

  ElementType dtype_;   // decoded items
  ElementType astype_;  // stored differences
};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext& context) {
  if (!config.has("dtype")) throw Error(ErrorKind::kMetadata, "delta needs a dtype");
  const DeltaSettings s = read_settings<DeltaSettings>(config, context.zarr_format);
  ElementType dtype = ElementType::parse(s.dtype);
  ElementType astype = s.astype.empty() ? dtype : ElementType::parse(s.astype);
  const bool ints = dtype.is_integer() && astype.is_integer();
  const bool floats = dtype.is_float() && astype.is_float() && dtype.size >= 4 && astype.size >= 4;
  // numpy sums uint64 with a signed type in float64.
  const bool promoted_to_float =
      ints && ((dtype.kind == 'u' && dtype.size == 8 && astype.kind == 'i') ||
               (astype.kind == 'u' && astype.size == 8 && dtype.kind == 'i'));
  if (!(ints || floats) || promoted_to_float || !supported_size(dtype) || !supported_size(astype))
    throw Error(ErrorKind::kUnsupported, "delta from " + astype.typestr + " to " + dtype.typestr +
                                             " is decoded by numcodecs");
  return std::make_unique<DeltaCodec>(std::move(dtype), std::move(astype));
}

}  // namespace

extern const CodecDefinition kDeltaCodec = {"delta", CodecKind::kArrayToArray, kNumcodecsId, "",
                                            make};

}  // namespace fastchunk
