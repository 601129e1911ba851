#include "mapping/json_writer.h"

#include <charconv>
#include <cmath>

namespace conversions::mapping {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Returns the length of the valid UTF-8 sequence at p (1 to 4), or 0.
size_t Utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  unsigned char c = *p;
  size_t len;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
  } else {
    return 0;
  }
  if (static_cast<size_t>(end - p) < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
  }
  // Overlong forms, surrogates and code points above U+10FFFF.
  if (c == 0xE0 && p[1] < 0xA0) return 0;
  if (c == 0xED && p[1] >= 0xA0) return 0;
  if (c == 0xF0 && p[1] < 0x90) return 0;
  if (c == 0xF4 && p[1] >= 0x90) return 0;
  return len;
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  const auto* run = p;  // start of bytes not yet copied
  while (p < end) {
    unsigned char c = *p;
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++p;
      continue;
    }
    if (c >= 0x80) {
      size_t len = Utf8SequenceLength(p, end);
      if (len != 0) {
        p += len;
        continue;
      }
    }
    out->append(reinterpret_cast<const char*>(run), p - run);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (c < 0x20) {
          char buf[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
          out->append(buf, 6);
        } else {
          out->append("\xEF\xBF\xBD");  // U+FFFD for an invalid byte
        }
    }
    ++p;
    run = p;
  }
  out->append(reinterpret_cast<const char*>(run), p - run);
  out->push_back('"');
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (depth_ > 0) {
    std::uint64_t bit = std::uint64_t{1} << (depth_ - 1);
    if (has_value_ & bit) out_->push_back(',');
    has_value_ |= bit;
  }
}

void JsonWriter::Open(char c) {
  BeforeValue();
  out_->push_back(c);
  if (depth_ < 64) ++depth_;
  has_value_ &= ~(std::uint64_t{1} << (depth_ - 1));
}

void JsonWriter::Close(char c) {
  out_->push_back(c);
  if (depth_ > 0) --depth_;
}

void JsonWriter::Key(std::string_view key) {
  BeforeValue();
  AppendJsonString(key, out_);
  out_->push_back(':');
  after_key_ = true;
}

void JsonWriter::String(std::string_view value) {
  BeforeValue();
  AppendJsonString(value, out_);
}

void JsonWriter::Int(std::int64_t value) {
  BeforeValue();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out_->append(buf, end - buf);
}

void JsonWriter::Bool(bool value) {
  BeforeValue();
  out_->append(value ? "true" : "false");
}

void JsonWriter::Null() {
  BeforeValue();
  out_->append("null");
}

void JsonWriter::Double(double value) {
  if (!std::isfinite(value)) {
    Null();
    return;
  }
  constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53
  if (value == std::trunc(value) && std::fabs(value) <= kMaxExactInteger) {
    Int(static_cast<std::int64_t>(value));
    return;
  }
  BeforeValue();
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out_->append(buf, end - buf);
}

void JsonWriter::Raw(std::string_view json) {
  BeforeValue();
  out_->append(json);
}

}  // namespace conversions::mapping
