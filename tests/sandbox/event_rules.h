// The vocabulary of the POST /v1/events rules (spec sections 4 and 5): the
// event types, the keys each object may carry and the formats of single
// values. Shared by the full validator (request_validator.h) and the fast
// path (accepted_batch.h), so both apply the same tables.
#ifndef CONVERSIONS_TESTS_SANDBOX_EVENT_RULES_H_
#define CONVERSIONS_TESTS_SANDBOX_EVENT_RULES_H_

#include <algorithm>
#include <array>
#include <cstddef>

#include "absl/strings/string_view.h"

namespace conversions::sandbox {

// An event type with the data shape it requires (spec section 4).
struct EventTypeInfo {
  absl::string_view type;
  absl::string_view data_type;
};
inline constexpr std::array<EventTypeInfo, 13> kEventTypes = {{
    {"app_installed", "customer_action"},
    {"app_opened", "customer_action"},
    {"appointment_scheduled", "customer_action"},
    {"checkout_started", "contents"},
    {"contents_viewed", "contents"},
    {"custom", "custom"},
    {"items_added", "contents"},
    {"lead_created", "customer_action"},
    {"order_created", "contents"},
    {"page_viewed", "contents"},
    {"registration_completed", "customer_action"},
    {"subscription_created", "plan_enrollment"},
    {"trial_started", "plan_enrollment"},
}};

inline constexpr std::array<absl::string_view, 4> kDataTypes = {
    "contents", "customer_action", "plan_enrollment", "custom"};

inline constexpr std::array<absl::string_view, 7> kActionSources = {
    "web",        "mobile_app", "offline", "physical_store",
    "phone_call", "email",      "other"};

inline constexpr std::array<absl::string_view, 10> kEventKeys = {
    "id",      "type",       "timestamp_ms",  "custom_event_name",
    "oppref",  "source_url", "action_source", "user",
    "opt_out", "data"};

// S4 user fields (spec section 5a).
inline constexpr std::array<absl::string_view, 5> kHashedUserLists = {
    "emails_sha256", "phone_numbers_sha256", "external_ids_sha256",
    "first_names_sha256", "last_names_sha256"};
inline constexpr std::array<absl::string_view, 4> kRawUserLists = {
    "regions", "postal_codes", "cities", "countries"};
inline constexpr std::array<absl::string_view, 4> kRawUserScalars = {
    "android_advertising_id", "obref", "ip_address", "user_agent"};
// Clear-text identifier keys: never accepted.
inline constexpr std::array<absl::string_view, 11> kClearUserKeys = {
    "email",         "emails",      "phone",        "phone_number",
    "phone_numbers", "external_id", "external_ids", "first_name",
    "first_names",   "last_name",   "last_names"};

inline constexpr std::array<absl::string_view, 8> kContentKeys = {
    "id",       "group_id", "name",     "content_type",
    "quantity", "amount",   "currency", "variant_dict"};

template <size_t N>
bool Contains(const std::array<absl::string_view, N>& set,
              absl::string_view value) {
  return std::find(set.begin(), set.end(), value) != set.end();
}

// The entry of kEventTypes for `type`, or nullptr.
const EventTypeInfo* FindEventType(absl::string_view type);

// ^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$
bool IsValidCustomEventName(absl::string_view name);

// ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$
bool IsValidIntegrationSource(absl::string_view value);

// ^[0-9a-f]{64}$
bool IsLowerHexSha256(absl::string_view value);

// An absolute http or https URL with a non-empty host and no whitespace.
bool IsAbsoluteHttpUrl(absl::string_view url);

// An absolute URL of any scheme with a host ("myapp://product/1"), as spec
// section 2 asks of source_url ("a scheme and host") for events that are
// not web events; an http or https one as IsAbsoluteHttpUrl checks it.
bool IsAbsoluteUrlWithHost(absl::string_view url);

// A valid IPv4 (dotted decimal) or IPv6 address, without port, brackets or
// zone (spec 5a: "a valid IPv4 or IPv6 address").
bool IsIpAddress(absl::string_view value);

// An Android advertising id in UUID format, 8-4-4-4-12 hex digits in any
// case (spec 5a). The all-zero id passes: the API ignores it.
bool IsAdvertisingId(absl::string_view value);

}  // namespace conversions::sandbox

#endif  // CONVERSIONS_TESTS_SANDBOX_EVENT_RULES_H_
