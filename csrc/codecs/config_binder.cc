#include "codecs/config_binder.h"

#include <algorithm>

#include "common/error.h"

namespace fastchunk {

void out_of_range(const std::string& key, const std::string& value, const std::string& range) {
  throw Error(ErrorKind::kUnsupported,
              "configuration '" + key + "' must be " + range + ", got " + value);
}

ConfigBinder& ConfigBinder::integer(const char* key, int64_t& value, int64_t lo, int64_t hi) {
  if (!reading()) {
    to_->set_int(key, value);
    return *this;
  }
  value = from_->get_int(key, value);
  if (value < lo || value > hi)
    out_of_range(key, std::to_string(value), std::to_string(lo) + ".." + std::to_string(hi));
  return *this;
}

ConfigBinder& ConfigBinder::boolean(const char* key, bool& value) {
  if (reading())
    value = from_->get_bool(key, value);
  else
    to_->set_bool(key, value);
  return *this;
}

ConfigBinder& ConfigBinder::text(const char* key, std::string& value,
                                 const std::vector<std::string>& allowed) {
  if (!reading()) {
    to_->set_string(key, value);
    return *this;
  }
  value = from_->get_string(key, value);
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    std::string range = "one of";
    for (size_t i = 0; i < allowed.size(); ++i) range += (i ? ", " : " ") + allowed[i];
    out_of_range(key, "\"" + value + "\"", range);
  }
  return *this;
}

ConfigBinder& ConfigBinder::null(const char* key) {
  if (!reading()) to_->set_null(key);
  return *this;
}

}  // namespace fastchunk
