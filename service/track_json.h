// Reads POST /v1/track's body, a TrackEventsRequest in JSON, straight into
// the TagTrees the tag mapper reads (mapping/tag_tree.h), in one pass of
// nlohmann::json's SAX parser: no google.protobuf.Struct on the way.
//
// Why: protobuf's JSON parser builds a Struct map entry by map entry, and
// the tree is then copied from it; for a request of 100 typical events
// that took about 12 times what this reader takes (tests/bench/
// track_json_benchmark), and far more than mapping and storing them.
//
// It reads the plain form of the request only, and leaves everything else
// to protobuf's parser (with the strict syntax check and the nesting check
// before it, service/json_input.h and track_request.h), whose answers and
// messages stay those of record: see ReadTrackEventsJson.
#ifndef CONVERSIONS_SERVICE_TRACK_JSON_H_
#define CONVERSIONS_SERVICE_TRACK_JSON_H_

#include <string_view>

#include "absl/status/status.h"
#include "service/track_request.h"

namespace conversions::service {

// The deepest nesting of objects and lists inside one event that this
// reader takes (the event object itself is level 1). Deeper events go to
// the general path, whose nesting check counts levels as protobuf does;
// at this depth no event comes near protobuf's limit.
inline constexpr int kTrackJsonFastDepth = 24;

// Reads `body` into `*out` (reset first) and returns true when it is a
// TrackEventsRequest in JSON of the plain form: one object whose members
// are "destination" (a string), "validate_only" or "validateOnly" and
// "dry_run" or "dryRun" (true or false) and "events" (once: an array of
// objects, each nested at most kTrackJsonFastDepth deep, none holding a
// key twice), "events" and "destination" at most once; of the flags,
// given more than once (either spelling), the last wins, as in protobuf. `*out`
// then holds what protobuf's JSON parser followed by TagTreeFromStruct gives
// for the same body, but for the order of keys
// (tests/service/track_json_test.cc checks this on thousands of bodies).
//
// A body of more events than a request may carry (kMaxEventsPerRequest)
// is only parsed past that many: `events` is then empty and
// `event_count` says how many there were, for the count's refusal.
//
// Returns false for anything else: a body that is not JSON, another
// shape, or a form protobuf takes but this reader leaves to it (null
// members, "events" given as one object, strings for validate_only, a
// byte order mark, ...). The caller then parses the body the general way,
// which accepts it or says what is wrong; `*out` is then unspecified.
bool ReadTrackEventsJson(std::string_view body, TrackEventsInput* out);

// The general way: CheckJsonSyntax, CheckTrackJsonNesting, protobuf's JSON
// parser (unknown fields refused), then TagTreeFromStruct of each event.
// InvalidArgument, starting "body is not a TrackEventsRequest in JSON: ",
// for a body it refuses; the message never quotes the body.
absl::Status ParseTrackEventsJsonGenerally(std::string_view body,
                                           TrackEventsInput* out);

// POST /v1/track's parse: ReadTrackEventsJson, else the general way; a
// UTF-8 byte order mark at the start is skipped first.
absl::Status ParseTrackEventsJson(std::string_view body, TrackEventsInput* out);

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_TRACK_JSON_H_
