// The dispatcher's requests (dispatcher.h): one batch sent to the API, and
// what each kind of answer does to its events and to the destination.
#include <algorithm>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mapping/request_encoder.h"
#include "service/dispatcher.h"
#include "service/log.h"

namespace conversions::service {
namespace {

// The longest a Retry-After holds a whole destination (RetryLater): a day,
// as the seconds form was capped before.
constexpr std::int64_t kMaxDestinationWaitMs = 24 * 3600 * 1000;

// The API request's envelope for a lane of `target`: its JSON around the
// events.
mapping::RequestEnvelope EnvelopeOf(const DispatchTarget& target,
                                    const LaneKey& key) {
  mapping::RequestEnvelope envelope;
  envelope.validate_only = key.validate_only;
  envelope.integration_source = target.integration_source;
  return envelope;
}

std::vector<std::int64_t> Rows(const std::vector<ClaimedEvent>& events) {
  std::vector<std::int64_t> rows;
  rows.reserve(events.size());
  for (const ClaimedEvent& e : events) rows.push_back(e.row_id);
  return rows;
}

}  // namespace

size_t Dispatcher::EventBytesBudget(const DispatchTarget& target,
                                    const LaneKey& key) {
  std::string envelope;
  mapping::EncodeRequest(EnvelopeOf(target, key), {}, &envelope);
  const auto budget = static_cast<size_t>(target.options.max_batch_bytes);
  return budget > envelope.size() ? budget - envelope.size() : 0;
}

absl::Status Dispatcher::SendBatch(DestinationState* dest, const LaneKey& key,
                                   HttpTransport* transport,
                                   std::vector<ClaimedEvent> events,
                                   int carried, DeliveryReport* report) {
  const DispatchTarget& target = dest->target;
  const std::string& name = target.name;
  std::vector<std::string_view> bodies;
  bodies.reserve(events.size());
  for (const ClaimedEvent& e : events) bodies.push_back(e.wire_json);
  HttpRequest request;
  request.url = target.url;
  request.bearer_token = target.api_key;
  mapping::EncodeRequest(EnvelopeOf(target, key), bodies, &request.body);

  auto started = std::chrono::steady_clock::now();
  absl::StatusOr<HttpResponse> response = transport->Post(request);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  const int status = response.ok() ? response->status : 0;
  // A request the gateway cancelled at its drain deadline got no answer
  // from the API: it is counted as a retry with cause `shutdown` only.
  if (!absl::IsCancelled(response.status())) {
    metrics_->api_requests.Add({name, absl::StrCat(status)});
    metrics_->api_latency.Observe({name}, seconds);
    metrics_->batch_size.Observe({name}, static_cast<double>(events.size()));
  }
  const Sent sent{dest, key, carried, clock_->NowMs(), report};

  if (response.ok() && status >= 200 && status < 300) {
    return Delivered(sent, events);
  }
  // Not within a split: its batch was refused for an event, and a half
  // that names a parameter has no consistent meaning.
  const bool refuses_request = response.ok() && carried == 0 &&
                               RefusesTheRequest(status, response->body);
  if (response.ok() && !refuses_request &&
      (status == 400 || status == 413 || status == 422)) {
    return Refused(sent, transport, std::move(events), *response);
  }
  if (response.ok() && (PausesDestination(status) || refuses_request)) {
    return Paused(sent, events, *response);
  }
  // Network errors, timeouts, 408, 429, 5xx and anything unexpected.
  return RetryLater(sent, events, response);
}

absl::Status Dispatcher::Delivered(const Sent& sent,
                                   const std::vector<ClaimedEvent>& events) {
  absl::Status s = Record(sent.key, [&] {
    return spool_->MarkDelivered(Rows(events), sent.now, sent.carried + 1);
  });
  if (!s.ok()) return s;
  const auto n = static_cast<std::int64_t>(events.size());
  sent.report->delivered += static_cast<int>(n);
  CountEnded(sent.key, nullptr, n);
  bool resumed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    resumed = ResumeLocked(sent.dest);
    // A success ends a backoff, but not a Retry-After the API asked for.
    sent.dest->backoff_until_ms = sent.dest->retry_after_until_ms;
    sent.dest->failure_streak = 0;
  }
  if (resumed) PauseChanged();
  return absl::OkStatus();
}

absl::Status Dispatcher::Refused(const Sent& sent, HttpTransport* transport,
                                 std::vector<ClaimedEvent> events,
                                 const HttpResponse& response) {
  DestinationState* const dest = sent.dest;
  // The API read the events to refuse them: the key and the url work, and
  // a paused destination resumes as after a success (else a probe whose
  // batch is refused would leave it paused with nothing queued).
  bool resumed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    resumed = ResumeLocked(dest);
    dest->failure_streak = 0;
  }
  if (resumed) PauseChanged();
  const int tried = sent.carried + 1;
  if (events.size() > 1) {
    // Atomic batches: halve until the bad event(s) stand alone.
    std::vector<ClaimedEvent> second(
        std::make_move_iterator(events.begin() + events.size() / 2),
        std::make_move_iterator(events.end()));
    events.resize(events.size() / 2);
    absl::Status s = SendBatch(dest, sent.key, transport, std::move(events),
                               tried, sent.report);
    if (!s.ok()) return s;
    // The first half may have paused the destination (401) or started a
    // backoff (429, 5xx): then the second waits as well.
    std::int64_t wait_until = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (dest->paused) wait_until = dest->next_probe_ms;
      wait_until = std::max(wait_until, dest->backoff_until_ms);
    }
    if (wait_until > clock_->NowMs()) {
      s = Record(sent.key, [&] {
        return spool_->MarkRetry(
            Rows(second), wait_until,
            "not sent yet: the destination was paused or backing off", tried);
      });
      if (!s.ok()) return s;
      sent.report->retried += static_cast<int>(second.size());
      return absl::OkStatus();
    }
    return SendBatch(dest, sent.key, transport, std::move(second), tried,
                     sent.report);
  }
  const std::string message =
      absl::StrCat("HTTP ", response.status, ": ",
                   ApiErrorMessage(response.body, dest->target.api_key));
  absl::Status s = Record(sent.key, [&] {
    return spool_->MarkDead(Rows(events), DeadReason::kRejected, message,
                            sent.now, tried);
  });
  if (!s.ok()) return s;
  sent.report->dead_lettered += 1;
  CountEnded(sent.key, "rejected", 1);
  LogWarn("event_dead_lettered",
          {{"destination", dest->target.name},
           {"validate_only", sent.key.validate_only ? "1" : "0"},
           {"event_id", events[0].event_id},
           {"status", absl::StrCat(response.status)}});
  return absl::OkStatus();
}

absl::Status Dispatcher::Paused(const Sent& sent,
                                const std::vector<ClaimedEvent>& events,
                                const HttpResponse& response) {
  DestinationState* const dest = sent.dest;
  const std::string& name = dest->target.name;
  const int status = response.status;
  const char* cause = PauseCause(status);
  bool pausing = false;  // this request paused the destination
  {
    std::lock_guard<std::mutex> lock(mu_);
    dest->pause_status = status;  // a probe may answer another status
    ++dest->pause_epoch;
    if (!dest->paused) {
      pausing = true;
      dest->paused = true;
      metrics_->destination_pauses.Add({name});
      LogError(
          "destination_paused",
          {{"destination", name},
           {"status", absl::StrCat(status)},
           {"cause", cause},
           {"message", ApiErrorMessage(response.body, dest->target.api_key)}});
    }
    dest->next_probe_ms =
        sent.now + dest->target.options.auth_probe_interval.count();
  }
  if (pausing) PauseChanged();
  // The events wait until a probe succeeds; the paused request is no
  // attempt (the halvings before it are).
  absl::Status s = Record(sent.key, [&] {
    return spool_->MarkRetry(
        Rows(events), sent.now,
        absl::StrCat("HTTP ", status, ": destination paused"), sent.carried);
  });
  if (!s.ok()) return s;
  const auto n = static_cast<std::int64_t>(events.size());
  sent.report->retried += static_cast<int>(n);
  sent.report->paused = true;
  // Counted when the pause begins: a probe that fails again puts back a
  // batch that was not going anywhere, and counting it each probe read as
  // thousands of retries a minute (conversions_api_requests_total counts
  // the probes).
  if (pausing) metrics_->events_retried.Add({name, cause}, n);
  return absl::OkStatus();
}

absl::Status Dispatcher::RetryLater(
    const Sent& sent, const std::vector<ClaimedEvent>& events,
    const absl::StatusOr<HttpResponse>& response) {
  DestinationState* const dest = sent.dest;
  const DispatchTarget& target = dest->target;
  const std::string& name = target.name;
  const std::int64_t now = sent.now;
  const bool cancelled = absl::IsCancelled(response.status());
  int attempts = 0;
  for (const ClaimedEvent& e : events)
    attempts = std::max(attempts, e.attempts);
  std::uint64_t seed;
  int streak = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seed = ++seed_;
    if (!cancelled) streak = ++dest->failure_streak;
  }
  BackoffPolicy backoff(target.options, seed);
  std::chrono::milliseconds delay = backoff.Delay(attempts + 1);
  // The destination's own wait grows with its failure streak: a backlog of
  // fresh batches meets a failing API at a falling rate. Only the
  // destination's, which a success ends: the events keep their own
  // backoff, so that they go soon after the API is back.
  std::chrono::milliseconds destination_delay =
      streak > attempts + 1 ? backoff.Delay(streak) : delay;
  // The API's Retry-After, when it sent one.
  std::optional<std::chrono::milliseconds> retry_after;
  // The cause a retry is counted under: the status, or no response at all
  // (a timeout apart: a slow API is not a broken network).
  std::string cause = response.ok() ? absl::StrCat(response->status)
                      : cancelled   ? "shutdown"
                      : absl::IsDeadlineExceeded(response.status()) ? "timeout"
                                                                    : "network";
  std::string error =
      response.ok()
          ? absl::StrCat("HTTP ", response->status, ": ",
                         ApiErrorMessage(response->body, target.api_key))
          : std::string(response.status().message());
  if (cancelled) {
    delay = std::chrono::milliseconds(0);  // due at once after the restart
  } else if (response.ok()) {
    // Never earlier than the API asked, and never earlier than the backoff:
    // a Retry-After of 0 sent again and again must not become a loop.
    retry_after = ParseRetryAfter(response->retry_after, now);
    if (retry_after) delay = std::max(delay, *retry_after);
  }
  destination_delay = cancelled ? delay : std::max(delay, destination_delay);
  std::int64_t next = now + delay.count();
  // A cancelled request is not counted as an attempt: the API never
  // answered it, and the backoff after the restart starts where it was.
  const int tried = cancelled ? sent.carried : sent.carried + 1;
  // Events whose window closes before the next attempt are expired now.
  std::vector<std::int64_t> retry_rows, expired_rows;
  for (const ClaimedEvent& e : events) {
    (ExpiredAt(e.timestamp_ms, next) ? expired_rows : retry_rows)
        .push_back(e.row_id);
  }
  if (!retry_rows.empty()) {
    absl::Status s = Record(sent.key, [&] {
      return spool_->MarkRetry(retry_rows, next, error, tried);
    });
    if (!s.ok()) return s;
    sent.report->retried += static_cast<int>(retry_rows.size());
    metrics_->events_retried.Add({name, cause},
                                 static_cast<std::int64_t>(retry_rows.size()));
  }
  if (!expired_rows.empty()) {
    absl::Status s = Record(sent.key, [&] {
      return spool_->MarkDead(
          expired_rows, DeadReason::kExpired,
          absl::StrCat("event expired while retrying; last error: ", error),
          now, tried);
    });
    if (!s.ok()) return s;
    sent.report->dead_lettered += static_cast<int>(expired_rows.size());
    CountEnded(sent.key, "expired",
               static_cast<std::int64_t>(expired_rows.size()));
    LogWarn("events_expired",
            {{"destination", name},
             {"validate_only", sent.key.validate_only ? "1" : "0"},
             {"events", absl::StrCat(expired_rows.size())},
             {"when", "retrying"},
             {"last_error", error}});
  }
  // The destination waits too: for the backoff, which a success on another
  // connection ends early, and for a Retry-After, which nothing ends early.
  // Its wait is capped at a day, so that one far-fetched header cannot
  // silence a destination for a week; the batch's own events keep the whole
  // wait, and expire if it outlasts their window.
  const std::int64_t waited =
      std::min(now + destination_delay.count(), now + kMaxDestinationWaitMs);
  if (next > now + kMaxDestinationWaitMs) {
    // The header as the API sent it (a date, or seconds beyond the 8 days
    // ParseRetryAfter keeps), and the wait the batch's events keep.
    LogWarn("retry_after_capped",
            {{"destination", name},
             {"retry_after",
              response.ok() ? response->retry_after.substr(0, 64) : ""},
             {"events_wait_ms", absl::StrCat(delay.count())},
             {"destination_wait_ms", absl::StrCat(kMaxDestinationWaitMs)}});
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    dest->backoff_until_ms = std::max(dest->backoff_until_ms, waited);
    if (retry_after) {
      dest->retry_after_until_ms = std::max(
          dest->retry_after_until_ms,
          std::min(now + retry_after->count(), now + kMaxDestinationWaitMs));
    }
  }
  LogWarn("batch_retry", {{"destination", name},
                          {"events", absl::StrCat(events.size())},
                          {"cause", cause},
                          {"delay_ms", absl::StrCat(delay.count())},
                          {"error", error}});
  return absl::OkStatus();
}

}  // namespace conversions::service
