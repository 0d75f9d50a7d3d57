// The items a codec sees, described by a numpy type string ("<f4", ">i2",
// "|u1", "<c8", "<M8[ns]", "<U3", "|V7"): byte order, kind and size.
#pragma once
#include <string>

namespace fastchunk {

struct ElementType {
  char byteorder = '|';   // '<' little, '>' big, '|' not applicable
  char kind = 'u';        // numpy kind: b i u f c m M S U V
  int size = 1;           // bytes per item
  std::string typestr = "|u1";

  // Parses a numpy type string; throws a metadata Error when it is not one.
  static ElementType parse(const std::string& typestr);

  // Bytes per word whose order a byte swap reverses (half a complex number,
  // one UCS-4 character); 0 when the items have no byte order.
  int swap_unit() const;
  bool is_integer() const { return kind == 'i' || kind == 'u'; }
  bool is_float() const { return kind == 'f'; }
  // Stored in the opposite order to this machine's.
  bool is_swapped() const;
};

// The byte order of this machine: '<' or '>'.
char native_byteorder();

}  // namespace fastchunk
