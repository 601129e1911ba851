// Network addresses in the configuration: listen addresses ("host:port") and
// API endpoint URLs. Shared by the config loader, the servers (which bind
// HostPort) and the HTTP transport (which connects to an HttpUrl).
#ifndef CONVERSIONS_SERVICE_ADDRESS_H_
#define CONVERSIONS_SERVICE_ADDRESS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace conversions::service {

// A listen address split into its parts.
struct HostPort {
  std::string host;  // name or address, lower case, IPv6 without brackets
  int port = 0;      // 0..65535; 0 picks a free port
};

// Parses "host:port" ("127.0.0.1:0", "[::1]:8080", "localhost:50051").
// INVALID_ARGUMENT with the reason when malformed.
absl::StatusOr<HostPort> ParseHostPort(std::string_view text);

// True for 127.0.0.0/8, ::1 and localhost (a HostPort's host).
bool IsLoopbackHost(std::string_view host);

// "host:port", with brackets around an IPv6 host ("[::1]:8080").
std::string JoinHostPort(const std::string& host, int port);

// Why a socket cannot be bound to `at` (": Address already in use"), for
// the message of a listener that failed to start, which neither gRPC nor
// cpp-httplib explains; "" when a bind now succeeds (the failure was
// elsewhere, or the port was freed since). Binds and closes a socket.
std::string BindProblem(const HostPort& at);

// An endpoint URL split into its parts.
struct HttpUrl {
  std::string scheme;  // "http" or "https", lower case
  std::string host;    // lower case, IPv6 without brackets
  int port = 0;        // the explicit port, else 80 or 443
  std::string path;    // starts with "/"
};

// Parses an http(s) URL without credentials, query or fragment; plain http
// is accepted only for loopback hosts (127.0.0.0/8, localhost, [::1]), so
// API keys never travel unencrypted off the machine. INVALID_ARGUMENT with
// the reason otherwise.
absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view text);

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_ADDRESS_H_
