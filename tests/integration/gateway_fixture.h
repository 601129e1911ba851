// Starts a sandbox API and a gateway in-process, on 127.0.0.1 free ports,
// for integration tests.
#ifndef CONVERSIONS_TESTS_INTEGRATION_GATEWAY_FIXTURE_H_
#define CONVERSIONS_TESTS_INTEGRATION_GATEWAY_FIXTURE_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "conversions/v1/conversion_service.grpc.pb.h"
#include "service/gateway.h"
#include "service/http_transport.h"
#include "tests/sandbox/sandbox.h"
#include "tests/service/temp_dir.h"
#include "tests/service/wait_for.h"

namespace conversions::testing {

inline std::int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A valid web purchase.
inline v1::Event Purchase(const std::string& id) {
  v1::Event e;
  e.set_id(id);
  e.set_type(v1::EVENT_TYPE_ORDER_CREATED);
  e.set_timestamp_ms(WallNowMs() - 1000);
  e.set_source_url("https://shop.example.com/checkout");
  e.set_action_source(v1::ACTION_SOURCE_WEB);
  e.mutable_user()->add_emails("Jane.Doe@Example.com");
  e.mutable_user()->set_ip_address("203.0.113.7");
  e.mutable_data()->set_amount(2599);
  e.mutable_data()->set_currency("USD");
  v1::Content* c = e.mutable_data()->add_contents();
  c->set_id("sku_1");
  c->set_quantity(1);
  return e;
}

// Dispatcher settings that make retries, pauses and lingering quick.
inline service::DispatcherOptions FastDispatcher() {
  service::DispatcherOptions d;
  d.linger = std::chrono::milliseconds(20);
  d.initial_backoff = std::chrono::milliseconds(50);
  d.max_backoff = std::chrono::milliseconds(400);
  d.auth_probe_interval = std::chrono::milliseconds(300);
  d.request_timeout = std::chrono::seconds(5);
  d.connect_timeout = std::chrono::seconds(2);
  return d;
}

class GatewayFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sandbox = sandbox::Sandbox::Start(sandbox::SandboxOptions());
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    sandbox_ = std::move(*sandbox);
    StartGateway();
  }

  void TearDown() override {
    gateway_.reset();
    sandbox_.reset();
  }

  service::GatewayConfig Config() {
    service::GatewayConfig config;
    config.grpc_listen = "127.0.0.1:0";
    config.http_listen = "127.0.0.1:0";
    config.log_level = service::LogLevel::kError;
    config.shutdown_drain_timeout = std::chrono::seconds(5);
    config.spool.path = dir_.path() + "/spool.db";
    config.dispatcher = FastDispatcher();
    service::DestinationConfig& d = config.destinations[0];
    d.name = "default";
    d.is_default = true;
    d.pixel_id = "sandbox-pixel";
    d.has_pixel_id = true;
    d.api_key = "sandbox-key";
    d.has_api_key = true;
    d.endpoint =
        absl::StrCat("http://127.0.0.1:", sandbox_->port(), "/v1/events");
    d.dispatcher = FastDispatcher();
    return config;
  }

  // Starts the gateway with Config(), or with `config` when given.
  // The gateway running before, if any, is stopped first: two on one spool
  // would both write it.
  void StartGateway(std::optional<service::GatewayConfig> config = {}) {
    gateway_.reset();
    auto gateway = service::Gateway::Start(
        config ? *std::move(config) : Config(), &clock_,
        [](const service::DispatchTarget& target) {
          service::HttpTransportOptions options;
          options.request_timeout = target.options.request_timeout;
          options.connect_timeout = target.options.connect_timeout;
          return service::NewHttpTransport(target.url, options);
        });
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = std::move(*gateway);
    channel_ = grpc::CreateChannel(gateway_->grpc_address(),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::ConversionService::NewStub(channel_);
  }

  v1::SendEventsResponse Send(const std::vector<v1::Event>& events,
                              grpc::Status* status_out = nullptr) {
    v1::SendEventsRequest request;
    for (const v1::Event& e : events) *request.add_events() = e;
    v1::SendEventsResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    grpc::Status status = stub_->SendEvents(&context, request, &response);
    if (status_out) {
      *status_out = status;
    } else {
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
    return response;
  }

  // Ids of the events the sandbox accepted.
  std::vector<std::string> DeliveredIds() const {
    std::vector<std::string> ids;
    for (const auto& e : sandbox_->AcceptedEvents()) ids.push_back(e["id"]);
    return ids;
  }

  // Waits until GetEventStatus answers `state` for `request`; `*status`
  // holds the last answer.
  bool WaitForState(const v1::GetEventStatusRequest& request,
                    v1::DeliveryState state,
                    v1::GetEventStatusResponse* status) {
    return WaitFor([&] {
      grpc::ClientContext context;
      return stub_->GetEventStatus(&context, request, status).ok() &&
             status->state() == state;
    });
  }

  // Sends Purchase(id) while the sandbox rejects it, so that it is
  // dead-lettered, then lets the sandbox accept it again. Returns the
  // event's status lookup; its id is empty if the event was not
  // dead-lettered.
  v1::GetEventStatusRequest DeadLetteredPurchase(const std::string& id) {
    sandbox::Faults faults;
    faults.poison_ids = {id};
    sandbox_->SetFaults(faults);
    Send({Purchase(id)});
    v1::GetEventStatusRequest lookup;
    lookup.set_type(v1::EVENT_TYPE_ORDER_CREATED);
    lookup.set_id(id);
    v1::GetEventStatusResponse status;
    if (!WaitForState(lookup, v1::DELIVERY_STATE_DEAD_LETTERED, &status)) {
      lookup.clear_id();
    }
    sandbox_->ClearFaults();
    return lookup;
  }

  bool Delivered(size_t n) {
    return WaitFor([&] { return sandbox_->AcceptedEvents().size() >= n; });
  }

  int ReadyzStatus(const std::string& path = "/readyz",
                   std::string* body = nullptr) {
    httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
    auto res = http.Get(path);
    if (body != nullptr) *body = res ? res->body : "";
    return res ? res->status : 0;
  }

  std::string MetricsText() {
    httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
    auto res = http.Get("/metrics");
    return res ? res->body : "";
  }

  // The system clock, set ahead by Advance(): for a test that needs an
  // event's window to close while the event waits.
  class AdvancingClock : public service::Clock {
   public:
    std::int64_t NowMs() override { return system_.NowMs() + ahead_ms_; }
    void Advance(std::chrono::milliseconds d) { ahead_ms_ += d.count(); }

   private:
    service::SystemClock system_;
    std::atomic<std::int64_t> ahead_ms_{0};
  };

  TempDir dir_;
  AdvancingClock clock_;
  std::unique_ptr<sandbox::Sandbox> sandbox_;
  std::unique_ptr<service::Gateway> gateway_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ConversionService::Stub> stub_;
};

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_INTEGRATION_GATEWAY_FIXTURE_H_
