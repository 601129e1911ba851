// conversions-load's engine: an asynchronous gRPC client (completion
// queues) that keeps `concurrency` SendEvents requests outstanding over
// `channels` HTTP/2 connections, with realistic, valid events whose ids are
// unique per run (prefix + counter), and measures throughput and latency.
//
// Two modes:
//  - duration: warm up, then measure for `duration`; only requests that
//    complete successfully inside the measured window count towards the
//    rates and latencies (errors are counted over the whole run);
//  - total events: send exactly `total_events` events as fast as possible
//    and stop; the window runs from the start to the last completion.
// Either way the run ends by itself, and every request has a deadline.
#ifndef CONVERSIONS_TESTS_LOAD_LOAD_GENERATOR_H_
#define CONVERSIONS_TESTS_LOAD_LOAD_GENERATOR_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "conversions/v1/conversion_service.grpc.pb.h"
#include "tests/load/load_options.h"

namespace conversions::load {

namespace v1 = ::conversions::v1;

// Returns the event every request carries, id and timestamp unset:
// order_created from the web with source_url, 1 email, 1 phone, 1 external
// id, IP, user agent, 3 contents, amount in USD.
v1::Event RealisticEvent();

// Returns the value at quantile `q` (0 < q <= 1) of ascending `sorted`
// values by the nearest-rank method; 0 for no values.
std::int64_t Percentile(const std::vector<std::int64_t>& sorted, double q);

// What a run measured.
struct LoadReport {
  // The measured window, seconds.
  double window_seconds = 0;
  // Successful requests and their events completed inside the window.
  std::int64_t measured_requests = 0;
  std::int64_t measured_events = 0;
  double requests_per_second = 0;
  double events_per_second = 0;
  // Latency of the measured requests, milliseconds.
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  // Over the whole run (warm-up and tail included).
  std::int64_t requests_completed = 0;
  std::int64_t events_completed = 0;
  std::int64_t requests_failed = 0;
  // Failed requests by gRPC code name, and the first message of each.
  std::map<std::string, std::int64_t> errors;
  std::map<std::string, std::string> error_examples;
  // Per-event outcomes of the successful requests.
  std::int64_t accepted = 0;
  std::int64_t rejected = 0;
  std::int64_t duplicate = 0;
  std::int64_t other = 0;
  // Events of successful requests that got no result (a broken server).
  std::int64_t missing_results = 0;
  // The accepted event ids, one per line (kept only with --ids-file).
  std::string accepted_ids;

  // Whether the run was clean: no failed request, every event accepted.
  bool clean() const {
    return requests_failed == 0 && rejected == 0 && duplicate == 0 &&
           other == 0 && missing_results == 0;
  }
};

// Returns the human-readable report; its last line is
//   result requests_per_second=... events_per_second=... p50_ms=...
//   p99_ms=... max_ms=... errors=... accepted=... rejected=...
std::string FormatReport(const LoadReport& report, const LoadOptions& options,
                         const std::string& id_prefix);

// Writes --count-file and --ids-file, when set.
absl::Status WriteOutputFiles(const LoadReport& report,
                              const LoadOptions& options);

class LoadGenerator {
 public:
  explicit LoadGenerator(LoadOptions options);
  ~LoadGenerator();
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  // Opens the channels and waits until each is connected, at most
  // options.connect_timeout; Unavailable otherwise.
  absl::Status Connect();

  // Runs the load (after Connect) and returns the report; blocks until the
  // run ends by itself or Stop is called.
  LoadReport Run();

  // Ends a running Run early: no new requests, outstanding ones finish.
  // Thread-safe, idempotent.
  void Stop();

  // The prefix of every event id of this run.
  const std::string& id_prefix() const { return id_prefix_; }
  // The id of the n-th event of the run.
  std::string EventId(std::int64_t n) const;

 private:
  struct Call;
  struct WorkerStats;
  using Clock = std::chrono::steady_clock;

  void Worker(int index, WorkerStats* stats);
  bool StartCall(Call* call, grpc::CompletionQueue* cq);
  void CompleteCall(const Call& call, WorkerStats* stats);

  // Immutable after construction / Connect.
  const LoadOptions options_;
  const std::string id_prefix_;
  const v1::Event template_event_;
  std::vector<std::unique_ptr<v1::ConversionService::Stub>> stubs_;
  Clock::time_point measure_start_;

  // Shared by the workers.
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> next_event_{0};
  // End of the measured window, ns on the steady clock.
  std::atomic<std::int64_t> measure_end_ns_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  int workers_finished_ = 0;     // guarded by mu_
  bool stop_requested_ = false;  // guarded by mu_
};

}  // namespace conversions::load

#endif  // CONVERSIONS_TESTS_LOAD_LOAD_GENERATOR_H_
