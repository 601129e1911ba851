// The rules the sandbox enforces on a POST /v1/events body: sections 1 to 5
// of spec/openai-conversions-api.md, applied strictly. Where the spec leaves
// a case undocumented (unknown keys, S2 user names, ...), the sandbox rejects
// it, so a gateway that passes here sends only what the docs describe.
//
// Pure: no I/O, and the clock is a parameter.
#ifndef CONVERSIONS_TESTS_SANDBOX_REQUEST_VALIDATOR_H_
#define CONVERSIONS_TESTS_SANDBOX_REQUEST_VALIDATOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace conversions::sandbox {

// At most this many events in one request.
inline constexpr size_t kMaxEventsPerBatch = 1000;
// timestamp_ms may be at most this old (7 days), in milliseconds.
inline constexpr int64_t kMaxEventAgeMs = 7LL * 24 * 60 * 60 * 1000;
// timestamp_ms may be at most this far in the future (10 minutes), in ms.
inline constexpr int64_t kMaxFutureSkewMs = 10LL * 60 * 1000;

// One broken rule.
struct Violation {
  // Path of the offending field, e.g. "events[3].timestamp_ms"; empty for
  // the body as a whole.
  std::string field;
  // What is wrong, in words; never echoes identifier values.
  std::string description;
};

// The outcome of checking one request body.
struct BatchCheck {
  // Every violation found, in event order; empty means the batch is valid.
  std::vector<Violation> violations;
  // The body's validate_only flag (false when absent).
  bool validate_only = false;
  // Per event, in order: the name in the dedup key, which is the type, or
  // the lower-cased custom_event_name for custom events. Filled only when
  // the batch is valid.
  std::vector<std::string> event_names;

  bool ok() const { return violations.empty(); }
};

// Checks a parsed POST /v1/events body. `now_ms` is the receipt time (Unix
// epoch milliseconds) for the timestamp window.
BatchCheck ValidateEventsBody(const nlohmann::json& body, int64_t now_ms);

// True if `code` (any case) is an ISO 4217 currency code.
bool IsKnownCurrency(absl::string_view code);

// "field: description; field: description", listing at most `max_listed`
// violations and then "(and N more)".
std::string FormatViolations(const std::vector<Violation>& violations,
                             size_t max_listed = 10);

}  // namespace conversions::sandbox

#endif  // CONVERSIONS_TESTS_SANDBOX_REQUEST_VALIDATOR_H_
