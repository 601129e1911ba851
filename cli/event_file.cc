#include "cli/event_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/json_util.h"
#include "service/json_input.h"

namespace conversions::cli {
namespace {

// Whether the JSON object `body` is the request rather than one event: it
// has an "events" member, or no member but the request's (no member at all
// included). With "events" it is the request whatever else it holds: read
// as one tag event (any object parses as one) a mistake beside the events
// went to the gateway, which rejected an event without event_name.
bool IsRequestObject(absl::string_view body,
                     const google::protobuf::Descriptor& request) {
  bool all_request_fields = true;
  // The syntax was checked: the keys are all there.
  for (const std::string& key :
       service::JsonTopLevelKeys(std::string_view(body.data(), body.size()))) {
    // protobuf reads a field by its name or its lowerCamel JSON name.
    const google::protobuf::FieldDescriptor* field = nullptr;
    for (int i = 0; i < request.field_count() && field == nullptr; ++i) {
      if (key == request.field(i)->name() ||
          key == request.field(i)->json_name()) {
        field = request.field(i);
      }
    }
    if (field == nullptr) {
      all_request_fields = false;
    } else if (field->name() == "events") {
      return true;
    }
  }
  return all_request_fields;
}

}  // namespace

absl::StatusOr<std::string> ReadInput(const std::string& path,
                                      std::istream& stdin_stream) {
  std::ostringstream buffer;
  if (path == "-") {
    buffer << stdin_stream.rdbuf();
    if (stdin_stream.bad()) {
      return absl::InvalidArgumentError("cannot read standard input");
    }
    return buffer.str();
  }
  // POSIX calls rather than a stream: a stream says neither why it failed
  // nor that it opened a directory (which reads as empty).
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, "cannot read " + path);
  struct stat info;
  int error = fstat(fd, &info) != 0 ? errno : 0;
  if (error == 0 && S_ISDIR(info.st_mode)) error = EISDIR;
  std::string content;
  char chunk[64 * 1024];
  while (error == 0) {
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n > 0) {
      content.append(chunk, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      error = errno;
    }
  }
  close(fd);
  if (error != 0) return absl::ErrnoToStatus(error, "cannot read " + path);
  return content;
}

absl::Status ParseEventsJson(const std::string& json, const std::string& source,
                             google::protobuf::Message* request) {
  const google::protobuf::FieldDescriptor* events_field =
      request->GetDescriptor()->FindFieldByName("events");
  if (events_field == nullptr || !events_field->is_repeated()) {
    return absl::InternalError(absl::StrCat(
        request->GetDescriptor()->full_name(), " has no repeated events"));
  }

  // Skip a UTF-8 byte order mark and white space to see which form it is.
  absl::string_view body = json;
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": empty input"));
  }
  std::string wrapped;
  if (body[first] == '[') {
    wrapped = absl::StrCat("{\"events\":", body, "}");
    body = wrapped;
  } else if (body[first] != '{') {
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        ": expected a JSON array of events, one event or {\"events\": [...]}"));
  }
  // The messages never quote the file: it may hold identifiers in clear
  // text, and stderr may end up in a CI log.
  if (absl::Status syntax = service::CheckJsonSyntax(json); !syntax.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", syntax.message()));
  }

  // An object is read as the request or as one event, never as one after
  // the other: the error is that of the form the file has.
  std::string one;
  if (wrapped.empty() && !IsRequestObject(body, *request->GetDescriptor())) {
    one = absl::StrCat("{\"events\":[", body, "]}");
    body = one;
  }
  // As POST /v1/track: protobuf's parser would skip a null event and
  // flatten a nested list (the results' #N would no longer be the file's),
  // and take "yes" or "0" for a flag.
  // A typed event's field names come from its message: a field given under
  // both its names ("action_source", "actionSource") is refused too.
  const bool tag = request->GetDescriptor()->name() == "TrackEventsRequest";
  const google::protobuf::FieldDescriptor* events =
      request->GetDescriptor()->FindFieldByName("events");
  if (absl::Status shape = service::CheckEventsRequestShape(
          std::string_view(body.data(), body.size()),
          tag ? "tag event" : "event",
          tag || events == nullptr ? nullptr : events->message_type());
      !shape.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", shape.message()));
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  request->Clear();
  const google::protobuf::util::Status status =
      google::protobuf::util::JsonStringToMessage(
          google::protobuf::StringPiece(body.data(), body.size()), request,
          options);
  if (!status.ok()) {
    request->Clear();
    const auto message = status.message();
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ",
                     service::JsonParseProblem(
                         std::string_view(message.data(), message.size()))));
  }
  if (request->GetReflection()->FieldSize(*request, events_field) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no events"));
  }
  return absl::OkStatus();
}

std::vector<EventRange> SplitEvents(const google::protobuf::Message& request,
                                    int max_events, size_t max_bytes) {
  const google::protobuf::FieldDescriptor* events_field =
      request.GetDescriptor()->FindFieldByName("events");
  const google::protobuf::Reflection* reflection = request.GetReflection();
  const int count = reflection->FieldSize(request, events_field);
  std::vector<EventRange> ranges;
  EventRange range;
  size_t bytes = 0;
  for (int i = 0; i < count; ++i) {
    const size_t size =
        reflection->GetRepeatedMessage(request, events_field, i).ByteSizeLong();
    // On the wire: a one-byte tag, the length, the event.
    const size_t wire =
        1 + google::protobuf::io::CodedOutputStream::VarintSize64(size) + size;
    if (range.end > range.begin &&
        (range.end - range.begin >= max_events || bytes + wire > max_bytes)) {
      ranges.push_back(range);
      range.begin = i;
      bytes = 0;
    }
    range.end = i + 1;
    bytes += wire;
  }
  if (range.end > range.begin) ranges.push_back(range);
  return ranges;
}

}  // namespace conversions::cli
