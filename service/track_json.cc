#include "service/track_json.h"

#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "conversions/v1/conversion_service.pb.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "service/event_ingestor.h"
#include "service/json_input.h"

namespace conversions::service {
namespace {

using json = nlohmann::json;

// The SAX handler. Levels: 0 before the request object, 1 inside it, 2
// inside "events", 3 and deeper inside an event (3: the event object).
// Any callback returning false stops the parse: the body is then left to
// the general path.
class TrackReader {
 public:
  explicit TrackReader(TrackEventsInput* out) : out_(*out) {}

  bool null() {
    if (!InEvent()) return false;
    if (writer_) writer_->Null();
    return true;
  }
  bool boolean(bool value) {
    if (InEvent()) {
      if (writer_) writer_->Bool(value);
      return true;
    }
    if (level_ != 1) return false;
    // A flag given twice (also as "dryRun" and "dry_run") is left to the
    // general path, which refuses it.
    if (member_ == Member::kValidateOnly && !seen_validate_only_) {
      seen_validate_only_ = true;
      out_.validate_only = value;
    } else if (member_ == Member::kDryRun && !seen_dry_run_) {
      seen_dry_run_ = true;
      out_.dry_run = value;
    } else {
      return false;
    }
    return true;
  }
  bool number_integer(json::number_integer_t value) {
    return Number(static_cast<double>(value));
  }
  bool number_unsigned(json::number_unsigned_t value) {
    return Number(static_cast<double>(value));
  }
  bool number_float(json::number_float_t value, const json::string_t&) {
    return Number(value);
  }
  bool string(json::string_t& value) {
    if (InEvent()) {
      if (writer_) writer_->String(value);
      return true;
    }
    if (level_ != 1 || member_ != Member::kDestination || seen_destination_) {
      return false;
    }
    seen_destination_ = true;
    out_.destination = value;
    return true;
  }
  bool binary(json::binary_t&) { return false; }

  bool start_object(std::size_t) {
    if (InEvent()) {
      if (level_ - 2 >= kTrackJsonFastDepth) return false;
      ++level_;
      if (writer_) writer_->StartObject();
      return true;
    }
    if (level_ == 0) {
      level_ = 1;
      return true;
    }
    if (level_ != 2) return false;
    // An event: read into a tree of its own, unless the request carries
    // more than it may (refused by its count; the rest is only parsed).
    level_ = 3;
    if (++out_.event_count <= kMaxEventsPerRequest) {
      writer_.emplace(&out_.events.emplace_back());
    } else if (!out_.events.empty()) {
      out_.events.clear();
      out_.events.shrink_to_fit();
    }
    return true;
  }
  bool key(json::string_t& key) {
    if (InEvent()) {
      if (writer_) writer_->Key(key);
      return true;
    }
    if (key == "destination") {
      member_ = Member::kDestination;
    } else if (key == "validate_only" || key == "validateOnly") {
      member_ = Member::kValidateOnly;
    } else if (key == "dry_run" || key == "dryRun") {
      member_ = Member::kDryRun;
    } else if (key == "events") {
      member_ = Member::kEvents;
    } else {
      return false;
    }
    return true;
  }
  bool end_object() {
    --level_;
    if (level_ >= 3) return !writer_ || writer_->EndObject();
    if (level_ == 2) {
      const bool ok = !writer_ || writer_->Finish();
      writer_.reset();
      return ok;
    }
    return true;  // the request object
  }
  bool start_array(std::size_t) {
    if (InEvent()) {
      if (level_ - 2 >= kTrackJsonFastDepth) return false;
      ++level_;
      if (writer_) writer_->StartList();
      return true;
    }
    if (level_ != 1 || member_ != Member::kEvents || seen_events_) {
      return false;
    }
    seen_events_ = true;
    level_ = 2;
    return true;
  }
  bool end_array() {
    --level_;
    if (level_ >= 3 && writer_) writer_->EndList();
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception&) {
    return false;
  }

 private:
  enum class Member { kNone, kDestination, kValidateOnly, kDryRun, kEvents };

  bool InEvent() const { return level_ >= 3; }
  bool Number(double value) {
    if (!InEvent()) return false;
    if (writer_) writer_->Number(value);
    return true;
  }

  TrackEventsInput& out_;
  int level_ = 0;
  Member member_ = Member::kNone;
  bool seen_destination_ = false;
  bool seen_events_ = false;
  bool seen_validate_only_ = false;
  bool seen_dry_run_ = false;
  std::optional<mapping::TagTreeWriter> writer_;
};

// The two likeliest wrong shapes of a body, which protobuf's parser
// answers unhelpfully ("Root element must be a message.", or an unknown
// field named after the event's last property): a list of events, and one
// event, without the request around them. The syntax was checked.
absl::Status CheckRequestEnvelope(std::string_view body) {
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && body[first] == '[') {
    return absl::InvalidArgumentError(
        "it is a list; POST /v1/track takes the events inside a request: "
        "{\"events\": [...]}");
  }
  bool events = false;
  bool event_property = false;
  for (const std::string& key : JsonTopLevelKeys(body)) {
    // A member's name in another case ("Events") is an unknown field whose
    // name protobuf's answer would not show (it shows only plain names);
    // it can be shown, being a member's name.
    for (const char* member : {"destination", "events", "validate_only",
                               "validateOnly", "dry_run", "dryRun"}) {
      if (key != member && absl::EqualsIgnoreCase(key, member)) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown field \"", key, "\" (did you mean \"", member,
                         "\"? names are case-sensitive)"));
      }
    }
    events = events || key == "events";
    event_property = event_property || key == "event_name" ||
                     key == "context" || key == "items" || key == "user" ||
                     key == "partners";
  }
  if (!events && event_property) {
    return absl::InvalidArgumentError(
        "it looks like one tag event (it has event_name, context, user, "
        "items or partners); POST /v1/track takes the events inside a "
        "request: {\"events\": [<the event>]}");
  }
  return absl::OkStatus();
}

}  // namespace

bool ReadTrackEventsJson(std::string_view body, TrackEventsInput* out) {
  out->destination.clear();
  out->validate_only = false;
  out->dry_run = false;
  out->events.clear();
  out->event_count = 0;
  // nlohmann reads a NUL byte as the end of its input, and skips a byte
  // order mark that protobuf's parser refuses: both go the general way.
  const size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || body[start] != '{' ||
      std::memchr(body.data(), '\0', body.size()) != nullptr) {
    return false;
  }
  TrackReader reader(out);
  if (json::sax_parse(body.begin(), body.end(), &reader)) return true;
  // Trees left half-written have no padding yet: none is left to read.
  out->events.clear();
  out->event_count = 0;
  return false;
}

absl::Status ParseTrackEventsJsonGenerally(std::string_view body,
                                           TrackEventsInput* out) {
  out->destination.clear();
  out->validate_only = false;
  out->dry_run = false;
  out->events.clear();
  out->event_count = 0;
  constexpr char kNotARequest[] = "body is not a TrackEventsRequest in JSON: ";
  absl::Status error = CheckJsonSyntax(body);
  if (error.ok()) error = CheckRequestEnvelope(body);
  if (error.ok()) error = CheckTrackJsonNesting(body);
  if (error.ok()) error = CheckEventsRequestShape(body, "tag event");
  if (!error.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(kNotARequest, error.message()));
  }
  v1::TrackEventsRequest request;
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(body.data(), body.size()), &request, parse);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        kNotARequest, JsonParseProblem(std::string_view(
                          parsed.message().data(), parsed.message().size()))));
  }
  out->destination = request.destination();
  out->validate_only = request.validate_only();
  out->dry_run = request.dry_run();
  out->event_count = request.events_size();
  // More than a request may carry is refused by its count: not copied.
  if (request.events_size() > kMaxEventsPerRequest) return absl::OkStatus();
  out->events.resize(static_cast<size_t>(request.events_size()));
  for (int i = 0; i < request.events_size(); ++i) {
    mapping::TagTreeFromStruct(request.events(i),
                               &out->events[static_cast<size_t>(i)]);
  }
  return absl::OkStatus();
}

absl::Status ParseTrackEventsJson(std::string_view body,
                                  TrackEventsInput* out) {
  // A UTF-8 byte order mark may be ignored (RFC 8259 §8.1); protobuf's
  // parser would refuse it without saying why.
  constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
  if (body.substr(0, kByteOrderMark.size()) == kByteOrderMark) {
    body.remove_prefix(kByteOrderMark.size());
  }
  if (ReadTrackEventsJson(body, out)) return absl::OkStatus();
  return ParseTrackEventsJsonGenerally(body, out);
}

}  // namespace conversions::service
