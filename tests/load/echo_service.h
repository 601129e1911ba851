// The load baseline: a ConversionService whose SendEvents answers
// OUTCOME_ACCEPTED for every event and does nothing else, served with the
// same gRPC settings as the gateway. What a load test measures against it
// is the cost of gRPC itself on this machine, so the gateway's figures can
// be read as a ratio to it.
#ifndef CONVERSIONS_TESTS_LOAD_ECHO_SERVICE_H_
#define CONVERSIONS_TESTS_LOAD_ECHO_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>

#include "conversions/v1/conversion_service.grpc.pb.h"

namespace conversions::load {

namespace v1 = ::conversions::v1;

// Answers SendEvents with one ACCEPTED result per event (index and id
// echoed); every other method is UNIMPLEMENTED.
class EchoConversionService final
    : public v1::ConversionService::CallbackService {
 public:
  grpc::ServerUnaryReactor* SendEvents(
      grpc::CallbackServerContext* context,
      const v1::SendEventsRequest* request,
      v1::SendEventsResponse* response) override;

  // Events answered so far.
  std::int64_t events() const {
    return events_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::int64_t> events_{0};
};

// The largest request the echo server (like the gateway) accepts.
inline constexpr int kMaxReceiveMessageBytes = 16 * 1024 * 1024;

// Applies the gateway's server settings (deploy/config.example.yaml
// defaults): 16 MiB messages, keepalive 60 s / 20 s, client pings allowed
// every 10 s, 1,000 concurrent streams per connection.
void ApplyGatewayServerSettings(grpc::ServerBuilder* builder);

}  // namespace conversions::load

#endif  // CONVERSIONS_TESTS_LOAD_ECHO_SERVICE_H_
