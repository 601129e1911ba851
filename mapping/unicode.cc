#include "mapping/unicode.h"

#include <unicode/bytestream.h>
#include <unicode/casemap.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <cstdint>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace conversions::mapping {
namespace {

char LowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// Lower-cases eight ASCII bytes at once. Adding 0x3f sets the high bit of
// the bytes from 'A' up, adding 0x25 that of the bytes above 'Z'; no byte
// carries into the next, since all are below 0x80. The difference marks
// 'A' to 'Z', which get 0x20.
std::uint64_t LowerAsciiWord(std::uint64_t x) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  std::uint64_t upper = (x + kOnes * (0x80 - 'A')) &
                        ~(x + kOnes * (0x80 - 'Z' - 1)) & (kOnes * 0x80);
  return x | (upper >> 2);
}

void StoreWord(char* p, std::uint64_t x) { std::memcpy(p, &x, 8); }

}  // namespace

bool internal::IsValidUtf8Slow(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // Skip ASCII runs sixteen, then eight bytes at a time.
#ifdef __SSE2__
    while (end - p >= 16 && _mm_movemask_epi8(_mm_loadu_si128(
                                reinterpret_cast<const __m128i*>(p))) == 0) {
      p += 16;
    }
#endif
    while (end - p >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      if (word & 0x8080808080808080ULL) break;
      p += 8;
    }
    if (p >= end) break;
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int len;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // continuation byte, overlong lead, or above U+10FFFF
    }
    if (end - p < len) return false;
    for (int i = 1; i < len; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += len;
  }
  return true;
}

std::string_view internal::TrimWhitespaceSlow(std::string_view s) {
  const auto* b = reinterpret_cast<const std::uint8_t*>(s.data());
  int32_t start = 0;
  int32_t end = static_cast<int32_t>(s.size());
  while (start < end) {
    if (b[start] < 0x80) {
      if (!IsAsciiWhitespace(static_cast<char>(b[start]))) break;
      ++start;
      continue;
    }
    int32_t next = start;
    UChar32 c;
    U8_NEXT(b, next, end, c);
    if (c < 0 || !u_isUWhiteSpace(c)) break;
    start = next;
  }
  while (end > start) {
    if (b[end - 1] < 0x80) {
      if (!IsAsciiWhitespace(static_cast<char>(b[end - 1]))) break;
      --end;
      continue;
    }
    int32_t prev = end;
    UChar32 c;
    U8_PREV(b, start, prev, c);
    if (c < 0 || !u_isUWhiteSpace(c)) break;
    end = prev;
  }
  return s.substr(start, end - start);
}

// Checks eight bytes at a time, the last word overlapping the one before,
// without a branch per word.
bool HasSpaceOrControl(std::string_view s) {
  auto special = [](std::uint64_t x) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = kOnes * 0x80;
    std::uint64_t del = x ^ (kOnes * 0x7f);
    // Bytes below 0x21, and bytes equal to 0x7f (zero in `del`). Borrows
    // can mark a byte after a marked one, never a word with none.
    return ((x - kOnes * 0x21) & ~x & kHigh) | ((del - kOnes) & ~del & kHigh);
  };
  size_t n = s.size();
  if (n < 8) {
    for (char c : s) {
      auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u == 0x7f) return true;
    }
    return false;
  }
  std::uint64_t marked = special(internal::Load64(s.data() + n - 8));
  for (size_t i = 0; i + 8 < n; i += 8) {
    marked |= special(internal::Load64(s.data() + i));
  }
  return marked != 0;
}

namespace {

// LowerCase's ICU path, for text that is not all ASCII.
bool LowerCaseIcu(std::string_view s, std::string* out) {
  UErrorCode status = U_ZERO_ERROR;
  icu::StringByteSink<std::string> sink(out);
  icu::CaseMap::utf8ToLower(
      "", 0, icu::StringPiece(s.data(), static_cast<int32_t>(s.size())), sink,
      nullptr, status);
  return U_SUCCESS(status);
}

}  // namespace

bool LowerCase(std::string_view s, std::string* out) {
  out->clear();
  if (IsAscii(s)) {
    // ASCII's lower case is ASCII.
    out->resize(s.size());
    char* dst = out->data();
    const char* src = s.data();
    size_t n = s.size();
    if (n < 8) {
      for (size_t i = 0; i < n; ++i) dst[i] = LowerAscii(src[i]);
      return true;
    }
    // Eight bytes at a time, the last word overlapping the one before.
    for (size_t i = 0; i + 8 < n; i += 8) {
      StoreWord(dst + i, LowerAsciiWord(internal::Load64(src + i)));
    }
    StoreWord(dst + n - 8, LowerAsciiWord(internal::Load64(src + n - 8)));
    return true;
  }
  return LowerCaseIcu(s, out);
}

size_t CodePointCount(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool NonAsciiAreLetters(std::string_view s, bool or_marks) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto length = static_cast<std::int32_t>(s.size());
  std::int32_t i = 0;
  while (i < length) {
    UChar32 c;
    U8_NEXT(bytes, i, length, c);
    if (c < 0) return false;
    if (c >= 0x80 && !u_isalpha(c) &&
        !(or_marks && (U_GET_GC_MASK(c) & U_GC_M_MASK) != 0)) {
      return false;
    }
  }
  return true;
}

std::string_view TruncateCodePoints(std::string_view s,
                                    size_t max_code_points) {
  size_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == max_code_points) return s.substr(0, i);
      ++seen;
    }
  }
  return s;
}

}  // namespace conversions::mapping
