// UTF-8 helpers: validation, Unicode-aware trimming and lower-casing.
//
// ASCII input, the common case, takes fast paths that never enter ICU.
#ifndef CONVERSIONS_MAPPING_UNICODE_H_
#define CONVERSIONS_MAPPING_UNICODE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace conversions::mapping {

// Returns true when `s` is well-formed UTF-8 (no overlong forms, no
// surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Returns true when every byte of `s` is below 0x80.
bool IsAscii(std::string_view s);

// Returns `s` without leading and trailing Unicode White_Space (ASCII
// space, tab, CR, LF, VT, FF, NBSP, U+2000..U+200A, U+3000, ...). Requires
// valid UTF-8.
std::string_view TrimWhitespace(std::string_view s);

// Writes the NFC form of `s`, lower-cased with Unicode's default (root
// locale) full case mapping, to `*out` ("JOSÉ" -> "josé", "Ș" -> "ș").
// Requires valid UTF-8. Returns false if ICU fails.
bool LowerCaseNfc(std::string_view s, std::string* out);

// Returns the number of code points in valid UTF-8 `s`.
size_t CodePointCount(std::string_view s);

// Returns the prefix of valid UTF-8 `s` holding at most `max_code_points`
// code points.
std::string_view TruncateCodePoints(std::string_view s, size_t max_code_points);

// Returns true for the 32 ASCII punctuation characters
// !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ (independent of the C locale).
constexpr bool IsAsciiPunctuation(char c) {
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') ||
         (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}

// Returns true for ASCII white space: space, \t, \n, \v, \f, \r.
constexpr bool IsAsciiWhitespace(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_UNICODE_H_
