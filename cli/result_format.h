// Text and JSON rendering of conversions.v1 responses for conversions-cli.
// Pure: writes to the stream it is given and nothing else.
//
// Batch results print one line per event, in input order:
//
//   #0 order_12345 ACCEPTED
//   #1 x REJECTED data.currency REQUIRED: data.currency is required ...
//   #1 x REJECTED source_url INVALID_FORMAT: ...     (one line per violation)
//       warning user.phone_numbers[0] DROPPED_INVALID: ...
//   #2 t SKIPPED event 'refund' has no event mapping
//   accepted=1 rejected=1 duplicate=0 skipped=1
//
// An empty event id prints as "".
#ifndef CONVERSIONS_CLI_RESULT_FORMAT_H_
#define CONVERSIONS_CLI_RESULT_FORMAT_H_

#include <ostream>
#include <string>
#include <string_view>

#include "conversions/v1/conversion_service.pb.h"
#include "conversions/v1/event.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/timestamp.pb.h"

namespace conversions::cli {

namespace v1 = ::conversions::v1;

using EventResults = google::protobuf::RepeatedPtrField<v1::EventResult>;

// The first line of send and track with validate_only: the events
// accepted are queued like others but sent with the API's validate_only
// flag, so the API checks them and saves none.
inline constexpr char kValidateOnlyLine[] =
    "validate-only: accepted events go to the API to be validated, never "
    "saved as conversions; status shows each one's verdict";

// How many results had each outcome.
struct OutcomeCounts {
  int accepted = 0;
  int rejected = 0;
  int duplicate = 0;
  int skipped = 0;
  int unspecified = 0;  // never set by a correct server; counted, not hidden
};

OutcomeCounts CountOutcomes(const EventResults& results);

// Returns "accepted=N rejected=N duplicate=N skipped=N" (plus
// " unspecified=N" when a result had no outcome).
std::string FormatCounts(const OutcomeCounts& counts);

// Writes the lines of one result; with `with_wire_json` also an indented
// "wire_json {...}" line for an accepted event that carries one.
void PrintResult(const v1::EventResult& result, bool with_wire_json,
                 std::ostream& out);

// Writes every result, then the FormatCounts line.
void PrintResults(const EventResults& results, bool with_wire_json,
                  std::ostream& out);

// Returns "api_validation http_status=200 message=...", with
// " events=#0-#999" after "api_validation" when `events` is not empty.
std::string FormatApiValidation(const v1::ApiValidation& validation,
                                const std::string& events = "");

// Writes "key: value" lines: state, times in RFC 3339, attempts, last
// error, dead-letter reason (the unset ones left out). An unknown event
// (state UNSPECIFIED) is one line, "unknown: no such event for this
// destination (...)".
void PrintEventStatus(const v1::GetEventStatusResponse& status,
                      std::ostream& out);

// Returns "TIME DESTINATION TYPE:ID REASON attempts=N MESSAGE", with
// "validate-only" after REASON for an event sent with validate_only (the
// API refused a check, not a conversion).
std::string FormatDeadLetter(const v1::DeadLetter& dead_letter);

// Returns the key dead-letters retry takes: "order_created:ID", or
// "custom/NAME:ID" for custom events.
std::string FormatEventKey(v1::EventType type,
                           const std::string& custom_event_name,
                           const std::string& id);

// Returns "order_created" for EVENT_TYPE_ORDER_CREATED.
std::string EventTypeShortName(v1::EventType type);

// Returns a timestamp in RFC 3339, UTC ("2026-03-19T04:00:00.250Z").
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);

// Returns the message as indented protobuf JSON with proto field names,
// followed by a newline.
std::string MessageToJson(const google::protobuf::Message& message);

// Returns the canonical name of a gRPC status code ("INVALID_ARGUMENT").
std::string GrpcCodeName(int code);

// A line that says what a failed call's status (`code`, `message`) most
// likely means for a person at a terminal ("hint: ..."), or "" when it
// speaks for itself: a plaintext port called with TLS, the gateway's HTTP
// port given for its gRPC one, nothing listening, no answer in time, a
// missing token. `stores_events`: the call was a send or a track, whose
// events may have been stored although no answer came in time.
std::string RpcErrorHint(int code, std::string_view message,
                         bool stores_events = false);

// The same for a file refused by ParseEventsJson for `command` ("send",
// "validate", "track"): a tag event given to send or validate.
std::string FileErrorHint(std::string_view command, std::string_view message);

// For track: a hint when no event of `request` has an event_name and one
// has a member only a typed event has (timestamp_ms, action_source,
// source_url): a file of typed events, each REJECTED for its event_name.
std::string TrackFileHint(const v1::TrackEventsRequest& request);

}  // namespace conversions::cli

#endif  // CONVERSIONS_CLI_RESULT_FORMAT_H_
