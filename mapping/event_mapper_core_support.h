// The vocabulary of the mapper core (event_mapper_core.h): violation and
// warning reasons, the checks of names and URLs, field paths, the user object
// as it goes on the wire, and the writers of protobuf Struct values (custom
// properties, variants). Internal to the mapping library: include
// event_mapper.h or event_view.h instead.
#ifndef CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_SUPPORT_H_
#define CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_SUPPORT_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "conversions/v1/event.pb.h"
#include "google/protobuf/struct.pb.h"
#include "mapping/event_mapper.h"
#include "mapping/iso_codes.h"
#include "mapping/json_writer.h"
#include "mapping/normalize.h"
#include "mapping/sha256.h"
#include "mapping/unicode.h"

namespace conversions::mapping {
namespace internal::core {

// Violation reasons (FieldViolation.reason).
inline constexpr char kRequired[] = "REQUIRED";
inline constexpr char kInvalidFormat[] = "INVALID_FORMAT";
inline constexpr char kOutOfRange[] = "OUT_OF_RANGE";
inline constexpr char kNotAllowed[] = "NOT_ALLOWED";
inline constexpr char kTooLong[] = "TOO_LONG";
inline constexpr char kTooMany[] = "TOO_MANY";
inline constexpr char kInvalidUtf8[] = "INVALID_UTF8";
inline constexpr char kReserved[] = "RESERVED";

// The largest integer every JSON reader holds exactly (RFC 8259 section 6:
// the interoperable range is that of an IEEE 754 double): amounts and
// quantities above it are refused.
inline constexpr std::int64_t kMaxJsonInteger = 9007199254740991;

// Warning reasons (FieldWarning.reason) beyond those of normalize.h.
inline constexpr char kDroppedDuplicate[] = "DROPPED_DUPLICATE";
inline constexpr char kDroppedOverLimit[] = "DROPPED_OVER_LIMIT";
inline constexpr char kTruncated[] = "TRUNCATED";
inline constexpr char kRedacted[] = "REDACTED";

inline constexpr std::array<std::string_view, 5> kReservedDataKeys = {
    "type", "amount", "currency", "contents", "plan_id"};

inline std::string_view TrimAscii(std::string_view s) {
  if (s.empty() ||
      (!IsAsciiWhitespace(s.front()) && !IsAsciiWhitespace(s.back()))) {
    return s;  // the common case: nothing to trim
  }
  while (!s.empty() && IsAsciiWhitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiWhitespace(s.back())) s.remove_suffix(1);
  return s;
}

// The longest prefix of the valid UTF-8 `s` of at most `max_bytes` bytes
// that ends at a character boundary.
inline std::string_view CutUtf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Debian's abseil has its own string_view type; StrCat takes only that.
inline absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

inline bool IsAsciiAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z');
}

// ^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$
inline bool IsValidCustomEventName(std::string_view s) {
  if (s.empty() || s.size() > Limits::kCustomEventNameChars) return false;
  if (!IsAsciiAlnum(s.front()) || !IsAsciiAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsAsciiAlnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

inline std::uint64_t Load64(const char* p) {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}

// A URL scheme of up to 8 bytes ("http://", "https://"), as the words
// HasScheme compares with.
struct Scheme {
  char want[8];  // the scheme in lower case, zero-padded
  char fold[8];  // 0x20 on its letters
  char keep[8];  // 0xff on its bytes
  constexpr explicit Scheme(std::string_view lower) : want(), fold(), keep() {
    for (size_t i = 0; i < lower.size(); ++i) {
      want[i] = lower[i];
      fold[i] = lower[i] >= 'a' && lower[i] <= 'z' ? 0x20 : 0;
      keep[i] = static_cast<char>(0xff);
    }
  }
};
inline constexpr Scheme kHttp("http://");
inline constexpr Scheme kHttps("https://");

// Returns true when the 8 bytes at `p` start with `scheme` in any case.
// One word compare: ORing 0x20 into the letters folds 'H' into 'h' (and
// nothing else into 'h').
inline bool HasScheme(const char* p, const Scheme& scheme) {
  return ((Load64(p) | Load64(scheme.fold)) & Load64(scheme.keep)) ==
         Load64(scheme.want);
}

// Returns the length of the authority at the start of `rest` (up to the
// first '/', '?' or '#'), and sets `*at` to the position of its last '@'
// or npos. Skips eight bytes at a time while they hold none of the four.
inline size_t AuthorityLength(std::string_view rest, size_t* at) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  auto has = [](std::uint64_t x, char c) {
    std::uint64_t y = x ^ (kOnes * static_cast<unsigned char>(c));
    return (y - kOnes) & ~y & (kOnes * 0x80);
  };
  *at = std::string_view::npos;
  size_t i = 0;
  for (; i + 8 <= rest.size(); i += 8) {
    std::uint64_t x = Load64(rest.data() + i);
    if ((has(x, '/') | has(x, '?') | has(x, '#') | has(x, '@')) != 0) break;
  }
  for (; i < rest.size(); ++i) {
    char c = rest[i];
    if (c == '/' || c == '?' || c == '#') break;
    if (c == '@') *at = i;
  }
  return i;
}

// The host and port of a URL, from `rest`, the part after "://": its
// authority without the user information, which sets *user_info.
inline std::string_view HostAndPort(std::string_view rest, bool* user_info) {
  size_t at;
  std::string_view authority = rest.substr(0, AuthorityLength(rest, &at));
  *user_info = at != std::string_view::npos;
  return *user_info ? authority.substr(at + 1) : authority;
}

// An absolute http or https URL with a non-empty host, a port (if any) of
// at most 65535, no user information (a password would reach the API) and
// no white space or control characters. UrlProblem says which failed.
inline bool IsAbsoluteHttpUrl(std::string_view url) {
  if (HasSpaceOrControl(url)) return false;
  size_t sep;
  if (url.size() > 7 && HasScheme(url.data(), kHttp)) {
    sep = 4;
  } else if (url.size() > 8 && HasScheme(url.data(), kHttps)) {
    sep = 5;
  } else {
    return false;
  }
  bool user_info;
  const std::string_view host_port =
      HostAndPort(url.substr(sep + 3), &user_info);
  if (user_info) return false;
  std::string_view port;
  if (!host_port.empty() && host_port.front() == '[') {
    size_t close = host_port.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    std::string_view after = host_port.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
    }
  } else {
    size_t colon = host_port.find(':');
    std::string_view host = host_port.substr(0, colon);
    if (host.empty()) return false;
    if (colon != std::string_view::npos) port = host_port.substr(colon + 1);
  }
  if (port.size() > 5) return false;
  int number = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    number = number * 10 + (c - '0');
  }
  return number <= 65535;
}

// An absolute URL of any scheme (RFC 3986: a letter, then letters, digits,
// '+', '-' or '.'), then "://" and a non-empty host, with no white space or
// control characters: an app's deep link ("myapp://product/1"), which the
// spec allows ("a scheme and host") for events that are not web events. An
// http or https URL is checked as IsAbsoluteHttpUrl checks it.
inline bool IsAbsoluteUrlWithHost(std::string_view url) {
  if (HasSpaceOrControl(url)) return false;
  if ((url.size() > 7 && HasScheme(url.data(), kHttp)) ||
      (url.size() > 8 && HasScheme(url.data(), kHttps))) {
    return IsAbsoluteHttpUrl(url);
  }
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  auto alpha = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  if (!alpha(url[0])) return false;
  for (size_t i = 1; i < sep; ++i) {
    const char c = url[i];
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' &&
        c != '.') {
      return false;
    }
  }
  bool user_info;
  const std::string_view host = HostAndPort(url.substr(sep + 3), &user_info);
  return !user_info && !host.empty() && host.front() != ':';
}

// Why a source_url failed IsAbsoluteHttpUrl (`web`) or
// IsAbsoluteUrlWithHost: a message without the URL, which may hold
// anything.
[[gnu::cold]] inline std::string UrlProblem(std::string_view url, bool web) {
  const size_t sep = url.find("://");
  if (!HasSpaceOrControl(url) && sep != std::string_view::npos) {
    bool user_info;
    const std::string_view host_port =
        HostAndPort(url.substr(sep + 3), &user_info);
    if (user_info) {
      return "source_url must not carry user information (\"user:password@\" "
             "before the host): it would reach the API";
    }
    const size_t colon = host_port.rfind(':');
    const size_t close = host_port.rfind(']');
    if (colon != std::string_view::npos &&
        (close == std::string_view::npos || colon > close) &&
        colon + 1 < host_port.size()) {
      const std::string_view port = host_port.substr(colon + 1);
      if (port.find_first_not_of("0123456789") == std::string_view::npos &&
          (port.size() > 5 || std::stoi(std::string(port)) > 65535)) {
        return "source_url has a port above 65535";
      }
    }
  }
  return web ? "source_url must be an absolute http or https URL with a host"
             : "source_url must be an absolute URL with a scheme and a host";
}

// A field path, put together only when a message needs it (the happy path
// builds none): base[index].leaf, e.g. "data.contents[2].id".
struct Path {
  std::string_view base;
  int index = -1;
  std::string_view leaf;

  Path(const char* b) : base(b) {}  // NOLINT: implicit from a literal
  Path(std::string_view b, int i, std::string_view l)
      : base(b), index(i), leaf(l) {}

  std::string str() const {
    std::string out(base);
    if (index >= 0) absl::StrAppend(&out, "[", index, "]");
    if (!leaf.empty()) absl::StrAppend(&out, ".", Sv(leaf));
    return out;
  }
};

// Upper-cases a three-letter currency code into `out`; returns false unless
// it is an ISO 4217 code with a minor unit.
inline bool UpperCurrency(std::string_view in, std::array<char, 3>* out) {
  if (in.size() != 3) return false;
  for (size_t i = 0; i < 3; ++i) {
    char c = in[i];
    (*out)[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  }
  return CurrencyExponent(std::string_view(out->data(), 3)).has_value();
}

// Up to three distinct SHA-256 hex digests, in input order.
struct HashedList {
  std::array<Sha256HexDigest, Limits::kUserListValues> values;
  size_t size = 0;

  bool Contains(const Sha256HexDigest& d) const {
    return std::find(values.begin(), values.begin() + size, d) !=
           values.begin() + size;
  }
};

// Up to three distinct raw strings, in input order.
struct RawList {
  std::array<std::string, Limits::kUserListValues> values;
  // What each value is compared by: the value, or its lower case for the
  // lists the API lower-cases.
  std::array<std::string, Limits::kUserListValues> keys;
  size_t size = 0;

  bool ContainsKey(std::string_view key) const {
    return std::find(keys.begin(), keys.begin() + size, key) !=
           keys.begin() + size;
  }
};

// The user object as it goes on the wire.
struct UserOut {
  HashedList emails, phone_numbers, external_ids, first_names, last_names;
  RawList regions, postal_codes, cities, countries;
  std::string android_advertising_id;
  std::string_view obref;
  std::string ip_address;
  std::string_view user_agent;

  bool empty() const {
    return emails.size + phone_numbers.size + external_ids.size +
                   first_names.size + last_names.size + regions.size +
                   postal_codes.size + cities.size + countries.size ==
               0 &&
           android_advertising_id.empty() && obref.empty() &&
           ip_address.empty() && user_agent.empty();
  }
};

inline void WriteStruct(const google::protobuf::Struct& s, JsonWriter* w);

inline void WriteValue(const google::protobuf::Value& v, JsonWriter* w) {
  switch (v.kind_case()) {
    case google::protobuf::Value::kNumberValue:
      w->Double(v.number_value());
      break;
    case google::protobuf::Value::kStringValue:
      w->String(v.string_value());
      break;
    case google::protobuf::Value::kBoolValue:
      w->Bool(v.bool_value());
      break;
    case google::protobuf::Value::kStructValue:
      WriteStruct(v.struct_value(), w);
      break;
    case google::protobuf::Value::kListValue:
      w->BeginArray();
      for (const auto& item : v.list_value().values()) WriteValue(item, w);
      w->EndArray();
      break;
    default:
      w->Null();
  }
}

// The entries of a protobuf map in key order. Protobuf maps iterate in no
// fixed order; checks walk them in this order so that the same event
// always gets its violations in the same order.
template <typename Map>
std::vector<const typename Map::value_type*> InKeyOrder(const Map& map) {
  std::vector<const typename Map::value_type*> out;
  out.reserve(map.size());
  for (const auto& entry : map) out.push_back(&entry);
  std::sort(out.begin(), out.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return out;
}

// Writes the fields of `s` sorted by key, without braces.
inline void WriteFields(const google::protobuf::Struct& s, JsonWriter* w) {
  std::vector<const std::string*> keys;
  keys.reserve(s.fields_size());
  for (const auto& entry : s.fields()) keys.push_back(&entry.first);
  std::sort(keys.begin(), keys.end(),
            [](const std::string* a, const std::string* b) { return *a < *b; });
  for (const std::string* key : keys) {
    w->Key(*key);
    WriteValue(s.fields().at(*key), w);
  }
}

inline void WriteStruct(const google::protobuf::Struct& s, JsonWriter* w) {
  w->BeginObject();
  WriteFields(s, w);
  w->EndObject();
}

// Writes a content's variant as the API's variant_dict, sorted by key.
inline void WriteVariant(const v1::Content& c, JsonFragmentWriter* w) {
  std::vector<std::pair<std::string_view, std::string_view>> entries(
      c.variant().begin(), c.variant().end());
  std::sort(entries.begin(), entries.end());
  w->Key("variant_dict");
  size_t variant = w->OpenObject();
  for (const auto& [key, value] : entries) {
    w->Comma();
    w->String(key);
    w->Colon();
    w->String(value);
  }
  w->CloseObject(variant);
}

// Writes custom properties into data: rare, so the generic writer encodes
// the values, and its object's fields go into data after a comma.
inline void WriteCustomProperties(const google::protobuf::Struct& s,
                                  JsonFragmentWriter* w) {
  std::string properties;
  {
    JsonWriter pw(&properties);
    WriteStruct(s, &pw);
  }
  w->Comma();
  w->Raw(std::string_view(properties).substr(1, properties.size() - 2));
}

using Normalizer = DropReason (*)(std::string_view, std::string*);

}  // namespace internal::core
}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_SUPPORT_H_
