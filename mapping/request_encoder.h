// The API's request envelope: {"integration_source", "validate_only",
// "events": [...]}.
#ifndef CONVERSIONS_MAPPING_REQUEST_ENCODER_H_
#define CONVERSIONS_MAPPING_REQUEST_ENCODER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace conversions::mapping {

// The most events one request may carry.
inline constexpr size_t kMaxEventsPerRequest = 1000;

// Normalizes an integration source as the API does (trim, lower-case) and
// checks ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$. An empty input stays empty (the
// field is then omitted). Returns InvalidArgument otherwise.
absl::StatusOr<std::string> NormalizeIntegrationSource(std::string_view in);

// The top-level fields of a request besides its events.
struct RequestEnvelope {
  // Sends "validate_only": true: the API validates without saving.
  bool validate_only = false;
  // A normalized integration source; empty omits the field.
  std::string integration_source;
};

// Writes the request body for 1 to 1,000 already-encoded wire events
// (MappedEvent::wire_json) into `*out`. Keys in this order:
// integration_source, validate_only, events; false and empty are omitted.
void EncodeRequest(const RequestEnvelope& envelope,
                   absl::Span<const std::string_view> events, std::string* out);

// Convenience overload for owned strings.
std::string EncodeRequest(const RequestEnvelope& envelope,
                          const std::vector<std::string>& events);

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_REQUEST_ENCODER_H_
