// Turns the JSON files people write into conversions.v1 requests.
//
// A file holds a JSON array of events, one event object, or an object
// {"events": [...]} (which may also set "destination" and "validate_only":
// it is the request in the protobuf JSON mapping). An object with an
// "events" member, or with only members of the request, is the request,
// never one event; any other object is one event. Parsing is the protobuf
// JSON mapping, so proto field names and lowerCamel both work, enums are
// given by name and int64 values as numbers or strings; unknown fields are
// errors, so a typo does not silently drop data.
#ifndef CONVERSIONS_CLI_EVENT_FILE_H_
#define CONVERSIONS_CLI_EVENT_FILE_H_

#include <cstddef>
#include <istream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conversions/v1/conversion_service.pb.h"

namespace conversions::cli {

namespace v1 = ::conversions::v1;

// Reads the whole file at `path`, or `stdin_stream` when `path` is "-".
// A file that cannot be read (missing, a directory, no permission) is an
// error that names it and gives the system's reason: "cannot read
// events.json: No such file or directory" (NotFound for a missing one).
absl::StatusOr<std::string> ReadInput(const std::string& path,
                                      std::istream& stdin_stream);

// Parses `json` into `request`, which must have a repeated `events` field
// (SendEventsRequest, ValidateEventsRequest, TrackEventsRequest). `source`
// names the input in error messages ("events.json: unknown field \"foo\""),
// which never quote a value from it. An input with no events is an error.
absl::Status ParseEventsJson(const std::string& json, const std::string& source,
                             google::protobuf::Message* request);

// The most events one request carries: the gateway's limit, the API's.
inline constexpr int kMaxEventsPerRequest = 1000;
// The most bytes of events one request carries: gRPC's default receive
// limit, 4 MiB, less room for the rest of the request. The gateway's own
// limit (grpc.max_receive_message_bytes) is 16 MiB unless configured lower.
inline constexpr size_t kMaxRequestBytes = 4 * 1024 * 1024 - 64 * 1024;

// The events [begin, end) of a request, by their index in the file.
struct EventRange {
  int begin = 0;
  int end = 0;
};

// Splits the events of `request` (a request ParseEventsJson filled) into
// consecutive runs, in order, of at most `max_events` events whose encoded
// size is at most `max_bytes`; an event larger than that is a run of its
// own (the server then says what it allows).
std::vector<EventRange> SplitEvents(const google::protobuf::Message& request,
                                    int max_events = kMaxEventsPerRequest,
                                    size_t max_bytes = kMaxRequestBytes);

}  // namespace conversions::cli

#endif  // CONVERSIONS_CLI_EVENT_FILE_H_
