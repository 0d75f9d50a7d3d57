#include "codecs/element_type.h"

#include <cctype>

#include "common/error.h"

namespace fastchunk {

char native_byteorder() {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return '>';
#else
  return '<';
#endif
}

ElementType ElementType::parse(const std::string& typestr) {
  const auto bad = [&]() -> ElementType {
    throw Error(ErrorKind::kMetadata, "'" + typestr + "' is not a numpy type string");
  };
  if (typestr.size() < 2) return bad();
  size_t i = 0;
  ElementType t;
  t.typestr = typestr;
  const char order = typestr[0];
  if (order == '<' || order == '>' || order == '|' || order == '=') {
    t.byteorder = order == '=' ? native_byteorder() : order;
    ++i;
  } else {
    t.byteorder = native_byteorder();
  }
  if (i >= typestr.size()) return bad();
  t.kind = typestr[i++];
  static const std::string kinds = "biufcmMSUV";
  if (kinds.find(t.kind) == std::string::npos) return bad();
  size_t digits = i;
  int64_t n = 0;
  while (digits < typestr.size() && std::isdigit(static_cast<unsigned char>(typestr[digits]))) {
    n = n * 10 + (typestr[digits] - '0');
    if (n > (int64_t(1) << 30)) return bad();
    ++digits;
  }
  if (digits == i) {
    if (t.kind != 'b') return bad();
    n = 1;
  }
  // Only a datetime unit ("[ns]") may follow the size.
  if (digits < typestr.size() && !((t.kind == 'M' || t.kind == 'm') && typestr[digits] == '[' &&
                                   typestr.back() == ']'))
    return bad();
  t.size = int(t.kind == 'U' ? n * 4 : n);
  if (t.size < 1 && t.kind != 'S' && t.kind != 'V') return bad();
  if (t.size == 1 || t.kind == 'S' || t.kind == 'V' || t.kind == 'b') t.byteorder = '|';
  return t;
}

int ElementType::swap_unit() const {
  if (byteorder == '|' || size <= 1) return 0;
  if (kind == 'c') return size / 2;
  if (kind == 'U') return 4;
  if (kind == 'S' || kind == 'V' || kind == 'b') return 0;
  return size;
}

bool ElementType::is_swapped() const {
  return byteorder != '|' && byteorder != native_byteorder() && swap_unit() > 1;
}

}  // namespace fastchunk
