// A local stand-in for the OpenAI Ads Conversions API, for integration
// tests, load benchmarks and the demo. It serves
//
//   POST /v1/events?pid=PIXEL   the API, with the spec's rules (see
//                               request_validator.h), atomic batches and
//                               "first received wins" deduplication
//   GET  /_sandbox/events       what was recorded (events, request count,
//                               batch sizes); ?pid=P: only P's events
//   GET  /_sandbox/stats        counts only, cheap at any size:
//                               {"requests": N, "events": N, "batches": N,
//                                "batch_events": N}
//   POST /_sandbox/reset        forget everything, faults included
//   POST /_sandbox/faults       script failures (see faults.h)
//   GET  /_sandbox/faults       the faults still pending
//   DELETE /_sandbox/faults     clear them
//
// Tests start it in-process:
//
//   SandboxOptions options;
//   options.now_ms = [] { return kNowMs; };
//   absl::StatusOr<std::unique_ptr<Sandbox>> sandbox =
//       Sandbox::Start(std::move(options));
//   httplib::Client client("127.0.0.1", (*sandbox)->port());
//
// Thread-safe. It binds loopback by default and keeps everything in memory.
#ifndef CONVERSIONS_TESTS_SANDBOX_SANDBOX_H_
#define CONVERSIONS_TESTS_SANDBOX_SANDBOX_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "tests/sandbox/accepted_batch.h"
#include "tests/sandbox/faults.h"

namespace httplib {
class ContentReader;
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace conversions::sandbox {

struct SandboxOptions {
  // Address to bind. Default loopback.
  std::string host = "127.0.0.1";
  // TCP port; 0 picks a free one (read it back with Sandbox::port()).
  // Default 0.
  int port = 0;
  // The Conversions API key clients must send as "Authorization: Bearer
  // KEY". Must not be empty. Default "sandbox-key".
  std::string api_key = "sandbox-key";
  // The pixel ids (`pid` query parameter) that exist; others get 400. Must
  // not be empty. Default {"sandbox-pixel"}.
  std::vector<std::string> pixel_ids = {"sandbox-pixel"};
  // The receipt time for the timestamp window, Unix epoch milliseconds.
  // Default (empty): the system clock.
  std::function<int64_t()> now_ms;
  // Threads serving requests; requests beyond this wait for a free one
  // (latency faults hold a thread). Default 16.
  int threads = 16;
  // Called with each recorded event, in recording order, while the sandbox
  // holds its lock: it must be quick and must not call the Sandbox. The demo
  // binary's --print uses it. Default none.
  std::function<void(const std::string& pixel_id, const nlohmann::json& event)>
      on_event;
  // Whether POST /v1/events tries the RapidJSON fast path (accepted_batch.h)
  // before the nlohmann one. The answers are the same either way; false is
  // for benchmarks and tests that compare the two. Default true.
  bool fast_path = true;
  // Whether recorded events are kept (as JSON text) for GET
  // /_sandbox/events, AcceptedEvents() and the like. false: they are
  // validated, deduplicated and counted (GET /_sandbox/stats) but not kept,
  // as the real API keeps nothing a client can read back; for load
  // benchmarks, where millions of kept events would cost the sandbox
  // gigabytes and page faults. Default true.
  bool keep_events = true;
};

class Sandbox {
 public:
  // Binds host:port and starts serving. InvalidArgument for bad options,
  // Unavailable if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Sandbox>> Start(SandboxOptions options);

  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;
  // Calls Shutdown().
  ~Sandbox();

  // The bound host and port.
  const std::string& host() const { return options_.host; }
  int port() const { return port_; }

  // Every recorded event (the exact JSON object sent), in arrival order.
  // Duplicates and validate_only events are not recorded.
  std::vector<nlohmann::json> AcceptedEvents() const;
  // The recorded events of one pixel, in arrival order.
  std::vector<nlohmann::json> AcceptedEventsForPixel(
      absl::string_view pixel_id) const;
  // How many POST /v1/events requests arrived, whatever their outcome.
  int RequestCount() const;
  // The size (event count, duplicates included) of each request that was
  // accepted and recorded, in order. validate_only requests are left out.
  std::vector<int> BatchSizes() const;
  // The JSON served by GET /_sandbox/events:
  // {"events": [...], "requests": N, "batches": [sizes...]}.
  nlohmann::json Snapshot() const;
  // The JSON served by GET /_sandbox/stats: request count, recorded events,
  // recorded batches and the events in them (duplicates included).
  nlohmann::json Stats() const;

  // Replaces the pending faults.
  void SetFaults(Faults faults);
  // Clears the pending faults.
  void ClearFaults() { SetFaults(Faults()); }
  // The faults still pending (counted faults shrink as requests use them).
  Faults PendingFaults() const;

  // Forgets recorded events, dedup keys, counters and faults.
  void Reset();

  // Stops serving: wakes requests waiting on a latency fault, stops the
  // listener and joins its threads. Idempotent; later calls return at once
  // after the first has finished.
  void Shutdown();

  // Answers one POST /v1/events request whose body is req.body, as the
  // server does. Public so that a benchmark can drive it without a socket.
  void HandleEvents(const httplib::Request& req, httplib::Response& res);

 private:
  // Memory one POST /v1/events request works in, reused by later requests.
  struct RequestScratch;
  // Holds the bytes of the dedup keys in blocks that never move, so that
  // the set holds views: no allocation per key, and half the memory of a
  // set of strings.
  class KeyArena {
   public:
    // A view of a copy of `key`, valid until Clear().
    absl::string_view Store(absl::string_view key);
    void Clear();

   private:
    std::vector<std::unique_ptr<char[]>> blocks_;
    // Keys longer than a block.
    std::deque<std::string> oversized_;
    // Bytes used in blocks_.back(), or kBlockBytes if there is none.
    size_t used_ = kBlockBytes;
    static constexpr size_t kBlockBytes = 1 << 20;
  };
  struct Recorded {
    std::string pixel_id;
    // The event as compact JSON text: a parsed tree takes about 20 times
    // the memory, which a load benchmark's millions of events notice.
    std::string event;
  };
  // What one /v1/events request does instead of normal processing.
  enum class FaultAction { kNone, kDrop, kAuthFailure, kStatus };

  explicit Sandbox(SandboxOptions options);
  absl::Status Listen();
  void DoShutdown();

  // The server's POST /v1/events route: reads the body into a reused buffer
  // (where httplib would grow a new string for each request), then
  // AnswerEvents.
  void ServeEvents(const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader& read_content);
  // Answers one POST /v1/events request with body `body`.
  void AnswerEvents(const httplib::Request& req, absl::string_view body,
                    BatchParser& parser, httplib::Response& res);
  // A scratch from the pool, or a new one; give it back with
  // ReturnScratch().
  std::unique_ptr<RequestScratch> TakeScratch();
  void ReturnScratch(std::unique_ptr<RequestScratch> scratch);

  void HandleGetEvents(const httplib::Request& req,
                       httplib::Response& res) const;
  void HandleSetFaults(const httplib::Request& req, httplib::Response& res);
  // Waits `ms`, or less if Shutdown() starts.
  void Delay(int64_t ms);
  // Records a valid batch: each event whose dedup key is new is appended.
  void Record(const std::string& pixel_id, std::vector<AcceptedEvent> events);

  // Immutable after Start().
  const SandboxOptions options_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread listen_thread_;
  std::atomic<bool> listen_returned_{false};
  std::once_flag shutdown_once_;

  mutable absl::Mutex mu_;
  std::vector<Recorded> recorded_ ABSL_GUARDED_BY(mu_);
  // pixel, event name and id (NUL-separated) of every recorded event; the
  // bytes live in key_arena_.
  absl::flat_hash_set<absl::string_view> dedup_keys_ ABSL_GUARDED_BY(mu_);
  KeyArena key_arena_ ABSL_GUARDED_BY(mu_);
  std::vector<int> batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::int64_t batch_events_ ABSL_GUARDED_BY(mu_) = 0;  // sum of batch_sizes_
  // Events recorded (first of their dedup key), kept or not.
  std::int64_t recorded_count_ ABSL_GUARDED_BY(mu_) = 0;
  // When the first and the last of them were recorded (options_.now_ms;
  // 0 before any): with "now_ms" in Stats, a benchmark times a drain
  // without polling errors.
  std::int64_t first_event_ms_ ABSL_GUARDED_BY(mu_) = 0;
  std::int64_t last_event_ms_ ABSL_GUARDED_BY(mu_) = 0;
  int request_count_ ABSL_GUARDED_BY(mu_) = 0;
  Faults faults_ ABSL_GUARDED_BY(mu_);

  // Scratches of finished requests, at most options_.threads.
  absl::Mutex scratch_mu_;
  std::vector<std::unique_ptr<RequestScratch>> free_scratches_
      ABSL_GUARDED_BY(scratch_mu_);

  absl::Mutex shutdown_mu_;
  bool shutting_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace conversions::sandbox

#endif  // CONVERSIONS_TESTS_SANDBOX_SANDBOX_H_
