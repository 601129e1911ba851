#include "mapping/request_encoder.h"

#include "absl/status/status.h"
#include "mapping/json_writer.h"
#include "mapping/unicode.h"

namespace conversions::mapping {

absl::StatusOr<std::string> NormalizeIntegrationSource(std::string_view in) {
  if (!IsValidUtf8(in)) {
    return absl::InvalidArgumentError("integration_source is not valid UTF-8");
  }
  std::string_view trimmed = TrimWhitespace(in);
  std::string out;
  out.reserve(trimmed.size());
  for (char c : trimmed) {
    out.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
  }
  if (out.empty()) return out;
  auto alnum = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
  };
  bool ok = out.size() <= 64 && alnum(out[0]);
  for (char c : out) {
    ok = ok && (alnum(c) || c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        "integration_source must be 1 to 64 letters, digits, '.', '_' or "
        "'-', starting with a letter or digit");
  }
  return out;
}

void EncodeRequest(const RequestEnvelope& envelope,
                   absl::Span<const std::string_view> events,
                   std::string* out) {
  size_t bytes = 64 + envelope.integration_source.size();
  for (std::string_view e : events) bytes += e.size() + 1;
  out->clear();
  out->reserve(bytes);
  JsonWriter w(out);
  w.BeginObject();
  if (!envelope.integration_source.empty()) {
    w.Key("integration_source");
    w.String(envelope.integration_source);
  }
  if (envelope.validate_only) {
    w.Key("validate_only");
    w.Bool(true);
  }
  w.Key("events");
  w.BeginArray();
  for (std::string_view e : events) w.Raw(e);
  w.EndArray();
  w.EndObject();
}

std::string EncodeRequest(const RequestEnvelope& envelope,
                          const std::vector<std::string>& events) {
  std::vector<std::string_view> views(events.begin(), events.end());
  std::string out;
  EncodeRequest(envelope, views, &out);
  return out;
}

}  // namespace conversions::mapping
