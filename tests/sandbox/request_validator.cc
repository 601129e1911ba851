#include "tests/sandbox/request_validator.h"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/sandbox/event_rules.h"

namespace conversions::sandbox {
namespace {

using ::nlohmann::json;

// ISO 4217 alphabetic codes in current use (Debian iso-codes, without the
// withdrawn HRK; see tools/gen_iso_tables.py).
constexpr absl::string_view kCurrencies =
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND "
    "BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU "
    "CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS "
    "GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD "
    "JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL "
    "MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR "
    "NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG "
    "SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY "
    "TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD "
    "XCG XOF XPF YER ZAR ZMW ZWG ZWL";

// A JSON integer as int64, or nullopt (floats, strings, out of range).
std::optional<int64_t> AsInt64(const json& value) {
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return std::nullopt;
}

// Collects the violations of one request body.
class Validator {
 public:
  explicit Validator(int64_t now_ms) : now_ms_(now_ms) {}

  BatchCheck Run(const json& body) && {
    CheckBody(body);
    check_.event_names.clear();
    if (check_.ok()) check_.event_names = std::move(names_);
    return std::move(check_);
  }

 private:
  void Add(std::string field, std::string description) {
    check_.violations.push_back({std::move(field), std::move(description)});
  }

  void CheckBody(const json& body) {
    if (!body.is_object()) {
      Add("", "the request body must be a JSON object");
      return;
    }
    for (const auto& [key, value] : body.items()) {
      if (key != "events" && key != "validate_only" &&
          key != "integration_source") {
        Add(key, "unknown field");
      }
    }
    if (auto it = body.find("validate_only"); it != body.end()) {
      if (it->is_boolean()) {
        check_.validate_only = it->get<bool>();
      } else {
        Add("validate_only", "must be a boolean");
      }
    }
    if (auto it = body.find("integration_source"); it != body.end()) {
      // The API trims and lower-cases the value before checking it.
      if (!it->is_string() ||
          !IsValidIntegrationSource(absl::AsciiStrToLower(
              absl::StripAsciiWhitespace(it->get_ref<const std::string&>())))) {
        Add("integration_source",
            "must be 1 to 64 ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter or digit");
      }
    }
    auto events = body.find("events");
    if (events == body.end()) {
      Add("events", "Missing required field: events");
      return;
    }
    if (!events->is_array()) {
      Add("events", "must be an array of events");
      return;
    }
    if (events->empty()) {
      Add("events", "must contain at least 1 event");
      return;
    }
    if (events->size() > kMaxEventsPerBatch) {
      Add("events", absl::StrCat("must contain at most ", kMaxEventsPerBatch,
                                 " events (got ", events->size(), ")"));
      return;
    }
    for (size_t i = 0; i < events->size(); ++i) {
      CheckEvent((*events)[i], absl::StrCat("events[", i, "]"));
    }
  }

  // A string field: returns it, or nullptr after adding a violation.
  const std::string* String(const json& value, const std::string& path,
                            bool non_empty) {
    if (!value.is_string()) {
      Add(path, non_empty ? "must be a non-empty string" : "must be a string");
      return nullptr;
    }
    const std::string& s = value.get_ref<const std::string&>();
    if (non_empty && s.empty()) {
      Add(path, "must be a non-empty string");
      return nullptr;
    }
    return &s;
  }

  void CheckEvent(const json& event, const std::string& p) {
    if (!event.is_object()) {
      Add(p, "must be an object");
      return;
    }
    for (const auto& [key, value] : event.items()) {
      if (!Contains(kEventKeys, key)) Add(p + "." + key, "unknown field");
    }

    // id
    if (auto it = event.find("id"); it == event.end()) {
      Add(p + ".id", "is required");
    } else {
      String(*it, p + ".id", /*non_empty=*/true);
    }

    // type
    const EventTypeInfo* type = nullptr;
    if (auto it = event.find("type"); it == event.end()) {
      Add(p + ".type", "is required");
    } else if (!it->is_string() ||
               (type = FindEventType(it->get_ref<const std::string&>())) ==
                   nullptr) {
      Add(p + ".type", "must be one of the 13 supported event types");
    }

    // timestamp_ms
    if (auto it = event.find("timestamp_ms"); it == event.end()) {
      Add(p + ".timestamp_ms", "is required");
    } else if (std::optional<int64_t> ts = AsInt64(*it); !ts.has_value()) {
      Add(p + ".timestamp_ms", "must be an integer (Unix epoch milliseconds)");
    } else if (*ts < now_ms_ - kMaxEventAgeMs) {
      Add(p + ".timestamp_ms", "must be within the last 7 days");
    } else if (*ts > now_ms_ + kMaxFutureSkewMs) {
      Add(p + ".timestamp_ms", "must be no more than 10 minutes in the future");
    }

    // custom_event_name: required for, and only for, custom events.
    std::string name = type != nullptr ? std::string(type->type) : "";
    auto custom = event.find("custom_event_name");
    if (custom != event.end()) {
      const std::string path = p + ".custom_event_name";
      if (type != nullptr && type->type != "custom") {
        Add(path, "is allowed only when type is custom");
      } else if (!custom->is_string() ||
                 !IsValidCustomEventName(
                     custom->get_ref<const std::string&>())) {
        Add(path,
            "must be 1 to 64 letters, digits, '_' or '-', starting and "
            "ending with a letter or digit");
      } else {
        // The API lower-cases it; the lower-cased name is the dedup name.
        name = absl::AsciiStrToLower(custom->get_ref<const std::string&>());
        if (FindEventType(name) != nullptr) {
          Add(path, "must not be a standard event name");
        }
      }
    } else if (type != nullptr && type->type == "custom") {
      Add(p + ".custom_event_name", "is required when type is custom");
    }
    names_.push_back(std::move(name));

    // oppref: opaque.
    if (auto it = event.find("oppref"); it != event.end()) {
      String(*it, p + ".oppref", /*non_empty=*/false);
    }

    // action_source: enum; mobile_app for app events.
    // The spec leaves it optional ("Depends") for other events.
    const std::string* action_source = nullptr;
    bool action_source_reported = false;
    if (auto it = event.find("action_source"); it != event.end()) {
      action_source = String(*it, p + ".action_source", /*non_empty=*/true);
      if (action_source != nullptr &&
          !Contains(kActionSources, *action_source)) {
        Add(p + ".action_source",
            "must be one of web, mobile_app, offline, physical_store, "
            "phone_call, email, other");
        action_source = nullptr;
      }
      action_source_reported = action_source == nullptr;
    }
    if (type != nullptr && !action_source_reported &&
        (type->type == "app_installed" || type->type == "app_opened") &&
        (action_source == nullptr || *action_source != "mobile_app")) {
      Add(p + ".action_source",
          absl::StrCat("must be mobile_app for ", type->type, " events"));
    }

    // source_url: required for web, and then an absolute http(s) URL;
    // for other sources a scheme and a host ("myapp://product/1").
    const bool web = action_source != nullptr && *action_source == "web";
    if (auto it = event.find("source_url"); it != event.end()) {
      const std::string* url =
          String(*it, p + ".source_url", /*non_empty=*/true);
      if (url != nullptr && web && !IsAbsoluteHttpUrl(*url)) {
        Add(p + ".source_url",
            "must be an absolute http or https URL with a host");
      } else if (url != nullptr && !web && !IsAbsoluteUrlWithHost(*url)) {
        Add(p + ".source_url",
            "must be an absolute URL with a scheme and a host");
      }
    } else if (action_source != nullptr && *action_source == "web") {
      Add(p + ".source_url", "is required when action_source is web");
    }

    // opt_out
    if (auto it = event.find("opt_out"); it != event.end()) {
      if (!it->is_boolean()) Add(p + ".opt_out", "must be a boolean");
    }

    // user
    if (auto it = event.find("user"); it != event.end()) {
      CheckUser(*it, p + ".user");
    }

    // data
    if (auto it = event.find("data"); it == event.end()) {
      Add(p + ".data", "is required");
    } else {
      CheckData(*it, p + ".data", type);
    }
  }

  void CheckStringList(const json& value, const std::string& path,
                       bool hashed) {
    if (!value.is_array()) {
      Add(path, "must be an array of strings");
      return;
    }
    // The API uses the first 3 valid unique values and ignores the rest, so
    // longer lists are accepted.
    for (size_t i = 0; i < value.size(); ++i) {
      const std::string item = absl::StrCat(path, "[", i, "]");
      if (!value[i].is_string()) {
        Add(item, "must be a string");
      } else if (hashed &&
                 !IsLowerHexSha256(value[i].get_ref<const std::string&>())) {
        Add(item, "must be a lowercase hex SHA-256 digest (64 characters)");
      }
    }
  }

  void CheckUser(const json& user, const std::string& p) {
    if (!user.is_object()) {
      Add(p, "must be an object");
      return;
    }
    for (const auto& [key, value] : user.items()) {
      const std::string path = p + "." + key;
      if (Contains(kHashedUserLists, key)) {
        CheckStringList(value, path, /*hashed=*/true);
      } else if (Contains(kRawUserLists, key)) {
        CheckStringList(value, path, /*hashed=*/false);
      } else if (Contains(kRawUserScalars, key)) {
        // obref must be non-blank, user_agent non-empty, ip_address an
        // address and android_advertising_id a UUID (spec 5a).
        bool non_empty = key == "obref" || key == "user_agent";
        const std::string* s = String(value, path, non_empty);
        if (s != nullptr && non_empty &&
            absl::StripAsciiWhitespace(*s).empty()) {
          Add(path, "must be a non-empty string");
        } else if (s != nullptr && key == "ip_address" && !IsIpAddress(*s)) {
          Add(path, "must be a valid IPv4 or IPv6 address");
        } else if (s != nullptr && key == "android_advertising_id" &&
                   !IsAdvertisingId(*s)) {
          Add(path, "must be a UUID (8-4-4-4-12 hex digits)");
        }
      } else if (Contains(kClearUserKeys, key)) {
        Add(path,
            "clear-text identifiers are not accepted; send the SHA-256 "
            "list field instead");
      } else {
        Add(path, "unknown field");
      }
    }
  }

  // A currency code field.
  void CheckCurrency(const json& value, const std::string& path) {
    if (!value.is_string() ||
        !IsKnownCurrency(value.get_ref<const std::string&>())) {
      Add(path, "must be a 3-letter ISO 4217 currency code");
    }
  }

  // An amount in minor units.
  void CheckAmount(const json& value, const std::string& path) {
    std::optional<int64_t> amount = AsInt64(value);
    if (!amount.has_value() || *amount < 0) {
      Add(path, "must be a non-negative integer in minor units");
    }
  }

  void CheckData(const json& data, const std::string& p,
                 const EventTypeInfo* event_type) {
    if (!data.is_object()) {
      Add(p, "must be an object");
      return;
    }
    // The shape whose rules apply: data.type when valid, else the shape the
    // event type requires.
    absl::string_view shape =
        event_type != nullptr ? event_type->data_type : "";
    if (auto it = data.find("type"); it == data.end()) {
      Add(p + ".type", "is required");
    } else if (!it->is_string() ||
               !Contains(kDataTypes, it->get_ref<const std::string&>())) {
      Add(p + ".type",
          "must be one of contents, customer_action, plan_enrollment, custom");
    } else {
      const std::string& data_type = it->get_ref<const std::string&>();
      if (event_type != nullptr && data_type != event_type->data_type) {
        Add(p + ".type", absl::StrCat("must be ", event_type->data_type,
                                      " for ", event_type->type, " events"));
      }
      shape = data_type;
    }

    for (const auto& [key, value] : data.items()) {
      const std::string path = p + "." + key;
      if (key == "type") continue;
      if (key == "amount") {
        CheckAmount(value, path);
      } else if (key == "currency") {
        CheckCurrency(value, path);
      } else if (key == "contents") {
        if (shape == "customer_action") {
          Add(path, "is not allowed for customer_action data");
        } else {
          CheckContents(value, path, data.contains("currency"));
        }
      } else if (key == "plan_id") {
        if (shape != "plan_enrollment" && shape != "custom") {
          Add(path, "is allowed only for plan_enrollment and custom data");
        } else {
          String(value, path, /*non_empty=*/true);
        }
      } else if (shape != "custom") {
        // Free-form properties are for custom data only.
        Add(path, "unknown field");
      }
    }
    if (data.contains("amount") && !data.contains("currency")) {
      Add(p + ".currency", "is required when amount is set");
    }
  }

  void CheckContents(const json& contents, const std::string& p,
                     bool has_event_currency) {
    if (!contents.is_array()) {
      Add(p, "must be an array of objects");
      return;
    }
    for (size_t i = 0; i < contents.size(); ++i) {
      const json& content = contents[i];
      const std::string item = absl::StrCat(p, "[", i, "]");
      if (!content.is_object()) {
        Add(item, "must be an object");
        continue;
      }
      for (const auto& [key, value] : content.items()) {
        const std::string path = item + "." + key;
        if (!Contains(kContentKeys, key)) {
          Add(path, "unknown field");
        } else if (key == "quantity") {
          std::optional<int64_t> quantity = AsInt64(value);
          if (!quantity.has_value() || *quantity <= 0) {
            Add(path, "must be a positive integer");
          }
        } else if (key == "amount") {
          CheckAmount(value, path);
        } else if (key == "currency") {
          CheckCurrency(value, path);
        } else if (key == "variant_dict") {
          CheckVariantDict(value, path);
        } else {
          String(value, path, /*non_empty=*/key == "content_type");
        }
      }
      if (content.contains("amount") && !content.contains("currency") &&
          !has_event_currency) {
        Add(item + ".currency",
            "is required with amount (here or as data.currency)");
      }
    }
  }

  void CheckVariantDict(const json& value, const std::string& path) {
    if (!value.is_object()) {
      Add(path, "must be an object of strings");
      return;
    }
    for (const auto& [key, v] : value.items()) {
      if (!v.is_string()) Add(path + "." + key, "must be a string");
    }
  }

  const int64_t now_ms_;
  BatchCheck check_;
  std::vector<std::string> names_;
};

}  // namespace

BatchCheck ValidateEventsBody(const json& body, int64_t now_ms) {
  return Validator(now_ms).Run(body);
}

bool IsKnownCurrency(absl::string_view code) {
  if (code.size() != 3) return false;
  char upper[3];
  for (size_t i = 0; i < 3; ++i) {
    upper[i] = absl::ascii_toupper(static_cast<unsigned char>(code[i]));
    if (upper[i] < 'A' || upper[i] > 'Z') return false;
  }
  const absl::string_view wanted(upper, 3);
  for (size_t i = 0; i + 3 <= kCurrencies.size(); i += 4) {
    if (kCurrencies.substr(i, 3) == wanted) return true;
  }
  return false;
}

std::string FormatViolations(const std::vector<Violation>& violations,
                             size_t max_listed) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < violations.size() && i < max_listed; ++i) {
    const Violation& v = violations[i];
    parts.push_back(v.field.empty()
                        ? v.description
                        : absl::StrCat(v.field, ": ", v.description));
  }
  std::string message = absl::StrJoin(parts, "; ");
  if (violations.size() > max_listed) {
    absl::StrAppend(&message, " (and ", violations.size() - max_listed,
                    " more)");
  }
  return message;
}

}  // namespace conversions::sandbox
