// One description of a codec's settings, run both ways: reading them from a
// configuration in metadata (every value checked against its range when the
// codec is built, never later at encode time) and writing them back (what
// Codec::configuration gives). Each codec has one such `bind`:
//
//   struct ZstdSettings {
//     int64_t level = 3;
//     bool checksum = false;
//     void bind(ConfigBinder& b) {
//       b.integer("level", level, ZSTD_minCLevel(), ZSTD_maxCLevel()).boolean("checksum", checksum);
//     }
//   };
//   ZstdSettings s = read_settings<ZstdSettings>(config, zarr_format);
//   CodecConfig c = write_settings(s, zarr_format);
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "codecs/codec_config.h"

namespace fastchunk {

class ConfigBinder {
 public:
  // Reading `from`: an absent (or null) key keeps the value it has (the
  // default); a value of another type is Error(kMetadata), one outside its
  // range Error(kUnsupported): the core does not take it (the numcodecs
  // fallback decodes what it can). The message names the key.
  static ConfigBinder reader(const CodecConfig& from, int zarr_format) {
    return ConfigBinder(&from, nullptr, zarr_format);
  }
  static ConfigBinder writer(CodecConfig* to, int zarr_format) {
    return ConfigBinder(nullptr, to, zarr_format);
  }

  bool reading() const { return from_ != nullptr; }
  int zarr_format() const { return zarr_format_; }

  ConfigBinder& integer(const char* key, int64_t& value, int64_t lo, int64_t hi);
  ConfigBinder& boolean(const char* key, bool& value);
  // `allowed` empty: any text.
  ConfigBinder& text(const char* key, std::string& value,
                     const std::vector<std::string>& allowed = {});
  // A key written as null (never read).
  ConfigBinder& null(const char* key);

  // For settings of more than one spelling (blosc's shuffle): what is read,
  // and where it is written.
  const CodecConfig& source() const { return *from_; }
  CodecConfig& target() { return *to_; }

 private:
  ConfigBinder(const CodecConfig* from, CodecConfig* to, int zarr_format)
      : from_(from), to_(to), zarr_format_(zarr_format) {}
  const CodecConfig* from_;
  CodecConfig* to_;
  int zarr_format_;
};

// [[noreturn]] Error(kUnsupported) for a value outside what the core takes.
[[noreturn]] void out_of_range(const std::string& key, const std::string& value,
                               const std::string& range);

template <typename Settings>
Settings read_settings(const CodecConfig& config, int zarr_format) {
  Settings s;
  ConfigBinder b = ConfigBinder::reader(config, zarr_format);
  s.bind(b);
  return s;
}

template <typename Settings>
CodecConfig write_settings(Settings s, int zarr_format) {
  CodecConfig out;
  ConfigBinder b = ConfigBinder::writer(&out, zarr_format);
  s.bind(b);
  return out;
}

}  // namespace fastchunk
