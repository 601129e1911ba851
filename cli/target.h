// The --target of conversions-cli: what a person types (HOST:PORT, a URL,
// a gRPC URI) made into a gRPC target, or a message saying what to type.
#ifndef CONVERSIONS_CLI_TARGET_H_
#define CONVERSIONS_CLI_TARGET_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace conversions::cli {

// A --target or $CONVERSIONS_TARGET value made into a gRPC target.
struct Target {
  // What gRPC connects to: HOST:PORT, [IPV6]:PORT, or a gRPC URI such as
  // dns:///HOST:PORT or unix:/PATH, passed through as given.
  std::string address;
  // Set by a URL form: false for http:// (plaintext), true for https://
  // (TLS). Unset for the other forms: --tls decides.
  std::optional<bool> tls;
};

// Parses a target: HOST:PORT, [IPV6]:PORT, a gRPC URI (dns:, unix:,
// unix-abstract:, ipv4:, ipv6:, vsock:), http://HOST:PORT or
// https://HOST[:PORT] (port 443 by default); a trailing "/" is dropped.
// `source` names where it came from in errors ("--target"). Errors are
// InvalidArgument saying what form to use, rather than gRPC's resolver
// errors at the first call.
absl::StatusOr<Target> ParseTarget(const std::string& text,
                                   absl::string_view source);

}  // namespace conversions::cli

#endif  // CONVERSIONS_CLI_TARGET_H_
