// A small, fast JSON writer that appends to a std::string.
//
// Hand-written rather than a Debian JSON library: encoding is on the hot path
// of every event, the output shape is fixed, and writing straight into one
// reserved buffer costs a fraction of building a DOM (nlohmann::json) first.
// Tests parse every output with a real parser.
#ifndef CONVERSIONS_MAPPING_JSON_WRITER_H_
#define CONVERSIONS_MAPPING_JSON_WRITER_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace conversions::mapping {

// Appends `s` to `*out` as a JSON string literal: quotes, `"` and `\`
// escaped, control characters as \n, \t, ... or \u00XX. Valid UTF-8 is
// copied as is; each byte of an invalid sequence becomes U+FFFD, so the
// output is always valid JSON.
void AppendJsonString(std::string_view s, std::string* out);

// Writes one JSON value after the existing contents of `*out`, tracking
// commas. Keys are written in call order, so the caller fixes the key order.
// Nesting is limited to 64 levels.
//
// The writer works on a raw buffer inside `*out`, which holds unwritten
// bytes at its end until Finish() (or the destructor) trims it: read `*out`
// only after that.
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out);
  ~JsonWriter() { Finish(); }
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  // Trims `*out` to what was written. Idempotent.
  void Finish();

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  // Writes an object key; the next call writes its value.
  void Key(std::string_view key) {
    BeforeValue();
    WriteString(key);
    Ensure(1);
    char* p = pos_;
    *p = ':';
    pos_ = p + 1;
    after_key_ = true;
  }
  // Writes a key that needs no escaping (ASCII letters, digits, '_'), as
  // the fixed keys of the wire schema; skips the escaping scan.
  template <size_t N>
  void SafeKey(const char (&key)[N]) {
    constexpr size_t kLen = N - 1;
    BeforeValue();
    Ensure(kLen + 3);
    // Writes go through a local pointer: a char store may alias any member,
    // so storing through pos_ itself would reload the members each time.
    char* p = pos_;
    p[0] = '"';
    std::memcpy(p + 1, key, kLen);
    p[kLen + 1] = '"';
    p[kLen + 2] = ':';
    pos_ = p + kLen + 3;
    after_key_ = true;
  }
  void String(std::string_view value) {
    BeforeValue();
    WriteString(value);
  }
  void Int(std::int64_t value);
  void Bool(bool value) { Raw(value ? "true" : "false"); }
  void Null() { Raw("null"); }
  // Writes a finite double: whole numbers up to 2^53 as integers ("3", not
  // "3.0"), others in shortest round-trip form. NaN and infinity, which JSON
  // cannot hold, are written as null.
  void Double(double value);
  // Writes already-encoded JSON text as one value.
  void Raw(std::string_view json) {
    BeforeValue();
    Ensure(json.size());
    char* p = pos_;
    std::memcpy(p, json.data(), json.size());
    pos_ = p + json.size();
  }

 private:
  void Open(char c) {
    BeforeValue();
    Ensure(1);
    char* p = pos_;
    *p = c;
    pos_ = p + 1;
    if (depth_ < 64) ++depth_;
    has_value_ &= ~(std::uint64_t{1} << (depth_ - 1));
  }
  void Close(char c) {
    Ensure(1);
    char* p = pos_;
    *p = c;
    pos_ = p + 1;
    if (depth_ > 0) --depth_;
  }
  void BeforeValue() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (depth_ > 0) {
      std::uint64_t bit = std::uint64_t{1} << (depth_ - 1);
      std::uint64_t has_value = has_value_;
      if (has_value & bit) {
        Ensure(1);
        char* p = pos_;
        *p = ',';
        pos_ = p + 1;
      }
      has_value_ = has_value | bit;
    }
  }
  void Ensure(size_t n) {
    if (static_cast<size_t>(end_ - pos_) < n) Grow(n);
  }
  void Grow(size_t n);
  void WriteString(std::string_view s);

  std::string* out_;
  char* pos_ = nullptr;  // next byte to write, inside *out_
  char* end_ = nullptr;  // end of *out_'s buffer
  bool finished_ = false;
  int depth_ = 0;
  // Bit d is set once the container at depth d holds a value.
  std::uint64_t has_value_ = 0;
  bool after_key_ = false;
};

// Writes JSON of a fixed shape in pieces, each value preceded by its comma:
// a field is Key("amount") then its value, which writes `,"amount":12999`;
// an array element is Comma() then the value. OpenObject() (or OpenArray())
// marks where a container starts, and CloseObject(mark) turns the comma of
// its first value into the opening brace, or writes "{}" when it has none.
//
// For encoders with a fixed key order, such as the wire event: keys and
// commas are compile-time literals, where JsonWriter tracks commas and
// copies each key at run time, which costs more than the values on short
// events. The caller must call the pieces in a valid order; nothing checks
// it.
//
// Like JsonWriter, it works on a raw buffer inside `*out`: read `*out` only
// after Finish() or the destructor.
class JsonFragmentWriter {
 public:
  // Appends to `*out`, sizing the buffer for at least `expected_size` more
  // bytes.
  explicit JsonFragmentWriter(std::string* out, size_t expected_size = 256);
  ~JsonFragmentWriter() { Finish(); }
  JsonFragmentWriter(const JsonFragmentWriter&) = delete;
  JsonFragmentWriter& operator=(const JsonFragmentWriter&) = delete;

  // Trims `*out` to what was written. Idempotent.
  void Finish();

  // Writes `,"key":`. The key must need no escaping (ASCII letters, digits,
  // '_'), as the fixed keys of the wire schema.
  template <size_t N>
  void Key(const char (&key)[N]) {
    Ensure(N + 3);
    pos_ = WriteKey(key, pos_);
  }
  // Writes the comma before an array element or a key of run-time text.
  void Comma() { Char(','); }
  // Writes the colon after a key of run-time text.
  void Colon() { Char(':'); }

  // Marks the start of an object or array; pass the mark to Close*.
  size_t OpenObject() const { return Offset(); }
  size_t OpenArray() const { return Offset(); }
  void CloseObject(size_t mark) { Close(mark, '{', '}'); }
  void CloseArray(size_t mark) { Close(mark, '[', ']'); }

  // Writes `s` as a JSON string, escaped as AppendJsonString does.
  void String(std::string_view s) {
    Ensure(s.size() * 6 + 2);
    pos_ = WriteString(s, pos_);
  }
  // Writes `s` in quotes as it is: only for text that needs no escaping
  // (printable ASCII without '"' and '\\'), such as enum names and hex
  // digests.
  void PlainString(std::string_view s) {
    Ensure(s.size() + 2);
    pos_ = WritePlainString(s, pos_);
  }
  void Int(std::int64_t value) {
    Ensure(20);
    pos_ = WriteInt(value, pos_);
  }

  // Key(key) then the value, with one room check.
  template <size_t N>
  void StringField(const char (&key)[N], std::string_view value) {
    Ensure(N + 3 + value.size() * 6 + 2);
    pos_ = WriteString(value, WriteKey(key, pos_));
  }
  template <size_t N>
  void PlainStringField(const char (&key)[N], std::string_view value) {
    Ensure(N + 3 + value.size() + 2);
    pos_ = WritePlainString(value, WriteKey(key, pos_));
  }
  template <size_t N>
  void IntField(const char (&key)[N], std::int64_t value) {
    Ensure(N + 3 + 20);
    pos_ = WriteInt(value, WriteKey(key, pos_));
  }
  // Writes already-encoded JSON text.
  void Raw(std::string_view json) {
    Ensure(json.size());
    char* p = pos_;
    std::memcpy(p, json.data(), json.size());
    pos_ = p + json.size();
  }

 private:
  // Write at `dst`, which has room, and return the end. Static, so that
  // the inline callers pass the position rather than the writer (a char
  // store may alias a member, which would then be reloaded).
  template <size_t N>
  static char* WriteKey(const char (&key)[N], char* dst) {
    constexpr size_t kLen = N - 1;
    dst[0] = ',';
    dst[1] = '"';
    std::memcpy(dst + 2, key, kLen);
    dst[kLen + 2] = '"';
    dst[kLen + 3] = ':';
    return dst + kLen + 4;
  }
  static char* WritePlainString(std::string_view s, char* dst) {
    dst[0] = '"';
    std::memcpy(dst + 1, s.data(), s.size());
    dst[s.size() + 1] = '"';
    return dst + s.size() + 2;
  }
  static char* WriteString(std::string_view s, char* dst);
  static char* WriteInt(std::int64_t value, char* dst);

  size_t Offset() const { return static_cast<size_t>(pos_ - out_->data()); }
  void Char(char c) {
    Ensure(1);
    char* p = pos_;
    *p = c;
    pos_ = p + 1;
  }
  void Close(size_t mark, char open, char close) {
    char* first = out_->data() + mark;
    if (first == pos_) {
      Ensure(2);
      char* p = pos_;
      p[0] = open;
      p[1] = close;
      pos_ = p + 2;
      return;
    }
    *first = open;  // was the comma of the first value
    Char(close);
  }
  void Ensure(size_t n) {
    if (static_cast<size_t>(end_ - pos_) < n) Grow(n);
  }
  void Grow(size_t n);

  std::string* out_;
  char* pos_ = nullptr;  // next byte to write, inside *out_
  char* end_ = nullptr;  // end of *out_'s buffer
  bool finished_ = false;
};

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_JSON_WRITER_H_
