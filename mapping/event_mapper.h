// Maps a typed conversions.v1.Event to the Conversions API's wire event:
// validation of every rule, identifier normalization and hashing, and JSON.
//
// Pure: no I/O, no clock (the caller passes "now"), no logging.
#ifndef CONVERSIONS_MAPPING_EVENT_MAPPER_H_
#define CONVERSIONS_MAPPING_EVENT_MAPPER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "conversions/v1/event.pb.h"

namespace conversions::mapping {

// One broken rule (a violation) or one dropped value (a warning). Never
// holds an identifier value.
struct FieldIssue {
  std::string field;        // path in the input event: "data.contents[2].id"
  std::string reason;       // stable upper-snake code: "REQUIRED"
  std::string description;  // English explanation

  bool operator==(const FieldIssue& o) const {
    return field == o.field && reason == o.reason &&
           description == o.description;
  }
};

// Length and count limits. The API documents only a few of them (custom
// event names 64, cities and regions 128, postal codes 32); the others are
// this gateway's caps, generous for real data and small enough that one
// event can never blow up a batch.
struct Limits {
  static constexpr size_t kIdBytes = 256;
  static constexpr size_t kOpprefBytes = 1024;
  static constexpr size_t kSourceUrlBytes = 4096;
  static constexpr size_t kCustomEventNameChars = 64;
  static constexpr size_t kContents = 250;
  static constexpr size_t kContentIdBytes = 256;
  static constexpr size_t kContentNameBytes = 512;  // sent; longer is cut
  // A content name longer than this is refused rather than cut: no data
  // layer's product name is 64 KiB, so it is a caller's bug.
  static constexpr size_t kContentNameInputBytes = 64 * 1024;
  static constexpr size_t kContentTypeBytes = 128;
  static constexpr size_t kVariantEntries = 32;
  static constexpr size_t kVariantKeyBytes = 128;
  static constexpr size_t kVariantValueBytes = 256;
  static constexpr size_t kPlanIdBytes = 256;
  static constexpr size_t kCustomPropertiesBytes = 16 * 1024;
  static constexpr int kCustomPropertiesDepth = 8;
  static constexpr size_t kUserListValues = 3;  // kept per list
  // Read per list: a bound on the work one list can cost. The API would
  // use a valid value past it, so it is set far beyond any real list.
  static constexpr size_t kUserListInputs = 1000;
  static constexpr size_t kLocationChars = 128;
  static constexpr size_t kUserAgentBytes = 2048;
  static constexpr size_t kObrefBytes = 1024;
  // One event's wire JSON. Only contents can come near it (250 of them,
  // each with 32 variant entries, all at their caps, and JSON escapes make
  // a control character six bytes): the API's payload limit is not
  // documented (spec 6), and a peer caps a whole request at 1 MB.
  static constexpr size_t kEventWireBytes = 1024 * 1024;
  static constexpr std::int64_t kMaxAgeMs = 7LL * 24 * 60 * 60 * 1000;
  // What must be left of an event's 7-day window for it to be sent: the
  // dispatcher dead-letters a stored event with less left as expired
  // instead of sending it, so that the API never receives it too old.
  static constexpr std::int64_t kSendMarginMs = 5'000;
  // What must be left of it on receipt (and for RetryDeadLetters to queue
  // a dead letter again): the send margin, plus time to linger, commit and
  // claim, so that an accepted event is not expired before its first send
  // when nothing holds it up. Short, so that an event of the window's last
  // minute is still taken.
  static constexpr std::int64_t kReceiptMarginMs = kSendMarginMs + 5'000;
  static constexpr std::int64_t kMaxFutureMs = 10LL * 60 * 1000;
};

// The result of mapping one event.
struct MappedEvent {
  // Every broken rule; the event is rejected when this is not empty.
  std::vector<FieldIssue> violations;
  // Identifier values dropped or changed; the event is still sent.
  std::vector<FieldIssue> warnings;
  // The following are set only when `violations` is empty.
  std::string wire_json;   // the API's event object, compact JSON
  std::string event_name;  // the dedup name: the type's API name, or the
                           // lower-cased custom_event_name for custom events
  std::string id;          // the event id, as sent
  std::int64_t timestamp_ms = 0;  // as sent (0 in the input became now)

  bool ok() const { return violations.empty(); }

  // A working buffer MapEvent reuses across calls; not part of the result.
  std::string scratch;
};

// Maps `event`, received at `now_ms` (Unix epoch milliseconds), to the wire
// event. Collects every violation rather than stopping at the first.
MappedEvent MapEvent(const v1::Event& event, std::int64_t now_ms);

// As above, reusing the buffers of `*result` (cleared first). For hot loops.
void MapEvent(const v1::Event& event, std::int64_t now_ms, MappedEvent* result);

// Checks a stored event's timestamp against the API's window at send time:
// returns false when it is older than 7 days at `now_ms`.
inline bool WithinWindow(std::int64_t timestamp_ms, std::int64_t now_ms) {
  return timestamp_ms >= now_ms - Limits::kMaxAgeMs &&
         timestamp_ms <= now_ms + Limits::kMaxFutureMs;
}

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_EVENT_MAPPER_H_
