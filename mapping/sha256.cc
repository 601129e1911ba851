#include "mapping/sha256.h"

// SHA256() is deprecated in OpenSSL 3 in favour of EVP_Digest, which costs a
// provider fetch per call; for 20-byte identifiers that is slower than the
// hash itself. The one-shot function stays in OpenSSL 3.x.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

namespace conversions::mapping {
namespace {
constexpr char kHex[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

Sha256Digest Sha256(std::string_view data) {
  Sha256Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest.data());
  return digest;
}

Sha256HexDigest Sha256Hex(std::string_view data) {
  Sha256Digest digest = Sha256(data);
  Sha256HexDigest hex;
  for (size_t i = 0; i < digest.size(); ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xf];
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
