// Normalization of single identifier values, as the Conversions API
// documents it for the latest user schema (S4).
//
// Each function reads one clear-text value and writes its normalized form to
// `*out`, or reports why the value must be dropped. Reasons never quote the
// value: callers put them into warnings that are returned to clients.
#ifndef CONVERSIONS_MAPPING_NORMALIZE_H_
#define CONVERSIONS_MAPPING_NORMALIZE_H_

#include <string>
#include <string_view>

namespace conversions::mapping {

// Why a value was dropped. Both pointers are static strings; both are null
// when the value was kept.
struct DropReason {
  const char* code = nullptr;         // e.g. "DROPPED_INVALID"
  const char* description = nullptr;  // English, without the value

  bool kept() const { return code == nullptr; }
};

inline constexpr char kDroppedEmpty[] = "DROPPED_EMPTY";
inline constexpr char kDroppedInvalid[] = "DROPPED_INVALID";

// Email: trim, lower-case (Unicode-aware), then require one '@' with a
// non-empty local part and a dotted domain, no white space or control
// characters, at most 254 bytes.
DropReason NormalizeEmail(std::string_view in, std::string* out);

// Phone: remove white space, parentheses, periods and hyphens, then one
// leading '+', then leading zeros; 8 to 15 digits must remain
// ("+1 (415) 555-2671" -> "14155552671").
DropReason NormalizePhone(std::string_view in, std::string* out);

// External id: trim only; case and every other character are kept.
DropReason NormalizeExternalId(std::string_view in, std::string* out);

// First or last name: Unicode lower case, then remove all white space and
// ASCII punctuation; other characters are kept ("O'Connor" -> "oconnor",
// "Ștefănescu" -> "ștefănescu", "Mary Jane" -> "maryjane"). Not
// NFC-composed: spec 5a asks for nothing more, and the Pixel hashes the
// text as typed (a decomposed "José" has its own digest).
DropReason NormalizeName(std::string_view in, std::string* out);

// Country: trim, upper-case, then an ISO 3166-1 alpha-2 or alpha-3 code;
// writes alpha-2 ("usa" -> "US").
DropReason NormalizeCountry(std::string_view in, std::string* out);

// Postal code: trim; letters of any script (composed or with combining
// marks), ASCII digits, spaces and hyphens only, at most 32 characters
// (code points). Case is kept.
DropReason NormalizePostalCode(std::string_view in, std::string* out);

// City or region: trim. Dropped when it has an '@' or is 7 or more digits
// with only a phone number's other characters (white space, `+ ( ) . -`):
// a place is sent in clear, an email address or phone number must not be.
// The caller truncates to 128 code points.
DropReason NormalizeLocation(std::string_view in, std::string* out);

// IP address: trim, then a valid IPv4 (dotted decimal) or IPv6 address;
// writes its canonical text form ("2001:DB8::0:1" -> "2001:db8::1").
DropReason NormalizeIpAddress(std::string_view in, std::string* out);

// Android advertising id: trim, then a UUID (8-4-4-4-12 hex digits);
// writes it lower-cased. The all-zero id (limit ad tracking) is dropped.
DropReason NormalizeAdvertisingId(std::string_view in, std::string* out);

// A URL's email addresses, which would reach the spool and the API in
// clear: writes `url` to `*out` with every email address after the
// authority (in the path, query or fragment, its '@' written as is or as
// "%40") replaced by "redacted", and returns how many were replaced; 0
// leaves `*out` untouched. An address is a run of letters, digits,
// non-ASCII bytes, `. _ + - %` before the '@', and a dotted run of letters,
// digits, non-ASCII bytes, `.` and `-` after it, which query delimiters
// (`= & ; / ? #`) end ("?email=jane.doe%40example.com&x=1" ->
// "?email=redacted&x=1"). An '@' with nothing before it ("/@user",
// "/@48.85,2.35") or no dotted name after it is left.
int RedactUrlEmails(std::string_view url, std::string* out);

// The description of `drop`, a clear identifier `in` dropped by its
// normalizer: the normalizer's, unless `in` is nothing but hex digits,
// 32 or more of them: then it says that only a SHA-256 digest (64 hex
// characters) passes through as already hashed (an MD5 digest of an email
// would otherwise read "email has no @").
std::string DescribeDrop(std::string_view in, const DropReason& drop);

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_NORMALIZE_H_
