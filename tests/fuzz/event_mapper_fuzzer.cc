// Feeds arbitrary bytes, parsed as a conversions.v1.Event, through the whole
// mapping, and checks the invariants every mapped event must keep:
//   - the wire JSON parses, and is an object with id, type, timestamp_ms,
//     action_source and data.type;
//   - every hashed list holds 1 to 3 lower-case 64-hex strings, unique;
//   - no warning or violation quotes an identifier of the input;
//   - the request envelope around it parses too.
// Any broken invariant aborts, which libFuzzer reports as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "conversions/v1/event.pb.h"
#include "mapping/event_mapper.h"
#include "mapping/request_encoder.h"

namespace {

constexpr std::int64_t kNowMs = 1773892800000;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

bool IsLowerHex64(const nlohmann::json& v) {
  if (!v.is_string()) return false;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Identifiers that must never be echoed in a warning or violation.
void CheckNotQuoted(
    const conversions::mapping::MappedEvent& mapped,
    const google::protobuf::RepeatedPtrField<std::string>& values) {
  for (const std::string& value : values) {
    // Only values with a byte that no fixed message text contains are
    // checked, so a value such as "email is" cannot match by chance.
    bool distinctive = false;
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      distinctive |= u < 0x20 || u >= 0x80 || c == '#' || c == '%' ||
                     c == '!' || c == '~' || c == '|' || c == '^';
    }
    if (value.size() < 4 || !distinctive) continue;
    for (const auto* issues : {&mapped.warnings, &mapped.violations}) {
      for (const auto& issue : *issues) {
        Check(issue.description.find(value) == std::string::npos &&
                  issue.field.find(value) == std::string::npos,
              "an issue quotes an identifier value");
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  conversions::v1::Event event;
  // ParsePartial: proto3 string fields may then hold invalid UTF-8, which
  // the mapping must handle too.
  if (!event.ParsePartialFromArray(data, static_cast<int>(size))) return 0;

  conversions::mapping::MappedEvent mapped =
      conversions::mapping::MapEvent(event, kNowMs);
  const auto& user = event.user();
  CheckNotQuoted(mapped, user.emails());
  CheckNotQuoted(mapped, user.phone_numbers());
  CheckNotQuoted(mapped, user.external_ids());
  CheckNotQuoted(mapped, user.first_names());
  CheckNotQuoted(mapped, user.last_names());
  if (!mapped.ok()) {
    Check(mapped.wire_json.empty(), "a rejected event has wire JSON");
    return 0;
  }

  nlohmann::json wire = nlohmann::json::parse(mapped.wire_json, nullptr, false);
  Check(!wire.is_discarded(), "wire JSON does not parse");
  Check(wire.is_object(), "wire JSON is not an object");
  Check(wire.contains("id") && wire["id"].is_string(), "id missing");
  Check(wire.contains("type") && wire["type"].is_string(), "type missing");
  Check(
      wire.contains("timestamp_ms") && wire["timestamp_ms"].is_number_integer(),
      "timestamp_ms missing");
  Check(wire.contains("action_source"), "action_source missing");
  Check(wire.contains("data") && wire["data"].contains("type"),
        "data.type missing");
  if (wire.contains("user")) {
    for (const char* key :
         {"emails_sha256", "phone_numbers_sha256", "external_ids_sha256",
          "first_names_sha256", "last_names_sha256"}) {
      if (!wire["user"].contains(key)) continue;
      const auto& list = wire["user"][key];
      Check(list.is_array() && !list.empty() && list.size() <= 3,
            "hashed list size");
      std::set<std::string> seen;
      for (const auto& v : list) {
        Check(IsLowerHex64(v), "hashed value is not lower-case hex");
        Check(seen.insert(v.get<std::string>()).second, "duplicate hash");
      }
    }
  }

  conversions::mapping::RequestEnvelope envelope;
  envelope.validate_only = true;
  envelope.integration_source = "fuzz";
  std::string body =
      conversions::mapping::EncodeRequest(envelope, {mapped.wire_json});
  Check(!nlohmann::json::parse(body, nullptr, false).is_discarded(),
        "request body does not parse");
  return 0;
}
