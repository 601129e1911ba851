#include "mapping/sha256.h"

// The low-level SHA256_Init/Update/Final are deprecated in OpenSSL 3 in
// favour of EVP, but stay in 3.x. For 20-byte identifiers they take about
// 60 ns with the CPU's SHA extensions; EVP_Digest (and the one-shot SHA256(),
// built on it in 3.x) fetches a provider per call and takes about 320 ns.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <cstring>

namespace conversions::mapping {
namespace {
constexpr char kHex[] = "0123456789abcdef";

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
  for (size_t i = 0; i < digest.size(); ++i) {
    std::memcpy(&hex[2 * i], kHexPairs.pairs[digest[i]], 2);
  }
  return hex;
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (HexValue(c) < 0) return false;
  }
  return true;
}

Sha256HexDigest LowerHex(std::string_view s) {
  Sha256HexDigest hex;
  for (size_t i = 0; i < hex.size(); ++i) hex[i] = kHex[HexValue(s[i])];
  return hex;
}

}  // namespace conversions::mapping
