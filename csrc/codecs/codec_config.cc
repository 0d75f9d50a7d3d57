#include "codecs/codec_config.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "common/error.h"

namespace fastchunk {
namespace {

[[noreturn]] void bad_value(const std::string& key, const std::string& json, const char* want) {
  throw Error(ErrorKind::kMetadata,
              "configuration '" + key + "' must be " + want + ", got " + json);
}

bool is_null(const std::string& json) { return json == "null"; }

// JSON string literal to its text; false when `json` is not a string.
bool parse_string(const std::string& json, std::string& out) {
  if (json.size() < 2 || json.front() != '"' || json.back() != '"') return false;
  out.clear();
  for (size_t i = 1; i + 1 < json.size(); ++i) {
    char c = json[i];
    if (c == '\\') {
      if (i + 2 >= json.size()) return false;
      c = json[++i];
      switch (c) {
        case '"': case '\\': case '/': break;
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        default: return false;  // \u escapes: no codec setting needs them
      }
    }
    out.push_back(c);
  }
  return true;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace

const std::string* CodecConfig::find(const std::string& key) const {
  for (auto it = items_.rbegin(); it != items_.rend(); ++it)
    if (it->first == key) return &it->second;
  return nullptr;
}

bool CodecConfig::has(const std::string& key) const {
  const std::string* v = find(key);
  return v && !is_null(*v);
}

std::string CodecConfig::json(const std::string& key) const {
  const std::string* v = find(key);
  return v ? *v : "null";
}

int64_t CodecConfig::get_int(const std::string& key, int64_t fallback) const {
  const std::string* v = find(key);
  if (!v || is_null(*v)) return fallback;
  const char* begin = v->c_str();
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(begin, &end, 10);
  if (end != begin && *end == '\0' && errno == 0) return n;
  // Integral floats ("5.0") are integers in JSON's number model.
  errno = 0;
  const double d = std::strtod(begin, &end);
  if (end != begin && *end == '\0' && errno == 0 && std::isfinite(d) && d == std::floor(d) &&
      std::fabs(d) < 9.0e18)
    return int64_t(d);
  bad_value(key, *v, "an integer");
}

bool CodecConfig::get_bool(const std::string& key, bool fallback) const {
  const std::string* v = find(key);
  if (!v || is_null(*v)) return fallback;
  if (*v == "true") return true;
  if (*v == "false") return false;
  bad_value(key, *v, "true or false");
}

std::string CodecConfig::get_string(const std::string& key, const std::string& fallback) const {
  const std::string* v = find(key);
  if (!v || is_null(*v)) return fallback;
  std::string out;
  if (!parse_string(*v, out)) bad_value(key, *v, "a string");
  return out;
}

bool CodecConfig::is_string(const std::string& key) const {
  const std::string* v = find(key);
  return v && !v->empty() && v->front() == '"';
}

CodecConfig& CodecConfig::set_json(const std::string& key, std::string json) {
  for (auto& item : items_)
    if (item.first == key) {
      item.second = std::move(json);
      return *this;
    }
  items_.emplace_back(key, std::move(json));
  return *this;
}

CodecConfig& CodecConfig::set_int(const std::string& key, int64_t value) {
  return set_json(key, std::to_string(value));
}

CodecConfig& CodecConfig::set_bool(const std::string& key, bool value) {
  return set_json(key, value ? "true" : "false");
}

CodecConfig& CodecConfig::set_string(const std::string& key, const std::string& value) {
  return set_json(key, quote(value));
}

CodecConfig& CodecConfig::set_null(const std::string& key) { return set_json(key, "null"); }

}  // namespace fastchunk
