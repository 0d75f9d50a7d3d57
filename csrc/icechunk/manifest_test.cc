#include "icechunk/manifest.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "icechunk/ref_routes.h"
#include "icechunk/ref_source.h"
#include "io/fetched_source.h"
#include "testing/icechunk_files.h"
#include "testing/test_arrays.h"

namespace fastchunk {
namespace {

using testing::RefSpec;

const std::array<uint8_t, 12> kManifestId = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
const std::array<uint8_t, 8> kNode = {1, 1, 2, 3, 5, 8, 13, 21};
const std::array<uint8_t, 12> kChunk = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};

RefSpec native(std::vector<uint32_t> index, uint64_t offset, uint64_t length) {
  RefSpec r;
  r.index = std::move(index);
  r.kind = RefSpec::kNative;
  r.chunk_id = kChunk;
  r.offset = offset;
  r.length = length;
  return r;
}

std::vector<RefSpec> sample_refs() {
  std::vector<RefSpec> refs = {native({0, 1}, 100, 10), native({0, 0}, 0, 10),
                               native({1, 1}, 300, 20), native({9, 9}, 0, 1) /* outside extents */};
  RefSpec inl;
  inl.index = {1, 0};
  inl.kind = RefSpec::kInline;
  inl.inline_bytes = {1, 2, 3, 4};
  refs.push_back(inl);
  RefSpec virt;
  virt.index = {2, 0};
  virt.kind = RefSpec::kVirtual;
  virt.location = "s3://bucket/file.nc";
  virt.etag = "\"abc\"";
  virt.offset = 1000;
  virt.length = 50;
  refs.push_back(virt);
  return refs;
}

std::shared_ptr<const Manifest> manifest_of(const std::vector<RefSpec>& refs) {
  const auto payload = testing::manifest_payload(kManifestId, kNode, refs);
  const auto file = testing::icechunk_file(IcechunkFileType::kManifest, payload.data(),
                                           payload.size());
  return Manifest::parse(testing::view(file), "m");
}

ChunkRefTable table_of(const Manifest& m, std::vector<uint64_t> grid = {3, 2}) {
  ChunkRefTable table(std::move(grid));
  m.collect(ObjectId8(kNode), {{0, 3}, {0, 2}}, table, "m");
  table.seal("m");
  return table;
}

TEST(ManifestTest, CollectsTheReferencesInsideExtentsAndGrid) {
  const auto m = manifest_of(sample_refs());
  EXPECT_EQ(m->ref_count(), 6u);
  ASSERT_EQ(m->node_ids().size(), 1u);
  const ChunkRefTable table = table_of(*m);
  ASSERT_EQ(table.size(), 5u);  // (9, 9) lies outside the extents
  const int64_t at01[] = {0, 1}, at10[] = {1, 0}, at20[] = {2, 0}, at21[] = {2, 1};
  const ChunkRef* r = table.find(at01);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->kind, ChunkRef::Kind::kNative);
  EXPECT_EQ(table.targets()[r->target].location, "chunks/" + encode_object_id(ObjectId12(kChunk)));
  EXPECT_EQ(r->offset, 100u);
  r = table.find(at10);
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->kind, ChunkRef::Kind::kInline);
  EXPECT_EQ(table.inline_bytes(*r).size, 4u);
  r = table.find(at20);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->kind, ChunkRef::Kind::kVirtual);
  EXPECT_EQ(table.targets()[r->target].etag, "\"abc\"");
  EXPECT_EQ(table.find(at21), nullptr);
  // Native references of one chunk object share one target.
  EXPECT_EQ(table.targets().size(), 2u);
}

TEST(ManifestTest, HostileReferencesAreErrors) {
  auto refs = sample_refs();
  refs.push_back(native({0, 1}, 0, 1));  // referenced twice
  EXPECT_THROW(table_of(*manifest_of(refs)), Error);
  refs = sample_refs();
  refs.push_back(native({0, 1, 0}, 0, 1));  // another rank
  EXPECT_THROW(table_of(*manifest_of(refs)), Error);
  refs = sample_refs();
  refs.push_back(native({2, 1}, UINT64_MAX - 1, 10));  // the range overflows
  EXPECT_THROW(table_of(*manifest_of(refs)), Error);
  RefSpec none;
  none.index = {2, 1};
  none.kind = RefSpec::kNone;
  refs = sample_refs();
  refs.push_back(none);
  EXPECT_THROW(table_of(*manifest_of(refs)), Error);
}

TEST(ManifestTest, CompressedLocationsDecodeWithTheManifestsDictionary) {
  // A raw-content dictionary: zstd takes any bytes as one.
  const std::string text = "s3://era5-archive/netcdf/1979/era5-1979-01.nc";
  const std::vector<uint8_t> dictionary(text.begin(), text.end());
  const std::string location = "s3://era5-archive/netcdf/1979/era5-1979-02.nc";
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::vector<uint8_t> compressed(ZSTD_compressBound(location.size()) + 64);
  compressed.resize(ZSTD_compress_usingDict(cctx, compressed.data(), compressed.size(),
                                            location.data(), location.size(), dictionary.data(),
                                            dictionary.size(), 3));
  ZSTD_freeCCtx(cctx);
  RefSpec virt;
  virt.index = {0, 0};
  virt.kind = RefSpec::kVirtual;
  virt.compressed_location = compressed;
  virt.length = 8;
  auto payload = testing::manifest_payload(kManifestId, kNode, {virt}, dictionary);
  auto file = testing::icechunk_file(IcechunkFileType::kManifest, payload.data(), payload.size(), 2);
  const ChunkRefTable table = table_of(*Manifest::parse(testing::view(file), "m"));
  ASSERT_EQ(table.size(), 1u);
  EXPECT_EQ(table.targets()[0].location, location);
  EXPECT_TRUE(table.targets()[0].is_virtual);
  // Without the dictionary: an error, not a guess.
  payload = testing::manifest_payload(kManifestId, kNode, {virt});
  file = testing::icechunk_file(IcechunkFileType::kManifest, payload.data(), payload.size(), 2);
  EXPECT_THROW(table_of(*Manifest::parse(testing::view(file), "m")), Error);
}

TEST(ManifestTest, CorruptBuffersFailVerification) {
  auto payload = testing::manifest_payload(kManifestId, kNode, sample_refs());
  for (size_t cut : {size_t(3), payload.size() / 2, payload.size() - 1}) {
    const auto file = testing::icechunk_file(IcechunkFileType::kManifest, payload.data(), cut);
    EXPECT_THROW(Manifest::parse(testing::view(file), "m"), Error) << cut;
  }
  payload[0] = 0xff;  // the root offset points outside
  payload[1] = 0xff;
  const auto file = testing::icechunk_file(IcechunkFileType::kManifest, payload.data(),
                                           payload.size());
  EXPECT_THROW(Manifest::parse(testing::view(file), "m"), Error);
}

TEST(ManifestTest, RefSourceTranslatesRangesIntoTheReference) {
  const ChunkRefTable table = table_of(*manifest_of(sample_refs()));
  const ArraySpec spec = testing::raw_spec({6, 4}, {2, 2});
  FetchedSource repo, files;
  std::vector<uint8_t> object(400);
  for (size_t i = 0; i < object.size(); ++i) object[i] = uint8_t(i);
  repo.provide("chunks/" + encode_object_id(ObjectId12(kChunk)), ByteRange::whole(),
               ByteView{object.data(), object.size()}, object.size());
  RefSource source(spec, table, repo, files);
  ByteBuffer storage;
  ObjectBytes got;
  ASSERT_TRUE(source.get("a/c/0/1", ByteRange::whole(), storage, got));
  EXPECT_EQ(got.bytes.size, 10u);
  EXPECT_EQ(got.bytes.data[0], 100);
  EXPECT_EQ(got.object_size, 10u);
  ASSERT_TRUE(source.get("a/c/1/1", ByteRange::suffix(4), storage, got));
  EXPECT_EQ(got.bytes.data[0], uint8_t(316));
  EXPECT_THROW(source.get("a/c/1/1", ByteRange::slice(15, 10), storage, got), Error);
  ASSERT_TRUE(source.get("a/c/1/0", ByteRange::whole(), storage, got));
  EXPECT_EQ(std::vector<uint8_t>(got.bytes.data, got.bytes.data + got.bytes.size),
            (std::vector<uint8_t>{1, 2, 3, 4}));
  EXPECT_FALSE(source.get("a/c/2/1", ByteRange::whole(), storage, got));  // no reference
  EXPECT_FALSE(source.get("b/c/0/0", ByteRange::whole(), storage, got));  // another array
  EXPECT_THROW(source.get("a/c/2/0", ByteRange::whole(), storage, got), Error);  // remote virtual
}

TEST(ManifestTest, RoutesCoalesceRangesOfOneObject) {
  ChunkRefTable table = table_of(*manifest_of(sample_refs()));
  const ArraySpec spec = testing::raw_spec({6, 4}, {2, 2});
  const std::vector<ByteRequest> requests = {
      {"a/c/0/0", ByteRange::whole()}, {"a/c/0/1", ByteRange::whole()},
      {"a/c/1/1", ByteRange::suffix(4)}, {"a/c/1/0", ByteRange::whole()},
      {"a/c/2/1", ByteRange::whole()}, {"a/c/2/0", ByteRange::slice(10, 5)}};
  table.targets()[1].allowed = false;
  EXPECT_THROW(route_requests(spec, table, requests, 256, 1 << 20), Error);
  table.targets()[1].allowed = true;
  const Routes routes = route_requests(spec, table, requests, 256, 1 << 20);
  // [0, 10) and [100, 110) and [316, 320) of the chunk object: one fetch;
  // the virtual object: another.
  ASSERT_EQ(routes.fetches.size(), 2u);
  EXPECT_EQ(routes.fetches[0].offset, 0u);
  EXPECT_EQ(routes.fetches[0].length, 320u);
  EXPECT_EQ(routes.fetches[1].offset, 1010u);
  EXPECT_EQ(routes.fetches[1].length, 5u);
  EXPECT_EQ(routes.answers[1].kind, RoutedAnswer::Kind::kFetched);
  EXPECT_EQ(routes.answers[1].start, 100u);
  EXPECT_EQ(routes.answers[2].start, 316u);
  EXPECT_EQ(routes.answers[2].object_size, 20u);
  EXPECT_EQ(routes.answers[3].kind, RoutedAnswer::Kind::kInline);
  EXPECT_EQ(routes.answers[4].kind, RoutedAnswer::Kind::kMissing);
  const Routes apart = route_requests(spec, table, requests, 0, 1 << 20);
  EXPECT_EQ(apart.fetches.size(), 4u);  // no gap allowed: each range alone
}

}  // namespace
}  // namespace fastchunk
