// Reading flatbuffers tables without generated code: fields are found by the
// slot the schema gives them (the n-th field declared, a union counting as
// two: its type, then its value), through the flatbuffers runtime's Table and
// Verifier. A parser verifies every field it will read (bounds, alignment,
// nesting, table count) before reading any, as generated Verify() code would.
#pragma once
#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace fastchunk {
namespace flat {

using flatbuffers::Table;
using flatbuffers::Verifier;
using flatbuffers::voffset_t;

// The vtable entry of the field declared `field`-th (0-based).
constexpr voffset_t slot(int field) { return voffset_t(4 + 2 * field); }

// A little-endian scalar at a position the verifier checked but whose
// alignment nothing guarantees (inside structs).
template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return flatbuffers::EndianScalar(v);
}

// The root table of a buffer: the offset is checked by verify_root.
inline const Table* root(const uint8_t* buf) {
  return reinterpret_cast<const Table*>(buf + flatbuffers::ReadScalar<flatbuffers::uoffset_t>(buf));
}

// ------------------------------------------------------------ verification

// The smallest buffer that can hold a root offset, a table and its vtable
// (FLATBUFFERS_MIN_BUFFER_SIZE, which only expands inside namespace flatbuffers).
constexpr size_t kMinBufferSize =
    sizeof(flatbuffers::uoffset_t) + sizeof(flatbuffers::soffset_t) + 2 * sizeof(uint16_t);

// A root offset that points inside the buffer.
inline bool verify_root(Verifier& v, const uint8_t* buf, size_t size) {
  return buf != nullptr && v.Check(size >= kMinBufferSize) && v.VerifyOffset(size_t(0)) != 0;
}

template <typename T>
bool scalar_ok(const Table* t, Verifier& v, int field) {
  return t->VerifyField<T>(v, slot(field), sizeof(T));
}

// A struct stored inline in the table: `size` bytes, aligned to `align`.
inline bool struct_ok(const Table* t, Verifier& v, int field, size_t size, size_t align,
                      bool required) {
  const voffset_t at = t->GetOptionalFieldOffset(slot(field));
  if (!at) return v.Check(!required);
  return v.VerifyFieldStruct(reinterpret_cast<const uint8_t*>(t), at, size, align);
}

inline bool offset_ok(const Table* t, Verifier& v, int field, bool required) {
  return required ? t->VerifyOffsetRequired(v, slot(field)) : t->VerifyOffset(v, slot(field));
}

inline bool string_ok(const Table* t, Verifier& v, int field, bool required) {
  return offset_ok(t, v, field, required) &&
         v.VerifyString(t->GetPointer<const flatbuffers::String*>(slot(field)));
}

// A vector of scalars or structs of `elem_size` bytes each.
inline bool vector_ok(const Table* t, Verifier& v, int field, size_t elem_size, bool required) {
  if (!offset_ok(t, v, field, required)) return false;
  const auto* p = t->GetPointer<const uint8_t*>(slot(field));
  return !p || v.VerifyVectorOrString(p, elem_size);
}

// A table field, verified by verify(const Table*, Verifier&).
template <typename F>
bool table_ok(const Table* t, Verifier& v, int field, bool required, F verify) {
  if (!offset_ok(t, v, field, required)) return false;
  const auto* sub = t->GetPointer<const Table*>(slot(field));
  return !sub || verify(sub, v);
}

// A vector of tables, each verified by verify(const Table*, Verifier&).
template <typename F>
bool table_vector_ok(const Table* t, Verifier& v, int field, bool required, F verify) {
  if (!vector_ok(t, v, field, sizeof(flatbuffers::uoffset_t), required)) return false;
  const auto* vec = t->GetPointer<const flatbuffers::Vector<flatbuffers::Offset<Table>>*>(slot(field));
  if (!vec) return true;
  for (flatbuffers::uoffset_t i = 0; i < vec->size(); ++i) {
    const uint8_t* at = reinterpret_cast<const uint8_t*>(vec->Data()) + i * sizeof(flatbuffers::uoffset_t);
    if (!v.VerifyOffset(at, 0)) return false;
    if (!verify(vec->Get(i), v)) return false;
  }
  return true;
}

// A vector of strings.
inline bool string_vector_ok(const Table* t, Verifier& v, int field, bool required) {
  if (!vector_ok(t, v, field, sizeof(flatbuffers::uoffset_t), required)) return false;
  const auto* vec =
      t->GetPointer<const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>*>(slot(field));
  if (!vec) return true;
  for (flatbuffers::uoffset_t i = 0; i < vec->size(); ++i) {
    const uint8_t* at = reinterpret_cast<const uint8_t*>(vec->Data()) + i * sizeof(flatbuffers::uoffset_t);
    if (!v.VerifyOffset(at, 0) || !v.VerifyString(vec->Get(i))) return false;
  }
  return true;
}

// ------------------------------------------------------------ reading (verified tables)

template <typename T>
T scalar(const Table* t, int field, T default_value) {
  return t->GetField<T>(slot(field), default_value);
}

inline bool has(const Table* t, int field) { return t->CheckField(slot(field)); }

inline const uint8_t* struct_at(const Table* t, int field) {
  return t->GetStruct<const uint8_t*>(slot(field));
}

inline const flatbuffers::String* string_at(const Table* t, int field) {
  return t->GetPointer<const flatbuffers::String*>(slot(field));
}

inline std::string str(const flatbuffers::String* s) {
  return s ? std::string(s->c_str(), s->size()) : std::string();
}

inline const Table* table_at(const Table* t, int field) {
  return t->GetPointer<const Table*>(slot(field));
}

// Element count and first byte of a vector field (0 and null when absent).
struct RawVector {
  const uint8_t* data = nullptr;
  uint32_t size = 0;
};
inline RawVector vector_at(const Table* t, int field) {
  const auto* p = t->GetPointer<const uint8_t*>(slot(field));
  if (!p) return {};
  return {p + sizeof(flatbuffers::uoffset_t), flatbuffers::ReadScalar<flatbuffers::uoffset_t>(p)};
}

inline const flatbuffers::Vector<flatbuffers::Offset<Table>>* tables_at(const Table* t, int field) {
  return t->GetPointer<const flatbuffers::Vector<flatbuffers::Offset<Table>>*>(slot(field));
}

inline const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* strings_at(
    const Table* t, int field) {
  return t->GetPointer<const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>*>(
      slot(field));
}

}  // namespace flat
}  // namespace fastchunk
