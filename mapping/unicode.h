// UTF-8 helpers: validation, Unicode-aware trimming and lower-casing.
//
// ASCII input, the common case, takes fast paths that never enter ICU.
#ifndef CONVERSIONS_MAPPING_UNICODE_H_
#define CONVERSIONS_MAPPING_UNICODE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace conversions::mapping {

namespace internal {
// The general cases, out of line; call the functions below instead.
bool IsValidUtf8Slow(std::string_view s);
std::string_view TrimWhitespaceSlow(std::string_view s);

inline std::uint64_t Load64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline std::uint32_t Load32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
}  // namespace internal

// Returns true when every byte of `s` is below 0x80.
//
// Inline, and without a branch per word, because it runs on every short
// field of every event: the bytes are ORed together sixteen or eight at a
// time, and strings shorter than a word take two overlapping loads.
inline bool IsAscii(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
#ifdef __SSE2__
  if (n >= 16) {
    auto load = [](const char* q) {
      return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    };
    __m128i bytes = load(p + n - 16);
    for (size_t i = 0; i + 16 < n; i += 16) {
      bytes = _mm_or_si128(bytes, load(p + i));
    }
    return _mm_movemask_epi8(bytes) == 0;
  }
#endif
  std::uint64_t bits;
  if (n >= 8) {
    bits = internal::Load64(p + n - 8);
    for (size_t i = 0; i + 8 < n; i += 8) bits |= internal::Load64(p + i);
  } else if (n >= 4) {
    bits = internal::Load32(p) | internal::Load32(p + n - 4);
  } else if (n > 0) {
    bits = static_cast<unsigned char>(p[0]) |
           static_cast<unsigned char>(p[n / 2]) |
           static_cast<unsigned char>(p[n - 1]);
  } else {
    bits = 0;
  }
  return (bits & 0x8080808080808080ULL) == 0;
}

// Returns true when `s` is well-formed UTF-8 (no overlong forms, no
// surrogates, nothing above U+10FFFF).
inline bool IsValidUtf8(std::string_view s) {
  return IsAscii(s) || internal::IsValidUtf8Slow(s);
}

// Returns `s` without leading and trailing Unicode White_Space (ASCII
// space, tab, CR, LF, VT, FF, NBSP, U+2000..U+200A, U+3000, ...). Requires
// valid UTF-8.
inline std::string_view TrimWhitespace(std::string_view s) {
  // Most values start and end with a visible ASCII character, which is not
  // white space: nothing to trim.
  auto visible = [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x80;
  };
  if (!s.empty() && visible(s.front()) && visible(s.back())) return s;
  return internal::TrimWhitespaceSlow(s);
}

// Whether `s` is set but holds nothing but Unicode White_Space.
inline bool IsBlank(std::string_view s) {
  return !s.empty() && TrimWhitespace(s).empty();
}

// Writes `s` lower-cased with Unicode's default (root locale) full case
// mapping to `*out` ("JOSÉ" -> "josé", "Ș" -> "ș"), composed or decomposed
// as it came. Requires valid UTF-8. Returns false if ICU fails.
bool LowerCase(std::string_view s, std::string* out);

// Returns the number of code points in valid UTF-8 `s`.
size_t CodePointCount(std::string_view s);

// Returns true when every code point of valid UTF-8 `s` outside ASCII is a
// letter (Unicode's alphabetic property: not a full-width digit or @, a
// symbol or punctuation), or with `or_marks` also a combining mark (a
// decomposed "Å" is "A" and U+030A).
bool NonAsciiAreLetters(std::string_view s, bool or_marks = false);

// Returns the prefix of valid UTF-8 `s` holding at most `max_code_points`
// code points.
std::string_view TruncateCodePoints(std::string_view s, size_t max_code_points);

// Returns true for the 32 ASCII punctuation characters
// !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ (independent of the C locale).
constexpr bool IsAsciiPunctuation(char c) {
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') ||
         (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}

// Returns true when `s` holds a space, a control character or DEL (any
// byte <= 0x20, or 0x7f).
bool HasSpaceOrControl(std::string_view s);

// Returns true for ASCII white space: space, \t, \n, \v, \f, \r.
constexpr bool IsAsciiWhitespace(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_UNICODE_H_
