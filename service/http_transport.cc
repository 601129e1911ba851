#include "service/http_transport.h"

#include <httplib.h>

#include <atomic>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace conversions::service {
namespace {

// Splits "https://host:port/path?q" into "https://host:port" and "/path?q".
bool SplitUrl(const std::string& url, std::string* origin, std::string* rest) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return false;
  size_t path_start = url.find('/', scheme_end + 3);
  *origin = url.substr(0, path_start);
  *rest = path_start == std::string::npos ? "/" : url.substr(path_start);
  return true;
}

class HttplibTransport : public HttpTransport {
 public:
  HttplibTransport(const std::string& origin,
                   const HttpTransportOptions& options)
      : client_(origin) {
    client_.set_keep_alive(true);
    // cpp-httplib leaves Nagle's algorithm on: the body written after the
    // headers then waits for the peer's delayed ACK, ~40 ms per request.
    client_.set_tcp_nodelay(true);
    client_.set_connection_timeout(options.connect_timeout);
    client_.set_read_timeout(options.request_timeout);
    client_.set_write_timeout(options.request_timeout);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    client_.enable_server_certificate_verification(true);
    if (!options.ca_cert_path.empty()) {
      client_.set_ca_cert_path(options.ca_cert_path.c_str());
    }
#endif
  }

  absl::StatusOr<HttpResponse> Post(const HttpRequest& request) override {
    if (cancelled_.load()) return Cancelled();
    std::string origin, path;
    if (!SplitUrl(request.url, &origin, &path)) {
      return absl::InvalidArgumentError("bad request URL");
    }
    httplib::Headers headers = {
        {"Authorization", "Bearer " + request.bearer_token},
        {"User-Agent", "conversions-gateway/0.1"},
    };
    httplib::Result result =
        client_.Post(path, headers, request.body, "application/json");
    if (!result) {
      if (cancelled_.load()) return Cancelled();
      httplib::Error error = result.error();
      std::string what =
          absl::StrCat("HTTP transport: ", httplib::to_string(error));
      if (error == httplib::Error::ConnectionTimeout) {
        return absl::DeadlineExceededError(what);
      }
      return absl::UnavailableError(what);
    }
    HttpResponse response;
    response.status = result->status;
    response.body = std::move(result->body);
    response.retry_after = result->get_header_value("Retry-After");
    response.request_id = result->get_header_value("x-request-id");
    return response;
  }

  void Cancel() override {
    cancelled_.store(true);
    // Shuts the socket of a request in flight down, so its read returns.
    client_.stop();
  }

 private:
  static absl::Status Cancelled() {
    return absl::UnavailableError(
        "HTTP transport: cancelled, the gateway is stopping");
  }

  httplib::Client client_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpTransport>> NewHttpTransport(
    const std::string& base_url, const HttpTransportOptions& options) {
  std::string origin, path;
  if (!SplitUrl(base_url, &origin, &path) ||
      !(absl::StartsWith(origin, "http://") ||
        absl::StartsWith(origin, "https://"))) {
    return absl::InvalidArgumentError("endpoint must be an http(s) URL");
  }
  return std::unique_ptr<HttpTransport>(
      std::make_unique<HttplibTransport>(origin, options));
}

}  // namespace conversions::service
