#include "icechunk/binary_file.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "testing/icechunk_files.h"

namespace fastchunk {
namespace {

using testing::icechunk_file;
using testing::view;

ErrorKind kind_of(const std::vector<uint8_t>& file, IcechunkFileType type, std::string* message,
                  uint64_t limit = kMaxIcechunkPayload) {
  try {
    read_icechunk_file(view(file), type, "f", limit);
  } catch (const Error& e) {
    *message = e.what();
    return e.kind();
  }
  return ErrorKind::kOk;
}

TEST(IcechunkFileTest, ReadsCompressedAndPlainPayloads) {
  const std::vector<uint8_t> payload(5000, 7);
  for (bool compress : {true, false}) {
    const auto file = icechunk_file(IcechunkFileType::kManifest, payload.data(), payload.size(), 2,
                                    compress);
    const IcechunkFile got = read_icechunk_file(view(file), IcechunkFileType::kManifest, "f");
    EXPECT_EQ(got.spec_version, 2);
    EXPECT_EQ(got.implementation, "fastchunk-test");
    EXPECT_EQ(got.payload, payload);
  }
}

TEST(IcechunkFileTest, NamesWhatIsWrong) {
  const std::vector<uint8_t> payload(64, 1);
  std::string m;
  auto file = icechunk_file(IcechunkFileType::kSnapshot, payload.data(), payload.size(), 3);
  EXPECT_EQ(kind_of(file, IcechunkFileType::kSnapshot, &m), ErrorKind::kUnsupported);
  EXPECT_NE(m.find("format version 3"), std::string::npos) << m;
  file = icechunk_file(IcechunkFileType::kSnapshot, payload.data(), payload.size());
  EXPECT_EQ(kind_of(file, IcechunkFileType::kManifest, &m), ErrorKind::kMetadata);
  EXPECT_NE(m.find("a snapshot where a manifest file was expected"), std::string::npos) << m;
  file[38] = 9;
  EXPECT_EQ(kind_of(file, IcechunkFileType::kSnapshot, &m), ErrorKind::kMetadata);
  EXPECT_NE(m.find("compression"), std::string::npos) << m;
  file[0] = 'X';
  EXPECT_EQ(kind_of(file, IcechunkFileType::kSnapshot, &m), ErrorKind::kMetadata);
  EXPECT_NE(m.find("magic"), std::string::npos) << m;
  file = icechunk_file(IcechunkFileType::kSnapshot, payload.data(), payload.size());
  file.resize(file.size() - 3);  // a truncated zstd frame
  EXPECT_EQ(kind_of(file, IcechunkFileType::kSnapshot, &m), ErrorKind::kMetadata);
  file.resize(20);  // a truncated header
  EXPECT_EQ(kind_of(file, IcechunkFileType::kSnapshot, &m), ErrorKind::kMetadata);
}

TEST(IcechunkFileTest, AZstdBombStopsAtTheLimit) {
  const std::vector<uint8_t> zeros(size_t(64) << 20, 0);  // 64 MiB of zeros: a few KiB compressed
  const auto file = icechunk_file(IcechunkFileType::kManifest, zeros.data(), zeros.size());
  EXPECT_LT(file.size(), size_t(64) << 10);
  std::string m;
  EXPECT_EQ(kind_of(file, IcechunkFileType::kManifest, &m, uint64_t(1) << 20), ErrorKind::kMetadata);
  EXPECT_NE(m.find("more than 1048576 bytes"), std::string::npos) << m;
  // Without a limit of the caller's, 1024 times the compressed size (64 MiB
  // at least) stops it.
  const std::vector<uint8_t> more(size_t(80) << 20, 0);
  const auto bomb = icechunk_file(IcechunkFileType::kManifest, more.data(), more.size());
  EXPECT_EQ(kind_of(bomb, IcechunkFileType::kManifest, &m), ErrorKind::kMetadata);
  EXPECT_NE(m.find("more than 67108864 bytes"), std::string::npos) << m;
}

}  // namespace
}  // namespace fastchunk
