#include "mapping/normalize.h"

#include <arpa/inet.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "mapping/iso_codes.h"
#include "mapping/unicode.h"

namespace conversions::mapping {
namespace {

constexpr DropReason kKept{};
constexpr DropReason Empty(const char* description) {
  return {kDroppedEmpty, description};
}
constexpr DropReason Invalid(const char* description) {
  return {kDroppedInvalid, description};
}

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsHex(char c) {
  return IsAsciiDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The ASCII characters a phone number loses: white space, parentheses,
// periods and hyphens. All are below 64: one bit test.
bool IsPhoneSeparator(char c) {
  constexpr std::uint64_t kSeparators =
      (1ULL << ' ') | (1ULL << '\t') | (1ULL << '\n') | (1ULL << '\v') |
      (1ULL << '\f') | (1ULL << '\r') | (1ULL << '(') | (1ULL << ')') |
      (1ULL << '.') | (1ULL << '-');
  auto u = static_cast<unsigned char>(c);
  return u < 64 && ((kSeparators >> u) & 1) != 0;
}

// Returns true when `s` is an IPv4 address in strict dotted decimal: four
// numbers 0 to 255 without leading zeros. glibc's inet_pton takes all of
// these as they are; checking them here skips its copy to a C string.
bool IsDottedQuad(std::string_view s) {
  size_t i = 0;
  for (int part = 0;; ++part) {
    size_t start = i;
    unsigned value = 0;
    while (i < s.size() && i - start < 3 && IsAsciiDigit(s[i])) {
      value = value * 10 + (s[i] - '0');
      ++i;
    }
    size_t digits = i - start;
    if (digits == 0 || value > 255 || (digits > 1 && s[start] == '0')) {
      return false;
    }
    if (part == 3) return i == s.size();
    if (i == s.size() || s[i] != '.') return false;
    ++i;
  }
}

}  // namespace

DropReason NormalizeEmail(std::string_view in, std::string* out) {
  if (!IsValidUtf8(in)) return Invalid("email is not valid UTF-8");
  std::string_view trimmed = TrimWhitespace(in);
  if (trimmed.empty()) return Empty("email is empty");
  // Lower case only, as spec 5a says (no NFC), so that the digest is the
  // one the Pixel and other senders compute from the same text.
  if (!LowerCase(trimmed, out)) return Invalid("email cannot be lower-cased");
  const std::string& e = *out;
  if (e.size() > 254) return Invalid("email is longer than 254 bytes");
  // One pass without early exits (its branches are then predictable) finds
  // the '@' and whether anything is wrong; only a wrong address takes the
  // loop that finds which of a space, a control character or a second '@'
  // comes first.
  size_t at = std::string::npos;
  int ats = 0;
  bool space_or_control = false;
  for (size_t i = 0; i < e.size(); ++i) {
    auto c = static_cast<unsigned char>(e[i]);
    space_or_control |= c <= 0x20 || c == 0x7f;
    if (c == '@' && ats++ == 0) at = i;
  }
  if (space_or_control || ats > 1) {
    for (size_t i = 0, first_at = std::string::npos; i < e.size(); ++i) {
      auto c = static_cast<unsigned char>(e[i]);
      if (c <= 0x20 || c == 0x7f) {
        return Invalid("email contains white space or control characters");
      }
      if (c == '@') {
        if (first_at != std::string::npos) {
          return Invalid("email has more than one @");
        }
        first_at = i;
      }
    }
  }
  if (at == std::string::npos) return Invalid("email has no @");
  if (at == 0) return Invalid("email has an empty local part");
  std::string_view domain = std::string_view(e).substr(at + 1);
  size_t dot = domain.rfind('.');
  if (domain.empty() || dot == std::string_view::npos || dot == 0 ||
      dot + 1 == domain.size() || domain.front() == '.') {
    return Invalid("email domain is not a dotted host name");
  }
  if (domain.find("..") != std::string_view::npos) {
    return Invalid("email domain has an empty label (\"..\")");
  }
  return kKept;
}

DropReason NormalizePhone(std::string_view in, std::string* out) {
  out->clear();
  if (!IsValidUtf8(in)) return Invalid("phone number is not valid UTF-8");
  std::string_view trimmed = TrimWhitespace(in);
  if (trimmed.empty()) return Empty("phone number is empty");
  // Keep the characters that are not stripped, in one pass into a buffer of
  // the input's size.
  out->resize(trimmed.size());
  char* dst = out->data();
  int non_digits = 0;  // kept characters other than ASCII digits
  const auto* b = reinterpret_cast<const std::uint8_t*>(trimmed.data());
  const auto n = static_cast<int32_t>(trimmed.size());
  for (int32_t i = 0; i < n;) {
    if (b[i] >= 0x80) {
      // Non-ASCII white space (NBSP, U+202F, ...) goes too; anything else
      // non-ASCII is kept and fails the digit check.
      int32_t start = i;
      UChar32 c;
      U8_NEXT(b, i, n, c);
      if (c < 0 || !u_isUWhiteSpace(c)) {
        std::memcpy(dst, b + start, i - start);
        dst += i - start;
        ++non_digits;
      }
      continue;
    }
    char c = static_cast<char>(b[i++]);
    if (IsPhoneSeparator(c)) continue;
    non_digits += !IsAsciiDigit(c);
    *dst++ = c;
  }
  out->resize(dst - out->data());
  // Digits only, after at most one leading '+'.
  size_t start = !out->empty() && (*out)[0] == '+' ? 1 : 0;
  if (non_digits != static_cast<int>(start)) {
    return Invalid(
        "phone number has characters other than digits, white space, "
        "parentheses, periods, hyphens and a leading +");
  }
  const bool has_digits = start < out->size();
  while (start < out->size() && (*out)[start] == '0') ++start;
  out->erase(0, start);
  if (out->empty()) {
    return has_digits ? Invalid("phone number has no digits but zeros")
                      : Empty("phone number has no digits");
  }
  if (out->size() < 8 || out->size() > 15) {
    return Invalid(
        "phone number must have 8 to 15 digits after removing the leading + "
        "and zeros (with country calling code)");
  }
  return kKept;
}

DropReason NormalizeExternalId(std::string_view in, std::string* out) {
  if (!IsValidUtf8(in)) return Invalid("external id is not valid UTF-8");
  std::string_view trimmed = TrimWhitespace(in);
  if (trimmed.empty()) return Empty("external id is empty");
  if (trimmed.size() > 1024)
    return Invalid("external id is longer than 1,024 bytes");
  out->assign(trimmed);
  return kKept;
}

DropReason NormalizeName(std::string_view in, std::string* out) {
  if (!IsValidUtf8(in)) return Invalid("name is not valid UTF-8");
  if (in.size() > 1024) return Invalid("name is longer than 1,024 bytes");
  std::string lower;
  if (!LowerCase(in, &lower)) return Invalid("name cannot be lower-cased");
  out->clear();
  const auto* b = reinterpret_cast<const std::uint8_t*>(lower.data());
  int32_t i = 0;
  const auto n = static_cast<int32_t>(lower.size());
  while (i < n) {
    if (b[i] < 0x80) {
      char c = static_cast<char>(b[i++]);
      if (!IsAsciiWhitespace(c) && !IsAsciiPunctuation(c)) out->push_back(c);
      continue;
    }
    int32_t start = i;
    UChar32 c;
    U8_NEXT(b, i, n, c);
    if (c >= 0 && !u_isUWhiteSpace(c)) out->append(lower, start, i - start);
  }
  if (out->empty()) return Empty("name has no letters after normalization");
  return kKept;
}

DropReason NormalizeCountry(std::string_view in, std::string* out) {
  if (!IsValidUtf8(in)) return Invalid("country is not valid UTF-8");
  std::string_view trimmed = TrimWhitespace(in);
  if (trimmed.empty()) return Empty("country is empty");
  if (trimmed.size() > 3) {
    return Invalid("country is not an ISO 3166-1 alpha-2 or alpha-3 code");
  }
  char upper[3];
  for (size_t i = 0; i < trimmed.size(); ++i) {
    char c = trimmed[i];
    if (!IsAsciiAlpha(c)) {
      return Invalid("country is not an ISO 3166-1 alpha-2 or alpha-3 code");
    }
    upper[i] = (c >= 'a') ? static_cast<char>(c - 32) : c;
  }
  auto alpha2 = CountryAlpha2(std::string_view(upper, trimmed.size()));
  if (!alpha2) {
    return Invalid("country is not an ISO 3166-1 alpha-2 or alpha-3 code");
  }
  out->assign(*alpha2);
  return kKept;
}

constexpr char kPostalCodeCharacters[] =
    "postal code may hold only letters, ASCII digits, spaces and hyphens";

DropReason NormalizePostalCode(std::string_view in, std::string* out) {
  if (!IsValidUtf8(in)) return Invalid("postal code is not valid UTF-8");
  std::string_view trimmed = TrimWhitespace(in);
  if (trimmed.empty()) return Empty("postal code is empty");
  if (CodePointCount(trimmed) > 32)
    return Invalid("postal code is longer than 32 characters");
  // Spec 5a: letters, digits, spaces and hyphens. Letters are any script's
  // (u_isalpha), composed or with combining marks; digits ASCII only.
  bool ascii = true;
  for (char c : trimmed) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
    } else if (!IsAsciiAlpha(c) && !IsAsciiDigit(c) && c != ' ' && c != '-') {
      return Invalid(kPostalCodeCharacters);
    }
  }
  if (!ascii && !NonAsciiAreLetters(trimmed, /*or_marks=*/true)) {
    return Invalid(kPostalCodeCharacters);
  }
  out->assign(trimmed);
  return kKept;
}

DropReason NormalizeLocation(std::string_view in, std::string* out) {
  if (!IsValidUtf8(in)) return Invalid("value is not valid UTF-8");
  std::string_view trimmed = TrimWhitespace(in);
  if (trimmed.empty()) return Empty("value is empty");
  // Places are sent in clear, so what is an identifier instead must not
  // pass: no place name has an '@', and none is a run of 7 or more digits
  // with only a phone number's other characters.
  int digits = 0;
  bool phone_characters_only = true;
  for (char c : trimmed) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Invalid("value contains control characters");
    }
    if (c == '@') {
      return Invalid(
          "value has an '@', which no place name has: an email address "
          "goes in the emails list, which is hashed");
    }
    if (IsAsciiDigit(c)) {
      ++digits;
    } else if (c != '+' && !IsPhoneSeparator(c)) {
      phone_characters_only = false;
    }
  }
  if (phone_characters_only && digits >= 7) {
    return Invalid(
        "value looks like a phone number, not a place: a phone number goes "
        "in the phone numbers list, which is hashed");
  }
  out->assign(trimmed);
  return kKept;
}

DropReason NormalizeIpAddress(std::string_view in, std::string* out) {
  if (!IsValidUtf8(in)) return Invalid("IP address is not valid UTF-8");
  std::string_view trimmed = TrimWhitespace(in);
  if (trimmed.empty()) return Empty("IP address is empty");
  if (IsDottedQuad(trimmed)) {
    out->assign(trimmed);
    return kKept;
  }
  if (trimmed.size() >= INET6_ADDRSTRLEN) {
    return Invalid("IP address is not a valid IPv4 or IPv6 address");
  }
  char text[INET6_ADDRSTRLEN];
  trimmed.copy(text, trimmed.size());
  text[trimmed.size()] = '\0';
  unsigned char addr[sizeof(struct in6_addr)];
  char canonical[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, text, addr) == 1) {
    // glibc takes only strict dotted decimal without leading zeros, which
    // is already canonical (and inet_ntop would format it with sprintf).
    out->assign(trimmed);
    return kKept;
  }
  if (inet_pton(AF_INET6, text, addr) != 1) {
    return Invalid("IP address is not a valid IPv4 or IPv6 address");
  }
  inet_ntop(AF_INET6, addr, canonical, sizeof(canonical));
  out->assign(canonical);
  return kKept;
}

DropReason NormalizeAdvertisingId(std::string_view in, std::string* out) {
  if (!IsValidUtf8(in)) return Invalid("advertising id is not valid UTF-8");
  std::string_view trimmed = TrimWhitespace(in);
  if (trimmed.empty()) return Empty("advertising id is empty");
  if (trimmed.size() != 36) {
    return Invalid("advertising id is not a UUID (8-4-4-4-12 hex digits)");
  }
  out->clear();
  bool all_zero = true;
  for (size_t i = 0; i < trimmed.size(); ++i) {
    char c = trimmed[i];
    bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? c != '-' : !IsHex(c)) {
      return Invalid("advertising id is not a UUID (8-4-4-4-12 hex digits)");
    }
    if (!dash_position && c != '0') all_zero = false;
    out->push_back((c >= 'A' && c <= 'F') ? static_cast<char>(c + 32) : c);
  }
  if (all_zero) {
    return Invalid("advertising id is all zeros (ad tracking limited)");
  }
  return kKept;
}

namespace {

bool IsEmailLocalByte(char c) {
  return IsAsciiAlpha(c) || IsAsciiDigit(c) ||
         static_cast<unsigned char>(c) >= 0x80 || c == '.' || c == '_' ||
         c == '+' || c == '-';
}

int HexValue(char c) {
  return IsAsciiDigit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

// How many bytes before url[begin] (not before `floor`) are one byte of
// an address's local part: 1 for the byte itself, 3 for an escape of one
// ("%2B"), 5 for an escape escaped twice ("%252B"); 0 for anything else,
// an escape of another byte included ("%3D", the '=' before the address in
// an escaped query).
size_t LocalByteBefore(std::string_view url, size_t begin, size_t floor) {
  if (begin < floor + 1) return 0;
  size_t len = 0;
  if (begin >= floor + 5 && url[begin - 5] == '%' && url[begin - 4] == '2' &&
      url[begin - 3] == '5') {
    len = 5;
  } else if (begin >= floor + 3 && url[begin - 3] == '%') {
    len = 3;
  }
  if (len > 0 && IsHex(url[begin - 2]) && IsHex(url[begin - 1])) {
    const char c = static_cast<char>(HexValue(url[begin - 2]) * 16 +
                                     HexValue(url[begin - 1]));
    return IsEmailLocalByte(c) ? len : 0;
  }
  return IsEmailLocalByte(url[begin - 1]) ? 1 : 0;
}
bool IsEmailDomainByte(char c) {
  return IsAsciiAlpha(c) || IsAsciiDigit(c) ||
         static_cast<unsigned char>(c) >= 0x80 || c == '.' || c == '-';
}

// The length of the '@' at url[i]: 1 for '@', 3 for "%40", 5 for "%2540"
// (escaped twice, as a URL passed in another's query is), 0 for none.
size_t AtSignAt(std::string_view url, size_t i) {
  if (url[i] == '@') return 1;
  if (url[i] != '%') return 0;
  if (url.substr(i + 1, 2) == "40") return 3;
  if (url.substr(i + 1, 4) == "2540") return 5;
  return 0;
}

}  // namespace

int RedactUrlEmails(std::string_view url, std::string* out) {
  // Most URLs have neither an '@' nor a '%': two memchr scans decide (not
  // given the null pointer of an empty view).
  if (url.empty()) return 0;
  if (std::memchr(url.data(), '@', url.size()) == nullptr &&
      std::memchr(url.data(), '%', url.size()) == nullptr) {
    return 0;
  }
  // The authority's '@' (user information) is the URL checks' to refuse.
  size_t from = 0;
  if (const size_t scheme = url.find("://"); scheme != std::string_view::npos) {
    from = url.find_first_of("/?#", scheme + 3);
    if (from == std::string_view::npos) return 0;
  }
  int count = 0;
  size_t copied = 0;  // url[0, copied) is in *out once count > 0
  size_t i = from;
  while (i < url.size()) {
    const size_t at = AtSignAt(url, i);
    if (at == 0) {
      ++i;
      continue;
    }
    size_t begin = i;
    const size_t floor = std::max(from, copied);
    while (const size_t n = LocalByteBefore(url, begin, floor)) begin -= n;
    const size_t domain = i + at;
    size_t end = domain;
    while (end < url.size() && IsEmailDomainByte(url[end])) ++end;
    while (end > domain && url[end - 1] == '.') --end;
    const size_t dot = url.substr(domain, end - domain).find('.');
    if (begin == i || dot == std::string_view::npos || dot == 0) {
      i = domain;
      continue;
    }
    if (count++ == 0) out->clear();
    out->append(url.substr(copied, begin - copied));
    out->append("redacted");
    copied = i = end;
  }
  if (count > 0) out->append(url.substr(copied));
  return count;
}

[[gnu::cold]] std::string DescribeDrop(std::string_view in,
                                       const DropReason& drop) {
  const std::string_view value = TrimWhitespace(in);
  bool hex = value.size() >= 32;
  for (size_t i = 0; hex && i < value.size(); ++i) hex = IsHex(value[i]);
  if (!hex) return drop.description;
  const char* kind = value.size() == 32   ? " (an MD5 digest's length)"
                     : value.size() == 40 ? " (a SHA-1 digest's length)"
                                          : "";
  return absl::StrCat(
      "value is ", value.size(), " hex characters", kind,
      ": only a SHA-256 digest (64 hex characters) passes through as already "
      "hashed, and as a clear value: ",
      drop.description);
}

}  // namespace conversions::mapping
