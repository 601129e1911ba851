// The load baseline: a ConversionService whose SendEvents answers
// OUTCOME_ACCEPTED for every event and does nothing else, served with the
// same gRPC settings as the gateway. What a load test measures against it
// is the cost of gRPC itself on this machine, so the gateway's figures can
// be read as a ratio to it. With DurableAnswers, it answers only once a
// record of each request is on disk: the floor of any server that answers
// after an fdatasync, on this machine, at the load's concurrency.
#ifndef CONVERSIONS_TESTS_LOAD_ECHO_SERVICE_H_
#define CONVERSIONS_TESTS_LOAD_ECHO_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "conversions/v1/conversion_service.grpc.pb.h"

namespace conversions::load {

namespace v1 = ::conversions::v1;

// Group commit in miniature: one thread writes the records of the calls
// that arrived since its last write to a file with one write, fdatasyncs
// it, then finishes those calls with OK. Nothing else: no database, no
// mapping. The file is rewritten from its start once it holds 64 MiB, as
// a SQLite WAL is, so that a sync never has to write the file's size.
class DurableAnswers {
 public:
  // Creates or truncates `path` and starts the thread.
  static absl::StatusOr<std::unique_ptr<DurableAnswers>> Open(
      const std::string& path);
  // Answers every call still queued, then stops the thread.
  ~DurableAnswers();

  // Queues `record` for the next write, and `reactor` to finish after it.
  void Answer(grpc::ServerUnaryReactor* reactor, std::string record);

  // fdatasyncs done so far.
  std::int64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }

 private:
  explicit DurableAnswers(int fd);
  void Loop();

  const int fd_;
  std::thread thread_;
  std::atomic<std::int64_t> syncs_{0};
  std::int64_t offset_ = 0;  // the thread's only
  std::mutex mu_;
  std::condition_variable cv_;
  std::string records_;                              // guarded by mu_
  std::vector<grpc::ServerUnaryReactor*> reactors_;  // guarded by mu_
  bool stop_ = false;                                // guarded by mu_
};

// Answers SendEvents with one ACCEPTED result per event (index and id
// echoed), at once, or through `durable` (not owned; must outlive the
// calls) when given; every other method is UNIMPLEMENTED.
class EchoConversionService final
    : public v1::ConversionService::CallbackService {
 public:
  explicit EchoConversionService(DurableAnswers* durable = nullptr)
      : durable_(durable) {}

  grpc::ServerUnaryReactor* SendEvents(
      grpc::CallbackServerContext* context,
      const v1::SendEventsRequest* request,
      v1::SendEventsResponse* response) override;

  // Events answered so far.
  std::int64_t events() const {
    return events_.load(std::memory_order_relaxed);
  }

 private:
  DurableAnswers* const durable_;
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
