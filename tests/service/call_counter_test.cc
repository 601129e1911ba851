// CallCounter and its interceptor, on a real in-process gRPC server: the
// calls counted are those Gateway::Drain waits for before it closes the
// connections left open.
#include "service/call_counter.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"

namespace conversions::service {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

TEST(CallCounterTest, WaitsUntilTheLastCallEnds) {
  CallCounter counter;
  EXPECT_TRUE(counter.WaitForNone(std::chrono::milliseconds(0)));
  counter.Started();
  counter.Started();
  EXPECT_FALSE(counter.WaitForNone(std::chrono::milliseconds(0)));
  counter.Ended();
  EXPECT_EQ(counter.active(), 1);
  std::thread last([&] { counter.Ended(); });
  EXPECT_TRUE(counter.WaitForNone(std::chrono::minutes(1)));
  last.join();
  EXPECT_EQ(counter.active(), 0);
}

// A Check that the test holds open until it lets it go, and a Watch.
class HoldingHealth final : public Health::CallbackService {
 public:
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const HealthCheckRequest*,
                                  HealthCheckResponse* response) override {
    response->set_status(HealthCheckResponse::SERVING);
    auto* reactor = context->DefaultReactor();
    entered_.set_value();
    release_.get_future().wait();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerWriteReactor<HealthCheckResponse>* Watch(
      grpc::CallbackServerContext*, const HealthCheckRequest*) override {
    class Writer : public grpc::ServerWriteReactor<HealthCheckResponse> {
     public:
      Writer() {
        response_.set_status(HealthCheckResponse::SERVING);
        StartWrite(&response_);  // then waits until cancelled
      }
      void OnCancel() override { Finish(grpc::Status::CANCELLED); }
      void OnDone() override { delete this; }

     private:
      HealthCheckResponse response_;
    };
    return new Writer;
  }

  std::promise<void> entered_;
  std::promise<void> release_;
};

TEST(CallCounterTest, CountsCallsUntilGrpcReleasesThemExceptIgnoredOnes) {
  CallCounter counter;
  HoldingHealth service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<CallCountingInterceptorFactory>(
      &counter, std::vector<std::string>{"/grpc.health.v1.Health/Watch"}));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = Health::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));

  // A Watch that stays open is not counted.
  grpc::ClientContext watch_context;
  auto watch = stub->Watch(&watch_context, HealthCheckRequest());
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(counter.active(), 0);

  // A Check is counted from before its handler runs until it is answered.
  std::future<grpc::Status> check = std::async(std::launch::async, [&] {
    grpc::ClientContext context;
    HealthCheckResponse out;
    return stub->Check(&context, HealthCheckRequest(), &out);
  });
  service.entered_.get_future().wait();
  EXPECT_EQ(counter.active(), 1);
  EXPECT_FALSE(counter.WaitForNone(std::chrono::milliseconds(0)));
  service.release_.set_value();
  EXPECT_TRUE(check.get().ok());
  EXPECT_TRUE(counter.WaitForNone(std::chrono::minutes(1)));

  watch_context.TryCancel();
  server->Shutdown(std::chrono::system_clock::now());
}

}  // namespace
}  // namespace conversions::service
