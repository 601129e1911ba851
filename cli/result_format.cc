#include "cli/result_format.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace conversions::cli {
namespace {

// Drops an enum value's prefix: "OUTCOME_ACCEPTED" -> "ACCEPTED".
std::string StripPrefix(const std::string& name, absl::string_view prefix) {
  if (absl::StartsWith(name, prefix) && name.size() > prefix.size()) {
    return name.substr(prefix.size());
  }
  return name;
}

std::string OutcomeName(v1::EventResult::Outcome outcome) {
  const std::string& name = v1::EventResult::Outcome_Name(outcome);
  if (name.empty()) return absl::StrCat("OUTCOME_", static_cast<int>(outcome));
  return StripPrefix(name, "OUTCOME_");
}

std::string ReasonName(v1::DeadLetterReason reason) {
  const std::string& name = v1::DeadLetterReason_Name(reason);
  if (name.empty()) return absl::StrCat("REASON_", static_cast<int>(reason));
  return StripPrefix(name, "DEAD_LETTER_REASON_");
}

std::string StateName(v1::DeliveryState state) {
  const std::string& name = v1::DeliveryState_Name(state);
  if (name.empty()) return absl::StrCat("STATE_", static_cast<int>(state));
  return StripPrefix(name, "DELIVERY_STATE_");
}

std::string IdText(const std::string& id) {
  return id.empty() ? std::string("\"\"") : id;
}

bool IsSet(const google::protobuf::Timestamp& timestamp) {
  return timestamp.seconds() != 0 || timestamp.nanos() != 0;
}

}  // namespace

OutcomeCounts CountOutcomes(const EventResults& results) {
  OutcomeCounts counts;
  for (const v1::EventResult& result : results) {
    switch (result.outcome()) {
      case v1::EventResult::OUTCOME_ACCEPTED:
        ++counts.accepted;
        break;
      case v1::EventResult::OUTCOME_REJECTED:
        ++counts.rejected;
        break;
      case v1::EventResult::OUTCOME_DUPLICATE:
        ++counts.duplicate;
        break;
      case v1::EventResult::OUTCOME_SKIPPED:
        ++counts.skipped;
        break;
      default:
        ++counts.unspecified;
        break;
    }
  }
  return counts;
}

std::string FormatCounts(const OutcomeCounts& counts) {
  std::string text = absl::StrCat(
      "accepted=", counts.accepted, " rejected=", counts.rejected,
      " duplicate=", counts.duplicate, " skipped=", counts.skipped);
  if (counts.unspecified > 0) {
    absl::StrAppend(&text, " unspecified=", counts.unspecified);
  }
  return text;
}

void PrintResult(const v1::EventResult& result, bool with_wire_json,
                 std::ostream& out) {
  const std::string head =
      absl::StrCat("#", result.index(), " ", IdText(result.event_id()), " ",
                   OutcomeName(result.outcome()));
  if (result.outcome() == v1::EventResult::OUTCOME_SKIPPED &&
      !result.skip_reason().empty()) {
    out << head << " " << result.skip_reason() << "\n";
  } else if (result.violations().empty()) {
    out << head << "\n";
  }
  for (const v1::FieldViolation& violation : result.violations()) {
    out << head << " " << violation.field() << " " << violation.reason() << ": "
        << violation.description() << "\n";
  }
  for (const v1::FieldWarning& warning : result.warnings()) {
    out << "    warning " << warning.field() << " " << warning.reason() << ": "
        << warning.description() << "\n";
  }
  if (with_wire_json && !result.wire_json().empty()) {
    out << "    wire_json " << result.wire_json() << "\n";
  }
}

void PrintResults(const EventResults& results, bool with_wire_json,
                  std::ostream& out) {
  for (const v1::EventResult& result : results) {
    PrintResult(result, with_wire_json, out);
  }
  out << FormatCounts(CountOutcomes(results)) << "\n";
}

std::string FormatApiValidation(const v1::ApiValidation& validation,
                                const std::string& events) {
  return absl::StrCat("api_validation",
                      events.empty() ? "" : " events=", events,
                      " http_status=", validation.http_status(),
                      " message=", validation.message());
}

void PrintEventStatus(const v1::GetEventStatusResponse& status,
                      std::ostream& out) {
  // The gateway answers an unknown event with no state; "state:
  // UNSPECIFIED" and "attempts: 0" would read as an event it holds.
  if (status.state() == v1::DELIVERY_STATE_UNSPECIFIED) {
    out << "unknown: no such event for this destination (never accepted, "
           "or pruned after the retention window)\n";
    return;
  }
  out << "state: " << StateName(status.state());
  if (status.validate_only()) {
    out << (status.state() == v1::DELIVERY_STATE_DELIVERED
                ? " (validate_only: the API validated it and did not save it)"
                : " (validate_only: sent for the API to validate, not to "
                  "save)");
  }
  out << "\n";
  if (status.has_accepted_time()) {
    out << "accepted_time: " << FormatTimestamp(status.accepted_time()) << "\n";
  }
  if (status.has_delivered_time()) {
    out << "delivered_time: " << FormatTimestamp(status.delivered_time())
        << "\n";
  }
  out << "attempts: " << status.attempts() << "\n";
  if (status.has_next_attempt_time()) {
    out << "next_attempt_time: " << FormatTimestamp(status.next_attempt_time())
        << "\n";
  }
  if (!status.last_error().empty()) {
    out << "last_error: " << status.last_error() << "\n";
  }
  if (status.dead_letter_reason() != v1::DEAD_LETTER_REASON_UNSPECIFIED) {
    out << "dead_letter_reason: " << ReasonName(status.dead_letter_reason())
        << "\n";
  }
}

std::string FormatDeadLetter(const v1::DeadLetter& dead_letter) {
  const std::string time =
      IsSet(dead_letter.dead_lettered_time())
          ? FormatTimestamp(dead_letter.dead_lettered_time())
          : std::string("-");
  return absl::StrCat(
      time, " ",
      dead_letter.destination().empty() ? "-" : dead_letter.destination(), " ",
      FormatEventKey(dead_letter.type(), dead_letter.custom_event_name(),
                     dead_letter.event_id()),
      " ", ReasonName(dead_letter.reason()),
      dead_letter.validate_only() ? " validate-only" : "",
      " attempts=", dead_letter.attempts(), " ", dead_letter.message());
}

std::string FormatEventKey(v1::EventType type,
                           const std::string& custom_event_name,
                           const std::string& id) {
  if (type == v1::EVENT_TYPE_CUSTOM) {
    return absl::StrCat("custom/", custom_event_name, ":", id);
  }
  return absl::StrCat(EventTypeShortName(type), ":", id);
}

std::string EventTypeShortName(v1::EventType type) {
  const std::string& name = v1::EventType_Name(type);
  if (name.empty()) return absl::StrCat("type_", static_cast<int>(type));
  return absl::AsciiStrToLower(StripPrefix(name, "EVENT_TYPE_"));
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  return google::protobuf::util::TimeUtil::ToString(timestamp);
}

std::string MessageToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const google::protobuf::util::Status status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    // Only reachable with invalid UTF-8 in a string field; say so rather
    // than print half a document.
    return "{\"error\": \"the response cannot be printed as JSON\"}\n";
  }
  if (json.empty() || json.back() != '\n') json.push_back('\n');
  return json;
}

std::string GrpcCodeName(int code) {
  // gRPC and absl share the canonical code numbers.
  std::string name =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  if (name.empty()) return absl::StrCat("CODE_", code);
  return name;
}

std::string RpcErrorHint(int code, std::string_view message,
                         bool stores_events) {
  auto has = [&](std::string_view part) {
    return message.find(part) != std::string_view::npos;
  };
  constexpr int kDeadlineExceeded = 4;
  constexpr int kUnauthenticated = 16;
  constexpr int kUnavailable = 14;
  constexpr int kInternal = 13;
  if ((code == kUnavailable || code == kInternal) && has("http1.x")) {
    return "hint: that port answers HTTP/1, as the gateway's HTTP port "
           "(/healthz, /v1/track) does: give its gRPC port (grpc_listen, "
           "50051 by default)";
  }
  if (code == kUnavailable &&
      (has("WRONG_VERSION_NUMBER") || has("wrong version number") ||
       has("Handshake failed") || has("handshake"))) {
    return "hint: the target does not speak TLS: for a gateway without "
           "tls.cert_file, give http://HOST:PORT or HOST:PORT";
  }
  if (code == kUnavailable &&
      (has("Connection refused") || has("failed to connect") ||
       has("Failed to connect"))) {
    return "hint: nothing answers at that address: is the gateway running, "
           "and is --target (or $CONVERSIONS_TARGET) its gRPC address?";
  }
  if (code == kDeadlineExceeded && stores_events) {
    return "hint: no answer in time (--timeout): the events may or may not "
           "have been stored; sending the same file again is safe (the "
           "stored ones answer DUPLICATE). Is --target (or "
           "$CONVERSIONS_TARGET) the gateway's gRPC address?";
  }
  if (code == kDeadlineExceeded) {
    return "hint: no answer in time (--timeout): is --target (or "
           "$CONVERSIONS_TARGET) the gateway's gRPC address?";
  }
  if (code == kUnauthenticated && has("missing")) {
    return "hint: the gateway authenticates callers: set $CONVERSIONS_TOKEN "
           "to your caller token";
  }
  return "";
}

std::string FileErrorHint(std::string_view command, std::string_view message) {
  if (command != "send" && command != "validate") return "";
  for (const char* tag_member :
       {"].event_name\"", "].items\"", "].context\"", "].user\"",
        "].partners\"", "].event_timestamp\""}) {
    if (message.find(tag_member) != std::string_view::npos) {
      return "hint: these look like tag-management events: send them with "
             "`conversions-cli track`";
    }
  }
  return "";
}

std::string TrackFileHint(const v1::TrackEventsRequest& request) {
  bool typed = false;
  for (const google::protobuf::Struct& event : request.events()) {
    const auto& fields = event.fields();
    if (fields.contains("event_name")) return "";
    typed = typed || fields.contains("timestamp_ms") ||
            fields.contains("timestampMs") ||
            fields.contains("action_source") ||
            fields.contains("actionSource") || fields.contains("source_url");
  }
  if (!typed) return "";
  return "hint: these look like typed events (conversions.v1.Event): send "
         "them with `conversions-cli send`";
}

}  // namespace conversions::cli
