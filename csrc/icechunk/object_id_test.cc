#include "icechunk/object_id.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace fastchunk {
namespace {

// The spec's example: the initial snapshot's id.
const ObjectId12 kInitial = {0x0b, 0x1c, 0xc8, 0xd6, 0x78, 0x75, 0x80, 0xf0, 0xe3, 0x3a, 0x65, 0x34};

TEST(ObjectIdTest, EncodesTheSpecsExample) {
  EXPECT_EQ(encode_object_id(kInitial), "1CECHNKREP0F1RSTCMT0");
  EXPECT_EQ(snapshot_key(kInitial), "snapshots/1CECHNKREP0F1RSTCMT0");
  EXPECT_EQ(encode_object_id(ObjectId8{}), std::string(13, '0'));
}

TEST(ObjectIdTest, DecodesUpperAndLowerCase) {
  EXPECT_EQ(decode_object_id12("1CECHNKREP0F1RSTCMT0"), kInitial);
  EXPECT_EQ(decode_object_id12("1cechnkrep0f1rstcmt0"), kInitial);
  ObjectId12 all;
  all.fill(0xff);
  EXPECT_EQ(decode_object_id12(encode_object_id(all)), all);
}

TEST(ObjectIdTest, RefusesWhatIsNoId) {
  for (const char* bad : {"", "1CECHNKREP0F1RSTCMT", "1CECHNKREP0F1RSTCMT00", "1CECHNKREP0F1RSTCMTU",
                          "1CECHNKREP0F1RSTCMT1" /* padding bits */, "../../../etc/passwd00"}) {
    try {
      decode_object_id12(bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kMetadata) << bad;
    }
  }
}

}  // namespace
}  // namespace fastchunk
