// Feeds arbitrary bytes, as the body of POST /v1/track, to
// ReadTrackEventsJson (the direct reader) and to the general way (the
// strict checks, protobuf's JSON parser and TagTreeFromStruct). They must
// agree:
//   - when the reader takes a body, the general way accepts it, with the
//     same destination, validate_only, dry_run and events (objects compared as
//     sets of keys, numbers bit for bit), and each tree's buffer is followed by
//     kTagTreePadding zero bytes;
//   - ParseTrackEventsJson, what the gateway calls, answers as the general
//     way does, message included (after a byte order mark, which it
//     skips);
//   - no refusal quotes the body: messages are compared with the body's
//     strings and keys only through the unit tests, but every message
//     must be printable ASCII.
// Any disagreement aborts, which libFuzzer reports as a crash; the
// sanitizers of the fuzz build catch reads past a buffer.
//
// Seeds: tests/fuzz/track_json_corpus, request bodies of the plain form
// and of forms the reader leaves to protobuf.
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "service/track_json.h"
#include "tests/mapping/tag_tree_util.h"

namespace {

void Check(bool ok, const char* what, const std::string& detail = "") {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s %s\n", what, detail.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  static const google::protobuf::LogSilencer* const kQuiet =
      new google::protobuf::LogSilencer;
  (void)kQuiet;
  using conversions::service::TrackEventsInput;
  const std::string body(reinterpret_cast<const char*>(data), size);
  TrackEventsInput fast;
  const bool read = conversions::service::ReadTrackEventsJson(body, &fast);
  TrackEventsInput general;
  const absl::Status status =
      conversions::service::ParseTrackEventsJsonGenerally(body, &general);
  // The entry point skips a byte order mark, then answers as the general
  // way does.
  TrackEventsInput either;
  const absl::Status combined =
      conversions::service::ParseTrackEventsJson(body, &either);
  TrackEventsInput unmarked;
  const absl::Status expected =
      body.rfind("\xEF\xBB\xBF", 0) == 0
          ? conversions::service::ParseTrackEventsJsonGenerally(body.substr(3),
                                                                &unmarked)
          : status;
  Check(combined.ok() == expected.ok() &&
            combined.message() == expected.message(),
        "ParseTrackEventsJson answers otherwise than the general way");
  for (const char c : status.message()) {
    Check(c >= 0x20 && c < 0x7f, "a message that is not printable ASCII");
  }
  if (!read) return 0;
  Check(status.ok(), "the reader takes a body the general way refuses");
  Check(fast.destination == general.destination, "destinations differ");
  Check(fast.validate_only == general.validate_only, "validate_only differs");
  Check(fast.dry_run == general.dry_run, "dry_run differs");
  Check(fast.events.size() == general.events.size(), "event counts differ");
  for (size_t i = 0; i < fast.events.size(); ++i) {
    const std::string diff =
        conversions::testing::TagTreeDiff(fast.events[i], general.events[i]);
    Check(diff.empty(), "events differ:", diff);
    const std::string_view buffer = fast.events[i].buffer();
    for (size_t k = 0; k < conversions::mapping::kTagTreePadding; ++k) {
      Check(buffer.data()[buffer.size() + k] == '\0', "padding missing");
    }
  }
  return 0;
}
