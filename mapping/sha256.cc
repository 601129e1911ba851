#include "mapping/sha256.h"

// The low-level SHA256_Init/Update/Final are deprecated in OpenSSL 3 in
// favour of EVP, but stay in 3.x. For 20-byte identifiers they take about
// 60 ns with the CPU's SHA extensions; EVP_Digest (and the one-shot SHA256(),
// built on it in 3.x) fetches a provider per call and takes about 320 ns.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace conversions::mapping {
namespace {
constexpr char kHex[] = "0123456789abcdef";

#ifndef __SSE2__
// The two hex characters of every byte value.
struct HexPairs {
  char pairs[256][2];
  constexpr HexPairs() : pairs() {
    for (int b = 0; b < 256; ++b) {
      pairs[b][0] = kHex[b >> 4];
      pairs[b][1] = kHex[b & 0xf];
    }
  }
};
constexpr HexPairs kHexPairs;
#endif

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

Sha256Digest Sha256(std::string_view data) {
  Sha256Digest digest;
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  SHA256_Final(digest.data(), &ctx);
  return digest;
}

Sha256HexDigest Sha256Hex(std::string_view data) {
  Sha256Digest digest = Sha256(data);
  Sha256HexDigest hex;
#ifdef __SSE2__
  // Sixteen bytes at a time (a tenth of the instructions of the table
  // loop): split each byte into its two nibbles, interleave them high
  // first, and add '0', plus the gap up to 'a' for nibbles above 9.
  const __m128i kLowNibble = _mm_set1_epi8(0x0f);
  const __m128i kNine = _mm_set1_epi8(9);
  const __m128i kZero = _mm_set1_epi8('0');
  const __m128i kLetterGap = _mm_set1_epi8('a' - '0' - 10);
  auto to_hex = [&](__m128i nibbles) {
    __m128i letters = _mm_cmpgt_epi8(nibbles, kNine);
    return _mm_add_epi8(_mm_add_epi8(nibbles, kZero),
                        _mm_and_si128(letters, kLetterGap));
  };
  // SHA256_Final has just stored the digest as 32-bit words: read it back
  // as such, which the CPU forwards from the stores. A 16-byte load would
  // wait for them to reach the cache (perf showed a third of this function
  // there).
  auto word = [&digest](size_t i) {
    std::uint32_t w;
    std::memcpy(&w, &digest[i], 4);
    return _mm_cvtsi32_si128(static_cast<int>(w));
  };
  for (size_t i = 0; i < digest.size(); i += 16) {
    __m128i bytes =
        _mm_unpacklo_epi64(_mm_unpacklo_epi32(word(i), word(i + 4)),
                           _mm_unpacklo_epi32(word(i + 8), word(i + 12)));
    __m128i high = _mm_and_si128(_mm_srli_epi16(bytes, 4), kLowNibble);
    __m128i low = _mm_and_si128(bytes, kLowNibble);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(&hex[2 * i]),
                     to_hex(_mm_unpacklo_epi8(high, low)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(&hex[2 * i + 16]),
                     to_hex(_mm_unpackhi_epi8(high, low)));
  }
#else
  for (size_t i = 0; i < digest.size(); ++i) {
    std::memcpy(&hex[2 * i], kHexPairs.pairs[digest[i]], 2);
  }
#endif
  return hex;
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (HexValue(c) < 0) return false;
  }
  return true;
}

bool IsEmptyStringDigest(const Sha256HexDigest& digest) {
  constexpr std::string_view kEmpty =
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  return std::string_view(digest.data(), digest.size()) == kEmpty;
}

Sha256HexDigest LowerHex(std::string_view s) {
  Sha256HexDigest hex;
  for (size_t i = 0; i < hex.size(); ++i) hex[i] = kHex[HexValue(s[i])];
  return hex;
}

}  // namespace conversions::mapping
