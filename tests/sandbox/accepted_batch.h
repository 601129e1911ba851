// The fast path of POST /v1/events: parses a body with RapidJSON and, when it
// is certainly valid, returns what the sandbox records, without building an
// nlohmann tree.
//
// It only ever says "valid": anything else (a broken rule, a parse error, a
// JSON construct whose reading the two parsers might disagree on, such as a
// duplicate key or an escaped surrogate) yields nullopt, and the caller runs
// the full nlohmann path (ValidateEventsBody), which decides and words the
// error. So the fast path may be incomplete but never changes an outcome;
// accepted_batch_test.cc checks it against the full path.
//
// Pure: no I/O, and the clock is a parameter.
#ifndef CONVERSIONS_TESTS_SANDBOX_ACCEPTED_BATCH_H_
#define CONVERSIONS_TESTS_SANDBOX_ACCEPTED_BATCH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace conversions::sandbox {

// One event of a valid batch.
struct AcceptedEvent {
  // The event name of the dedup key: the type, or the lower-cased
  // custom_event_name for custom events.
  std::string name;
  // The event id.
  std::string id;
  // The event object as compact JSON text. Parsing it gives the same JSON
  // value as parsing the event in the body (object keys may come in another
  // order, and a repeated key inside custom data keeps every copy).
  std::string json;
};

// A valid POST /v1/events body.
struct AcceptedBatch {
  // The body's validate_only flag (false when absent).
  bool validate_only = false;
  // The events, in body order.
  std::vector<AcceptedEvent> events;
};

// The batch in `body` if it passes every rule of request_validator.h at
// receipt time `now_ms` (Unix epoch milliseconds); nullopt if it does not,
// or if the fast path cannot tell. With `with_json` false the events' `json`
// stays empty (for a sandbox that keeps no events).
std::optional<AcceptedBatch> ParseAcceptedBatch(absl::string_view body,
                                                int64_t now_ms,
                                                bool with_json = true);

}  // namespace conversions::sandbox

#endif  // CONVERSIONS_TESTS_SANDBOX_ACCEPTED_BATCH_H_
