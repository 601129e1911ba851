// A recording HttpTransport with scripted answers, for dispatcher tests.
#ifndef CONVERSIONS_TESTS_SERVICE_FAKE_HTTP_TRANSPORT_H_
#define CONVERSIONS_TESTS_SERVICE_FAKE_HTTP_TRANSPORT_H_

#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "service/http_transport.h"

namespace conversions::testing {

class FakeHttpTransport : public service::HttpTransport {
 public:
  using Responder = std::function<absl::StatusOr<service::HttpResponse>(
      const service::HttpRequest&)>;

  // Answers 200 to everything unless scripted otherwise.
  FakeHttpTransport() = default;

  // Answers the next request with `response` (once), before the responder.
  void Script(absl::StatusOr<service::HttpResponse> response) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(std::move(response));
  }
  // Answers requests the script does not cover.
  void SetResponder(Responder responder) {
    std::lock_guard<std::mutex> lock(mu_);
    responder_ = std::move(responder);
  }
  std::vector<service::HttpRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

  absl::StatusOr<service::HttpResponse> Post(
      const service::HttpRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(request);
    if (!script_.empty()) {
      auto r = std::move(script_.front());
      script_.pop_front();
      return r;
    }
    if (responder_) return responder_(request);
    service::HttpResponse ok;
    ok.status = 200;
    ok.body = "{}";
    return ok;
  }

  static service::HttpResponse Response(int status, std::string body = "{}",
                                        std::string retry_after = "") {
    service::HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.retry_after = std::move(retry_after);
    return r;
  }

 private:
  mutable std::mutex mu_;
  std::deque<absl::StatusOr<service::HttpResponse>> script_;
  Responder responder_;
  std::vector<service::HttpRequest> requests_;
};

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_SERVICE_FAKE_HTTP_TRANSPORT_H_
