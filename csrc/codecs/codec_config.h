// A codec's configuration as zarr or numcodecs metadata writes it: keys with
// JSON values, kept as JSON text. Codecs read the scalars they need; nested
// values (lists, objects) stay text, for a codec to refuse or pass on.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fastchunk {

class CodecConfig {
 public:
  using Items = std::vector<std::pair<std::string, std::string>>;

  CodecConfig() = default;
  explicit CodecConfig(Items items) : items_(std::move(items)) {}

  // Present with a value other than null.
  bool has(const std::string& key) const;
  // The JSON text of a key's value; "null" when absent.
  std::string json(const std::string& key) const;
  // Scalars; `fallback` when the key is absent or null. Throw a metadata
  // Error naming the key when the value has another type.
  int64_t get_int(const std::string& key, int64_t fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  bool is_string(const std::string& key) const;

  // Writers, for the configurations codecs give back (a key set twice keeps the last value).
  CodecConfig& set_int(const std::string& key, int64_t value);
  CodecConfig& set_bool(const std::string& key, bool value);
  CodecConfig& set_string(const std::string& key, const std::string& value);
  CodecConfig& set_null(const std::string& key);

  const Items& items() const { return items_; }

 private:
  const std::string* find(const std::string& key) const;
  CodecConfig& set_json(const std::string& key, std::string json);
  Items items_;
};

}  // namespace fastchunk
