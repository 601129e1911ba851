// Tests of the cpp-httplib transport against a local server: the whole
// request's deadline holds for an API that answers a byte at a time, and
// the transport connects again for the next request.
#include "service/http_transport.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/closed_port.h"

namespace conversions::service {
namespace {

using std::chrono::milliseconds;

class HttpTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // 40 bytes, one each 50 ms: 2 s in all, each read well within any
    // read timeout.
    server_.Post("/trickle", [this](const httplib::Request&,
                                    httplib::Response& res) {
      res.set_chunked_content_provider(
          "application/json", [this](size_t offset, httplib::DataSink& sink) {
            if (!trickling_.exchange(true)) trickle_started_.set_value();
            if (offset >= 40) {
              sink.done();
              return true;
            }
            std::this_thread::sleep_for(milliseconds(50));
            return sink.write("x", 1);
          });
    });
    server_.Post("/fast", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    // Bound and listening already: connections wait for the accept loop.
    thread_ = std::thread([this] {
      server_.listen_after_bind();
      listen_returned_ = true;
    });
  }
  void TearDown() override {
    // stop() does nothing before the accept loop runs, and a test that
    // never used the server (or ended at once) may come here first; the
    // loop starts at once, the wait is short.
    while (thread_.joinable() && !server_.is_running() && !listen_returned_) {
      std::this_thread::yield();
    }
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> listen_returned_{false};
  // Set when the first /trickle response starts.
  std::atomic<bool> trickling_{false};
  std::promise<void> trickle_started_;
};

TEST_F(HttpTransportTest, ASlowResponseEndsAtTheWholeRequestDeadline) {
  HttpTransportOptions options;
  options.request_timeout = milliseconds(300);
  auto transport = NewHttpTransport(Url("/"), options);
  ASSERT_TRUE(transport.ok()) << transport.status();
  HttpRequest request;
  request.url = Url("/trickle");
  const auto started = std::chrono::steady_clock::now();
  absl::StatusOr<HttpResponse> response = (*transport)->Post(request);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded)
      << response.status();
  // Cut off near 300 ms, not after the 2 s the server takes.
  EXPECT_LT(took, milliseconds(1500));

  // The next request connects again and succeeds.
  request.url = Url("/fast");
  response = (*transport)->Post(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
}

TEST_F(HttpTransportTest, RequestsWithinTheDeadlineAreUntouched) {
  HttpTransportOptions options;
  options.request_timeout = milliseconds(5000);
  auto transport = NewHttpTransport(Url("/"), options);
  ASSERT_TRUE(transport.ok()) << transport.status();
  HttpRequest request;
  request.url = Url("/trickle");
  absl::StatusOr<HttpResponse> response = (*transport)->Post(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, std::string(40, 'x'));
  for (int i = 0; i < 3; ++i) {
    request.url = Url("/fast");
    response = (*transport)->Post(request);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, 200);
  }
}

// A request that cannot connect says so, and where it tried: an event's
// last_error and the batch_retry log had read only "HTTP transport:
// Connection" (helper-66 L3).
TEST_F(HttpTransportTest, ARefusedConnectionSaysWhatAndWhere) {
  const int closed_port = conversions::testing::ClosedLoopbackPort();
  ASSERT_GT(closed_port, 0);
  const std::string origin = absl::StrCat("http://127.0.0.1:", closed_port);
  auto transport = NewHttpTransport(origin + "/", HttpTransportOptions());
  ASSERT_TRUE(transport.ok()) << transport.status();
  HttpRequest request;
  request.url = origin + "/v1/events?pid=p";
  absl::StatusOr<HttpResponse> response = (*transport)->Post(request);
  ASSERT_TRUE(absl::IsUnavailable(response.status())) << response.status();
  EXPECT_EQ(response.status().message(),
            absl::StrCat("HTTP transport: could not connect (refused, "
                         "unreachable or not resolved) to ",
                         origin, " (Connection)"));
}

// Cancel, as the dispatcher calls it at the drain deadline, ends a request
// in progress and every later one with Cancelled (not a network error: the
// dispatcher counts those apart).
TEST_F(HttpTransportTest, CancelEndsARequestInProgressAndEveryLaterOne) {
  HttpTransportOptions options;
  options.request_timeout = milliseconds(10000);
  auto transport = NewHttpTransport(Url("/"), options);
  ASSERT_TRUE(transport.ok()) << transport.status();
  HttpTransport* t = transport->get();
  std::future<void> started = trickle_started_.get_future();
  absl::StatusOr<HttpResponse> response;
  const auto begin = std::chrono::steady_clock::now();
  std::thread post([&] {
    HttpRequest request;
    request.url = Url("/trickle");
    response = t->Post(request);
  });
  ASSERT_EQ(started.wait_for(std::chrono::seconds(20)),
            std::future_status::ready);
  t->Cancel();
  post.join();
  EXPECT_TRUE(absl::IsCancelled(response.status())) << response.status();
  // Well before the 2 s the server takes.
  EXPECT_LT(std::chrono::steady_clock::now() - begin, milliseconds(1500));
  HttpRequest request;
  request.url = Url("/fast");
  EXPECT_TRUE(absl::IsCancelled(t->Post(request).status()));
}

}  // namespace
}  // namespace conversions::service
