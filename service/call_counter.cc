#include "service/call_counter.h"

#include <grpcpp/support/interceptor.h>

#include <algorithm>
#include <string_view>

namespace conversions::service {
namespace {

// gRPC creates it as a call starts and deletes it with the call's server
// context, after the call's status is sent and its reactor is done.
class CallCountingInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit CallCountingInterceptor(CallCounter* counter) : counter_(counter) {
    counter_->Started();
  }
  ~CallCountingInterceptor() override { counter_->Ended(); }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  CallCounter* const counter_;
};

}  // namespace

void CallCounter::Started() {
  std::lock_guard<std::mutex> lock(mu_);
  ++active_;
  ++started_;
}

void CallCounter::Ended() {
  bool none;
  {
    std::lock_guard<std::mutex> lock(mu_);
    none = --active_ == 0;
  }
  if (none) none_.notify_all();
}

int CallCounter::active() const {
  std::lock_guard<std::mutex> lock(mu_);
  return active_;
}

std::int64_t CallCounter::started() const {
  std::lock_guard<std::mutex> lock(mu_);
  return started_;
}

bool CallCounter::WaitForNone(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return none_.wait_for(lock, timeout, [&] { return active_ == 0; });
}

grpc::experimental::Interceptor*
CallCountingInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  const std::string_view method = info->method();
  if (std::find(ignored_.begin(), ignored_.end(), method) != ignored_.end()) {
    return nullptr;
  }
  return new CallCountingInterceptor(counter_);
}

}  // namespace conversions::service
