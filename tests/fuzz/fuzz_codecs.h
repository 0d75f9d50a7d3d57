// Building registered codecs and chains by name for the fuzz targets, with
// the configurations the seeds were written with (make_corpus.py).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "codecs/chain.h"
#include "codecs/registry.h"

namespace fuzz {

// The configuration a target gives a codec that needs one.
inline fastchunk::CodecConfig config_for(const std::string& name) {
  fastchunk::CodecConfig c;
  if (name == "delta") c.set_string("dtype", "<i4");
  if (name == "shuffle") c.set_int("elementsize", 4);
  return c;
}

// Items whose byte swap reverses `unit`-byte words (0: bytes, no swap).
inline const char* dtype_swapping(int unit) {
  switch (unit) {
    case 2: return "<u2";
    case 4: return "<u4";
    case 8: return "<u8";
    case 3: return "<c6";    // the generic word reversal
    case 16: return "<c32";
    default: return "|u1";
  }
}

// A chain of registered codecs in encode order, stored in the opposite byte
// order to this machine's in `swap_unit`-byte words when swap_unit > 1.
inline fastchunk::ChainSpec chain_of(const std::vector<std::string>& names, int swap_unit) {
  std::vector<fastchunk::CodecStep> steps;
  if (swap_unit > 1) {
    fastchunk::CodecConfig order;
    order.set_string("endian", fastchunk::native_byteorder() == '<' ? "big" : "little");
    steps.push_back({"bytes", order});
  }
  for (const std::string& name : names) steps.push_back({name, config_for(name)});
  return fastchunk::build_chain(steps, dtype_swapping(swap_unit), 3);
}

inline std::shared_ptr<const fastchunk::Codec> codec_named(const std::string& name) {
  return fastchunk::make_codec(name, config_for(name),
                               fastchunk::CodecContext{fastchunk::ElementType::parse("<u4"), 3});
}

}  // namespace fuzz
