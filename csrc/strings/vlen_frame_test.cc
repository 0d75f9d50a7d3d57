#include "strings/vlen_frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"

namespace fastchunk {
namespace {

std::vector<uint8_t> frame(const std::vector<std::string>& items, uint32_t count) {
  std::vector<uint8_t> out;
  auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
  };
  put32(count);
  for (const std::string& s : items) {
    put32(uint32_t(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

std::string parse_error(const std::vector<uint8_t>& buf, int64_t items) {
  std::vector<int64_t> starts(static_cast<size_t>(items)), lengths(static_cast<size_t>(items));
  try {
    parse_vlen_frame(ByteView{buf.data(), buf.size()}, items, starts.data(), lengths.data());
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDecode);
    return e.what();
  }
  return "";
}

TEST(VlenFrame, LocatesEveryItem) {
  const auto buf = frame({"ab", "", "xyz"}, 3);
  std::vector<int64_t> starts(3), lengths(3);
  parse_vlen_frame(ByteView{buf.data(), buf.size()}, 3, starts.data(), lengths.data());
  EXPECT_EQ(starts, (std::vector<int64_t>{8, 14, 18}));
  EXPECT_EQ(lengths, (std::vector<int64_t>{2, 0, 3}));
}

TEST(VlenFrame, RejectsBadFraming) {
  EXPECT_NE(parse_error(frame({"ab"}, 2), 2).find("ends inside the length"), std::string::npos);
  EXPECT_NE(parse_error(frame({"ab", "c"}, 2), 3).find("expected 3"), std::string::npos);
  auto cut = frame({"ab", "cd"}, 2);
  cut.pop_back();
  EXPECT_NE(parse_error(cut, 2).find("past the end"), std::string::npos);
  auto extra = frame({"ab"}, 1);
  extra.push_back(0);
  EXPECT_NE(parse_error(extra, 1).find("after the last"), std::string::npos);
  std::vector<uint8_t> huge = frame({}, 1);
  huge.insert(huge.end(), {0xff, 0xff, 0xff, 0xff, 'x'});
  EXPECT_NE(parse_error(huge, 1).find("claims 4294967295"), std::string::npos);
  EXPECT_NE(parse_error({1, 0}, 1).find("shorter than its 4-byte item count"), std::string::npos);
}

}  // namespace
}  // namespace fastchunk
