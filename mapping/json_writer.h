// A small, fast JSON writer that appends to a std::string.
//
// Hand-written rather than a Debian JSON library: encoding is on the hot path
// of every event, the output shape is fixed, and a writer that appends
// straight into one reserved buffer costs a fraction of building a DOM
// (nlohmann::json) first. Tests parse every output with a real parser.
#ifndef CONVERSIONS_MAPPING_JSON_WRITER_H_
#define CONVERSIONS_MAPPING_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace conversions::mapping {

// Appends `s` to `*out` as a JSON string literal: quotes, `"` and `\`
// escaped, control characters as \n, \t, ... or \u00XX. Valid UTF-8 is
// copied as is; each byte of an invalid sequence becomes U+FFFD, so the
// output is always valid JSON.
void AppendJsonString(std::string_view s, std::string* out);

// Writes one JSON value, tracking commas. Keys are written in call order, so
// the caller fixes the key order. Nesting is limited to 64 levels.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  // Writes an object key; the next call writes its value.
  void Key(std::string_view key);
  void String(std::string_view value);
  void Int(std::int64_t value);
  void Bool(bool value);
  void Null();
  // Writes a finite double: whole numbers up to 2^53 as integers ("3", not
  // "3.0"), others in shortest round-trip form. NaN and infinity, which JSON
  // cannot hold, are written as null.
  void Double(double value);
  // Writes already-encoded JSON text as one value.
  void Raw(std::string_view json);

 private:
  void Open(char c);
  void Close(char c);
  void BeforeValue();

  std::string* out_;
  int depth_ = 0;
  // Bit d is set once the container at depth d holds a value.
  std::uint64_t has_value_ = 0;
  bool after_key_ = false;
};

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_JSON_WRITER_H_
