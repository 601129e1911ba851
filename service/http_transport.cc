#include "service/http_transport.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

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

// What a failed request's httplib error means, for logs and an event's
// last_error; httplib's own name ("Connection") follows in brackets.
std::string DescribeError(httplib::Error error, const std::string& origin) {
  const char* what = nullptr;
  switch (error) {
    case httplib::Error::Connection:
      what = "could not connect (refused, unreachable or not resolved)";
      break;
    case httplib::Error::ConnectionTimeout:
      what = "connecting timed out (connect_timeout)";
      break;
    case httplib::Error::Read:
      what = "the connection broke while reading the answer";
      break;
    case httplib::Error::Write:
      what = "the connection broke while sending the request";
      break;
    case httplib::Error::SSLConnection:
      what = "the TLS handshake failed";
      break;
    case httplib::Error::SSLServerVerification:
      what = "the server's TLS certificate did not verify";
      break;
    case httplib::Error::SSLLoadingCerts:
      what = "the CA certificates could not be loaded";
      break;
    default:
      what = "the request failed";
      break;
  }
  return absl::StrCat("HTTP transport: ", what, " to ", origin, " (",
                      httplib::to_string(error), ")");
}

// cpp-httplib's timeouts bound each read and write, not a request: an API
// that sends a byte every second never times out. A watchdog thread per
// transport ends a request at its deadline by shutting its socket down
// (httplib's stop(), the one call that is safe during a request); the
// next request connects again.
class HttplibTransport : public HttpTransport {
 public:
  HttplibTransport(const std::string& origin,
                   const HttpTransportOptions& options)
      : client_(origin), request_timeout_(options.request_timeout) {
    client_.set_keep_alive(true);
    // cpp-httplib leaves Nagle's algorithm on: the body written after the
    // headers then waits for the peer's delayed ACK, ~40 ms per request.
    client_.set_tcp_nodelay(true);
    client_.set_connection_timeout(options.connect_timeout);
    client_.set_read_timeout(options.request_timeout);
    client_.set_write_timeout(options.request_timeout);
    watchdog_ = std::thread([this] { WatchdogLoop(); });
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
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++request_;
      in_flight_ = true;
      timed_out_ = false;
      deadline_ = std::chrono::steady_clock::now() + request_timeout_;
    }
    watchdog_cv_.notify_one();
    httplib::Result result =
        client_.Post(path, headers, request.body, "application/json");
    bool timed_out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_ = false;
      timed_out = timed_out_;
    }
    watchdog_cv_.notify_one();
    if (!result) {
      if (cancelled_.load()) return Cancelled();
      if (timed_out) {
        return absl::DeadlineExceededError(absl::StrCat(
            "HTTP transport: no complete response within request_timeout (",
            request_timeout_.count(), " ms)"));
      }
      httplib::Error error = result.error();
      std::string what = DescribeError(error, origin);
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

  ~HttplibTransport() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    watchdog_cv_.notify_one();
    watchdog_.join();
  }

 private:
  void WatchdogLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!closing_) {
      if (!in_flight_) {
        watchdog_cv_.wait(lock);
        continue;
      }
      const std::uint64_t request = request_;
      if (watchdog_cv_.wait_until(lock, deadline_, [&] {
            return closing_ || !in_flight_ || request_ != request;
          })) {
        continue;  // ended in time
      }
      timed_out_ = true;
      lock.unlock();
      client_.stop();
      lock.lock();
      watchdog_cv_.wait(
          lock, [&] { return closing_ || !in_flight_ || request_ != request; });
    }
  }

  static absl::Status Cancelled() {
    return absl::CancelledError(
        "HTTP transport: cancelled, the gateway is stopping");
  }

  httplib::Client client_;
  const std::chrono::milliseconds request_timeout_;
  std::atomic<bool> cancelled_{false};

  std::mutex mu_;
  std::condition_variable watchdog_cv_;
  std::uint64_t request_ = 0;  // guarded by mu_: requests started
  bool in_flight_ = false;     // guarded by mu_
  bool timed_out_ = false;     // guarded by mu_: the watchdog ended it
  bool closing_ = false;       // guarded by mu_
  std::chrono::steady_clock::time_point deadline_;  // guarded by mu_
  std::thread watchdog_;  // last: starts after the members it reads
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
