// Counts the gRPC calls in progress, so that a draining gateway can stop
// once the calls that carry work are done.
//
// gRPC's Server::Shutdown(deadline) returns when every connection has
// closed, or at the deadline. A client that keeps its channel open and
// does not read it (a Python channel between calls, a pooled connection
// of a proxy, a health Watch stream) would hold the exit until
// shutdown_drain_timeout, with nothing left to do. The gateway instead
// waits for this count to reach zero and then closes what is left
// (Gateway::Drain).
#ifndef CONVERSIONS_SERVICE_CALL_COUNTER_H_
#define CONVERSIONS_SERVICE_CALL_COUNTER_H_

#include <grpcpp/support/server_interceptor.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace conversions::service {

// Thread-safe.
class CallCounter {
 public:
  void Started();
  void Ended();
  int active() const;
  // Calls started so far, ended or not.
  std::int64_t started() const;
  // Blocks until no call is in progress or `timeout` passes; returns
  // whether none is.
  bool WaitForNone(std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable none_;
  int active_ = 0;            // guarded by mu_
  std::int64_t started_ = 0;  // guarded by mu_
};

// Counts every call in `counter`, from before its handler runs until gRPC
// has released it, except the calls of `ignored` methods (full names,
// "/grpc.health.v1.Health/Watch"): streams a client may hold open as long
// as it likes. Register it with
// ServerBuilder::experimental().SetInterceptorCreators; `counter` must
// outlive the server.
class CallCountingInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  CallCountingInterceptorFactory(CallCounter* counter,
                                 std::vector<std::string> ignored)
      : counter_(counter), ignored_(std::move(ignored)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  CallCounter* const counter_;
  const std::vector<std::string> ignored_;
};

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_CALL_COUNTER_H_
