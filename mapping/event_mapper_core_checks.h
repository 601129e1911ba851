// Mapper's validation (event_mapper_core_mapper.h): the envelope fields (id,
// type, timestamp_ms, custom_event_name, oppref, action_source, source_url)
// and data (amount, currencies, contents, plan_id, variants, custom
// properties). Internal to the mapping library: include event_mapper.h or
// event_view.h instead.
#ifndef CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_CHECKS_H_
#define CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_CHECKS_H_

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "conversions/v1/event.pb.h"
#include "google/protobuf/struct.pb.h"
#include "mapping/event_mapper.h"
#include "mapping/event_mapper_core_mapper.h"
#include "mapping/event_mapper_core_support.h"
#include "mapping/event_types.h"
#include "mapping/json_writer.h"
#include "mapping/normalize.h"
#include "mapping/unicode.h"

namespace conversions::mapping {
namespace internal::core {

// Checks UTF-8 and the byte limit of an optional string field.
template <typename Event>
inline bool Mapper<Event>::CheckText(std::string_view value, Path path,
                                     size_t max_bytes) {
  // Small enough to inline; paths and messages are built out of line.
  if (value.size() <= max_bytes && IsValidUtf8(value)) return true;
  // The path goes by its parts: a Path object whose address is passed
  // would be built on the stack before every check.
  ReportText(value, path.base, path.index, path.leaf, max_bytes);
  return false;
}

// Records why CheckText refused `value`.
template <typename Event>
inline void Mapper<Event>::ReportText(std::string_view value,
                                      std::string_view path_base,
                                      int path_index,
                                      std::string_view path_leaf,
                                      size_t max_bytes) {
  std::string field = Path(path_base, path_index, path_leaf).str();
  if (!IsValidUtf8(value)) {
    Violation(field, kInvalidUtf8, absl::StrCat(field, " is not valid UTF-8"));
  } else {
    Violation(field, kTooLong,
              absl::StrCat(field, " is longer than ", max_bytes, " bytes"));
  }
}

template <typename Event>
inline void Mapper<Event>::CheckEnvelopeFields() {
  // id: required, sent byte for byte (it must equal the Pixel's event_id).
  if (event_.id().empty()) {
    Violation("id", kRequired, "id is required");
  } else if (TrimAscii(event_.id()).empty()) {
    Violation("id", kRequired, "id is blank (white space only)");
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

  // timestamp_ms: 0 means now; within [now - 7 days, now + 10 minutes],
  // with at least the receipt margin left of the 7 days.
  timestamp_ms_ = event_.timestamp_ms() == 0 ? now_ms_ : event_.timestamp_ms();
  if (timestamp_ms_ < 0) {
    Violation("timestamp_ms", kOutOfRange,
              "timestamp_ms must be Unix epoch milliseconds, not negative");
  } else if (timestamp_ms_ < now_ms_ - Limits::kMaxAgeMs) {
    std::string description =
        "timestamp_ms is more than 7 days in the past; the API accepts "
        "events of the last 7 days only";
    // Seconds of the last decades are 10 digits: 1e9 is September 2001.
    if (timestamp_ms_ >= 1'000'000'000LL && timestamp_ms_ < 10'000'000'000LL) {
      description += " (the value looks like seconds; send milliseconds)";
    }
    Violation("timestamp_ms", kOutOfRange, std::move(description));
  } else if (timestamp_ms_ <
             now_ms_ - Limits::kMaxAgeMs + Limits::kReceiptMarginMs) {
    // Accepted, it would likely be dead-lettered as expired before its
    // first send.
    static_assert(Limits::kReceiptMarginMs == 10'000, "see the message");
    Violation("timestamp_ms", kOutOfRange,
              "timestamp_ms leaves less than 10 s of the API's 7-day window, "
              "too little for the event to reach the API in time");
  } else if (timestamp_ms_ > now_ms_ + Limits::kMaxFutureMs) {
    std::string description =
        "timestamp_ms is more than 10 minutes in the future";
    // Milliseconds of the last decades are 13 digits; micro- and
    // nanoseconds 16 and 19.
    if (timestamp_ms_ >= 1'000'000'000'000'000LL &&
        timestamp_ms_ < 10'000'000'000'000'000LL) {
      description += " (the value looks like microseconds; send milliseconds)";
    } else if (timestamp_ms_ >= 1'000'000'000'000'000'000LL) {
      description += " (the value looks like nanoseconds; send milliseconds)";
    }
    Violation("timestamp_ms", kOutOfRange, std::move(description));
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

  // oppref: opaque, byte for byte; one that is an email address is dropped
  // (it is sent in clear, and would not match anything).
  if (CheckText(event_.oppref(), "oppref", Limits::kOpprefBytes)) {
    oppref_ = event_.oppref();
    if (oppref_.find('@') != std::string_view::npos) {
      DropEmailInClear(&oppref_, "oppref", "an oppref click reference");
    }
  }

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

  // source_url: required for web events, and then an absolute http(s)
  // URL; for other events optional, and any absolute URL with a host (an
  // app's deep link), as the spec asks only for a scheme and a host.
  const std::string_view url = event_.source_url();
  const bool web = event_.action_source() == v1::ACTION_SOURCE_WEB;
  if (url.empty()) {
    if (web) {
      Violation("source_url", kRequired,
                "source_url is required when action_source is web");
    }
  } else if (CheckText(url, "source_url", Limits::kSourceUrlBytes)) {
    if (!(web ? IsAbsoluteHttpUrl(url) : IsAbsoluteUrlWithHost(url))) {
      Violation("source_url", kInvalidFormat, UrlProblem(url, web));
    } else if (RedactUrlEmails(url, &redacted_url_) == 0) {
      source_url_ = url;
    } else {
      source_url_ = redacted_url_;
      ReportRedactedUrl();
    }
  }
}

// A source_url that had email addresses in it (a confirmation page's
// "?email=" parameter), which were replaced: they would reach the spool
// and the API in clear. The URL is kept, as it also carries the page.
template <typename Event>
[[gnu::cold]] inline void Mapper<Event>::ReportRedactedUrl() {
  Warning("source_url", kRedacted,
          "source_url had an email address in it, sent as \"redacted\": an "
          "email address goes in the emails list, which is hashed");
}

// Checks an optional currency; returns false when invalid.
template <typename Event>
inline bool Mapper<Event>::CheckCurrency(std::string_view in, Path path) {
  std::array<char, 3> upper;
  if (in.empty() || UpperCurrency(in, &upper)) return true;
  ReportCurrency(path, in);
  return false;
}

// An optional text field: CheckText's rules, and white space only is
// refused (the API would store it as a value). An empty one is not set.
template <typename Event>
inline void Mapper<Event>::CheckValueText(std::string_view value, Path path,
                                          size_t max_bytes) {
  if (CheckText(value, path, max_bytes) && IsBlank(value)) ReportBlank(path);
}

// The fields sent and stored in clear that hold text of the caller's
// choosing: one that is an email address is refused, as in custom
// properties (the id is the API's dedup key besides). Out of line, after
// the other checks, and only the values in their limits (an overlong or
// invalid one is reported already).
template <typename Event>
template <typename Data>
void Mapper<Event>::CheckNoEmailsInClear(const Data& d) {
  if (event_.id().size() <= Limits::kIdBytes && IsEmailInClear(event_.id())) {
    ReportIdIsEmail();
  }
  auto check = [this](std::string_view value, size_t max_bytes, Path path) {
    if (value.size() <= max_bytes && IsEmailInClear(value)) {
      ReportEmailInClear(path);
    }
  };
  check(d.plan_id(), Limits::kPlanIdBytes, "data.plan_id");
  if (static_cast<size_t>(d.contents_size()) > Limits::kContents) return;
  constexpr std::string_view kBase = "data.contents";
  for (int i = 0; i < d.contents_size(); ++i) {
    const auto& c = d.contents(i);
    check(c.id(), Limits::kContentIdBytes, Path(kBase, i, "id"));
    check(c.group_id(), Limits::kContentIdBytes, Path(kBase, i, "group_id"));
    check(c.name(), Limits::kContentNameInputBytes, Path(kBase, i, "name"));
    check(c.content_type(), Limits::kContentTypeBytes,
          Path(kBase, i, "content_type"));
  }
}

// An id is sent and stored as it is, and is the API's dedup key: every
// event of that person would be one.
template <typename Event>
inline void Mapper<Event>::ReportIdIsEmail() {
  Violation("id", kNotAllowed,
            "id is an email address: it is sent and stored in clear, and "
            "would make every event of that person a duplicate of the "
            "first; use the order, lead or event id");
}

template <typename Event>
inline void Mapper<Event>::ReportBlank(Path path) {
  std::string field = path.str();
  Violation(field, kInvalidFormat, absl::StrCat(field, " must not be blank"));
}

template <typename Event>
inline void Mapper<Event>::ReportEmailInClear(Path path) {
  std::string field = path.str();
  Violation(field, kNotAllowed,
            absl::StrCat(field,
                         " is an email address: clear-text identifiers are "
                         "neither stored nor sent; an email address goes in "
                         "user.emails, which the gateway hashes"));
}

// An integer above kMaxJsonInteger at `path`, out of line.
template <typename Event>
inline void Mapper<Event>::ReportUnsafeInteger(Path path) {
  std::string field = path.str();
  Violation(field, kOutOfRange,
            absl::StrCat(field,
                         " must be at most 2^53 - 1 (9007199254740991): a "
                         "larger JSON integer is rounded by readers that "
                         "hold numbers as doubles (RFC 8259 section 6)"));
}

// A content name cut to kContentNameBytes when encoded, out of line.
template <typename Event>
inline void Mapper<Event>::ReportCutName(int i) {
  std::string field = Path("data.contents", i, "name").str();
  Warning(
      field, kTruncated,
      absl::StrCat(field, " was cut to its first ", Limits::kContentNameBytes,
                   " bytes (at a character boundary)"));
}

// CheckCurrency's violation, out of line so that its check inlines.
template <typename Event>
inline void Mapper<Event>::ReportCurrency(Path path, std::string_view in) {
  std::string field = path.str();
  Violation(field, kInvalidFormat, absl::StrCat(field, CurrencyProblem(in)));
}

template <typename Event>
template <typename Data>
inline void Mapper<Event>::CheckData(const Data& d) {
  data_type_ = DataTypeOf(event_.type());
  const bool type_known = !type_name_.empty();
  if (d.has_amount() && d.amount() < 0) {
    Violation("data.amount", kOutOfRange, "data.amount must not be negative");
  } else if (d.has_amount() && d.amount() > kMaxJsonInteger) {
    ReportUnsafeInteger("data.amount");
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
                absl::StrCat("data.contents has more than ", Limits::kContents,
                             " items"));
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
      CheckValueText(d.plan_id(), "data.plan_id", Limits::kPlanIdBytes);
    }
  }

  if constexpr (kTyped) {
    if (d.has_custom_properties() && d.custom_properties().fields_size() > 0) {
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

template <typename Event>
template <typename Content>
inline void Mapper<Event>::CheckContent(const Content& c, int i,
                                        bool no_event_currency) {
  constexpr std::string_view kBase = "data.contents";
  CheckValueText(c.id(), Path(kBase, i, "id"), Limits::kContentIdBytes);
  CheckValueText(c.group_id(), Path(kBase, i, "group_id"),
                 Limits::kContentIdBytes);
  // A name is description, not a key: one past its cap is cut (at a
  // character boundary) rather than costing the whole conversion.
  CheckValueText(c.name(), Path(kBase, i, "name"),
                 Limits::kContentNameInputBytes);
  if (c.name().size() > Limits::kContentNameBytes &&
      c.name().size() <= Limits::kContentNameInputBytes) {
    ReportCutName(i);
  }
  CheckValueText(c.content_type(), Path(kBase, i, "content_type"),
                 Limits::kContentTypeBytes);
  if (c.has_quantity() && c.quantity() <= 0) {
    std::string field = Path(kBase, i, "quantity").str();
    Violation(field, kOutOfRange,
              absl::StrCat(field, " must be a positive integer"));
  } else if (c.has_quantity() && c.quantity() > kMaxJsonInteger) {
    ReportUnsafeInteger(Path(kBase, i, "quantity"));
  }
  if (c.has_amount() && c.amount() < 0) {
    std::string field = Path(kBase, i, "amount").str();
    Violation(field, kOutOfRange, absl::StrCat(field, " must not be negative"));
  } else if (c.has_amount() && c.amount() > kMaxJsonInteger) {
    ReportUnsafeInteger(Path(kBase, i, "amount"));
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

template <typename Event>
inline void Mapper<Event>::CheckVariant(const v1::Content& c, int i) {
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
    // A key past its limit is named by its first characters.
    constexpr size_t kShownKeyCodePoints = 64;
    std::string_view shown = "?";
    if (IsValidUtf8(key)) {
      shown = key.size() > Limits::kVariantKeyBytes
                  ? TruncateCodePoints(key, kShownKeyCodePoints)
                  : std::string_view(key);
    }
    std::string field = absl::StrCat(
        variant.str(), "[\"", Sv(shown),
        shown.size() < key.size() && shown != "?" ? "...\"]" : "\"]");
    if (key.empty()) {
      Violation(field, kInvalidFormat, "variant keys must not be empty");
      continue;
    }
    if (CheckText(key, field.c_str(), Limits::kVariantKeyBytes)) {
      CheckText(value, field.c_str(), Limits::kVariantValueBytes);
    }
  }
}

template <typename Event>
inline void Mapper<Event>::CheckCustomProperties(
    const google::protobuf::Struct& s) {
  for (const auto* entry : InKeyOrder(s.fields())) {
    const std::string& key = entry->first;
    for (std::string_view reserved : kReservedDataKeys) {
      if (key == reserved) {
        Violation(absl::StrCat("data.custom_properties.", key), kReserved,
                  absl::StrCat("custom property '", key,
                               "' clashes with a field of data"));
      }
    }
    // The spec: send custom_event_name at event level, not inside data.
    if (key == "custom_event_name") {
      Violation("data.custom_properties.custom_event_name", kReserved,
                "custom_event_name belongs at event level, not inside data: "
                "set the event's custom_event_name");
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
template <typename Event>
inline bool Mapper<Event>::CheckValueTree(const google::protobuf::Struct& s,
                                          std::string_view path, int depth) {
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
    std::string child = absl::StrCat(Sv(path), ".", key);
    if (value.kind_case() == google::protobuf::Value::kStringValue &&
        IsClearIdentifierProperty(key, value.string_value())) {
      Violation(child, kNotAllowed,
                "holds a name or phone number in clear; send it in user "
                "(first_names, last_names, phone_numbers), which the gateway "
                "hashes (clear-text identifiers are neither stored nor "
                "sent)");
      ok = false;
      continue;
    }
    ok &= CheckValue(value, child, depth);
  }
  return ok;
}

// Whether a custom property is a person's name or phone number in clear, by
// its key (the keys the OpenAI plugin's validator forbids, spec 5c) and its
// value: a non-blank name, or a value that is a phone number.
template <typename Event>
inline bool Mapper<Event>::IsClearIdentifierProperty(const std::string& key,
                                                     const std::string& value) {
  // Compared in place: no lower-cased copy of every key.
  auto is_any = [&key](std::initializer_list<const char*> names) {
    for (const char* name : names) {
      if (absl::EqualsIgnoreCase(key, name)) return true;
    }
    return false;
  };
  if (is_any({"first_name", "last_name", "firstname", "lastname"})) {
    return !TrimWhitespace(value).empty();
  }
  if (is_any({"phone", "phone_number", "phonenumber"})) {
    return NormalizePhone(value, &scratch_).kept();
  }
  return false;
}

template <typename Event>
inline bool Mapper<Event>::CheckValue(const google::protobuf::Value& v,
                                      const std::string& path, int depth) {
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
      // An email address in clear would reach the spool and the API as is:
      // identifiers go in user, which hashes them.
      if (IsEmailInClear(v.string_value())) {
        Violation(path, kNotAllowed,
                  "holds an email address in clear; send it in "
                  "user.emails, which the gateway hashes (clear-text "
                  "identifiers are neither stored nor sent)");
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
        ok &= CheckValue(values[i], absl::StrCat(path, "[", i, "]"), depth + 1);
      }
      return ok;
    }
    default:
      return true;  // null, bool, or unset (written as null)
  }
}

}  // namespace internal::core
}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_CHECKS_H_
