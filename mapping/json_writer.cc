#include "mapping/json_writer.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/base/attributes.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

// Bytes that cannot be copied as they are: controls, '"', '\\' and every
// byte of 0x80 and above (checked as UTF-8).
struct SpecialTable {
  bool special[256];
  constexpr SpecialTable() : special() {
    for (int c = 0; c < 256; ++c) {
      special[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
    }
  }
};
constexpr SpecialTable kSpecial;

// Returns a word that is zero when none of the 8 bytes of `x` needs
// attention: none below 0x20, none '"' or '\\', none 0x80 or above. May
// flag a clean word (borrows), which only sends it down the byte path;
// never the reverse.
inline std::uint64_t SpecialBits(std::uint64_t x) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  return (x & kHigh) | ((x - kOnes * 0x20) & ~x & kHigh) |
         has_zero(x ^ (kOnes * '"')) | has_zero(x ^ (kOnes * '\\'));
}

inline std::uint64_t Load64(const unsigned char* p) {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}

inline std::uint64_t Load32(const unsigned char* p) {
  std::uint32_t x;
  std::memcpy(&x, p, 4);
  return x;
}

inline bool PlainWord(const unsigned char* p) {
  return SpecialBits(Load64(p)) == 0;
}

#ifdef __SSE2__
// Marks the bytes of the 16 at p that need attention: below 0x20 (the
// signed compare also catches 0x80 and above, which are negative), '"' or
// '\\'.
inline __m128i Special16(__m128i v) {
  return _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                   _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
}
#endif

// Copies the `n` bytes at p to dst and returns true when none of them needs
// attention; returns false, with dst partly written, when one does. Most
// strings of an event are short and plain: this checks and copies whole
// words (the last one overlapping the one before) without a branch per
// word, where a byte loop through the tail cost more than the rest.
inline bool CopyIfPlain(const unsigned char* p, size_t n, char* dst) {
#ifdef __SSE2__
  if (n >= 16) {
    auto block = [p, dst](size_t i) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), v);
      return Special16(v);
    };
    __m128i special = block(n - 16);
    for (size_t i = 0; i + 16 < n; i += 16) {
      special = _mm_or_si128(special, block(i));
    }
    return _mm_movemask_epi8(special) == 0;
  }
#endif
  if (n >= 8) {
    auto word = [p, dst](size_t i) {
      std::uint64_t x = Load64(p + i);
      std::memcpy(dst + i, &x, 8);
      return SpecialBits(x);
    };
    std::uint64_t special = word(n - 8);
    for (size_t i = 0; i + 8 < n; i += 8) special |= word(i);
    return special == 0;
  }
  if (n >= 4) {
    std::uint64_t head = Load32(p);
    std::uint64_t tail = Load32(p + n - 4);
    std::memcpy(dst, p, 4);
    std::memcpy(dst + n - 4, p + n - 4, 4);
    return SpecialBits(head | (tail << 32)) == 0;
  }
  bool special = false;
  for (size_t i = 0; i < n; ++i) {
    dst[i] = static_cast<char>(p[i]);
    special |= kSpecial.special[p[i]];
  }
  return !special;
}

// The two decimal digits of 0 to 99.
struct DigitPairs {
  char pairs[100][2];
  constexpr DigitPairs() : pairs() {
    for (int i = 0; i < 100; ++i) {
      pairs[i][0] = static_cast<char>('0' + i / 10);
      pairs[i][1] = static_cast<char>('0' + i % 10);
    }
  }
};
constexpr DigitPairs kDigitPairs;

// EscapeInto for strings with something to escape. Out of line so that
// EscapeInto stays small enough to inline.
ABSL_ATTRIBUTE_NOINLINE char* EscapeSpecials(std::string_view s, char* dst) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
#ifdef __SSE2__
    // Sixteen plain bytes at a time.
    while (end - p >= 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      if (_mm_movemask_epi8(Special16(v)) != 0) break;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), v);
      dst += 16;
      p += 16;
    }
#endif
    while (end - p >= 8 && PlainWord(p)) {
      std::memcpy(dst, p, 8);
      dst += 8;
      p += 8;
    }
    // Copy a run of plain bytes (a short string or a tail).
    while (p < end && !kSpecial.special[*p]) *dst++ = static_cast<char>(*p++);
    if (p >= end) break;
    unsigned char c = *p;
    if (c >= 0x80) {
      size_t len = Utf8SequenceLength(p, end);
      if (len != 0) {
        std::memcpy(dst, p, len);
        dst += len;
        p += len;
        continue;
      }
      std::memcpy(dst, "\xEF\xBF\xBD", 3);  // U+FFFD for an invalid byte
      dst += 3;
      ++p;
      continue;
    }
    *dst++ = '\\';
    switch (c) {
      case '"':
        *dst++ = '"';
        break;
      case '\\':
        *dst++ = '\\';
        break;
      case '\n':
        *dst++ = 'n';
        break;
      case '\r':
        *dst++ = 'r';
        break;
      case '\t':
        *dst++ = 't';
        break;
      case '\b':
        *dst++ = 'b';
        break;
      case '\f':
        *dst++ = 'f';
        break;
      default:
        std::memcpy(dst, "u00", 3);
        dst[3] = kHex[c >> 4];
        dst[4] = kHex[c & 0xf];
        dst += 5;
    }
    ++p;
  }
  return dst;
}

// Writes the escaped body of `s` (no quotes) at `dst`, which has room for
// 6 bytes per input byte; returns the end. A plain string is copied as it
// is checked; another is written again by the escaping loop.
inline char* EscapeInto(std::string_view s, char* dst) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  if (!CopyIfPlain(p, s.size(), dst)) return EscapeSpecials(s, dst);
  return dst + s.size();
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  JsonWriter w(out);
  w.String(s);
}

JsonWriter::JsonWriter(std::string* out) : out_(out) {
  size_t used = out_->size();
  out_->resize(std::max<size_t>(out_->capacity(), used + 256));
  pos_ = out_->data() + used;
  end_ = out_->data() + out_->size();
}

void JsonWriter::Finish() {
  if (finished_) return;
  finished_ = true;
  out_->resize(pos_ - out_->data());
}

void JsonWriter::Grow(size_t n) {
  size_t used = pos_ - out_->data();
  out_->resize(std::max(out_->size() * 2, used + n));
  pos_ = out_->data() + used;
  end_ = out_->data() + out_->size();
}

void JsonWriter::WriteString(std::string_view s) {
  Ensure(s.size() * 6 + 2);
  char* p = pos_;
  *p++ = '"';
  p = EscapeInto(s, p);
  *p++ = '"';
  pos_ = p;
}

void JsonWriter::Int(std::int64_t value) {
  BeforeValue();
  Ensure(24);
  pos_ = std::to_chars(pos_, end_, value).ptr;
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
  Ensure(32);
  pos_ = std::to_chars(pos_, end_, value).ptr;
}

JsonFragmentWriter::JsonFragmentWriter(std::string* out, size_t expected_size)
    : out_(out) {
  size_t used = out_->size();
  // All the capacity a reused string already has: no Grow() on later calls.
  out_->resize(std::max(out_->capacity(), used + expected_size));
  pos_ = out_->data() + used;
  end_ = out_->data() + out_->size();
}

void JsonFragmentWriter::Finish() {
  if (finished_) return;
  finished_ = true;
  out_->resize(pos_ - out_->data());
}

void JsonFragmentWriter::Grow(size_t n) {
  size_t used = pos_ - out_->data();
  out_->resize(std::max(out_->size() * 2, used + n));
  pos_ = out_->data() + used;
  end_ = out_->data() + out_->size();
}

char* JsonFragmentWriter::WriteString(std::string_view s, char* dst) {
  *dst++ = '"';
  dst = EscapeInto(s, dst);
  *dst++ = '"';
  return dst;
}

char* JsonFragmentWriter::WriteInt(std::int64_t value, char* p) {
  std::uint64_t u = static_cast<std::uint64_t>(value);
  if (value < 0) {
    *p++ = '-';
    u = 0 - u;
  }
  // Counts the digits, then writes them two per division from the last,
  // straight into the buffer. std::to_chars does the same with more
  // checks; writing into a scratch array and copying it would read the
  // two-byte stores back with wider loads, which stalls.
  int digits = 1;
  std::uint64_t top = u;
  for (; top >= 10000; top /= 10000) digits += 4;
  digits += (top >= 10) + (top >= 100) + (top >= 1000);
  char* end = p + digits;
  char* q = end;
  while (u >= 100) {
    q -= 2;
    std::memcpy(q, kDigitPairs.pairs[u % 100], 2);
    u /= 100;
  }
  if (u >= 10) {
    std::memcpy(q - 2, kDigitPairs.pairs[u], 2);
  } else {
    q[-1] = static_cast<char>('0' + u);
  }
  return end;
}

}  // namespace conversions::mapping
