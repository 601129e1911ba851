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

// ParseAcceptedBatch that keeps its working memory (a copy of the body to
// parse in place, and the parsed tree's nodes) from one call to the next:
// a server parsing a megabyte batch per request then neither allocates nor
// page-faults that memory in afresh each time, which used to cost as much
// as the parse. Not thread-safe: one per thread or per request at a time.
class BatchParser {
 public:
  // As ParseAcceptedBatch.
  std::optional<AcceptedBatch> Parse(absl::string_view body, int64_t now_ms,
                                     bool with_json = true);

 private:
  // The body, parsed in place.
  std::string text_;
  // RapidJSON's memory pool for the tree, sized by the largest tree so far.
  std::vector<char> nodes_;
};

}  // namespace conversions::sandbox

#endif  // CONVERSIONS_TESTS_SANDBOX_ACCEPTED_BATCH_H_
