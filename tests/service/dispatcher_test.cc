#include "service/dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "mapping/request_encoder.h"
#include "tests/service/fake_http_transport.h"
#include "tests/service/temp_dir.h"

namespace conversions::service {
namespace {

using ::conversions::testing::FakeHttpTransport;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

constexpr std::int64_t kNow = 1773892800000;
constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SpoolOptions options;
    options.path = dir_.path() + "/spool.db";
    auto spool = Spool::Open(options);
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = std::move(*spool);
    DispatchTarget target;
    target.name = "default";
    target.url = RequestUrl("https://api.test/v1/events", "pixel 1");
    target.api_key = "test-key";
    target.integration_source = "my_bridge";
    target.options.initial_backoff = std::chrono::milliseconds(1000);
    target.options.max_backoff = std::chrono::milliseconds(8000);
    target.options.auth_probe_interval = std::chrono::milliseconds(30000);
    dispatcher_ = std::make_unique<Dispatcher>(
        spool_.get(), &clock_, &metrics_, std::vector<DispatchTarget>{target},
        [](const DispatchTarget&)
            -> absl::StatusOr<std::unique_ptr<HttpTransport>> {
          return std::unique_ptr<HttpTransport>(new FakeHttpTransport());
        });
  }

  void Append(const std::vector<std::string>& ids, bool validate_only = false,
              std::int64_t timestamp_ms = kNow - 1000) {
    std::vector<SpoolEvent> events;
    for (const std::string& id : ids) {
      SpoolEvent e;
      e.destination = "default";
      e.validate_only = validate_only;
      e.event_name = "order_created";
      e.event_id = id;
      e.timestamp_ms = timestamp_ms;
      e.wire_json = R"({"id":")" + id + R"(","type":"order_created"})";
      events.push_back(std::move(e));
    }
    auto done = std::make_shared<std::promise<bool>>();
    auto future = done->get_future();
    spool_->Append(std::move(events), clock_.NowMs(),
                   [done](absl::StatusOr<std::vector<AppendOutcome>> r) {
                     done->set_value(r.ok());
                   });
    ASSERT_TRUE(future.get());
  }

  DeliveryReport Deliver(bool validate_only = false) {
    auto report = dispatcher_->DeliverOnce({"default", validate_only}, &api_);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : DeliveryReport{};
  }

  // Replaces the dispatcher with one of `target` on `clock`, whose
  // transports all answer from api_'s script (ScriptedTransport).
  void UseScriptedDispatcher(Clock* clock, const DispatchTarget& target);

  // While worker B's request for "b" is in flight, worker A sends "a" and
  // gets 429 with Retry-After: 5; then B's request succeeds. "c" is queued
  // next, and the destination still holds it 4,999 ms later; the clock
  // then stands at the end of the Retry-After.
  void RetryAfterThenASuccessElsewhere() {
    Append({"b"});
    FakeHttpTransport other;
    other.SetResponder([&](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
      Append({"a"});
      api_.Script(FakeHttpTransport::Response(429, "{}", "5"));
      EXPECT_EQ(Deliver().retried, 1);
      return FakeHttpTransport::Response(200);
    });
    auto b = dispatcher_->DeliverOnce({"default", false}, &other);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(b->delivered, 1);
    Append({"c"});
    clock_.Advance(std::chrono::milliseconds(4999));
    EXPECT_EQ(Deliver().claimed, 0);  // still waiting out Retry-After
    clock_.Advance(std::chrono::milliseconds(1));
  }

  EventState StateOf(const std::string& id) {
    auto status = spool_->Lookup("default", "order_created", id);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? status->state : EventState::kQueued;
  }

  static std::vector<std::string> IdsIn(const HttpRequest& request) {
    std::vector<std::string> ids;
    const nlohmann::json body = nlohmann::json::parse(request.body);
    for (const auto& e : body["events"]) {
      ids.push_back(e["id"]);
    }
    return ids;
  }

  ::conversions::testing::TempDir dir_;
  FakeClock clock_{kNow};
  Metrics metrics_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<Dispatcher> dispatcher_;
  FakeHttpTransport api_;
};

TEST_F(DispatcherTest, DeliversABatchWithTheRequestEnvelope) {
  Append({"a", "b", "c"});
  DeliveryReport report = Deliver();
  EXPECT_EQ(report.delivered, 3);
  ASSERT_THAT(api_.requests(), SizeIs(1));
  const HttpRequest request = api_.requests()[0];
  EXPECT_EQ(request.url, "https://api.test/v1/events?pid=pixel%201");
  EXPECT_EQ(request.bearer_token, "test-key");
  auto body = nlohmann::json::parse(request.body);
  EXPECT_EQ(body["integration_source"], "my_bridge");
  EXPECT_FALSE(body.contains("validate_only"));
  EXPECT_EQ(IdsIn(request), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(StateOf("a"), EventState::kDelivered);
  EXPECT_EQ(metrics_.events_delivered.Value({"default"}), 3);
}

TEST_F(DispatcherTest, ValidateOnlyLaneSendsTheFlag) {
  Append({"v"}, /*validate_only=*/true);
  EXPECT_EQ(Deliver(/*validate_only=*/false).claimed, 0);
  EXPECT_EQ(Deliver(/*validate_only=*/true).delivered, 1);
  auto body = nlohmann::json::parse(api_.requests().at(0).body);
  EXPECT_EQ(body["validate_only"], true);
}

// validate_only events are checked, never saved: their outcomes count as
// validated, so that delivered and dead-lettered (and the alerts on them)
// count real conversions only.
TEST_F(DispatcherTest, ValidateOnlyOutcomesCountAsValidatedOnly) {
  Append({"ok", "bad"}, /*validate_only=*/true);
  api_.Script(FakeHttpTransport::Response(400, R"({"error":{"message":"x"}})"));
  api_.Script(FakeHttpTransport::Response(200));
  api_.Script(FakeHttpTransport::Response(400, R"({"error":{"message":"x"}})"));
  const DeliveryReport report = Deliver(/*validate_only=*/true);
  EXPECT_EQ(report.delivered, 1);
  EXPECT_EQ(report.dead_lettered, 1);
  EXPECT_EQ(metrics_.events_validated.Value({"default", "valid"}), 1);
  EXPECT_EQ(metrics_.events_validated.Value({"default", "invalid"}), 1);
  EXPECT_EQ(metrics_.events_delivered.Value({"default"}), 0);
  EXPECT_EQ(metrics_.events_dead_lettered.Value({"default", "rejected"}), 0);
  // A real event still counts as delivered.
  Append({"real"});
  EXPECT_EQ(Deliver().delivered, 1);
  EXPECT_EQ(metrics_.events_delivered.Value({"default"}), 1);
}

TEST_F(DispatcherTest, SplitsBatchToIsolateRejectedEvent) {
  Append({"a", "b", "poison", "d", "e"});
  // The API rejects any batch holding the poison event, atomically.
  api_.SetResponder([](const HttpRequest& r) -> absl::StatusOr<HttpResponse> {
    if (r.body.find("poison") != std::string::npos) {
      return FakeHttpTransport::Response(
          400,
          R"({"error":{"message":"events[0].data: invalid","type":"invalid_request_error"}})");
    }
    return FakeHttpTransport::Response(200);
  });
  DeliveryReport report = Deliver();
  EXPECT_EQ(report.delivered, 4);
  EXPECT_EQ(report.dead_lettered, 1);
  EXPECT_EQ(StateOf("poison"), EventState::kDead);
  for (const char* id : {"a", "b", "d", "e"}) {
    EXPECT_EQ(StateOf(id), EventState::kDelivered) << id;
  }
  auto dead = spool_->ListDeadLetters({});
  ASSERT_TRUE(dead.ok());
  ASSERT_THAT(dead->dead_letters, SizeIs(1));
  EXPECT_EQ(dead->dead_letters[0].reason, DeadReason::kRejected);
  EXPECT_THAT(dead->dead_letters[0].message,
              HasSubstr("HTTP 400: events[0].data: invalid"));
  // Attempts count the requests that carried each event: all 5, then
  // [a, b] and [poison, d, e], then [poison] and [d, e].
  auto poison = spool_->Lookup("default", "order_created", "poison");
  ASSERT_TRUE(poison.ok());
  EXPECT_EQ(poison->attempts, 3);
  auto a = spool_->Lookup("default", "order_created", "a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->attempts, 2);
  EXPECT_THAT(api_.requests(), SizeIs(5));
}

TEST_F(DispatcherTest, HonoursRetryAfterOn429) {
  Append({"a"});
  api_.Script(FakeHttpTransport::Response(429, "{}", "7"));
  DeliveryReport first = Deliver();
  EXPECT_EQ(first.retried, 1);
  clock_.Advance(std::chrono::milliseconds(6999));
  EXPECT_EQ(Deliver().claimed, 0);  // the destination waits out Retry-After
  EXPECT_THAT(api_.requests(), SizeIs(1));
  clock_.Advance(std::chrono::milliseconds(1));
  EXPECT_EQ(Deliver().delivered, 1);
  auto status = spool_->Lookup("default", "order_created", "a");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->attempts, 2);
}

// A Retry-After shorter than the backoff does not shorten it: an API that
// answers 503 with Retry-After: 0 again and again gets the backoff's
// growing waits, not a loop. (Each wait is drawn from [0, 1 s << k]: the
// ten together stay under 1 s with a chance of about 2^-45.)
TEST_F(DispatcherTest, ARetryAfterOfZeroStillBacksOff) {
  Append({"a"});
  std::int64_t waited_ms = 0;
  for (int i = 0; i < 10; ++i) {
    api_.Script(FakeHttpTransport::Response(503, "{}", "0"));
    ASSERT_EQ(Deliver().retried, 1);
    auto status = spool_->Lookup("default", "order_created", "a");
    ASSERT_TRUE(status.ok());
    const std::int64_t wait = status->next_attempt_ms - clock_.NowMs();
    EXPECT_GE(wait, 0);
    waited_ms += wait;
    clock_.Advance(std::chrono::milliseconds(wait));
  }
  EXPECT_GE(waited_ms, 1000);
}

// A Retry-After longer than an event's window is honoured, in seconds as
// in an HTTP-date: the event expires instead of being sent earlier.
TEST_F(DispatcherTest, ARetryAfterPastTheWindowExpiresTheEvent) {
  Append({"a"});
  api_.Script(FakeHttpTransport::Response(429, "{}", "9999999999"));
  DeliveryReport report = Deliver();
  EXPECT_EQ(report.dead_lettered, 1);
  EXPECT_EQ(StateOf("a"), EventState::kDead);
}

// An event whose stored payload cannot be read back (its file damaged
// outside the gateway) is dead-lettered as damaged, counted and logged,
// never sent; the rest of its claim is delivered.
TEST_F(DispatcherTest, AnUnreadablePayloadIsDeadLetteredAsDamaged) {
  Append({"a", "b"});
  {
    // The first payload's second byte, in the first log segment.
    std::fstream f(dir_.path() + "/spool.db.payloads/0.log",
                   std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.is_open());
    f.seekp(1);
    f.put('#');
  }
  ::testing::internal::CaptureStderr();
  DeliveryReport report = Deliver();
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(report.delivered, 1);
  EXPECT_EQ(report.dead_lettered, 1);
  EXPECT_EQ(StateOf("a"), EventState::kDead);
  EXPECT_EQ(StateOf("b"), EventState::kDelivered);
  ASSERT_THAT(api_.requests(), SizeIs(1));
  EXPECT_THAT(api_.requests()[0].body, Not(HasSubstr(R"("id":"a")")));
  auto dead = spool_->ListDeadLetters({});
  ASSERT_TRUE(dead.ok());
  ASSERT_THAT(dead->dead_letters, SizeIs(1));
  EXPECT_EQ(dead->dead_letters[0].reason, DeadReason::kDamaged);
  EXPECT_THAT(dead->dead_letters[0].message,
              HasSubstr("the stored event cannot be read"));
  EXPECT_EQ(metrics_.events_dead_lettered.Value({"default", "damaged"}), 1);
  EXPECT_THAT(log, HasSubstr("level=error event=events_damaged "
                             "destination=default validate_only=0 events=1"));
}

// The log of a Retry-After beyond the destination's one-day wait shows the
// header as sent, not the 8 days it is read as.
TEST_F(DispatcherTest, ACappedRetryAfterIsLoggedAsTheApiSentIt) {
  Append({"a"});
  api_.Script(FakeHttpTransport::Response(429, "{}", "9999999999"));
  ::testing::internal::CaptureStderr();
  Deliver();
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("event=retry_after_capped destination=default "
                             "retry_after=9999999999 events_wait_ms=691200000 "
                             "destination_wait_ms=86400000"));
}

// A success on another worker ends a backoff, not the API's Retry-After:
// until then nothing more goes to the destination.
TEST_F(DispatcherTest, ASuccessElsewhereDoesNotCutShortARetryAfter) {
  ASSERT_NO_FATAL_FAILURE(RetryAfterThenASuccessElsewhere());
  EXPECT_EQ(Deliver().delivered, 2);
  EXPECT_THAT(api_.requests(), SizeIs(2));
}

// The same when the Retry-After is shorter than the backoff (an hour
// here): the events wait for the backoff, and the destination still waits
// out the API's 5 s after a success elsewhere, not less.
TEST_F(DispatcherTest, AShortRetryAfterStillHoldsTheDestination) {
  DispatchTarget target;
  target.name = "default";
  target.url = RequestUrl("https://api.test/v1/events", "pixel 1");
  target.api_key = "test-key";
  target.options.initial_backoff = std::chrono::hours(1);
  target.options.max_backoff = std::chrono::hours(1);
  UseScriptedDispatcher(&clock_, target);
  ASSERT_NO_FATAL_FAILURE(RetryAfterThenASuccessElsewhere());
  EXPECT_GE(Deliver().delivered, 1);  // "c"; "a" waits for its backoff
  EXPECT_EQ(StateOf("c"), EventState::kDelivered);
}

TEST_F(DispatcherTest, RetriesServerErrorsWithBoundedBackoff) {
  Append({"a"});
  api_.Script(FakeHttpTransport::Response(503));
  api_.Script(FakeHttpTransport::Response(502));
  EXPECT_EQ(Deliver().retried, 1);
  // Full jitter: the first retry waits at most initial_backoff (1 s).
  clock_.Advance(std::chrono::milliseconds(1000));
  EXPECT_EQ(Deliver().retried, 1);
  // The second at most 2 s.
  clock_.Advance(std::chrono::milliseconds(2000));
  EXPECT_EQ(Deliver().delivered, 1);
  EXPECT_THAT(api_.requests(), SizeIs(3));
  EXPECT_EQ(metrics_.events_retried.Value({"default", "503"}), 1);
}

// During an outage the destination's wait grows with every failed request,
// not only with each batch's own retries: a backlog of fresh batches (one
// event each here) met a failing API at the first retry's rate, 1 s at
// most between requests however long the outage (helper-66 M2). The
// events keep their own backoff, and a success ends the destination's
// wait, so the backlog goes as soon as the API is back. (The 11 waits
// after the first are drawn from [0, 2 s], [0, 4 s] and nine of [0, 8 s]:
// all of them under 1 s has a chance of about 2^-30.)
TEST_F(DispatcherTest, AnOutageBacksOffTheDestinationNotOnlyEachBatch) {
  DispatchTarget target;
  target.name = "default";
  target.url = RequestUrl("https://api.test/v1/events", "pixel 1");
  target.api_key = "test-key";
  target.options.initial_backoff = std::chrono::milliseconds(1000);
  target.options.max_backoff = std::chrono::milliseconds(8000);
  target.options.max_batch_events = 1;
  UseScriptedDispatcher(&clock_, target);
  std::vector<std::string> ids;
  for (int i = 0; i < 14; ++i) ids.push_back(absl::StrCat("e", 10 + i));
  Append(ids);
  std::int64_t longest = 0;
  for (size_t i = 0; i < 12; ++i) {
    api_.Script(FakeHttpTransport::Response(503));
    ASSERT_EQ(Deliver().retried, 1);
    EXPECT_THAT(IdsIn(api_.requests().back()), ::testing::ElementsAre(ids[i]));
    // The event's own wait is its first retry's: at most 1 s.
    auto status = spool_->Lookup("default", "order_created", ids[i]);
    ASSERT_TRUE(status.ok());
    EXPECT_LE(status->next_attempt_ms - clock_.NowMs(), 1000);
    // The destination's is the streak's; nothing goes before it ends.
    const std::int64_t wait =
        dispatcher_->HeldUntilMs("default") - clock_.NowMs();
    longest = std::max(longest, wait);
    if (wait > 0) {
      clock_.Advance(std::chrono::milliseconds(wait - 1));
      EXPECT_EQ(Deliver().claimed, 0);
      clock_.Advance(std::chrono::milliseconds(1));
    }
  }
  EXPECT_GT(longest, 1000);
  // The API is back: the failed events are due (their own waits, 1 s at
  // most, are over) and go with the rest, one per request.
  for (int i = 0; i < 14; ++i) api_.Script(FakeHttpTransport::Response(200));
  int delivered = 0;
  for (int i = 0; i < 14; ++i) delivered += Deliver().delivered;
  EXPECT_EQ(delivered, 14);
  EXPECT_LE(dispatcher_->HeldUntilMs("default"), clock_.NowMs());
}

TEST_F(DispatcherTest, RetriesNetworkErrors) {
  Append({"a"});
  api_.Script(absl::UnavailableError("connection refused"));
  EXPECT_EQ(Deliver().retried, 1);
  auto status = spool_->Lookup("default", "order_created", "a");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, EventState::kQueued);
  EXPECT_THAT(status->last_error, HasSubstr("connection refused"));
  clock_.Advance(std::chrono::milliseconds(1000));
  EXPECT_EQ(Deliver().delivered, 1);
}

// Retries count by cause: a timeout apart from a network error.
TEST_F(DispatcherTest, CountsRetriesOfTimeoutsApartFromNetworkErrors) {
  Append({"a"});
  api_.Script(absl::DeadlineExceededError("no complete response"));
  EXPECT_EQ(Deliver().retried, 1);
  clock_.Advance(std::chrono::hours(1));
  api_.Script(absl::UnavailableError("connection refused"));
  EXPECT_EQ(Deliver().retried, 1);
  EXPECT_EQ(metrics_.events_retried.Value({"default", "timeout"}), 1);
  EXPECT_EQ(metrics_.events_retried.Value({"default", "network"}), 1);
}

TEST_F(DispatcherTest, PausesOnAuthFailureAndResumesWhenProbeSucceeds) {
  // The listener hears each change once, after PausedDestinations() shows
  // it and with no lock of the dispatcher held (asking it would deadlock).
  std::vector<size_t> heard;
  dispatcher_->SetPauseListener(
      [&] { heard.push_back(dispatcher_->PausedDestinations().size()); });
  Append({"a", "b"});
  api_.Script(FakeHttpTransport::Response(
      401, R"({"error":{"message":"Missing scopes"}})"));
  DeliveryReport first = Deliver();
  EXPECT_TRUE(first.paused);
  ASSERT_THAT(dispatcher_->PausedDestinations(), SizeIs(1));
  EXPECT_EQ(dispatcher_->PausedDestinations()[0].name, "default");
  EXPECT_EQ(dispatcher_->PausedDestinations()[0].status, 401);
  EXPECT_EQ(StateOf("a"), EventState::kQueued);
  // Paused: nothing is sent until the probe is due.
  clock_.Advance(std::chrono::milliseconds(29999));
  EXPECT_TRUE(Deliver().paused);
  EXPECT_THAT(api_.requests(), SizeIs(1));
  EXPECT_THAT(heard, ElementsAre(1));  // the paused answer said nothing new
  clock_.Advance(std::chrono::milliseconds(1));
  EXPECT_EQ(Deliver().delivered, 2);
  EXPECT_TRUE(dispatcher_->PausedDestinations().empty());
  EXPECT_THAT(heard, ElementsAre(1, 0));
  // A pause does not count as an attempt.
  auto status = spool_->Lookup("default", "order_created", "a");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->attempts, 1);
}

// A url that names no endpoint (404, 405, 410) pauses the destination as
// a refused key does: no event is at fault, and retrying each batch with
// backoff would only hold them until their window closes. The pause
// shows the status, counts its events as retried for "endpoint", and a
// probe that succeeds (the url fixed behind a proxy, say) resumes.
TEST_F(DispatcherTest, PausesWhenTheUrlNamesNoEndpoint) {
  for (int status : {404, 405, 410}) {
    SCOPED_TRACE(status);
    const std::string id = absl::StrCat("e", status);
    Append({id});
    api_.Script(FakeHttpTransport::Response(
        status, R"({"error":{"message":"Not found"}})"));
    DeliveryReport report = Deliver();
    EXPECT_TRUE(report.paused);
    EXPECT_EQ(report.retried, 1);
    EXPECT_EQ(report.dead_lettered, 0);
    ASSERT_THAT(dispatcher_->PausedDestinations(), SizeIs(1));
    EXPECT_EQ(dispatcher_->PausedDestinations()[0].status, status);
    EXPECT_EQ(StateOf(id), EventState::kQueued);
    clock_.Advance(std::chrono::milliseconds(30000));
    EXPECT_EQ(Deliver().delivered, 1);
    EXPECT_TRUE(dispatcher_->PausedDestinations().empty());
  }
  EXPECT_EQ(metrics_.events_retried.Value({"default", "endpoint"}), 3);
  EXPECT_EQ(metrics_.events_retried.Value({"default", "auth"}), 0);
  EXPECT_EQ(metrics_.destination_pauses.Value({"default"}), 3);
}

// A 400 or 422 whose error names a request parameter, not an event (a
// wrong pixel id: "pid"), pauses the destination under cause "request":
// every request would get the same answer, and splitting the batch down
// to single events dead-lettered each one, two requests per event
// (helper-66 M1). A refusal that names an event, or none, still splits.
TEST_F(DispatcherTest, ARefusalOfTheRequestNotItsEventsPauses) {
  for (int status : {400, 422}) {
    SCOPED_TRACE(status);
    const std::string a = absl::StrCat("a", status);
    const std::string b = absl::StrCat("b", status);
    Append({a, b});
    const size_t before = api_.requests().size();
    api_.Script(FakeHttpTransport::Response(
        status, R"({"error":{"message":"unknown pixel id","type":)"
                R"("invalid_request_error","param":"pid","code":null}})"));
    DeliveryReport report = Deliver();
    EXPECT_TRUE(report.paused);
    EXPECT_EQ(report.retried, 2);
    EXPECT_EQ(report.dead_lettered, 0);
    EXPECT_THAT(api_.requests(), SizeIs(before + 1));  // not split
    ASSERT_THAT(dispatcher_->PausedDestinations(), SizeIs(1));
    EXPECT_EQ(dispatcher_->PausedDestinations()[0].status, status);
    EXPECT_STREQ(Dispatcher::PauseCause(status), "request");
    EXPECT_EQ(StateOf(a), EventState::kQueued);
    clock_.Advance(std::chrono::milliseconds(30000));
    EXPECT_EQ(Deliver().delivered, 2);
    EXPECT_TRUE(dispatcher_->PausedDestinations().empty());
  }
  EXPECT_EQ(metrics_.events_retried.Value({"default", "request"}), 4);
  // Naming an event, or nothing: split, and the bad event dead-lettered.
  // The API's errors are not documented: a param that is not one of the
  // request's own (pid, integration_source, validate_only) may name an
  // event's field, and pausing for it would let one event stop the
  // destination for good.
  int round = 0;
  for (const char* body :
       {R"({"error":{"message":"bad id","param":"events[1].id"}})",
        R"({"error":{"message":"bad event","param":null}})",
        R"({"error":{"message":"too old","param":"timestamp_ms"}})"}) {
    SCOPED_TRACE(body);
    ++round;
    Append({absl::StrCat("x", round), absl::StrCat("y", round)});
    api_.Script(FakeHttpTransport::Response(400, body));
    api_.Script(FakeHttpTransport::Response(200));
    api_.Script(FakeHttpTransport::Response(400, body));
    DeliveryReport report = Deliver();
    EXPECT_FALSE(report.paused);
    EXPECT_EQ(report.delivered, 1);
    EXPECT_EQ(report.dead_lettered, 1);
    EXPECT_EQ(StateOf(absl::StrCat("y", round)), EventState::kDead);
  }
  // Within a split (its batch was refused for an event) a half's "pid" is
  // read as that half's event refused, not as the request's.
  Append({"s1", "s2"});
  api_.Script(FakeHttpTransport::Response(
      400, R"({"error":{"message":"bad","param":"events[0].id"}})"));
  api_.Script(FakeHttpTransport::Response(
      400, R"({"error":{"message":"unknown pixel id","param":"pid"}})"));
  api_.Script(FakeHttpTransport::Response(200));
  DeliveryReport split = Deliver();
  EXPECT_FALSE(split.paused);
  EXPECT_EQ(split.dead_lettered, 1);
  EXPECT_EQ(split.delivered, 1);
  EXPECT_EQ(StateOf("s1"), EventState::kDead);
}

// A redirect (never followed: it would carry the key to another url) and
// the 4xx statuses the API does not document pause the destination too,
// under causes "endpoint" and "status": the API's guidance is to retry
// only transient conditions, and retrying them would hold every event
// until its window closes while nothing but a retry counter showed why.
TEST_F(DispatcherTest, RedirectsAndUndocumentedClientErrorsPause) {
  const std::vector<std::pair<int, std::string>> cases = {
      {301, "endpoint"}, {302, "endpoint"}, {307, "endpoint"},
      {308, "endpoint"}, {409, "status"},   {418, "status"},
      {451, "status"}};
  for (const auto& [status, cause] : cases) {
    SCOPED_TRACE(status);
    const std::string id = absl::StrCat("e", status);
    Append({id});
    api_.Script(FakeHttpTransport::Response(status));
    DeliveryReport report = Deliver();
    EXPECT_TRUE(report.paused);
    EXPECT_EQ(report.retried, 1);
    EXPECT_EQ(report.dead_lettered, 0);
    ASSERT_THAT(dispatcher_->PausedDestinations(), SizeIs(1));
    EXPECT_EQ(dispatcher_->PausedDestinations()[0].status, status);
    EXPECT_EQ(StateOf(id), EventState::kQueued);
    clock_.Advance(std::chrono::milliseconds(30000));
    EXPECT_EQ(Deliver().delivered, 1);
    EXPECT_TRUE(dispatcher_->PausedDestinations().empty());
  }
  EXPECT_EQ(metrics_.events_retried.Value({"default", "endpoint"}), 4);
  EXPECT_EQ(metrics_.events_retried.Value({"default", "status"}), 3);
  // The statuses that keep their classes.
  for (int status : {400, 408, 413, 421, 422, 425, 429, 500, 503}) {
    EXPECT_FALSE(Dispatcher::PausesDestination(status)) << status;
  }
  for (int status : {200, 204, 100, 600}) {
    EXPECT_FALSE(Dispatcher::PausesDestination(status)) << status;
  }
}

// A paused destination whose queued events all expire has nothing left to
// probe with: it resumes at its next probe, so that readiness and the
// paused gauge do not stay down for good; a new event that meets the same
// refusal pauses it again.
TEST_F(DispatcherTest, APausedDestinationWithNothingQueuedResumes) {
  std::vector<size_t> heard;
  dispatcher_->SetPauseListener(
      [&] { heard.push_back(dispatcher_->PausedDestinations().size()); });
  Append({"a"}, false, kNow - 7 * kDayMs + 20'000);
  api_.Script(FakeHttpTransport::Response(401));
  EXPECT_TRUE(Deliver().paused);
  clock_.Advance(std::chrono::milliseconds(30000));  // "a" has expired
  DeliveryReport probe = Deliver();
  EXPECT_EQ(probe.dead_lettered, 1);
  EXPECT_TRUE(dispatcher_->PausedDestinations().empty());
  EXPECT_THAT(api_.requests(), SizeIs(1));
  EXPECT_EQ(StateOf("a"), EventState::kDead);
  EXPECT_THAT(heard, ElementsAre(1, 0));

  // Events of the other lane keep it paused: they are still held back.
  // The empty lane does not take the probe's turn from the lane that has
  // events.
  Append({"v"}, /*validate_only=*/true);
  api_.Script(FakeHttpTransport::Response(401));
  EXPECT_TRUE(Deliver(/*validate_only=*/true).paused);
  clock_.Advance(std::chrono::milliseconds(30000));
  DeliveryReport empty = Deliver();
  EXPECT_EQ(empty.claimed, 0);
  EXPECT_TRUE(empty.paused);
  EXPECT_THAT(dispatcher_->PausedDestinations(), SizeIs(1));
  EXPECT_EQ(Deliver(/*validate_only=*/true).delivered, 1);
  EXPECT_TRUE(dispatcher_->PausedDestinations().empty());
  EXPECT_THAT(api_.requests(), SizeIs(3));
}

// A probe the API answers 400 shows that the key works: the destination
// resumes, though its only event is dead-lettered and nothing is left
// to probe with.
TEST_F(DispatcherTest, AProbeRefusedFor400ResumesTheDestination) {
  std::vector<size_t> heard;
  dispatcher_->SetPauseListener(
      [&] { heard.push_back(dispatcher_->PausedDestinations().size()); });
  Append({"a"});
  api_.Script(FakeHttpTransport::Response(401));
  EXPECT_TRUE(Deliver().paused);
  clock_.Advance(std::chrono::milliseconds(30000));
  api_.Script(FakeHttpTransport::Response(400, R"({"error":{"message":"x"}})"));
  DeliveryReport probe = Deliver();
  EXPECT_FALSE(probe.paused);
  EXPECT_EQ(probe.dead_lettered, 1);
  EXPECT_TRUE(dispatcher_->PausedDestinations().empty());
  EXPECT_EQ(StateOf("a"), EventState::kDead);
  EXPECT_THAT(heard, ElementsAre(1, 0));
}

// While paused, one worker probes per auth_probe_interval, not each.
TEST_F(DispatcherTest, APausedDestinationGetsOneProbePerInterval) {
  Append({"a"});
  Append({"v"}, /*validate_only=*/true);
  api_.Script(FakeHttpTransport::Response(401));
  EXPECT_TRUE(Deliver().paused);
  clock_.Advance(std::chrono::milliseconds(30000));
  // While one worker's probe is in flight, another (here of the
  // validate_only lane) finds the probe taken and waits.
  FakeHttpTransport prober;
  prober.SetResponder([&](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    EXPECT_TRUE(Deliver(/*validate_only=*/true).paused);
    return FakeHttpTransport::Response(401);
  });
  auto probe = dispatcher_->DeliverOnce({"default", false}, &prober);
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_TRUE(probe->paused);
  EXPECT_THAT(prober.requests(), SizeIs(1));
  EXPECT_THAT(api_.requests(), SizeIs(1));  // the first request only
  // The events were counted as retried when the pause began, not again
  // for the probe that failed; the probe shows as an API request.
  EXPECT_EQ(metrics_.events_retried.Value({"default", "auth"}), 1);
  EXPECT_EQ(metrics_.api_requests.Value({"default", "401"}), 2);
}

// A batch split after a 400 stops sending when a half pauses the
// destination: the rest waits for the probe.
TEST_F(DispatcherTest, ASplitStopsWhenAHalfPausesTheDestination) {
  Append({"a", "b", "c", "d"});
  api_.Script(FakeHttpTransport::Response(400, R"({"error":{"message":"x"}})"));
  api_.Script(FakeHttpTransport::Response(401));
  DeliveryReport report = Deliver();
  EXPECT_TRUE(report.paused);
  EXPECT_EQ(report.retried, 4);
  EXPECT_THAT(api_.requests(), SizeIs(2));  // the whole batch, one half
  for (const char* id : {"a", "b", "c", "d"}) {
    EXPECT_EQ(StateOf(id), EventState::kQueued) << id;
  }
  clock_.Advance(std::chrono::milliseconds(30000));
  EXPECT_EQ(Deliver().delivered, 4);
}

TEST_F(DispatcherTest, DeadLettersExpiredEventsWithoutSendingThem) {
  Append({"old"}, false, kNow - 6 * kDayMs);
  Append({"fresh"});
  clock_.Advance(std::chrono::milliseconds(kDayMs));  // "old" is now > 7 days
  DeliveryReport report = Deliver();
  EXPECT_EQ(report.dead_lettered, 1);
  EXPECT_EQ(report.delivered, 1);
  ASSERT_THAT(api_.requests(), SizeIs(1));
  EXPECT_EQ(IdsIn(api_.requests()[0]), std::vector<std::string>{"fresh"});
  auto status = spool_->Lookup("default", "order_created", "old");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, EventState::kDead);
  EXPECT_EQ(status->dead_reason, DeadReason::kExpired);
}

// An event put back by a pause, whose window closes before the pause
// ends, is dead-lettered with the pause's error: what kept it from going.
TEST_F(DispatcherTest, AnEventExpiredInAPauseKeepsThePausesError) {
  // 34 s are left of its window; the probe comes after 30 s, within the
  // last 5 s.
  Append({"a"}, false, kNow - 7 * kDayMs + 34'000);
  api_.Script(FakeHttpTransport::Response(401));
  EXPECT_TRUE(Deliver().paused);
  clock_.Advance(std::chrono::milliseconds(30'000));
  DeliveryReport report = Deliver();
  EXPECT_EQ(report.dead_lettered, 1);
  EXPECT_THAT(api_.requests(), SizeIs(1));  // the first request only
  auto status = spool_->Lookup("default", "order_created", "a");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, EventState::kDead);
  EXPECT_EQ(status->dead_reason, DeadReason::kExpired);
  EXPECT_THAT(status->last_error,
              ::testing::HasSubstr("last error: HTTP 401: destination paused"));
}

TEST_F(DispatcherTest, ExpiresEventsWhoseWindowClosesBeforeTheNextAttempt) {
  // 30 s are left of the window; the API asks to come back in an hour.
  Append({"a"}, false, kNow - 7 * kDayMs + 90'000);
  api_.Script(FakeHttpTransport::Response(429, "{}", "3600"));
  DeliveryReport report = Deliver();
  EXPECT_EQ(report.dead_lettered, 1);
  EXPECT_EQ(StateOf("a"), EventState::kDead);
  // It was sent once.
  auto status = spool_->Lookup("default", "order_created", "a");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->attempts, 1);
}

TEST_F(DispatcherTest, RespectsBatchSizeLimit) {
  dispatcher_.reset();
  DispatchTarget target;
  target.name = "default";
  target.url = "https://api.test/v1/events?pid=1";
  target.options.max_batch_events = 2;
  dispatcher_ = std::make_unique<Dispatcher>(
      spool_.get(), &clock_, &metrics_, std::vector<DispatchTarget>{target},
      nullptr);
  Append({"a", "b", "c"});
  EXPECT_EQ(Deliver().delivered, 2);
  EXPECT_EQ(Deliver().delivered, 1);
}

// max_batch_bytes bounds the whole request body: the envelope, the events
// and the commas between them, not the events' JSON alone.
TEST_F(DispatcherTest, RequestBodiesStayWithinTheByteBudget) {
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(absl::StrCat("event-", 100 + i));
  const std::string one = R"({"id":"event-100","type":"order_created"})";
  for (const bool validate_only : {false, true}) {
    Append(ids, validate_only);
    mapping::RequestEnvelope envelope;
    envelope.validate_only = validate_only;
    envelope.integration_source = "my_bridge";
    std::string envelope_only;
    mapping::EncodeRequest(envelope, {}, &envelope_only);
    DispatchTarget target;
    target.name = "default";
    target.url = "https://api.test/v1/events?pid=1";
    target.integration_source = "my_bridge";
    // Room for the envelope and 7 events with the 6 commas between them.
    target.options.max_batch_bytes =
        static_cast<std::int64_t>(envelope_only.size() + 7 * one.size() + 6);
    dispatcher_.reset();
    dispatcher_ = std::make_unique<Dispatcher>(
        spool_.get(), &clock_, &metrics_, std::vector<DispatchTarget>{target},
        nullptr);
    const size_t before = api_.requests().size();
    while (Deliver(validate_only).delivered > 0) {
    }
    const std::vector<HttpRequest> all = api_.requests();
    const std::vector<HttpRequest> requests(all.begin() + before, all.end());
    ASSERT_THAT(requests, SizeIs(6));  // 7 + 7 + 7 + 7 + 7 + 5
    for (const HttpRequest& request : requests) {
      EXPECT_LE(request.body.size(),
                static_cast<size_t>(target.options.max_batch_bytes));
    }
    EXPECT_EQ(requests[0].body.size(),
              static_cast<size_t>(target.options.max_batch_bytes));
    EXPECT_THAT(IdsIn(requests[0]), SizeIs(7));
  }
}

// A transport whose requests hang until Cancel; after 20 s they give up
// and answer 200, so that a missing cancel fails the test instead of
// hanging it.
class HangingTransport : public HttpTransport {
 public:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool entered = false;    // a request is hanging
    bool cancelled = false;  // Cancel was called
    bool gave_up = false;    // a request ended without Cancel
  };
  explicit HangingTransport(State* state) : state_(state) {}

  absl::StatusOr<HttpResponse> Post(const HttpRequest&) override {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->entered = true;
    state_->cv.notify_all();
    if (!state_->cv.wait_for(lock, std::chrono::seconds(20),
                             [&] { return state_->cancelled; })) {
      state_->gave_up = true;
      return FakeHttpTransport::Response(200);
    }
    return absl::CancelledError("cancelled");
  }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->cancelled = true;
    state_->cv.notify_all();
  }

 private:
  State* const state_;
};

TEST_F(DispatcherTest, ShutdownCancelsRequestsInFlightAtTheDeadline) {
  HangingTransport::State hang;
  DispatchTarget target;
  target.name = "default";
  target.url = RequestUrl("https://api.test/v1/events", "pixel");
  target.api_key = "test-key";
  target.options.linger = std::chrono::milliseconds(0);
  target.options.max_in_flight_requests = 1;
  dispatcher_ = std::make_unique<Dispatcher>(
      spool_.get(), &clock_, &metrics_, std::vector<DispatchTarget>{target},
      [&hang](const DispatchTarget&)
          -> absl::StatusOr<std::unique_ptr<HttpTransport>> {
        return std::unique_ptr<HttpTransport>(new HangingTransport(&hang));
      });
  Append({"slow"});
  ASSERT_TRUE(dispatcher_->Start().ok());
  dispatcher_->Notify({"default", false}, 1);
  {
    std::unique_lock<std::mutex> lock(hang.mu);
    ASSERT_TRUE(hang.cv.wait_for(lock, std::chrono::seconds(20),
                                 [&] { return hang.entered; }));
  }
  // The API hangs; the drain deadline is now.
  dispatcher_->Shutdown(clock_.NowMs());
  std::lock_guard<std::mutex> lock(hang.mu);
  EXPECT_TRUE(hang.cancelled);
  EXPECT_FALSE(hang.gave_up);
  // Not delivered, not lost: it goes out after a restart, due at once.
  EXPECT_EQ(StateOf("slow"), EventState::kQueued);
  auto status = spool_->Lookup("default", "order_created", "slow");
  ASSERT_TRUE(status.ok());
  EXPECT_LE(status->next_attempt_ms, clock_.NowMs());
  // The API never answered: a retry for the shutdown, not a network error,
  // and no API request counted.
  EXPECT_EQ(metrics_.events_retried.Value({"default", "shutdown"}), 1);
  EXPECT_EQ(metrics_.events_retried.Value({"default", "network"}), 0);
  EXPECT_THAT(metrics_.Render(),
              Not(HasSubstr("conversions_api_requests_total{")));
}

// Answers from a script shared by every transport the dispatcher makes.
class ScriptedTransport : public HttpTransport {
 public:
  explicit ScriptedTransport(FakeHttpTransport* script) : script_(script) {}
  absl::StatusOr<HttpResponse> Post(const HttpRequest& request) override {
    return script_->Post(request);
  }

 private:
  FakeHttpTransport* const script_;
};

void DispatcherTest::UseScriptedDispatcher(Clock* clock,
                                           const DispatchTarget& target) {
  dispatcher_ = std::make_unique<Dispatcher>(
      spool_.get(), clock, &metrics_, std::vector<DispatchTarget>{target},
      [this](const DispatchTarget&)
          -> absl::StatusOr<std::unique_ptr<HttpTransport>> {
        return std::unique_ptr<HttpTransport>(new ScriptedTransport(&api_));
      });
}

// A destination for the drain tests: no linger, so a lane sends at once.
DispatchTarget DrainTarget() {
  DispatchTarget target;
  target.name = "default";
  target.url = RequestUrl("https://api.test/v1/events", "pixel");
  target.api_key = "test-key";
  target.options.linger = std::chrono::milliseconds(0);
  return target;
}

// Records the requests of every transport the dispatcher makes, and holds
// each in Post while `hold` is set, counting how many are in it at once.
class GateTransport : public HttpTransport {
 public:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool hold = false;
    int inside = 0;
    int most_inside = 0;
    int events = 0;
    std::vector<std::string> bodies;
  };
  explicit GateTransport(State* state) : state_(state) {}
  absl::StatusOr<HttpResponse> Post(const HttpRequest& request) override {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->bodies.push_back(request.body);
    state_->events +=
        static_cast<int>(nlohmann::json::parse(request.body)["events"].size());
    state_->most_inside = std::max(state_->most_inside, ++state_->inside);
    state_->cv.notify_all();
    state_->cv.wait(lock, [&] { return !state_->hold; });
    --state_->inside;
    return FakeHttpTransport::Response(200);
  }

 private:
  State* const state_;
};

// A lane whose batches fill at once, on the real clock and the worker
// threads, lingering 10 minutes otherwise (so that a test that waits for
// a request fails unless a full batch sent it).
class DispatcherBatchTest : public DispatcherTest {
 protected:
  void StartGated(int max_batch_events, std::int64_t max_batch_bytes) {
    DispatchTarget target = DrainTarget();
    target.options.linger = std::chrono::minutes(10);
    target.options.max_batch_events = max_batch_events;
    target.options.max_batch_bytes = max_batch_bytes;
    target.options.max_in_flight_requests = 4;
    dispatcher_ = std::make_unique<Dispatcher>(
        spool_.get(), &real_clock_, &metrics_,
        std::vector<DispatchTarget>{target},
        [this](const DispatchTarget&)
            -> absl::StatusOr<std::unique_ptr<HttpTransport>> {
          return std::unique_ptr<HttpTransport>(new GateTransport(&gate_));
        });
    ASSERT_TRUE(dispatcher_->Start().ok());
  }
  // Appends `n` events after the start (so the workers wait for the
  // notification) and notifies them with their bytes.
  void AppendAndNotify(int n) {
    std::vector<std::string> ids;
    std::int64_t bytes = 0;
    for (int i = 0; i < n; ++i) {
      ids.push_back(absl::StrCat("e", i < 10 ? "0" : "", i));
      bytes += static_cast<std::int64_t>(
          absl::StrCat(R"({"id":")", ids.back(), R"(","type":"order_created"})")
              .size());
    }
    Append(ids, false, real_clock_.NowMs() - 1000);
    dispatcher_->Notify({"default", false}, n, bytes);
  }
  void TearDown() override {
    {
      std::lock_guard<std::mutex> lock(gate_.mu);
      gate_.hold = false;
      gate_.cv.notify_all();
    }
    dispatcher_->Shutdown(real_clock_.NowMs() + 20'000);
  }

  SystemClock real_clock_;
  GateTransport::State gate_;
};

// DESIGN.md: a batch goes at 1,000 events, the byte budget or the linger
// time, whichever comes first. Notified events past the budget send at
// once, in requests within it (`max_batch_bytes` 200 takes 5 of these
// events of 35 bytes, with their commas, once the envelope's 13 are
// counted).
TEST_F(DispatcherBatchTest, AFullByteBudgetSendsWithoutLingering) {
  StartGated(/*max_batch_events=*/1000, /*max_batch_bytes=*/200);
  AppendAndNotify(15);
  std::unique_lock<std::mutex> lock(gate_.mu);
  ASSERT_TRUE(gate_.cv.wait_for(lock, std::chrono::seconds(20),
                                [&] { return gate_.events == 15; }))
      << gate_.events << " events sent";
  EXPECT_EQ(gate_.bodies.size(), 3u);
  for (const std::string& body : gate_.bodies) EXPECT_LE(body.size(), 200u);
}

// One request of several batches, to a lane that was idle: its batches go
// over as many connections as the lane has workers (4), not one after
// another over one while the other workers sleep.
TEST_F(DispatcherBatchTest, ARequestOfSeveralBatchesUsesEveryWorker) {
  StartGated(/*max_batch_events=*/10, /*max_batch_bytes=*/4 << 20);
  {
    std::lock_guard<std::mutex> lock(gate_.mu);
    gate_.hold = true;
  }
  AppendAndNotify(40);
  std::unique_lock<std::mutex> lock(gate_.mu);
  EXPECT_TRUE(gate_.cv.wait_for(lock, std::chrono::seconds(20),
                                [&] { return gate_.inside == 4; }))
      << gate_.most_inside << " requests at once";
  gate_.hold = false;
  gate_.cv.notify_all();
  ASSERT_TRUE(gate_.cv.wait_for(lock, std::chrono::seconds(20),
                                [&] { return gate_.events == 40; }));
  EXPECT_EQ(gate_.bodies.size(), 4u);
}

// A drain delivers what falls due before its deadline, retries included:
// a 503 whose backoff ends 50 ms later is retried and delivered, where the
// lanes used to stop as soon as nothing was due at that instant, leaving
// the event queued with most of the drain's time unused. On the real
// clock (backoffs are waited for), but with no sleep: Shutdown returns
// once the lanes stop.
TEST_F(DispatcherTest, ADrainWaitsForRetriesDueBeforeItsDeadline) {
  SystemClock clock;
  DispatchTarget target = DrainTarget();
  target.options.initial_backoff = std::chrono::milliseconds(50);
  target.options.max_backoff = std::chrono::milliseconds(50);
  UseScriptedDispatcher(&clock, target);
  Append({"retried"}, false, clock.NowMs() - 1000);
  api_.Script(FakeHttpTransport::Response(503));
  api_.Script(FakeHttpTransport::Response(200));
  ASSERT_TRUE(dispatcher_->Start().ok());
  dispatcher_->Shutdown(clock.NowMs() + 20'000);
  EXPECT_THAT(api_.requests(), SizeIs(2));
  EXPECT_EQ(StateOf("retried"), EventState::kDelivered);
}

// A retry due only after the deadline is left in the spool, and the drain
// ends without waiting for it.
TEST_F(DispatcherTest, ADrainLeavesRetriesDueAfterItsDeadline) {
  SystemClock clock;
  UseScriptedDispatcher(&clock, DrainTarget());
  Append({"later"}, false, clock.NowMs() - 1000);
  api_.Script(FakeHttpTransport::Response(429, "{}", "3600"));
  ASSERT_TRUE(dispatcher_->Start().ok());
  const auto started = std::chrono::steady_clock::now();
  dispatcher_->Shutdown(clock.NowMs() + 20'000);
  EXPECT_LT(std::chrono::steady_clock::now() - started,
            std::chrono::seconds(15));
  EXPECT_THAT(api_.requests(), SizeIs(1));
  EXPECT_EQ(StateOf("later"), EventState::kQueued);
}

TEST(RetryAfterTest, ParsesSecondsAndHttpDates) {
  EXPECT_EQ(ParseRetryAfter("5", 0), std::chrono::milliseconds(5000));
  // Sun, 06 Nov 1994 08:49:37 GMT is 784111777 s after the epoch.
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111770000),
            std::chrono::milliseconds(7000));
  // The two obsolete HTTP-date forms recipients must accept too.
  EXPECT_EQ(ParseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", 784111770000),
            std::chrono::milliseconds(7000));
  EXPECT_EQ(ParseRetryAfter("Sun Nov  6 08:49:37 1994", 784111770000),
            std::chrono::milliseconds(7000));
  EXPECT_EQ(ParseRetryAfter("soon", 0), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("", 0), std::nullopt);
  // Past the 7-day window, seconds are capped at 8 days: still too late
  // for any event, and the sum stays in range.
  EXPECT_EQ(ParseRetryAfter("9999999999", 0),
            std::chrono::milliseconds(8LL * 86400 * 1000));
}

TEST(ApiErrorMessageTest, ReadsTheShapesTheApiMayUse) {
  EXPECT_EQ(
      ApiErrorMessage(R"({"error":{"message":"bad id","type":"x"}})", "k"),
      "bad id");
  EXPECT_EQ(ApiErrorMessage(R"({"error":"plain"})", "k"), "plain");
  EXPECT_EQ(ApiErrorMessage(R"({"message":"top"})", "k"), "top");
  EXPECT_EQ(ApiErrorMessage("Bad Gateway", "k"), "Bad Gateway");
  // Every JSON escape reads as the API meant it (a hand-written reader
  // kept "u00e9" of "\u00e9" and dropped a backslash).
  EXPECT_EQ(ApiErrorMessage(
                R"({"error":{"message":"caf\u00e9 a\\b \"q\" \/x"}})", "k"),
            "caf\xc3\xa9 a\\b \"q\" /x");
  // Other JSON, or a message that is not a string: the body as it came.
  EXPECT_EQ(ApiErrorMessage(R"({"error":{"code":7}})", "k"),
            R"({"error":{"code":7}})");
  EXPECT_EQ(ApiErrorMessage(std::string(600, 'x'), "k"), std::string(512, 'x'));
}

TEST(ApiErrorMessageTest, NeverRepeatsTheApiKey) {
  constexpr char kKey[] = "sk-proj-TOPSECRET0123456789";
  EXPECT_EQ(
      ApiErrorMessage(
          R"({"error":{"message":"Incorrect API key provided: sk-proj-TOPSECRET0123456789."}})",
          kKey),
      "Incorrect API key provided: [redacted API key].");
  EXPECT_EQ(ApiErrorMessage("401 for Bearer sk-proj-TOPSECRET0123456789 and "
                            "sk-proj-TOPSECRET0123456789",
                            kKey),
            "401 for Bearer [redacted API key] and [redacted API key]");
}

// The API's 401 quotes a masked key, and a proxy's text may quote another
// key or an email address: none of them reaches a log line or a status.
TEST(ApiErrorMessageTest, HidesMaskedKeysAndEmailAddresses) {
  EXPECT_EQ(
      ApiErrorMessage(R"({"error":{"message":"Incorrect API key provided: )"
                      R"(sk-proj-********************wxyz. See the docs."}})",
                      "sk-proj-other"),
      "Incorrect API key provided: [redacted API key]. See the docs.");
  EXPECT_EQ(ApiErrorMessage("proxy: api_key=sk-proj-abcdef0123456789xyz&x=1 "
                            "key:sk-live-****abcd",
                            "sk-real-key"),
            "proxy: api_key=[redacted API key]&x=1 key:[redacted API key]");
  EXPECT_EQ(ApiErrorMessage("upstream failed for user victim@example.com, "
                            "(ops@x.io) and 'a.b+c@mail.example.de'!",
                            "sk-real-key"),
            "upstream failed for user [redacted email], ([redacted email]) "
            "and '[redacted email]'!");
  // Only the address goes from a URL; what is not an address or a key
  // stays as it is.
  EXPECT_EQ(ApiErrorMessage("source_url https://user@shop.example.com/p and "
                            "https://shop.example.com/@brand/x.html; "
                            "envoy@1.28.0, emails_sha256[0] is not 64 hex, "
                            "see @docs, a@b, sk- or task-1 or sk-launch.",
                            "sk-real-key"),
            "source_url https://[redacted email]/p and "
            "https://shop.example.com/@brand/x.html; envoy@1.28.0, "
            "emails_sha256[0] is not 64 hex, see @docs, a@b, sk- or task-1 "
            "or sk-launch.");
}

// A body that is not JSON is cut to 512 bytes after the redaction, so that
// the cut leaves no part of an address, and never inside a UTF-8 sequence.
TEST(ApiErrorMessageTest, CutsARawBodyAfterRedactingIt) {
  const std::string cut =
      ApiErrorMessage(std::string(500, 'x') + " victim@example.com", "k");
  EXPECT_EQ(cut, std::string(500, 'x') + " [redacted e");
  const std::string accents =
      ApiErrorMessage(std::string(511, 'x') + "\xc3\xa9", "k");
  EXPECT_EQ(accents, std::string(511, 'x'));
  EXPECT_EQ(ApiErrorMessage("bad \xff byte \xc3\xa9", "sk-real-key"),
            "bad ? byte ??");
}

// An API that repeats the key in its 400 and 401 answers: the key reaches
// neither a dead letter's message nor an event's last error.
TEST_F(DispatcherTest, TheApiKeyAnApiRepeatsStaysOutOfStatusesAndDeadLetters) {
  Append({"bad", "later"});
  api_.SetResponder([](const HttpRequest& r) -> absl::StatusOr<HttpResponse> {
    const std::string echo = "token " + r.bearer_token + " refused";
    if (r.body.find("bad") != std::string::npos) {
      return FakeHttpTransport::Response(
          400, R"({"error":{"message":")" + echo + R"("}})");
    }
    return FakeHttpTransport::Response(
        503, R"({"error":{"message":")" + echo + R"("}})");
  });
  Deliver();
  auto dead = spool_->ListDeadLetters({});
  ASSERT_TRUE(dead.ok());
  ASSERT_THAT(dead->dead_letters, SizeIs(1));
  EXPECT_EQ(dead->dead_letters[0].message,
            "HTTP 400: token [redacted API key] refused");
  auto later = spool_->Lookup("default", "order_created", "later");
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->last_error, "HTTP 503: token [redacted API key] refused");
}

TEST(BackoffPolicyTest, StaysWithinTheExponentialCap) {
  DispatcherOptions options;
  options.initial_backoff = std::chrono::milliseconds(100);
  options.max_backoff = std::chrono::milliseconds(1000);
  options.backoff_multiplier = 2;
  BackoffPolicy policy(options, 42);
  for (int i = 0; i < 100; ++i) {
    EXPECT_LE(policy.Delay(1).count(), 100);
    EXPECT_LE(policy.Delay(3).count(), 400);
    EXPECT_LE(policy.Delay(30).count(), 1000);
  }
}

}  // namespace
}  // namespace conversions::service
