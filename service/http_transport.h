// The HTTP seam of the dispatcher: one POST to the Conversions API.
#ifndef CONVERSIONS_SERVICE_HTTP_TRANSPORT_H_
#define CONVERSIONS_SERVICE_HTTP_TRANSPORT_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace conversions::service {

// One request to the API.
struct HttpRequest {
  std::string url;  // full URL including ?pid=
  std::string
      bearer_token;  // sent as "Authorization: Bearer ..."; never logged
  std::string body;  // JSON
};

// The API's answer.
struct HttpResponse {
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
  std::string request_id;   // the x-request-id header, if any
};

// Sends requests to one endpoint. Implementations keep connections alive
// between calls. A transport is used by one thread at a time.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends `request`. Returns the response for any HTTP status; returns
  // Unavailable for network errors (refused, reset, TLS failure) and
  // DeadlineExceeded for timeouts.
  virtual absl::StatusOr<HttpResponse> Post(const HttpRequest& request) = 0;
  // Aborts a Post in progress on another thread, which then returns
  // Cancelled, and makes every later Post return Cancelled at once:
  // for stopping at the drain deadline without waiting out a request.
  // Thread-safe; may be called more than once.
  virtual void Cancel() {}
};

// Options of the real transport.
struct HttpTransportOptions {
  // How long to wait for a TCP (and TLS) connection.
  std::chrono::milliseconds connect_timeout{5000};
  // The whole request's deadline, from sending it to the last byte of the
  // response: an API that answers slowly, a byte at a time, is cut off
  // there too (DeadlineExceeded), not only one that goes silent.
  std::chrono::milliseconds request_timeout{30000};
  // Path of a CA bundle; empty uses the system store.
  std::string ca_cert_path;
};

// Returns a cpp-httplib transport for the scheme://host:port of `base_url`.
// https verifies the server certificate against the system CA store; plain
// http is meant for the local sandbox. Returns InvalidArgument for a URL it
// cannot use.
absl::StatusOr<std::unique_ptr<HttpTransport>> NewHttpTransport(
    const std::string& base_url, const HttpTransportOptions& options);

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_HTTP_TRANSPORT_H_
