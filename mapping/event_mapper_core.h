// The core of MapEvent: validation of every rule, identifier normalization
// and hashing, and the wire JSON, as a template over its input. Internal to
// the mapping library: include event_mapper.h or event_view.h instead.
//
// Mapper<Event> reads a conversions.v1.Event (MapEvent, event_mapper.cc) or
// an internal::EventView (MapEventView, event_view.cc) through the same
// accessors; only the typed event has content group ids and variants and
// custom properties. Each input is instantiated in its own file: together
// in one, the two instantiations share the compiler's inlining budget and
// the typed one comes out a few percent slower.
#ifndef CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_H_
#define CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_H_

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "conversions/v1/event.pb.h"
#include "google/protobuf/struct.pb.h"
#include "mapping/event_mapper.h"
#include "mapping/event_types.h"
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

// Warning reasons (FieldWarning.reason) beyond those of normalize.h.
inline constexpr char kDroppedDuplicate[] = "DROPPED_DUPLICATE";
inline constexpr char kDroppedOverLimit[] = "DROPPED_OVER_LIMIT";
inline constexpr char kTruncated[] = "TRUNCATED";

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

// An absolute http or https URL with a non-empty host and no white space or
// control characters.
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
  std::string_view rest = url.substr(sep + 3);
  size_t at;
  std::string_view authority = rest.substr(0, AuthorityLength(rest, &at));
  std::string_view host_port =
      at == std::string_view::npos ? authority : authority.substr(at + 1);
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
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return true;
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
  size_t size = 0;

  bool Contains(std::string_view v) const {
    return std::find(values.begin(), values.begin() + size, v) !=
           values.begin() + size;
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

// The mapper core, over a v1::Event or an internal::EventView: both have
// the same accessors, and only the typed event has the fields the tag model
// lacks (content group ids and variants, custom properties).
template <typename Event>
class Mapper {
  static constexpr bool kTyped = std::is_same_v<Event, v1::Event>;

 public:
  Mapper(const Event& event, std::int64_t now_ms, MappedEvent* result)
      : event_(event),
        now_ms_(now_ms),
        result_(result),
        scratch_(result->scratch) {}

  void Run() {
    CheckEnvelopeFields();
    MapUser(event_.user());
    CheckData(event_.data());
    if (result_->violations.empty()) Encode();
  }

 private:
  void Violation(std::string field, const char* reason,
                 std::string description) {
    result_->violations.push_back(
        {std::move(field), reason, std::move(description)});
  }
  void Warning(std::string field, const char* reason, std::string description) {
    result_->warnings.push_back(
        {std::move(field), reason, std::move(description)});
  }

  // Checks UTF-8 and the byte limit of an optional string field.
  bool CheckText(std::string_view value, Path path, size_t max_bytes) {
    // Small enough to inline; paths and messages are built out of line.
    if (value.size() <= max_bytes && IsValidUtf8(value)) return true;
    // The path goes by its parts: a Path object whose address is passed
    // would be built on the stack before every check.
    ReportText(value, path.base, path.index, path.leaf, max_bytes);
    return false;
  }

  // Records why CheckText refused `value`.
  void ReportText(std::string_view value, std::string_view path_base,
                  int path_index, std::string_view path_leaf,
                  size_t max_bytes) {
    std::string field = Path(path_base, path_index, path_leaf).str();
    if (!IsValidUtf8(value)) {
      Violation(field, kInvalidUtf8,
                absl::StrCat(field, " is not valid UTF-8"));
    } else {
      Violation(field, kTooLong,
                absl::StrCat(field, " is longer than ", max_bytes, " bytes"));
    }
  }

  void CheckEnvelopeFields() {
    // id: required, sent byte for byte (it must equal the Pixel's event_id).
    if (TrimAscii(event_.id()).empty()) {
      Violation("id", kRequired, "id is required");
    } else {
      CheckText(event_.id(), "id", Limits::kIdBytes);
    }

    // type
    type_name_ = EventTypeName(event_.type());
    if (type_name_.empty()) {
      if (event_.type() == v1::EVENT_TYPE_UNSPECIFIED) {
        Violation("type", kRequired, "type is required");
      } else {
        Violation("type", kInvalidFormat,
                  absl::StrCat("type ", static_cast<int>(event_.type()),
                               " is not a known EventType"));
      }
    }

    // timestamp_ms: 0 means now; within [now - 7 days, now + 10 minutes].
    timestamp_ms_ =
        event_.timestamp_ms() == 0 ? now_ms_ : event_.timestamp_ms();
    if (timestamp_ms_ < 0) {
      Violation("timestamp_ms", kOutOfRange,
                "timestamp_ms must be Unix epoch milliseconds, not negative");
    } else if (timestamp_ms_ < now_ms_ - Limits::kMaxAgeMs) {
      std::string description =
          "timestamp_ms is more than 7 days in the past; the API accepts "
          "events of the last 7 days only";
      if (timestamp_ms_ < 100'000'000'000LL) {
        description += " (the value looks like seconds; send milliseconds)";
      }
      Violation("timestamp_ms", kOutOfRange, std::move(description));
    } else if (timestamp_ms_ > now_ms_ + Limits::kMaxFutureMs) {
      Violation("timestamp_ms", kOutOfRange,
                "timestamp_ms is more than 10 minutes in the future");
    }

    // custom_event_name: only, and required, for custom events.
    const std::string_view name = event_.custom_event_name();
    if (event_.type() == v1::EVENT_TYPE_CUSTOM) {
      if (name.empty()) {
        Violation("custom_event_name", kRequired,
                  "custom_event_name is required when type is custom");
      } else if (!IsValidCustomEventName(name)) {
        Violation("custom_event_name", kInvalidFormat,
                  "custom_event_name must be 1 to 64 letters, digits, '_' or "
                  "'-', starting and ending with a letter or digit");
      } else {
        custom_name_.resize(name.size());
        std::transform(
            name.begin(), name.end(), custom_name_.begin(), [](char c) {
              return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
            });
        if (EventTypeFromName(custom_name_).has_value()) {
          Violation("custom_event_name", kReserved,
                    "custom_event_name must not be a standard event name");
        }
      }
    } else if (!name.empty()) {
      Violation("custom_event_name", kNotAllowed,
                "custom_event_name is allowed only when type is custom");
    }

    // oppref: opaque, byte for byte.
    CheckText(event_.oppref(), "oppref", Limits::kOpprefBytes);

    // action_source: always sent; mobile_app for app events.
    action_source_name_ = ActionSourceName(event_.action_source());
    if (action_source_name_.empty()) {
      if (event_.action_source() == v1::ACTION_SOURCE_UNSPECIFIED) {
        Violation("action_source", kRequired, "action_source is required");
      } else {
        Violation("action_source", kInvalidFormat,
                  absl::StrCat("action_source ",
                               static_cast<int>(event_.action_source()),
                               " is not a known ActionSource"));
      }
    } else if (IsAppEvent(event_.type()) &&
               event_.action_source() != v1::ACTION_SOURCE_MOBILE_APP) {
      Violation("action_source", kInvalidFormat,
                absl::StrCat("action_source must be mobile_app for ",
                             Sv(type_name_), " events"));
    }

    // source_url: required for web, an absolute http(s) URL when present.
    const std::string_view url = event_.source_url();
    if (url.empty()) {
      if (event_.action_source() == v1::ACTION_SOURCE_WEB) {
        Violation("source_url", kRequired,
                  "source_url is required when action_source is web");
      }
    } else if (CheckText(url, "source_url", Limits::kSourceUrlBytes) &&
               !IsAbsoluteHttpUrl(url)) {
      Violation("source_url", kInvalidFormat,
                "source_url must be an absolute http or https URL with a host");
    }
  }

  // Normalizes and hashes one identifier kind: clear values first, then the
  // pre-hashed twins, keeping the first 3 valid unique digests.
  template <typename List>
  void MapHashedList(const List& clear, std::string_view clear_field,
                     Normalizer normalize, const List& hashed,
                     std::string_view hashed_field, HashedList* out) {
    // size() is a call into libprotobuf, and most kinds are empty: they
    // return here, inline, before the stack frame of the loops.
    const int clear_size = clear.size();
    const int hashed_size = hashed.size();
    if (clear_size == 0 && hashed_size == 0) return;
    MapHashedValues(clear, clear_size, clear_field, normalize, hashed,
                    hashed_size, hashed_field, out);
  }

  template <typename List>
  void MapHashedValues(const List& clear, int clear_size,
                       std::string_view clear_field, Normalizer normalize,
                       const List& hashed, int hashed_size,
                       std::string_view hashed_field, HashedList* out) {
    if (!CheckListSize(clear_size, clear_field) ||
        !CheckListSize(hashed_size, hashed_field)) {
      return;
    }
    for (int i = 0; i < clear_size; ++i) {
      // Trimmed as the normalizers trim (Unicode white space, e.g. NBSP),
      // so a padded digest is recognised whatever the padding. A value
      // shorter than a digest's 64 characters cannot be one: no trim.
      const std::string_view raw = clear[i];
      std::string_view value =
          raw.size() >= 64 ? TrimWhitespace(raw) : std::string_view();
      Sha256HexDigest digest;
      if (IsSha256Hex(value)) {
        digest = LowerHex(value);  // already hashed: pass through
      } else {
        DropReason drop = normalize(raw, &scratch_);
        if (!drop.kept()) {
          Warning(absl::StrCat(Sv(clear_field), "[", i, "]"), drop.code,
                  drop.description);
          continue;
        }
        digest = Sha256Hex(scratch_);
      }
      AddDigest(digest, clear_field, i, out);
    }
    for (int i = 0; i < hashed_size; ++i) {
      std::string_view value = TrimWhitespace(hashed[i]);
      if (!IsSha256Hex(value)) {
        Warning(absl::StrCat(Sv(hashed_field), "[", i, "]"),
                value.empty() ? kDroppedEmpty : kDroppedInvalid,
                "value is not a SHA-256 digest (64 hex characters)");
        continue;
      }
      AddDigest(LowerHex(value), hashed_field, i, out);
    }
  }

  void AddDigest(const Sha256HexDigest& digest, std::string_view field, int i,
                 HashedList* out) {
    if (out->Contains(digest)) {
      Warning(absl::StrCat(Sv(field), "[", i, "]"), kDroppedDuplicate,
              "value equals an earlier one after normalization");
    } else if (out->size == Limits::kUserListValues) {
      Warning(absl::StrCat(Sv(field), "[", i, "]"), kDroppedOverLimit,
              "the API uses the first 3 valid values of a list; this one was "
              "dropped");
    } else {
      out->values[out->size++] = digest;
    }
  }

  bool CheckListSize(int size, std::string_view field) {
    if (static_cast<size_t>(size) <= Limits::kUserListInputs) return true;
    TooMany(field);
    return false;
  }

  // CheckListSize's violation, out of line so that its check inlines.
  void TooMany(std::string_view field) {
    Violation(std::string(field), kTooMany,
              absl::StrCat(Sv(field), " has more than ",
                           Limits::kUserListInputs, " values"));
  }

  // Validates one raw location kind and keeps the first 3 unique values.
  template <typename List>
  void MapRawList(const List& in, std::string_view field, Normalizer normalize,
                  size_t max_chars, RawList* out) {
    // As in MapHashedList: most lists are empty.
    const int size = in.size();
    if (size > 0) MapRawValues(in, size, field, normalize, max_chars, out);
  }

  template <typename List>
  void MapRawValues(const List& in, int size, std::string_view field,
                    Normalizer normalize, size_t max_chars, RawList* out) {
    if (!CheckListSize(size, field)) return;
    for (int i = 0; i < size; ++i) {
      DropReason drop = normalize(in[i], &scratch_);
      if (!drop.kept()) {
        Warning(absl::StrCat(Sv(field), "[", i, "]"), drop.code,
                drop.description);
        continue;
      }
      if (max_chars != 0 && CodePointCount(scratch_) > max_chars) {
        scratch_.resize(TruncateCodePoints(scratch_, max_chars).size());
        Warning(absl::StrCat(Sv(field), "[", i, "]"), kTruncated,
                absl::StrCat("value was cut to ", max_chars, " characters"));
      }
      if (out->Contains(scratch_)) {
        Warning(absl::StrCat(Sv(field), "[", i, "]"), kDroppedDuplicate,
                "value equals an earlier one after normalization");
      } else if (out->size == Limits::kUserListValues) {
        Warning(absl::StrCat(Sv(field), "[", i, "]"), kDroppedOverLimit,
                "the API uses the first 3 valid values of a list; this one "
                "was dropped");
      } else {
        out->values[out->size++] = scratch_;
      }
    }
  }

  // Validates a raw scalar that is sent unchanged (trimmed of nothing).
  std::string_view RawScalar(std::string_view value, std::string_view field,
                             size_t max_bytes) {
    if (value.empty()) return {};
    // Inline when the value passes; the warnings are built out of line.
    if (value.size() <= max_bytes && IsValidUtf8(value) &&
        !TrimWhitespace(value).empty()) {
      return value;
    }
    DropRawScalar(value, field, max_bytes);
    return {};
  }

  // Records why RawScalar dropped `value`.
  void DropRawScalar(std::string_view value, std::string_view field,
                     size_t max_bytes) {
    if (!IsValidUtf8(value)) {
      Warning(std::string(field), kDroppedInvalid, "value is not valid UTF-8");
    } else if (TrimWhitespace(value).empty()) {
      Warning(std::string(field), kDroppedEmpty, "value is blank");
    } else {
      Warning(std::string(field), kDroppedInvalid,
              absl::StrCat("value is longer than ", max_bytes, " bytes"));
    }
  }

  template <typename User>
  void MapUser(const User& u) {
    MapHashedList(u.emails(), "user.emails", NormalizeEmail, u.emails_sha256(),
                  "user.emails_sha256", &user_.emails);
    MapHashedList(u.phone_numbers(), "user.phone_numbers", NormalizePhone,
                  u.phone_numbers_sha256(), "user.phone_numbers_sha256",
                  &user_.phone_numbers);
    MapHashedList(u.external_ids(), "user.external_ids", NormalizeExternalId,
                  u.external_ids_sha256(), "user.external_ids_sha256",
                  &user_.external_ids);
    MapHashedList(u.first_names(), "user.first_names", NormalizeName,
                  u.first_names_sha256(), "user.first_names_sha256",
                  &user_.first_names);
    MapHashedList(u.last_names(), "user.last_names", NormalizeName,
                  u.last_names_sha256(), "user.last_names_sha256",
                  &user_.last_names);
    MapRawList(u.regions(), "user.regions", NormalizeLocation,
               Limits::kLocationChars, &user_.regions);
    MapRawList(u.postal_codes(), "user.postal_codes", NormalizePostalCode, 0,
               &user_.postal_codes);
    MapRawList(u.cities(), "user.cities", NormalizeLocation,
               Limits::kLocationChars, &user_.cities);
    MapRawList(u.countries(), "user.countries", NormalizeCountry, 0,
               &user_.countries);
    MapScalar(u.android_advertising_id(), "user.android_advertising_id",
              NormalizeAdvertisingId, &user_.android_advertising_id);
    MapScalar(u.ip_address(), "user.ip_address", NormalizeIpAddress,
              &user_.ip_address);
    user_.obref = RawScalar(u.obref(), "user.obref", Limits::kObrefBytes);
    user_.user_agent =
        RawScalar(u.user_agent(), "user.user_agent", Limits::kUserAgentBytes);
  }

  void MapScalar(std::string_view value, std::string_view field,
                 Normalizer normalize, std::string* out) {
    if (value.empty()) return;
    DropReason drop = normalize(value, out);
    if (!drop.kept()) {
      out->clear();
      Warning(std::string(field), drop.code, drop.description);
    }
  }

  // Checks an optional currency; returns false when invalid.
  bool CheckCurrency(std::string_view in, Path path) {
    std::array<char, 3> upper;
    if (in.empty() || UpperCurrency(in, &upper)) return true;
    ReportCurrency(path);
    return false;
  }

  // CheckCurrency's violation, out of line so that its check inlines.
  void ReportCurrency(Path path) {
    std::string field = path.str();
    Violation(field, kInvalidFormat,
              absl::StrCat(field, " is not an ISO 4217 currency code"));
  }

  template <typename Data>
  void CheckData(const Data& d) {
    data_type_ = DataTypeOf(event_.type());
    const bool type_known = !type_name_.empty();
    if (d.has_amount() && d.amount() < 0) {
      Violation("data.amount", kOutOfRange, "data.amount must not be negative");
    }
    CheckCurrency(d.currency(), "data.currency");
    if (d.has_amount() && d.currency().empty()) {
      Violation("data.currency", kRequired,
                "data.currency is required when data.amount is set");
    }

    if (d.contents_size() > 0) {
      if (type_known && !AllowsContents(data_type_)) {
        Violation(
            "data.contents", kNotAllowed,
            absl::StrCat("data.contents is not allowed for ", Sv(type_name_),
                         " events (data type customer_action)"));
      } else if (static_cast<size_t>(d.contents_size()) > Limits::kContents) {
        Violation("data.contents", kTooMany,
                  absl::StrCat("data.contents has more than ",
                               Limits::kContents, " items"));
      } else {
        for (int i = 0; i < d.contents_size(); ++i) {
          CheckContent(d.contents(i), i, d.currency().empty());
        }
      }
    }

    if (!d.plan_id().empty()) {
      if (type_known && !AllowsPlanId(data_type_)) {
        Violation("data.plan_id", kNotAllowed,
                  absl::StrCat("data.plan_id is allowed only for "
                               "subscription_created, trial_started and "
                               "custom events, not for ",
                               Sv(type_name_)));
      } else {
        CheckText(d.plan_id(), "data.plan_id", Limits::kPlanIdBytes);
      }
    }

    if constexpr (kTyped) {
      if (d.has_custom_properties() &&
          d.custom_properties().fields_size() > 0) {
        if (type_known && event_.type() != v1::EVENT_TYPE_CUSTOM) {
          Violation("data.custom_properties", kNotAllowed,
                    "data.custom_properties is allowed only for custom "
                    "events");
        } else {
          CheckCustomProperties(d.custom_properties());
        }
      }
    }
  }

  template <typename Content>
  void CheckContent(const Content& c, int i, bool no_event_currency) {
    constexpr std::string_view kBase = "data.contents";
    CheckText(c.id(), Path(kBase, i, "id"), Limits::kContentIdBytes);
    CheckText(c.group_id(), Path(kBase, i, "group_id"),
              Limits::kContentIdBytes);
    CheckText(c.name(), Path(kBase, i, "name"), Limits::kContentNameBytes);
    if (!c.content_type().empty() &&
        CheckText(c.content_type(), Path(kBase, i, "content_type"),
                  Limits::kContentTypeBytes) &&
        TrimWhitespace(c.content_type()).empty()) {
      std::string field = Path(kBase, i, "content_type").str();
      Violation(field, kInvalidFormat,
                absl::StrCat(field, " must not be blank"));
    }
    if (c.has_quantity() && c.quantity() <= 0) {
      std::string field = Path(kBase, i, "quantity").str();
      Violation(field, kOutOfRange,
                absl::StrCat(field, " must be a positive integer"));
    }
    if (c.has_amount() && c.amount() < 0) {
      std::string field = Path(kBase, i, "amount").str();
      Violation(field, kOutOfRange,
                absl::StrCat(field, " must not be negative"));
    }
    CheckCurrency(c.currency(), Path(kBase, i, "currency"));
    if (c.has_amount() && c.currency().empty() && no_event_currency) {
      std::string field = Path(kBase, i, "currency").str();
      Violation(field, kRequired,
                absl::StrCat(field,
                             " is required when the item has an amount and "
                             "data.currency is not set"));
    }
    if constexpr (kTyped) {
      if (c.variant_size() > 0) CheckVariant(c, i);
    }
  }

  void CheckVariant(const v1::Content& c, int i) {
    const Path variant("data.contents", i, "variant");
    if (static_cast<size_t>(c.variant_size()) > Limits::kVariantEntries) {
      std::string field = variant.str();
      Violation(field, kTooMany,
                absl::StrCat(field, " has more than ", Limits::kVariantEntries,
                             " entries"));
      return;
    }
    auto fine = [](const std::string& key, const std::string& value) {
      return !key.empty() && key.size() <= Limits::kVariantKeyBytes &&
             value.size() <= Limits::kVariantValueBytes && IsValidUtf8(key) &&
             IsValidUtf8(value);
    };
    // The common case sorts nothing and builds no path.
    if (std::all_of(c.variant().begin(), c.variant().end(),
                    [&](const auto& e) { return fine(e.first, e.second); })) {
      return;
    }
    for (const auto* entry : InKeyOrder(c.variant())) {
      const std::string& key = entry->first;
      const std::string& value = entry->second;
      if (fine(key, value)) continue;
      std::string field = absl::StrCat(variant.str(), "[\"",
                                       IsValidUtf8(key) ? key : "?", "\"]");
      if (key.empty()) {
        Violation(field, kInvalidFormat, "variant keys must not be empty");
        continue;
      }
      if (CheckText(key, field.c_str(), Limits::kVariantKeyBytes)) {
        CheckText(value, field.c_str(), Limits::kVariantValueBytes);
      }
    }
  }

  void CheckCustomProperties(const google::protobuf::Struct& s) {
    for (const auto* entry : InKeyOrder(s.fields())) {
      const std::string& key = entry->first;
      for (std::string_view reserved : kReservedDataKeys) {
        if (key == reserved) {
          Violation(absl::StrCat("data.custom_properties.", key), kReserved,
                    absl::StrCat("custom property '", key,
                                 "' clashes with a field of data"));
        }
      }
    }
    if (!CheckValueTree(s, "data.custom_properties", 1)) return;
    std::string encoded;
    JsonWriter w(&encoded);
    WriteStruct(s, &w);
    w.Finish();
    if (encoded.size() > Limits::kCustomPropertiesBytes) {
      Violation(
          "data.custom_properties", kTooLong,
          absl::StrCat("data.custom_properties is longer than ",
                       Limits::kCustomPropertiesBytes, " bytes once encoded"));
    }
  }

  // Checks keys and strings for UTF-8, numbers for finiteness, and depth.
  bool CheckValueTree(const google::protobuf::Struct& s, std::string_view path,
                      int depth) {
    if (depth > Limits::kCustomPropertiesDepth) {
      Violation(std::string(path), kTooLong,
                absl::StrCat("data.custom_properties is nested deeper than ",
                             Limits::kCustomPropertiesDepth, " levels"));
      return false;
    }
    bool ok = true;
    for (const auto* entry : InKeyOrder(s.fields())) {
      const std::string& key = entry->first;
      const google::protobuf::Value& value = entry->second;
      if (!IsValidUtf8(key) || key.empty()) {
        Violation(std::string(path), kInvalidFormat,
                  "custom property keys must be non-empty UTF-8");
        ok = false;
        continue;
      }
      ok &= CheckValue(value, absl::StrCat(Sv(path), ".", key), depth);
    }
    return ok;
  }

  bool CheckValue(const google::protobuf::Value& v, const std::string& path,
                  int depth) {
    switch (v.kind_case()) {
      case google::protobuf::Value::kNumberValue:
        if (!std::isfinite(v.number_value())) {
          Violation(path, kInvalidFormat, "numbers must be finite");
          return false;
        }
        return true;
      case google::protobuf::Value::kStringValue:
        if (!IsValidUtf8(v.string_value())) {
          Violation(path, kInvalidUtf8, "strings must be valid UTF-8");
          return false;
        }
        return true;
      case google::protobuf::Value::kStructValue:
        return CheckValueTree(v.struct_value(), path, depth + 1);
      case google::protobuf::Value::kListValue: {
        if (depth + 1 > Limits::kCustomPropertiesDepth) {
          Violation(path, kTooLong,
                    absl::StrCat("data.custom_properties is nested deeper "
                                 "than ",
                                 Limits::kCustomPropertiesDepth, " levels"));
          return false;
        }
        bool ok = true;
        const auto& values = v.list_value().values();
        for (int i = 0; i < values.size(); ++i) {
          ok &=
              CheckValue(values[i], absl::StrCat(path, "[", i, "]"), depth + 1);
        }
        return ok;
      }
      default:
        return true;  // null, bool, or unset (written as null)
    }
  }

  template <size_t N>
  static void WriteHashed(const char (&key)[N], const HashedList& list,
                          JsonFragmentWriter* w) {
    if (list.size == 0) return;
    w->Key(key);
    size_t array = w->OpenArray();
    for (size_t i = 0; i < list.size; ++i) {
      w->Comma();
      // Lower-case hex: nothing to escape.
      w->PlainString(
          std::string_view(list.values[i].data(), list.values[i].size()));
    }
    w->CloseArray(array);
  }

  template <size_t N>
  static void WriteRaw(const char (&key)[N], const RawList& list,
                       JsonFragmentWriter* w) {
    if (list.size == 0) return;
    w->Key(key);
    size_t array = w->OpenArray();
    for (size_t i = 0; i < list.size; ++i) {
      w->Comma();
      w->String(list.values[i]);
    }
    w->CloseArray(array);
  }

  template <size_t N>
  static void WriteOptional(const char (&key)[N], std::string_view value,
                            JsonFragmentWriter* w) {
    if (value.empty()) return;
    w->StringField(key, value);
  }

  // Writes a currency upper-cased; nothing when empty. CheckCurrency has
  // looked it up already: Encode runs only for events without violations.
  static void WriteCurrency(std::string_view currency, JsonFragmentWriter* w) {
    if (currency.size() != 3) return;
    char upper[3];
    for (size_t i = 0; i < 3; ++i) {
      char c = currency[i];
      upper[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
    }
    w->PlainStringField("currency", std::string_view(upper, 3));
  }

  // Writes the wire event with JsonFragmentWriter: each key is a literal
  // with its comma, which costs less than JsonWriter's comma tracking on an
  // event of some forty values. The golden tests hold the output byte for
  // byte.
  void Encode() {
    const auto& d = event_.data();
    JsonFragmentWriter w(&result_->wire_json,
                         512 + event_.user().user_agent().size() +
                             event_.source_url().size() +
                             96 * d.contents_size());
    size_t event = w.OpenObject();
    w.StringField("id", event_.id());
    w.PlainStringField("type", type_name_);  // API names need no escaping
    w.IntField("timestamp_ms", timestamp_ms_);
    WriteOptional("custom_event_name", custom_name_, &w);
    WriteOptional("oppref", event_.oppref(), &w);
    WriteOptional("source_url", event_.source_url(), &w);
    w.PlainStringField("action_source", action_source_name_);
    if (event_.opt_out()) {
      w.Key("opt_out");
      w.Raw("true");
    }
    if (!user_.empty()) {
      w.Key("user");
      size_t user = w.OpenObject();
      WriteHashed("emails_sha256", user_.emails, &w);
      WriteHashed("phone_numbers_sha256", user_.phone_numbers, &w);
      WriteHashed("external_ids_sha256", user_.external_ids, &w);
      WriteHashed("first_names_sha256", user_.first_names, &w);
      WriteHashed("last_names_sha256", user_.last_names, &w);
      WriteRaw("regions", user_.regions, &w);
      WriteRaw("postal_codes", user_.postal_codes, &w);
      WriteRaw("cities", user_.cities, &w);
      WriteRaw("countries", user_.countries, &w);
      WriteOptional("android_advertising_id", user_.android_advertising_id, &w);
      WriteOptional("obref", user_.obref, &w);
      WriteOptional("ip_address", user_.ip_address, &w);
      WriteOptional("user_agent", user_.user_agent, &w);
      w.CloseObject(user);
    }
    w.Key("data");
    size_t data = w.OpenObject();
    w.PlainStringField("type", DataTypeName(data_type_));
    if (d.has_amount()) w.IntField("amount", d.amount());
    WriteCurrency(d.currency(), &w);
    if (d.contents_size() > 0) {
      w.Key("contents");
      size_t contents = w.OpenArray();
      for (const auto& c : d.contents()) {
        w.Comma();
        size_t content = w.OpenObject();
        WriteOptional("id", c.id(), &w);
        WriteOptional("group_id", c.group_id(), &w);
        WriteOptional("name", c.name(), &w);
        WriteOptional("content_type", c.content_type(), &w);
        if (c.has_quantity()) w.IntField("quantity", c.quantity());
        if (c.has_amount()) w.IntField("amount", c.amount());
        WriteCurrency(c.currency(), &w);
        if constexpr (kTyped) {
          if (c.variant_size() > 0) WriteVariant(c, &w);
        }
        w.CloseObject(content);
      }
      w.CloseArray(contents);
    }
    WriteOptional("plan_id", d.plan_id(), &w);
    if constexpr (kTyped) {
      if (d.has_custom_properties() &&
          d.custom_properties().fields_size() > 0) {
        WriteCustomProperties(d.custom_properties(), &w);
      }
    }
    w.CloseObject(data);
    w.CloseObject(event);
    w.Finish();

    result_->event_name.assign(event_.type() == v1::EVENT_TYPE_CUSTOM
                                   ? std::string_view(custom_name_)
                                   : type_name_);
    result_->id = event_.id();
    result_->timestamp_ms = timestamp_ms_;
  }

  const Event& event_;
  const std::int64_t now_ms_;
  MappedEvent* const result_;

  std::string_view type_name_;
  std::string_view action_source_name_;
  std::int64_t timestamp_ms_ = 0;
  std::string custom_name_;
  DataType data_type_ = DataType::kCustom;
  UserOut user_;
  std::string& scratch_;
};

// Empties `result` before a mapping.
inline void ResetResult(MappedEvent* result) {
  result->violations.clear();
  result->warnings.clear();
  result->wire_json.clear();
  result->event_name.clear();
  result->id.clear();
  result->timestamp_ms = 0;
}

}  // namespace internal::core
}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_H_
