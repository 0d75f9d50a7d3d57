#include "engine/stored_read.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace fastchunk {
namespace {

// Objects whose contents move on to the next of `versions` right after each
// read while `rewrites` lasts, as a file rewritten in place under a reader.
class RewrittenSource : public ByteSource {
 public:
  std::map<std::string, std::vector<std::string>> versions;
  std::map<std::string, size_t> now;
  int rewrites = 0;
  int reads = 0, rereads = 0;

  bool get(const std::string& key, const ByteRange& range, ByteBuffer& storage,
           ObjectBytes& out) override {
    ++reads;
    auto it = versions.find(key);
    if (it == versions.end()) return false;
    const std::string& bytes = it->second[now[key]];
    uint8_t* dst = storage.reserve(bytes.size());
    std::copy(bytes.begin(), bytes.end(), dst);
    out.bytes = ByteView{dst, bytes.size()};
    out.object_size = bytes.size();
    out.version = version(key);
    if (rewrites > 0 && now[key] + 1 < it->second.size()) {
      --rewrites;
      ++now[key];
    }
    return true;
  }
  bool reread(const std::string& key, const ByteRange& range, ByteBuffer& storage,
              ObjectBytes& out) override {
    ++rereads;
    return get(key, range, storage, out);
  }
  std::string version(const std::string& key) override {
    return versions.count(key) ? "v" + std::to_string(now[key]) : std::string();
  }
  bool unchanged(const std::string& key, const ObjectBytes& got) override {
    return version(key) == got.version;
  }
};

std::string text(const ObjectBytes& got) {
  return std::string(reinterpret_cast<const char*>(got.bytes.data), got.bytes.size);
}

StoredPlace place_of(const std::string& key) {
  StoredPlace p;
  p.key = key;
  return p;
}

TEST(StoredRead, StableBytesAreDecodedOnce) {
  RewrittenSource source;
  source.versions["k"] = {"old"};
  std::vector<std::string> decoded;
  EXPECT_EQ(read_and_decode(source, place_of("k"),
                            [&](const ObjectBytes& got) { decoded.push_back(text(got)); }),
            StoredRead::kDecoded);
  EXPECT_EQ(decoded, std::vector<std::string>{"old"});
  EXPECT_EQ(source.rereads, 0);
}

TEST(StoredRead, AnObjectRewrittenWhileDecodedIsReadAndDecodedAgain) {
  RewrittenSource source;
  source.versions["k"] = {"old", "new"};
  source.rewrites = 1;
  std::vector<std::string> decoded;
  EXPECT_EQ(read_and_decode(source, place_of("k"),
                            [&](const ObjectBytes& got) { decoded.push_back(text(got)); }),
            StoredRead::kDecoded);
  EXPECT_EQ(decoded, (std::vector<std::string>{"old", "new"}));
  EXPECT_EQ(source.rereads, 1);
}

TEST(StoredRead, ADecodeErrorOnBytesThatChangedIsRetried) {
  RewrittenSource source;
  source.versions["k"] = {"mix", "new"};
  source.rewrites = 1;
  std::string last;
  EXPECT_EQ(read_and_decode(source, place_of("k"),
                            [&](const ObjectBytes& got) {
                              if (text(got) == "mix") throw_decode("not a frame");
                              last = text(got);
                            }),
            StoredRead::kDecoded);
  EXPECT_EQ(last, "new");
}

TEST(StoredRead, ADecodeErrorOnStableBytesIsTheError) {
  RewrittenSource source;
  source.versions["k"] = {"bad"};
  EXPECT_THROW(read_and_decode(source, place_of("k"),
                               [&](const ObjectBytes&) { throw_decode("not a frame"); }),
               Error);
  EXPECT_EQ(source.rereads, 0);
}

TEST(StoredRead, AnObjectThatNeverHoldsStillIsAnError) {
  RewrittenSource source;
  source.versions["k"] = {"a", "b", "c"};
  source.rewrites = 2;
  try {
    read_and_decode(source, place_of("k"), [&](const ObjectBytes&) {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDecode);
    EXPECT_NE(std::string(e.what()).find("rewritten while it was read"), std::string::npos);
  }
}

TEST(StoredRead, MissingObjectsAndTheAlternativeKey) {
  RewrittenSource source;
  int calls = 0;
  EXPECT_EQ(read_and_decode(source, place_of("k"), [&](const ObjectBytes&) { ++calls; }),
            StoredRead::kMissing);
  EXPECT_EQ(calls, 0);
  source.versions["0/1"] = {"nested"};
  StoredPlace place = place_of("0.1");
  place.alt_key = "0/1";
  std::string got_text;
  EXPECT_EQ(read_and_decode(source, place, [&](const ObjectBytes& got) { got_text = text(got); }),
            StoredRead::kDecoded);
  EXPECT_EQ(got_text, "nested");
}

TEST(StoredRead, AnObjectOfAnotherVersionThanItsIndexIsStaleAndNotDecoded) {
  RewrittenSource source;
  source.versions["shard"] = {"old", "new"};
  source.now["shard"] = 1;
  StoredPlace place = place_of("shard");
  place.version = "v0";  // the index was read from the old object
  int calls = 0;
  EXPECT_EQ(read_and_decode(source, place, [&](const ObjectBytes&) { ++calls; }),
            StoredRead::kStale);
  EXPECT_EQ(calls, 0);
  place.version = "v1";
  EXPECT_EQ(read_and_decode(source, place, [&](const ObjectBytes&) { ++calls; }),
            StoredRead::kDecoded);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace fastchunk
