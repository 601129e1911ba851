#include "service/dispatcher.h"

#include <pthread.h>

#include <algorithm>
#include <limits>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mapping/event_mapper.h"
#include "service/log.h"

namespace conversions::service {
namespace {

// The expired events' message says "within 5 s" (OldestSendableTimestampMs).
static_assert(mapping::Limits::kSendMarginMs == 5'000,
              "see the expired events' message");

// The longest a worker sleeps before looking at its lane again.
constexpr std::int64_t kMaxIdleWaitMs = 5'000;
// How long Record waits before writing an outcome again, at first and at
// most.
constexpr std::int64_t kRecordFirstDelayMs = 50;
constexpr std::int64_t kRecordMaxDelayMs = 5'000;

// The bytes of an average notified event in a request, its comma counted;
// 1 when their bytes are unknown.
std::int64_t AverageEventBytes(std::int64_t events, std::int64_t bytes) {
  return events > 0 ? bytes / events + 1 : 1;
}

}  // namespace

Dispatcher::Dispatcher(Spool* spool, Clock* clock, Metrics* metrics,
                       std::vector<DispatchTarget> targets,
                       TransportFactory factory)
    : spool_(spool),
      clock_(clock),
      metrics_(metrics),
      factory_(std::move(factory)),
      seed_(std::random_device{}()) {
  for (DispatchTarget& target : targets) {
    auto state = std::make_unique<DestinationState>();
    state->target = std::move(target);
    for (const bool validate_only : {false, true}) {
      state->event_bytes_budget[validate_only] =
          EventBytesBudget(state->target, {state->target.name, validate_only});
    }
    DestinationState* dest = state.get();
    destinations_[dest->target.name] = std::move(state);
    for (bool validate_only : {false, true}) {
      auto lane = std::make_unique<LaneState>();
      lane->key = {dest->target.name, validate_only};
      lane->destination = dest;
      lanes_.push_back(std::move(lane));
    }
  }
}

// A deadline already past: what is still in flight is cancelled at once.
// Not read from the clock, which may be gone once Shutdown has run (the
// clock's owner need only outlive the drain).
Dispatcher::~Dispatcher() {
  Shutdown(std::numeric_limits<std::int64_t>::min());
}

absl::Status Dispatcher::Start() {
  // Every transport first: one that cannot be made fails the start before
  // any worker has sent anything.
  std::vector<std::pair<LaneState*, std::unique_ptr<HttpTransport>>> made;
  for (auto& lane : lanes_) {
    int workers =
        std::max(1, lane->destination->target.options.max_in_flight_requests);
    for (int i = 0; i < workers; ++i) {
      absl::StatusOr<std::unique_ptr<HttpTransport>> transport =
          factory_(lane->destination->target);
      if (!transport.ok()) return transport.status();
      made.emplace_back(lane.get(), *std::move(transport));
    }
  }
  for (auto& lane_transport : made) {
    HttpTransport* raw = lane_transport.second.get();
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_transports_.push_back(raw);
    }
    workers_.emplace_back([this, l = lane_transport.first,
                           t = std::move(lane_transport.second)]() mutable {
      pthread_setname_np(pthread_self(), "dispatch");
      WorkerLoop(l, t.get());
      {
        // Out of Shutdown's reach before it is destroyed.
        std::lock_guard<std::mutex> lock(mu_);
        running_transports_.erase(std::find(
            running_transports_.begin(), running_transports_.end(), t.get()));
        workers_done_.notify_all();
      }
      t.reset();
    });
  }
  return absl::OkStatus();
}

Dispatcher::DestinationState* Dispatcher::FindDestination(
    const std::string& name) {
  auto it = destinations_.find(name);
  return it == destinations_.end() ? nullptr : it->second.get();
}

Dispatcher::LaneState* Dispatcher::FindLane(const LaneKey& key) {
  for (auto& lane : lanes_) {
    if (lane->key.destination == key.destination &&
        lane->key.validate_only == key.validate_only) {
      return lane.get();
    }
  }
  return nullptr;
}

void Dispatcher::Notify(const LaneKey& key, int count, std::int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  LaneState* lane = FindLane(key);
  if (lane == nullptr || count <= 0) return;
  const bool was_empty = lane->hinted == 0;
  const bool was_full = HintsFillABatch(*lane);
  if (was_empty) lane->first_hint_ms = clock_->NowMs();
  lane->hinted += count;
  lane->hinted_bytes += std::max<std::int64_t>(bytes, 0);
  // Wake the lane's workers only when that changes what they do: the first
  // events start the linger time, a full batch ends it. Waking them on every
  // request would cost a context switch per worker per request.
  if (was_empty || (!was_full && HintsFillABatch(*lane))) {
    lane->cv.notify_all();
  }
}

bool Dispatcher::HintsFillABatch(const LaneState& lane) {
  const DestinationState& dest = *lane.destination;
  if (lane.hinted >= dest.target.options.max_batch_events) return true;
  // Full once one more event of their average size would not fit.
  const auto budget = static_cast<std::int64_t>(
      dest.event_bytes_budget[lane.key.validate_only]);
  const std::int64_t average =
      AverageEventBytes(lane.hinted, lane.hinted_bytes);
  return lane.hinted > 0 && lane.hinted * average + average > budget + 1;
}

void Dispatcher::TakeABatchOfHints(LaneState* lane) {
  const DestinationState& dest = *lane->destination;
  const auto budget = static_cast<std::int64_t>(
      dest.event_bytes_budget[lane->key.validate_only]);
  // A batch ends at max_batch_events or at the byte budget: as many of
  // the notified events as fit at their average size, one at least.
  const std::int64_t average =
      AverageEventBytes(lane->hinted, lane->hinted_bytes);
  const std::int64_t take =
      std::min({lane->hinted,
                static_cast<std::int64_t>(dest.target.options.max_batch_events),
                std::max<std::int64_t>((budget + 1) / average, 1)});
  lane->hinted -= take;
  lane->hinted_bytes = lane->hinted == 0
                           ? 0
                           : std::max<std::int64_t>(
                                 lane->hinted_bytes - take * (average - 1), 0);
  // A request of several batches goes out over as many connections as the
  // lane has workers, not one batch after another on one. A part batch
  // left lingers from the time of the first of its events.
  if (HintsFillABatch(*lane)) lane->cv.notify_all();
}

std::vector<Dispatcher::PausedDestination> Dispatcher::PausedDestinations()
    const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PausedDestination> paused;
  for (const auto& [name, dest] : destinations_) {
    if (dest->paused) paused.push_back({name, dest->pause_status});
  }
  return paused;
}

std::int64_t Dispatcher::HeldUntilMs(const std::string& destination) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = destinations_.find(destination);
  if (it == destinations_.end()) return 0;
  const DestinationState& dest = *it->second;
  return std::max({dest.backoff_until_ms, dest.retry_after_until_ms,
                   dest.paused ? dest.next_probe_ms : std::int64_t{0}});
}

absl::StatusOr<DeliveryReport> Dispatcher::DeliverOnce(
    const LaneKey& key, HttpTransport* transport) {
  DeliveryReport report;
  DestinationState* dest = FindDestination(key.destination);
  if (dest == nullptr) return absl::NotFoundError("unknown destination");
  const DispatcherOptions& options = dest->target.options;
  std::int64_t now = clock_->NowMs();
  bool probe = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (dest->paused) {
      if (now < dest->next_probe_ms) {
        report.paused = true;
        return report;
      }
      probe = true;
    }
    if (now < dest->backoff_until_ms) return report;
  }
  if (probe) {
    // Only a lane with an event due probes: an empty lane (validate_only,
    // mostly) taking the probe's turn would hold back the lane that has
    // events for another interval.
    absl::StatusOr<std::optional<std::int64_t>> due = spool_->NextDueMs(key);
    if (!due.ok()) return due.status();
    if (!due->has_value() || **due > now) {
      absl::Status s = ResumeIfNothingQueued(dest);
      if (!s.ok()) return s;
      std::lock_guard<std::mutex> lock(mu_);
      report.paused = dest->paused;
      return report;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (dest->paused) {
      if (now < dest->next_probe_ms) {  // another worker probes
        report.paused = true;
        return report;
      }
      // This worker probes; the others wait for the next probe, so that a
      // paused destination gets one request per auth_probe_interval.
      dest->next_probe_ms = now + options.auth_probe_interval.count();
    }
  }
  absl::StatusOr<std::vector<ClaimedEvent>> claimed =
      spool_->Claim(key, now, static_cast<size_t>(options.max_batch_events),
                    dest->event_bytes_budget[key.validate_only]);
  if (!claimed.ok()) return claimed.status();
  report.claimed = static_cast<int>(claimed->size());
  if (claimed->empty()) {
    absl::Status s = ResumeIfNothingQueued(dest);
    if (!s.ok()) return s;
    return report;
  }

  // Dead-letter what the spool cannot read back, by why, and what can no
  // longer arrive inside its 7-day window, by the last error of the events
  // that had one (a pause, a retry put back).
  std::vector<ClaimedEvent> live;
  std::map<std::string, std::vector<std::int64_t>> damaged, expired;
  for (ClaimedEvent& e : *claimed) {
    if (!e.unreadable.empty()) {
      damaged[e.unreadable].push_back(e.row_id);
    } else if (ExpiredAt(e.timestamp_ms, now)) {
      expired[e.last_error].push_back(e.row_id);
    } else {
      live.push_back(std::move(e));
    }
  }
  for (const auto& [why, rows] : damaged) {
    absl::Status s = Record(key, [&] {
      return spool_->MarkDead(
          rows, DeadReason::kDamaged,
          absl::StrCat("spool: the stored event cannot be read: ", why), now,
          /*attempts=*/0);
    });
    if (!s.ok()) return s;
    report.dead_lettered += static_cast<int>(rows.size());
    CountEnded(key, "damaged", static_cast<std::int64_t>(rows.size()));
    LogError("events_damaged",
             {{"destination", key.destination},
              {"validate_only", key.validate_only ? "1" : "0"},
              {"events", absl::StrCat(rows.size())},
              {"error", why}});
  }
  for (const auto& [last_error, rows] : expired) {
    std::string message =
        "event's 7-day window closes within 5 s of its sending: the API "
        "would receive it too old";
    if (!last_error.empty()) {
      absl::StrAppend(&message, "; last error: ", last_error);
    }
    absl::Status s = Record(key, [&] {
      return spool_->MarkDead(rows, DeadReason::kExpired, message, now,
                              /*attempts=*/0);
    });
    if (!s.ok()) return s;
    report.dead_lettered += static_cast<int>(rows.size());
    CountEnded(key, "expired", static_cast<std::int64_t>(rows.size()));
    // Logged per batch, as event_dead_lettered is per refused event.
    const std::string events = absl::StrCat(rows.size());
    if (last_error.empty()) {
      LogWarn("events_expired",
              {{"destination", key.destination},
               {"validate_only", key.validate_only ? "1" : "0"},
               {"events", events},
               {"when", "before_sending"}});
    } else {
      LogWarn("events_expired",
              {{"destination", key.destination},
               {"validate_only", key.validate_only ? "1" : "0"},
               {"events", events},
               {"when", "before_sending"},
               {"last_error", last_error}});
    }
  }
  if (live.empty()) {
    absl::Status s = ResumeIfNothingQueued(dest);
    if (!s.ok()) return s;
    return report;
  }
  absl::Status s =
      SendBatch(dest, key, transport, std::move(live), /*carried=*/0, &report);
  if (!s.ok()) return s;
  return report;
}

absl::Status Dispatcher::ResumeIfNothingQueued(DestinationState* dest) {
  std::uint64_t epoch = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!dest->paused) return absl::OkStatus();
    epoch = dest->pause_epoch;
  }
  // Events in flight count: a probe still waiting for its answer.
  if (spool_->QueuedCount(dest->target.name) > 0) return absl::OkStatus();
  bool resumed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Not if the API refused a request again meanwhile.
    if (dest->pause_epoch == epoch)
      resumed = ResumeLocked(dest, "nothing_queued");
  }
  if (resumed) PauseChanged();
  return absl::OkStatus();
}

bool Dispatcher::ResumeLocked(DestinationState* dest, const char* why) {
  if (!dest->paused) return false;
  dest->paused = false;
  LogInfo("destination_resumed",
          {{"destination", dest->target.name}, {"reason", why}});
  // The other workers of the destination wait for the next probe.
  for (auto& lane : lanes_) {
    if (lane->destination == dest) lane->cv.notify_all();
  }
  return true;
}

absl::Status Dispatcher::Record(const LaneKey& lane,
                                const std::function<absl::Status()>& write) {
  absl::Status s = write();
  if (s.ok()) return s;
  LogWarn("outcome_not_recorded",
          {{"destination", lane.destination},
           {"validate_only", lane.validate_only ? "1" : "0"},
           {"error", std::string(s.message())}});
  LaneState* state = FindLane(lane);
  std::chrono::milliseconds delay(kRecordFirstDelayMs);
  int failures = 1;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      std::int64_t wait = delay.count();
      if (stopping_) {
        const std::int64_t left = drain_deadline_ms_ - clock_->NowMs();
        if (left <= 0) return s;
        wait = std::min(wait, left);
      }
      // Notifications of new events do not end the wait; a shutdown does.
      const bool stopping_before = stopping_;
      state->cv.wait_for(lock, std::chrono::milliseconds(wait),
                         [&] { return stopping_ != stopping_before; });
    }
    s = write();
    if (s.ok()) {
      LogInfo("outcome_recorded", {{"destination", lane.destination},
                                   {"failures", absl::StrCat(failures)}});
      return s;
    }
    ++failures;
    delay = std::min(2 * delay, std::chrono::milliseconds(kRecordMaxDelayMs));
  }
}

void Dispatcher::CountEnded(const LaneKey& lane, const char* dead_reason,
                            std::int64_t n) {
  if (lane.validate_only) {
    const std::string result = dead_reason == nullptr ? "valid"
                               : std::string(dead_reason) == "rejected"
                                   ? "invalid"
                                   : dead_reason;
    metrics_->events_validated.Add({lane.destination, result}, n);
  } else if (dead_reason == nullptr) {
    metrics_->events_delivered.Add({lane.destination}, n);
  } else {
    metrics_->events_dead_lettered.Add({lane.destination, dead_reason}, n);
  }
}

void Dispatcher::WorkerLoop(LaneState* lane, HttpTransport* transport) {
  const DispatcherOptions& options = lane->destination->target.options;
  // Events stored before the start are claimed at once. With none, the lane
  // waits for its first notification, so that events sent right after the
  // start linger as later ones do (a first claim that raced them sent them
  // in a batch of their own, at once).
  bool idle = spool_->QueuedCount(lane->destination->target.name) == 0;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    std::int64_t now = clock_->NowMs();
    if (stopping_ && now >= drain_deadline_ms_) return;
    if (idle && !stopping_ && lane->hinted == 0) {
      lane->cv.wait_for(lock, std::chrono::milliseconds(kMaxIdleWaitMs));
      continue;
    }
    idle = false;
    // Linger: let a batch fill up unless it is full already (not while
    // draining).
    if (!stopping_ && lane->hinted > 0 && !HintsFillABatch(*lane) &&
        now < lane->first_hint_ms + options.linger.count()) {
      lane->cv.wait_for(
          lock, std::chrono::milliseconds(lane->first_hint_ms +
                                          options.linger.count() - now));
      continue;
    }
    TakeABatchOfHints(lane);
    lock.unlock();
    absl::StatusOr<DeliveryReport> report = DeliverOnce(lane->key, transport);
    std::int64_t wait_until = 0;
    // Events queued but not due yet (a retry's backoff), on a destination
    // that is not paused: a drain waits for them if they fall due before
    // its deadline.
    bool due_later = false;
    if (!report.ok()) {
      LogError("dispatch_failed",
               {{"destination", lane->key.destination},
                {"error", std::string(report.status().message())}});
      wait_until = clock_->NowMs() + 1000;
    } else if (report->claimed == 0) {
      // Nothing due now: wait for the earliest of a retry, the probe or
      // the end of the backoff, or for a notification.
      std::int64_t at = clock_->NowMs() + kMaxIdleWaitMs;
      absl::StatusOr<std::optional<std::int64_t>> due =
          spool_->NextDueMs(lane->key);
      if (due.ok() && due->has_value()) at = std::min(at, **due);
      std::lock_guard<std::mutex> guard(mu_);
      DestinationState* dest = lane->destination;
      if (dest->paused) at = std::max(at, dest->next_probe_ms);
      at = std::max(at, dest->backoff_until_ms);
      wait_until = at;
      due_later = due.ok() && due->has_value() && !dest->paused;
    }
    lock.lock();
    if (report.ok() && report->claimed == 0 && stopping_ &&
        (!due_later || wait_until >= drain_deadline_ms_)) {
      return;  // drained, or nothing left falls due before the deadline
    }
    std::int64_t delay = wait_until - clock_->NowMs();
    if (wait_until > 0 && delay > 0 && lane->hinted == 0 &&
        (!stopping_ || due_later)) {
      lane->cv.wait_for(
          lock, std::chrono::milliseconds(std::min(delay, kMaxIdleWaitMs)));
    }
  }
}

void Dispatcher::Shutdown(std::int64_t deadline_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      drain_deadline_ms_ = deadline_ms;
    }
    for (auto& lane : lanes_) lane->cv.notify_all();
  }
  {
    // Past the deadline, cancel what is still in flight; again every
    // 100 ms, for a request that started just after a cancel.
    std::unique_lock<std::mutex> lock(mu_);
    while (!running_transports_.empty()) {
      if (clock_->NowMs() >= drain_deadline_ms_) {
        for (HttpTransport* transport : running_transports_) {
          transport->Cancel();
        }
      }
      workers_done_.wait_for(lock, std::chrono::milliseconds(100));
    }
  }
  std::lock_guard<std::mutex> join(join_mu_);
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

}  // namespace conversions::service
