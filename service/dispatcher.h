// The dispatcher: reads queued events from the spool per lane (destination
// x validate_only), sends them in batches to the Conversions API and records
// each outcome (delivered, retry later, dead letter).
//
// Failure handling, as DESIGN.md's "Delivery semantics" says:
//   - network errors, timeouts, 408, 421, 425, 429, 5xx and other statuses
//     outside 3xx and 4xx: retry after exponential backoff with full
//     jitter, or after Retry-After when the API sends it; the lane waits
//     that long too, so a failing API is not hammered;
//   - 400, 413 or 422 on several events: split the batch in halves until the
//     bad event stands alone; it is dead-lettered with the API's message and
//     the others are delivered;
//   - 401 and 403 (the key), a 3xx, 404, 405 and 410 (the url) and any
//     other 4xx: pause the destination (events stay queued, health reports
//     it) and probe every auth_probe_interval with a real batch, from a
//     lane that has an event due; a destination left with nothing queued
//     or in flight resumes (the next event probes);
//   - an event that can no longer reach the API inside its 7-day window is
//     dead-lettered as expired before it is sent.
// Each lane has its own worker threads (max_in_flight_requests of them, each
// with its own connection), so one slow destination never delays another.
#ifndef CONVERSIONS_SERVICE_DISPATCHER_H_
#define CONVERSIONS_SERVICE_DISPATCHER_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "service/clock.h"
#include "service/config.h"
#include "service/dispatch_rules.h"
#include "service/http_transport.h"
#include "service/metrics.h"
#include "service/spool.h"

namespace conversions::service {

// What the dispatcher needs to know of one destination.
struct DispatchTarget {
  std::string name;
  std::string url;  // endpoint with ?pid=<url-encoded pixel id>
  std::string api_key;
  std::string integration_source;  // normalized; empty omits it
  DispatcherOptions options;
};

// What one DeliverOnce call did.
struct DeliveryReport {
  int claimed = 0;
  int delivered = 0;
  int retried = 0;
  int dead_lettered = 0;
  bool paused = false;  // the destination is paused for auth
};

class Dispatcher {
 public:
  using TransportFactory =
      std::function<absl::StatusOr<std::unique_ptr<HttpTransport>>(
          const DispatchTarget&)>;

  Dispatcher(Spool* spool, Clock* clock, Metrics* metrics,
             std::vector<DispatchTarget> targets, TransportFactory factory);
  // Shutdown with a deadline already past, if it has not run. The clock
  // need not outlive a dispatcher that was shut down.
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Starts the worker threads of every lane.
  absl::Status Start();

  // Tells a lane that `count` events of about `bytes` of wire JSON in all
  // were appended (0: unknown). A lane whose notified events fill a batch,
  // by count or by max_batch_bytes, sends at once instead of lingering, and
  // with as many requests at once as the batches they fill.
  void Notify(const LaneKey& lane, int count, std::int64_t bytes = 0);

  // Claims one batch of `lane` (ignoring the linger time) and delivers it
  // with `transport`, handling every outcome. Returns what happened;
  // claimed is 0 when nothing was due, or the destination is paused and
  // its probe is not due. Used by the worker threads and by tests.
  absl::StatusOr<DeliveryReport> DeliverOnce(const LaneKey& lane,
                                             HttpTransport* transport);

  // A destination paused by the API, and the status that paused it.
  struct PausedDestination {
    std::string name;
    int status = 0;  // see PausesDestination
  };
  // Returns the destinations paused by the API (PausesDestination), by
  // name.
  std::vector<PausedDestination> PausedDestinations() const;
  // Calls `listener` each time a destination's pause begins or ends, on
  // the worker that saw it, after PausedDestinations() says so and with
  // no lock of the dispatcher held (so that readiness can follow at once
  // rather than at its next poll). Set before Start; it must not block.
  void SetPauseListener(std::function<void()> listener) {
    pause_listener_ = std::move(listener);
  }

  // Until when `destination` sends nothing: its backoff, the API's
  // Retry-After, or its next probe while paused; 0 when unknown. An event
  // queued for it goes no earlier, whatever its own next attempt time.
  std::int64_t HeldUntilMs(const std::string& destination) const;

  // Whether an API answer of `status` pauses the destination, rather than
  // failing the events (400, 413, 422) or retrying them (408, 429, 5xx and
  // other statuses): the key is refused (401, 403), or the URL names no
  // endpoint (404, 405, 410). No event of the batch is at fault, and every
  // other request would get the same answer until the configuration
  // changes.
  // A redirect (3xx, never followed: it would carry the key elsewhere) and
  // any other 4xx the API does not document pause as well: retrying them
  // would hold the events for days while nothing reports why (the API's
  // guidance is to retry only network errors, timeouts, 429 and 5xx).
  static bool PausesDestination(int status) {
    if (status >= 300 && status < 400) return true;
    // 421 (another connection may do) and 425 (too early) ask for a retry.
    return status >= 400 && status < 500 && status != 400 && status != 408 &&
           status != 413 && status != 421 && status != 422 && status != 425 &&
           status != 429;
  }
  // What a pausing `status` says is wrong: "auth" (401, 403: the key),
  // "endpoint" (3xx, 404, 405, 410: the url), "request" (400 or 422 naming
  // a request parameter, not an event) or "status" (any other 4xx); the
  // cause its retries count under.
  static const char* PauseCause(int status) {
    if (status == 401 || status == 403) return "auth";
    // Only a refusal that names no event pauses (RefusesTheRequest).
    if (status == 400 || status == 422) return "request";
    if ((status >= 300 && status < 400) || status == 404 || status == 405 ||
        status == 410) {
      return "endpoint";
    }
    return "status";
  }

  // Stops intake of new work, keeps delivering what is due until nothing is
  // left or `deadline_ms` passes, then joins the workers. Requests still in
  // flight at the deadline are cancelled (HttpTransport::Cancel), so that
  // the process stops on time however slow the API is; their events stay
  // queued and go out after a restart. Idempotent; the first deadline
  // counts.
  void Shutdown(std::int64_t deadline_ms);

 private:
  struct DestinationState {
    DispatchTarget target;
    // The events' share of max_batch_bytes in each lane (index:
    // validate_only): the budget less the request's envelope.
    std::array<size_t, 2> event_bytes_budget{};
    bool paused = false;   // guarded by mu_
    int pause_status = 0;  // the status that paused it (mu_)
    // Counts the answers that paused it or kept it paused (mu_).
    std::uint64_t pause_epoch = 0;
    std::int64_t next_probe_ms = 0;     // guarded by mu_
    std::int64_t backoff_until_ms = 0;  // guarded by mu_
    // Retryable failures (network, timeouts, 429, 5xx) since the API last
    // read a request: a retry's backoff grows with it as well as with the
    // batch's own attempts, so that a backlog of fresh batches does not
    // meet a failing API at the first retry's rate. Guarded by mu_.
    int failure_streak = 0;
    // The latest Retry-After the API asked for: a success on another
    // worker ends a backoff, but not this. Guarded by mu_.
    std::int64_t retry_after_until_ms = 0;
  };
  struct LaneState {
    LaneKey key;
    DestinationState* destination = nullptr;
    // Events notified and not yet taken by a claim, and their bytes: each
    // claim takes one batch's worth.
    std::int64_t hinted = 0;
    std::int64_t hinted_bytes = 0;
    std::int64_t first_hint_ms = 0;  // when the first of them came
    std::condition_variable cv;      // the lane's workers wait here (mu_)
  };

  void WorkerLoop(LaneState* lane, HttpTransport* transport);
  // Whether `lane`'s notified events fill a batch. mu_ held.
  static bool HintsFillABatch(const LaneState& lane);
  // Takes one batch's worth off `lane`'s notified events, for a claim,
  // and wakes the lane's other workers if a batch is left. mu_ held.
  static void TakeABatchOfHints(LaneState* lane);
  // Sends `events` (already claimed) and records outcomes into `report`;
  // halves a rejected batch, and puts back a half that must not go now
  // (the destination paused or backing off after the other half).
  // `carried`: the requests that carried these events before this one
  // since they were claimed (the halvings so far), for their attempts.
  absl::Status SendBatch(DestinationState* destination, const LaneKey& lane,
                         HttpTransport* transport,
                         std::vector<ClaimedEvent> events, int carried,
                         DeliveryReport* report);
  // What SendBatch's answers share: where the request went, the requests
  // before it (`carried`), when it was answered, and the report.
  struct Sent {
    DestinationState* dest;
    const LaneKey& key;
    int carried;
    std::int64_t now;
    DeliveryReport* report;
  };
  // SendBatch's answers (dispatcher_send.cc): the API took the batch;
  // refused it for its events (400, 413, 422: halved until the bad event
  // stands alone, which is dead-lettered); refused the key, the url or the
  // request (the destination paused); or failed in a way worth retrying
  // (no answer, 408, 429, 5xx, any other status).
  absl::Status Delivered(const Sent& sent,
                         const std::vector<ClaimedEvent>& events);
  absl::Status Refused(const Sent& sent, HttpTransport* transport,
                       std::vector<ClaimedEvent> events,
                       const HttpResponse& response);
  absl::Status Paused(const Sent& sent, const std::vector<ClaimedEvent>& events,
                      const HttpResponse& response);
  absl::Status RetryLater(const Sent& sent,
                          const std::vector<ClaimedEvent>& events,
                          const absl::StatusOr<HttpResponse>& response);
  // The bytes of the events' JSON (with the commas between them) that keep
  // a request of `target`'s lane within its max_batch_bytes: the budget
  // less the envelope. (One event larger than that is still sent, alone.)
  static size_t EventBytesBudget(const DispatchTarget& target,
                                 const LaneKey& key);
  // Ends a pause of `dest`, if any, and wakes its lanes' workers; `why` is
  // logged. Returns whether a pause ended, for PauseChanged once mu_ is
  // released. mu_ held.
  bool ResumeLocked(DestinationState* dest, const char* why = "api_answered");
  // Tells the pause listener, if any. mu_ not held.
  void PauseChanged() {
    if (pause_listener_) pause_listener_();
  }
  // Ends a pause of `dest` when none of its lanes holds a queued event (all
  // expired while it was paused, say): nothing is held back any more, and
  // with nothing to send no probe would ever end it. The next event is
  // sent, and pauses it again if the API still refuses. mu_ not held.
  absl::Status ResumeIfNothingQueued(DestinationState* dest);
  // Writes an outcome of claimed events to the spool (`write`: a Mark*
  // call), again and again while the spool cannot (its disk full, say):
  // after 50 ms, doubling to 5 s. The batch's fate is known, and until it
  // is written its events stay claimed, so that no request sends them
  // again. Gives up only at the drain deadline; the events, queued in the
  // file, then go after the restart.
  absl::Status Record(const LaneKey& lane,
                      const std::function<absl::Status()>& write);
  // Counts `n` events of `lane` that reached their end: delivered (when
  // `dead_reason` is null) or dead-lettered for `dead_reason`; for the
  // validate_only lane, as validated (valid, invalid, expired).
  void CountEnded(const LaneKey& lane, const char* dead_reason, std::int64_t n);
  DestinationState* FindDestination(const std::string& name);
  LaneState* FindLane(const LaneKey& key);

  Spool* const spool_;
  Clock* const clock_;
  Metrics* const metrics_;
  const TransportFactory factory_;
  std::function<void()> pause_listener_;  // set before Start

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<DestinationState>> destinations_;
  std::vector<std::unique_ptr<LaneState>> lanes_;
  bool stopping_ = false;               // guarded by mu_
  std::int64_t drain_deadline_ms_ = 0;  // guarded by mu_
  // The transports of the workers still running, for Shutdown to cancel;
  // a worker removes its own before it ends. Guarded by mu_.
  std::vector<HttpTransport*> running_transports_;
  std::condition_variable workers_done_;  // a worker ended (mu_)
  std::uint64_t seed_ = 0;                // guarded by mu_
  std::vector<std::thread> workers_;
  std::mutex join_mu_;
};

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_DISPATCHER_H_
