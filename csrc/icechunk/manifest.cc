#include "icechunk/manifest.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "icechunk/flat_table.h"

namespace fastchunk {
namespace {

using flat::Table;
using flat::Verifier;

// Field numbers, in the order manifest.fbs declares them.
namespace manifest_field {
enum { kId, kArrays, kLocationDictionary, kCompressionAlgorithm, kExtra };
}
namespace array_field {
enum { kNodeId, kRefs, kExtra };
}
namespace ref_field {
enum { kIndex, kInline, kOffset, kLength, kChunkId, kLocation, kChecksumEtag,
       kChecksumLastModified, kCompressedLocation, kExtra };
}
constexpr uint8_t kLocationsZstdDictionary = 1;

bool verify_ref(const Table* t, Verifier& v) {
  using namespace ref_field;
  return t->VerifyTableStart(v) && flat::vector_ok(t, v, kIndex, 4, true) &&
         flat::vector_ok(t, v, kInline, 1, false) && flat::scalar_ok<uint64_t>(t, v, kOffset) &&
         flat::scalar_ok<uint64_t>(t, v, kLength) && flat::struct_ok(t, v, kChunkId, 12, 1, false) &&
         flat::string_ok(t, v, kLocation, false) && flat::string_ok(t, v, kChecksumEtag, false) &&
         flat::scalar_ok<uint32_t>(t, v, kChecksumLastModified) &&
         flat::vector_ok(t, v, kCompressedLocation, 1, false) &&
         flat::vector_ok(t, v, kExtra, 1, false) && v.EndTable();
}

bool verify_array(const Table* t, Verifier& v) {
  using namespace array_field;
  return t->VerifyTableStart(v) && flat::struct_ok(t, v, kNodeId, 8, 1, true) &&
         flat::table_vector_ok(t, v, kRefs, true, verify_ref) &&
         flat::vector_ok(t, v, kExtra, 1, false) && v.EndTable();
}

bool verify_manifest(const Table* t, Verifier& v) {
  using namespace manifest_field;
  return t->VerifyTableStart(v) && flat::struct_ok(t, v, kId, 12, 1, true) &&
         flat::table_vector_ok(t, v, kArrays, true, verify_array) &&
         flat::vector_ok(t, v, kLocationDictionary, 1, false) &&
         flat::scalar_ok<uint8_t>(t, v, kCompressionAlgorithm) &&
         flat::vector_ok(t, v, kExtra, 1, false) && v.EndTable();
}

std::string coords_text(const flat::RawVector& index) {
  std::string s = "(";
  for (uint32_t d = 0; d < index.size; ++d)
    s += (d ? "," : "") + std::to_string(flat::load<uint32_t>(index.data + 4 * d));
  return s + ")";
}

// Decompresses compressed_location values with the manifest's dictionary.
class LocationDecoder {
 public:
  LocationDecoder(const Table* manifest, const std::string& what) : what_(what) {
    const flat::RawVector dict = flat::vector_at(manifest, manifest_field::kLocationDictionary);
    const uint8_t algorithm =
        flat::scalar<uint8_t>(manifest, manifest_field::kCompressionAlgorithm, 1);
    if (algorithm == kLocationsZstdDictionary && dict.data) {
      ddict_ = ZSTD_createDDict(dict.data, dict.size);
      ctx_ = ZSTD_createDCtx();
      if (!ddict_ || !ctx_) {
        free();
        throw Error(ErrorKind::kMetadata, what + ": a location dictionary zstd cannot load");
      }
    }
  }
  ~LocationDecoder() { free(); }
  LocationDecoder(const LocationDecoder&) = delete;
  LocationDecoder& operator=(const LocationDecoder&) = delete;

  std::string decode(const flat::RawVector& compressed, const std::string& at) {
    if (!ddict_)
      throw Error(ErrorKind::kMetadata,
                  what_ + ": chunk " + at + ": a compressed location but no location dictionary");
    char out[kMaxCompressedLocation];
    const size_t n =
        ZSTD_decompress_usingDDict(ctx_, out, sizeof(out), compressed.data, compressed.size, ddict_);
    if (ZSTD_isError(n))
      throw Error(ErrorKind::kMetadata, what_ + ": chunk " + at + ": compressed location: " +
                                            ZSTD_getErrorName(n));
    return std::string(out, n);
  }

 private:
  void free() {
    if (ddict_) ZSTD_freeDDict(ddict_);
    if (ctx_) ZSTD_freeDCtx(ctx_);
    ddict_ = nullptr;
    ctx_ = nullptr;
  }
  std::string what_;
  ZSTD_DDict* ddict_ = nullptr;
  ZSTD_DCtx* ctx_ = nullptr;
};

}  // namespace

std::shared_ptr<const Manifest> Manifest::parse(ByteView bytes, const std::string& what,
                                                uint64_t max_payload) {
  IcechunkFile file = read_icechunk_file(bytes, IcechunkFileType::kManifest, what, max_payload);
  std::shared_ptr<Manifest> m(new Manifest);
  m->payload_ = std::move(file.payload);
  m->spec_version_ = file.spec_version;
  const std::vector<uint8_t>& buf = m->payload_;
  // Every reference is a table of at least 12 bytes: the count is bounded by the size.
  Verifier::Options opts;
  opts.max_tables = flatbuffers::uoffset_t(std::min<size_t>(buf.size() / 4 + 16, 0x7fffffff));
  Verifier v(buf.data(), buf.size(), opts);
  if (!flat::verify_root(v, buf.data(), buf.size()) || !verify_manifest(flat::root(buf.data()), v))
    throw Error(ErrorKind::kMetadata, what + ": not a valid manifest (flatbuffer verification failed)");
  const Table* root = flat::root(buf.data());
  std::copy_n(flat::struct_at(root, manifest_field::kId), 12, m->id_.begin());
  const auto* arrays = flat::tables_at(root, manifest_field::kArrays);
  for (flatbuffers::uoffset_t i = 0; i < arrays->size(); ++i)
    m->ref_count_ += flat::tables_at(arrays->Get(i), array_field::kRefs)->size();
  return m;
}

std::vector<ObjectId8> Manifest::node_ids() const {
  const auto* arrays = flat::tables_at(flat::root(payload_.data()), manifest_field::kArrays);
  std::vector<ObjectId8> out(arrays->size());
  for (flatbuffers::uoffset_t a = 0; a < arrays->size(); ++a)
    std::copy_n(flat::struct_at(arrays->Get(a), array_field::kNodeId), 8, out[a].begin());
  return out;
}

void Manifest::collect(const ObjectId8& node, const std::vector<ManifestExtent>& extents,
                       ChunkRefTable& table, const std::string& what) const {
  const Table* root = flat::root(payload_.data());
  const auto* arrays = flat::tables_at(root, manifest_field::kArrays);
  const size_t ndim = table.ndim();
  if (extents.size() != ndim)
    throw Error(ErrorKind::kMetadata, what + ": " + std::to_string(extents.size()) +
                                          " extents for an array of " + std::to_string(ndim) +
                                          " axes");
  std::unique_ptr<LocationDecoder> locations;
  std::vector<uint32_t> coords(ndim);
  for (flatbuffers::uoffset_t a = 0; a < arrays->size(); ++a) {
    const Table* array = arrays->Get(a);
    if (std::memcmp(flat::struct_at(array, array_field::kNodeId), node.data(), node.size()) != 0)
      continue;
    const auto* refs = flat::tables_at(array, array_field::kRefs);
    for (flatbuffers::uoffset_t i = 0; i < refs->size(); ++i) {
      const Table* r = refs->Get(i);
      const flat::RawVector index = flat::vector_at(r, ref_field::kIndex);
      if (index.size != ndim)
        throw Error(ErrorKind::kMetadata, what + ": chunk " + coords_text(index) + " has " +
                                              std::to_string(index.size) +
                                              " coordinates for an array of " +
                                              std::to_string(ndim) + " axes");
      bool inside = true;
      for (size_t d = 0; d < ndim; ++d) {
        coords[d] = flat::load<uint32_t>(index.data + 4 * d);
        inside = inside && coords[d] >= extents[d].from && coords[d] < extents[d].to;
      }
      if (!inside || !table.in_grid(coords.data())) continue;
      ChunkRef ref;
      ref.offset = flat::scalar<uint64_t>(r, ref_field::kOffset, 0);
      ref.length = flat::scalar<uint64_t>(r, ref_field::kLength, 0);
      // The precedence Icechunk reads them with: chunk id, compressed
      // location, location, inline bytes.
      if (const uint8_t* id = flat::struct_at(r, ref_field::kChunkId)) {
        ObjectId12 chunk;
        std::copy_n(id, 12, chunk.begin());
        ref.kind = ChunkRef::Kind::kNative;
        ref.target = table.add_target(chunk_object_key(chunk), false, std::string(), 0);
      } else if (flat::has(r, ref_field::kCompressedLocation) || flat::has(r, ref_field::kLocation)) {
        std::string location;
        if (flat::has(r, ref_field::kCompressedLocation)) {
          if (!locations) locations.reset(new LocationDecoder(root, what));
          location = locations->decode(flat::vector_at(r, ref_field::kCompressedLocation),
                                       coords_text(index));
        } else {
          location = flat::str(flat::string_at(r, ref_field::kLocation));
        }
        if (location.empty() || location.size() > 4096 ||
            location.find('\0') != std::string::npos)
          throw Error(ErrorKind::kMetadata,
                      what + ": chunk " + coords_text(index) + ": not a virtual chunk location");
        // One condition: the ETag when there is one, else the time.
        const std::string etag = flat::str(flat::string_at(r, ref_field::kChecksumEtag));
        const uint32_t modified =
            flat::has(r, ref_field::kChecksumEtag)
                ? 0
                : flat::scalar<uint32_t>(r, ref_field::kChecksumLastModified, 0);
        ref.kind = ChunkRef::Kind::kVirtual;
        ref.target = table.add_target(location, true, etag, modified);
      } else if (flat::has(r, ref_field::kInline)) {
        const flat::RawVector bytes = flat::vector_at(r, ref_field::kInline);
        ref.kind = ChunkRef::Kind::kInline;
        ref.offset = table.add_inline(bytes.data, bytes.size);
        ref.length = bytes.size;
      } else {
        throw Error(ErrorKind::kMetadata, what + ": chunk " + coords_text(index) +
                                              " is neither inline, native nor virtual");
      }
      if (ref.kind != ChunkRef::Kind::kInline && ref.offset > UINT64_MAX - ref.length)
        throw Error(ErrorKind::kMetadata, what + ": chunk " + coords_text(index) +
                                              ": byte range overflows");
      table.add(coords.data(), ref);
    }
  }
}

}  // namespace fastchunk
