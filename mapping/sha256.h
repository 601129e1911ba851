// SHA-256 of identifiers, as lower-case hex.
#ifndef CONVERSIONS_MAPPING_SHA256_H_
#define CONVERSIONS_MAPPING_SHA256_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace conversions::mapping {

// A SHA-256 digest: 32 raw bytes.
using Sha256Digest = std::array<std::uint8_t, 32>;

// A SHA-256 digest as 64 lower-case hex characters, without terminator.
using Sha256HexDigest = std::array<char, 64>;

// Returns the SHA-256 digest of `data`. Uses OpenSSL's low-level SHA-256,
// which takes the CPU's SHA extensions when present and, unlike EVP_Digest,
// fetches no provider per call.
Sha256Digest Sha256(std::string_view data);

// Returns the SHA-256 of `data` as lower-case hex.
Sha256HexDigest Sha256Hex(std::string_view data);

// Returns true when `s` is exactly 64 hex characters of either case: a
// value that is already a SHA-256 digest.
bool IsSha256Hex(std::string_view s);

// Returns the 64 hex characters of `s`, lower-cased. Requires IsSha256Hex(s).
Sha256HexDigest LowerHex(std::string_view s);

// Returns true when `digest` is the SHA-256 of the empty string
// (e3b0c442...b855): what a caller that hashes a missing value sends. The
// spec says never to send an empty hash.
bool IsEmptyStringDigest(const Sha256HexDigest& digest);

// Returns the digest as a std::string.
inline std::string ToString(const Sha256HexDigest& d) {
  return std::string(d.data(), d.size());
}

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_SHA256_H_
