// The gateway end to end: gRPC in, spool, dispatcher, sandbox API out.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <set>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "service/log.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/integration/raw_http.h"

namespace conversions::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

class GatewayTest : public GatewayFixture {
 protected:
  grpc::health::v1::HealthCheckResponse::ServingStatus Health(
      const std::string& service = "") {
    auto stub = grpc::health::v1::Health::NewStub(channel_);
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::ClientContext context;
    if (!stub->Check(&context, request, &response).ok()) {
      return grpc::health::v1::HealthCheckResponse::UNKNOWN;
    }
    return response.status();
  }

  // Restarts the gateway with `config` and sends one event, "held", which
  // the API holds for `latency`; returns once its request is at the API.
  void SendAnEventTheApiHolds(const service::GatewayConfig& config,
                              std::chrono::milliseconds latency) {
    StartGateway(config);
    sandbox::Faults faults;
    faults.latency = latency;
    sandbox_->SetFaults(faults);
    Send({Purchase("held")});
    ASSERT_TRUE(WaitFor([&] { return sandbox_->RequestCount() >= 1; }));
  }
};

using Serving = grpc::health::v1::HealthCheckResponse;

// A thread joined when it goes out of scope: a failed ASSERT returns from
// the test with it still running, and destroying a joinable std::thread
// would end every test of the binary (std::terminate).
class JoiningThread {
 public:
  template <typename Fn>
  explicit JoiningThread(Fn fn) : thread_(std::move(fn)) {}
  ~JoiningThread() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
};

// The accept backlog of the TCP socket of `family` listening on `port`
// (what `ss -ltn` shows as Send-Q), asked of the kernel through sock_diag;
// -1 when there is no such socket.
long ListenBacklog(int family, int port) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -1;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } query{};
  query.header.nlmsg_len = sizeof(query);
  query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  query.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  query.request.sdiag_family = static_cast<std::uint8_t>(family);
  query.request.sdiag_protocol = IPPROTO_TCP;
  query.request.idiag_states = 1u << TCP_LISTEN;
  long backlog = -1;
  if (send(fd, &query, sizeof(query), 0) == sizeof(query)) {
    alignas(nlmsghdr) char buffer[16384];
    for (bool done = false; !done;) {
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      auto* h = reinterpret_cast<nlmsghdr*>(buffer);
      for (; NLMSG_OK(h, static_cast<unsigned>(n)); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
          done = true;
          break;
        }
        auto* socket = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
        if (ntohs(socket->id.idiag_sport) == port) {
          backlog = socket->idiag_wqueue;
        }
      }
    }
  }
  close(fd);
  return backlog;
}

// The backlog of the IPv4 or IPv6 socket listening on `address`'s port.
long ListenBacklog(const std::string& address) {
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  long backlog = ListenBacklog(AF_INET, port);
  return backlog >= 0 ? backlog : ListenBacklog(AF_INET6, port);
}

std::vector<v1::Event> MixedEvents(const std::string& prefix, int n) {
  std::vector<v1::Event> events;
  for (int i = 0; i < n; ++i) {
    std::string id = absl::StrCat(prefix, i);
    v1::Event e = Purchase(id);
    switch (i % 4) {
      case 1:
        e.set_type(v1::EVENT_TYPE_LEAD_CREATED);
        e.mutable_data()->clear_contents();
        break;
      case 2:
        e.set_type(v1::EVENT_TYPE_CUSTOM);
        e.set_custom_event_name("quote_requested");
        break;
      case 3:
        e.set_type(v1::EVENT_TYPE_APP_INSTALLED);
        e.set_action_source(v1::ACTION_SOURCE_MOBILE_APP);
        e.mutable_data()->Clear();
        break;
    }
    events.push_back(std::move(e));
  }
  return events;
}

TEST_F(GatewayTest, DeliversMixedEventsInBatches) {
  std::vector<std::string> expected;
  for (int r = 0; r < 4; ++r) {
    std::vector<v1::Event> events = MixedEvents(absl::StrCat("r", r, "-"), 25);
    v1::SendEventsResponse response = Send(events);
    ASSERT_EQ(response.results_size(), 25);
    for (const auto& result : response.results()) {
      EXPECT_EQ(result.outcome(), v1::EventResult::OUTCOME_ACCEPTED)
          << result.DebugString();
      expected.push_back(result.event_id());
    }
  }
  ASSERT_TRUE(Delivered(100));
  EXPECT_THAT(DeliveredIds(), UnorderedElementsAreArray(expected));
  std::vector<int> batches = sandbox_->BatchSizes();
  EXPECT_LT(batches.size(), 100u) << "events went out one by one";
  EXPECT_GT(*std::max_element(batches.begin(), batches.end()), 1);
  // Delivered events report their state.
  v1::GetEventStatusRequest request;
  request.set_type(v1::EVENT_TYPE_CUSTOM);
  request.set_custom_event_name("Quote_Requested");
  request.set_id("r0-2");
  v1::GetEventStatusResponse status;
  ASSERT_TRUE(WaitForState(request, v1::DELIVERY_STATE_DELIVERED, &status));
  EXPECT_GT(status.delivered_time().seconds(), 0);
}

TEST_F(GatewayTest, RejectsInvalidEventsWithEveryViolation) {
  v1::Event bad = Purchase("bad");
  bad.clear_source_url();
  bad.mutable_data()->clear_currency();
  v1::SendEventsResponse response = Send({bad, Purchase("good")});
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).outcome(), v1::EventResult::OUTCOME_REJECTED);
  EXPECT_EQ(response.results(0).violations_size(), 2);
  EXPECT_EQ(response.results(1).outcome(), v1::EventResult::OUTCOME_ACCEPTED);
  ASSERT_TRUE(Delivered(1));
  EXPECT_THAT(DeliveredIds(), ::testing::ElementsAre("good"));
}

TEST_F(GatewayTest, AnswersDuplicateForARepeatedEvent) {
  EXPECT_EQ(Send({Purchase("dup")}).results(0).outcome(),
            v1::EventResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(Send({Purchase("dup")}).results(0).outcome(),
            v1::EventResult::OUTCOME_DUPLICATE);
  ASSERT_TRUE(Delivered(1));
  EXPECT_THAT(MetricsText(),
              HasSubstr("conversions_events_duplicate_total{destination="
                        "\"default\",api=\"send\"} 1"));
}

// Each warning a result carries is counted by destination, API and code.
TEST_F(GatewayTest, CountsWarningsByDestinationApiAndCode) {
  v1::Event event = Purchase("warned");
  event.mutable_user()->add_emails("not-an-email");
  event.mutable_user()->add_emails("");
  v1::SendEventsResponse response = Send({event});
  ASSERT_EQ(response.results(0).outcome(), v1::EventResult::OUTCOME_ACCEPTED);
  ASSERT_EQ(response.results(0).warnings_size(), 2);
  const std::string text = MetricsText();
  EXPECT_THAT(text, HasSubstr("conversions_identifier_warnings_total{"
                              "destination=\"default\",api=\"send\","
                              "reason=\"DROPPED_INVALID\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("conversions_identifier_warnings_total{"
                              "destination=\"default\",api=\"send\","
                              "reason=\"DROPPED_EMPTY\"} 1\n"));
}

// An event lists at most 50 warnings: the last says how many more there
// are, and the metric counts every one.
TEST_F(GatewayTest, ListsAtMostFiftyWarningsPerEvent) {
  v1::Event event = Purchase("many-warnings");
  for (int i = 0; i < 100; ++i) {
    event.mutable_user()->add_emails("not-an-email");
    event.mutable_user()->add_phone_numbers("12");
  }
  v1::SendEventsResponse response = Send({event});
  ASSERT_EQ(response.results(0).outcome(), v1::EventResult::OUTCOME_ACCEPTED);
  const v1::EventResult& result = response.results(0);
  ASSERT_EQ(result.warnings_size(), 50);
  EXPECT_THAT(result.warnings(48).field(),
              ::testing::StartsWith("user.emails["));
  EXPECT_EQ(result.warnings(49).reason(), "MORE_WARNINGS");
  EXPECT_EQ(result.warnings(49).field(), "");
  EXPECT_THAT(result.warnings(49).description(),
              ::testing::StartsWith("151 more warnings of this event"));
  const std::string text = MetricsText();
  // 200 invalid values (the event's own email is valid).
  EXPECT_THAT(text, HasSubstr("conversions_identifier_warnings_total{"
                              "destination=\"default\",api=\"send\","
                              "reason=\"DROPPED_INVALID\"} 200\n"));
}

// So does a rejected event's list of violations.
TEST_F(GatewayTest, ListsAtMostFiftyViolationsPerEvent) {
  v1::Event event = Purchase("many-violations");
  for (int i = 0; i < 100; ++i) {
    v1::Content* c = event.mutable_data()->add_contents();
    c->set_id("sku");
    c->set_quantity(-1);
  }
  v1::SendEventsResponse response = Send({event});
  ASSERT_EQ(response.results(0).outcome(), v1::EventResult::OUTCOME_REJECTED);
  const v1::EventResult& result = response.results(0);
  ASSERT_EQ(result.violations_size(), 50);
  EXPECT_THAT(result.violations(48).field(),
              ::testing::StartsWith("data.contents["));
  EXPECT_EQ(result.violations(49).reason(), "MORE_VIOLATIONS");
  EXPECT_EQ(result.violations(49).field(), "");
  EXPECT_THAT(result.violations(49).description(),
              ::testing::StartsWith("51 more violations of this event"));
}

// An answer carries at most 8 MiB of wire_json: the events past that are
// valid and answered ACCEPTED with a WIRE_JSON_OMITTED warning instead,
// so that a request of large events does not make an answer gRPC refuses
// to send.
TEST_F(GatewayTest, ValidateEventsAnswersCarryAtMost8MiBOfWireJson) {
  v1::ValidateEventsRequest request;
  for (int i = 0; i < 11; ++i) {
    v1::Event event = Purchase(absl::StrCat("large-", i));
    while (event.data().contents_size() < 250) {
      v1::Content* c = event.mutable_data()->add_contents();
      c->set_id(std::string(256, '\x01'));  // escaped as \u0001: 6 bytes
      c->set_name(std::string(300, '\x01'));
    }
    *request.add_events() = event;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(32 * 1024 * 1024);
  auto stub = v1::ConversionService::NewStub(grpc::CreateCustomChannel(
      gateway_->grpc_address(), grpc::InsecureChannelCredentials(), args));
  v1::ValidateEventsResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub->ValidateEvents(&context, request, &response).ok());
  ASSERT_EQ(response.results_size(), 11);
  size_t wire_bytes = 0;
  int omitted = 0;
  for (const v1::EventResult& r : response.results()) {
    ASSERT_EQ(r.outcome(), v1::EventResult::OUTCOME_ACCEPTED);
    wire_bytes += r.wire_json().size();
    if (r.wire_json().empty()) {
      ++omitted;
      ASSERT_EQ(r.warnings_size(), 1);
      EXPECT_EQ(r.warnings(0).reason(), "WIRE_JSON_OMITTED");
    }
  }
  const size_t each = response.results(0).wire_json().size();
  EXPECT_GT(each, 800'000u);
  EXPECT_LE(wire_bytes, 8u * 1024 * 1024);
  // As many as fit are in, in order: the one after would not have fit.
  EXPECT_GT(wire_bytes + each + 1, 8u * 1024 * 1024);
  EXPECT_GE(omitted, 1);
  EXPECT_TRUE(response.results(10).wire_json().empty());
}

TEST_F(GatewayTest, ReportsTheSpoolsDurabilitySyncs) {
  ASSERT_EQ(Send({Purchase("synced")}).results(0).outcome(),
            v1::EventResult::OUTCOME_ACCEPTED);
  // The answer came after a sync, which the metrics saw first.
  const std::string text = MetricsText();
  EXPECT_THAT(text, HasSubstr("# TYPE conversions_spool_sync_seconds "
                              "histogram\n"));
  EXPECT_THAT(text, ::testing::ContainsRegex(
                        "\nconversions_spool_sync_seconds_count [1-9]"));
  EXPECT_THAT(text, ::testing::ContainsRegex(
                        "\nconversions_spool_sync_calls_sum [1-9]"));
  EXPECT_THAT(text, HasSubstr("\nconversions_spool_sync_failures_total 0\n"));
}

// The queue bound answers RESOURCE_EXHAUSTED, stores nothing of the
// request, and counts its events as not stored, by reason.
TEST_F(GatewayTest, TheQueueBoundRefusesARequestAndCountsItsEvents) {
  service::GatewayConfig config = Config();
  config.spool.max_queued_events = 2;
  StartGateway(config);
  grpc::Status status;
  Send({Purchase("b1"), Purchase("b2"), Purchase("b3")}, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("bound 2"));
  EXPECT_THAT(MetricsText(),
              HasSubstr("conversions_events_not_stored_total{destination="
                        "\"default\",api=\"send\",reason=\"queue_full\"} 3"));
  EXPECT_EQ(gateway_->spool()->QueuedCount(), 0);
  // Within the bound, the same events are new.
  EXPECT_EQ(Send({Purchase("b1")}).results(0).outcome(),
            v1::EventResult::OUTCOME_ACCEPTED);
}

// Dedup holds for the retention, not until a prune ten minutes later: a
// short retention is pruned within a quarter of it.
TEST_F(GatewayTest, AnIdIsNewAgainSoonAfterTheRetentionEnds) {
  service::GatewayConfig config = Config();
  config.spool.retention = std::chrono::seconds(2);
  StartGateway(config);
  ASSERT_EQ(Send({Purchase("again")}).results(0).outcome(),
            v1::EventResult::OUTCOME_ACCEPTED);
  ASSERT_TRUE(Delivered(1));
  const auto accepted = std::chrono::steady_clock::now();
  EXPECT_EQ(Send({Purchase("again")}).results(0).outcome(),
            v1::EventResult::OUTCOME_DUPLICATE);
  ASSERT_TRUE(WaitFor([&] {
    return Send({Purchase("again")}).results(0).outcome() ==
           v1::EventResult::OUTCOME_ACCEPTED;
  }));
  // Not before the retention: 2 s, less the time to the first answer.
  EXPECT_GE(std::chrono::steady_clock::now() - accepted,
            std::chrono::milliseconds(1500));
}

// While the destination waits out another batch's Retry-After, a fresh
// event's status gives that wait as its next attempt time: it goes no
// earlier, though it never failed itself (helper-66 L4).
TEST_F(GatewayTest, AQueuedEventShowsTheDestinationsWait) {
  sandbox::Faults faults;
  faults.status_sequence.push_back({429, "60"});
  sandbox_->SetFaults(faults);
  const std::int64_t sent_ms = clock_.NowMs();
  Send({Purchase("held-a")});
  v1::GetEventStatusRequest lookup;
  lookup.set_type(v1::EVENT_TYPE_ORDER_CREATED);
  lookup.set_id("held-a");
  v1::GetEventStatusResponse status;
  ASSERT_TRUE(WaitFor([&] {
    grpc::ClientContext context;
    return stub_->GetEventStatus(&context, lookup, &status).ok() &&
           status.attempts() == 1;
  }));
  const std::int64_t a_next_ms =
      google::protobuf::util::TimeUtil::TimestampToMilliseconds(
          status.next_attempt_time());
  EXPECT_GE(a_next_ms, sent_ms + 60'000);
  Send({Purchase("held-b")});
  lookup.set_id("held-b");
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetEventStatus(&context, lookup, &status).ok());
  EXPECT_EQ(status.state(), v1::DELIVERY_STATE_QUEUED);
  EXPECT_EQ(status.attempts(), 0);
  ASSERT_TRUE(status.has_next_attempt_time());
  EXPECT_GE(google::protobuf::util::TimeUtil::TimestampToMilliseconds(
                status.next_attempt_time()),
            sent_ms + 60'000);
}

TEST_F(GatewayTest, RetriesAfter429WithRetryAfterThenDelivers) {
  sandbox::Faults faults;
  faults.status_sequence.push_back({429, "1"});
  sandbox_->SetFaults(faults);
  auto sent = std::chrono::steady_clock::now();
  Send({Purchase("limited")});
  ASSERT_TRUE(Delivered(1));
  // Retry-After: 1 was honoured (the backoff alone would be <= 50 ms).
  EXPECT_GE(std::chrono::steady_clock::now() - sent,
            std::chrono::milliseconds(1000));
  EXPECT_EQ(sandbox_->RequestCount(), 2);
}

TEST_F(GatewayTest, SurvivesA5xxBurst) {
  sandbox::Faults faults;
  faults.status_sequence = {{503, ""}, {502, ""}, {500, ""}, {504, ""}};
  sandbox_->SetFaults(faults);
  Send({Purchase("a"), Purchase("b")});
  ASSERT_TRUE(Delivered(2));
  EXPECT_GE(sandbox_->RequestCount(), 5);
}

TEST_F(GatewayTest, RetriesDroppedConnections) {
  sandbox::Faults faults;
  faults.drop_connections = 2;
  sandbox_->SetFaults(faults);
  Send({Purchase("a")});
  ASSERT_TRUE(Delivered(1));
}

TEST_F(GatewayTest, IsolatesAPoisonEventAndDeliversTheRestOfItsBatch) {
  sandbox::Faults faults;
  faults.poison_ids = {"poison"};
  sandbox_->SetFaults(faults);
  std::vector<v1::Event> events;
  for (int i = 0; i < 9; ++i) events.push_back(Purchase(absl::StrCat("ok", i)));
  events.insert(events.begin() + 4, Purchase("poison"));
  Send(events);
  ASSERT_TRUE(Delivered(9));
  v1::ListDeadLettersResponse dead;
  ASSERT_TRUE(WaitFor([&] {
    grpc::ClientContext context;
    dead.Clear();
    return stub_->ListDeadLetters(&context, v1::ListDeadLettersRequest(), &dead)
               .ok() &&
           dead.dead_letters_size() == 1;
  }));
  EXPECT_EQ(dead.dead_letters(0).event_id(), "poison");
  EXPECT_EQ(dead.dead_letters(0).reason(), v1::DEAD_LETTER_REASON_REJECTED);
  EXPECT_THAT(dead.dead_letters(0).message(), HasSubstr("HTTP 400"));
  EXPECT_THAT(DeliveredIds(), ::testing::Not(::testing::Contains("poison")));
}

// The gauge of dead letters held counts it until the retry takes it off.
TEST_F(GatewayTest, RetryDeadLettersRedeliversThem) {
  ASSERT_FALSE(DeadLetteredPurchase("p1").id().empty());
  EXPECT_THAT(MetricsText(),
              HasSubstr("conversions_spool_dead_letters{destination="
                        "\"default\",reason=\"rejected\"} 1\n"));
  EXPECT_THAT(MetricsText(),
              HasSubstr("conversions_spool_dead_letters{destination="
                        "\"default\",reason=\"expired\"} 0\n"));
  v1::RetryDeadLettersRequest retry;
  v1::EventKey* key = retry.add_events();
  key->set_type(v1::EVENT_TYPE_ORDER_CREATED);
  key->set_id("p1");
  v1::RetryDeadLettersResponse retried;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->RetryDeadLetters(&context, retry, &retried).ok());
  EXPECT_EQ(retried.requeued_count(), 1);
  ASSERT_TRUE(Delivered(1));
  EXPECT_THAT(DeliveredIds(), ::testing::ElementsAre("p1"));
  EXPECT_THAT(MetricsText(),
              HasSubstr("conversions_spool_dead_letters{destination="
                        "\"default\",reason=\"rejected\"} 0\n"));
}

// An incomplete event key is refused with what it lacks: a custom event's
// key has a type and an id but no custom_event_name.
TEST_F(GatewayTest, AnIncompleteEventKeyIsRefusedWithWhatItLacks) {
  v1::GetEventStatusRequest lookup;
  lookup.set_type(v1::EVENT_TYPE_CUSTOM);
  lookup.set_id("c1");
  v1::GetEventStatusResponse status;
  grpc::ClientContext lookup_context;
  grpc::Status refused =
      stub_->GetEventStatus(&lookup_context, lookup, &status);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(),
              HasSubstr("invalid event key: no custom_event_name (required "
                        "for custom events)"));
  lookup.set_type(static_cast<v1::EventType>(99));
  grpc::ClientContext unknown_context;
  refused = stub_->GetEventStatus(&unknown_context, lookup, &status);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(),
              HasSubstr("invalid event key: unknown type 99 (a key needs"));

  v1::RetryDeadLettersRequest retry;
  v1::EventKey* complete = retry.add_events();
  complete->set_type(v1::EVENT_TYPE_ORDER_CREATED);
  complete->set_id("p1");
  v1::EventKey* custom = retry.add_events();
  custom->set_type(v1::EVENT_TYPE_CUSTOM);
  custom->set_id("c1");
  retry.add_events();  // neither type nor id
  v1::RetryDeadLettersResponse retried;
  grpc::ClientContext retry_context;
  refused = stub_->RetryDeadLetters(&retry_context, retry, &retried);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(),
              HasSubstr("events[1]: no custom_event_name (required for custom "
                        "events)"));
  retry.mutable_events()->DeleteSubrange(1, 1);
  grpc::ClientContext again;
  refused = stub_->RetryDeadLetters(&again, retry, &retried);
  EXPECT_THAT(refused.error_message(), HasSubstr("events[1]: no type, no id"));
}

TEST_F(GatewayTest, AnUnknownDeadLetterReasonIsRefusedNotTakenAsAll) {
  // A client built from a newer proto may send a reason this gateway does
  // not know; taking it as "every reason" would re-queue every dead letter.
  const auto unknown = static_cast<v1::DeadLetterReason>(99);
  v1::ListDeadLettersRequest list;
  list.set_reason(unknown);
  v1::ListDeadLettersResponse listed;
  grpc::ClientContext list_context;
  grpc::Status status = stub_->ListDeadLetters(&list_context, list, &listed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("reason 99"));
  v1::RetryDeadLettersRequest retry;
  retry.set_reason(unknown);
  v1::RetryDeadLettersResponse retried;
  grpc::ClientContext retry_context;
  status = stub_->RetryDeadLetters(&retry_context, retry, &retried);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GatewayTest, PausesOn401AndResumesWhenTheKeyWorksAgain) {
  sandbox::Faults faults;
  faults.auth_failures = 1000000;
  sandbox_->SetFaults(faults);
  ASSERT_TRUE(WaitFor([&] { return Health() == Serving::SERVING; }));
  EXPECT_EQ(Health("conversions.v1.ConversionService"), Serving::SERVING);
  Send({Purchase("a")});
  ASSERT_TRUE(WaitFor([&] { return ReadyzStatus() == 503; }));
  ASSERT_TRUE(WaitFor([&] { return Health() == Serving::NOT_SERVING; }));
  // Still ready to queue events, for a probe that leaves pauses out: the
  // health name conversions.intake, or /readyz?exclude=paused.
  EXPECT_EQ(Health("conversions.intake"), Serving::SERVING);
  EXPECT_EQ(Health("conversions.v1.ConversionService"), Serving::NOT_SERVING);
  std::string report;
  EXPECT_EQ(ReadyzStatus("/readyz?exclude=paused", &report), 200);
  EXPECT_EQ(report,
            "ready; paused by the API: default (HTTP 401: the key); their "
            "events are queued\n");
  EXPECT_EQ(ReadyzStatus("/readyz?exclude=pause", &report), 400);
  EXPECT_THAT(report, HasSubstr("unknown readiness check \"pause\""));
  EXPECT_THAT(
      MetricsText(),
      HasSubstr("conversions_destination_paused{destination=\"default\"} 1"));
  EXPECT_THAT(MetricsText(), HasSubstr("conversions_spool_dedup_keys 1\n"));
  // The spool's gauges: the event waits, and its age is the gateway's
  // clock's.
  auto gauge = [](const std::string& text, const std::string& series) {
    const size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1.0;
    return std::stod(text.substr(at + series.size() + 2));
  };
  const std::string kQueued =
      "conversions_spool_queued_events{destination=\"default\"}";
  const std::string kAge =
      "conversions_spool_oldest_event_age_seconds{destination=\"default\"}";
  clock_.Advance(std::chrono::seconds(60));
  const std::string paused = MetricsText();
  EXPECT_EQ(gauge(paused, kQueued), 1.0) << paused;
  EXPECT_GE(gauge(paused, kAge), 60.0) << paused;
  EXPECT_LT(gauge(paused, kAge), 120.0) << paused;
  EXPECT_TRUE(sandbox_->AcceptedEvents().empty());
  sandbox_->ClearFaults();  // the key is fixed
  ASSERT_TRUE(Delivered(1));
  ASSERT_TRUE(WaitFor([&] { return gauge(MetricsText(), kQueued) == 0.0; }));
  EXPECT_EQ(gauge(MetricsText(), kAge), 0.0);
  ASSERT_TRUE(WaitFor([&] { return ReadyzStatus() == 200; }));
  ASSERT_TRUE(WaitFor([&] { return Health() == Serving::SERVING; }));
  EXPECT_EQ(ReadyzStatus("/readyz?exclude=paused", &report), 200);
  EXPECT_EQ(report, "ready\n");
}

// A url that names no endpoint pauses the destination as a refused key
// does, and readiness says which status: the events wait, none is
// dead-lettered, and a probe that succeeds delivers them.
TEST_F(GatewayTest, PausesOn404AndResumesWhenTheUrlWorksAgain) {
  sandbox::Faults faults;
  faults.status_sequence = {{404, ""}, {404, ""}};
  sandbox_->SetFaults(faults);
  Send({Purchase("a")});
  std::string report;
  ASSERT_TRUE(WaitFor([&] { return ReadyzStatus("/readyz", &report) == 503; }));
  EXPECT_EQ(report, "paused by the API: default (HTTP 404: the url)\n");
  // The second 404 is a probe; the third request gets through. (The
  // retry is counted just after the pause shows, so metrics are read here.)
  ASSERT_TRUE(Delivered(1));
  ASSERT_TRUE(WaitFor([&] { return ReadyzStatus() == 200; }));
  const std::string metrics = MetricsText();
  EXPECT_THAT(metrics, HasSubstr("conversions_events_retried_total{destination="
                                 "\"default\",cause=\"endpoint\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("conversions_api_requests_total{destination="
                                 "\"default\",code=\"404\"} 2"));
  EXPECT_THAT(metrics,
              Not(HasSubstr("conversions_events_dead_lettered_total{")));
}

// A pixel id the API does not know fails every request the same way (400,
// param "pid"): the destination pauses with cause "request", readiness
// says the request is at fault, not its events, and no event is
// dead-lettered; with the pixel id corrected, they are all delivered.
TEST_F(GatewayTest, AWrongPixelIdPausesWithoutDeadLetters) {
  service::GatewayConfig config = Config();
  config.destinations[0].pixel_id = "no-such-pixel";
  StartGateway(config);
  Send({Purchase("a"), Purchase("b")});
  std::string report;
  ASSERT_TRUE(WaitFor([&] { return ReadyzStatus("/readyz", &report) == 503; }));
  EXPECT_EQ(report,
            "paused by the API: default (HTTP 400: the request, not its "
            "events)\n");
  // The retries are counted just after the pause shows.
  std::string metrics;
  EXPECT_TRUE(WaitFor([&] {
    metrics = MetricsText();
    return metrics.find(
               "conversions_events_retried_total{destination="
               "\"default\",cause=\"request\"} 2") != std::string::npos;
  })) << metrics;
  EXPECT_THAT(metrics,
              Not(HasSubstr("conversions_events_dead_lettered_total{")));
  EXPECT_TRUE(sandbox_->AcceptedEvents().empty());
  StartGateway();  // the sandbox's pixel id
  ASSERT_TRUE(Delivered(2));
}

// An undocumented 4xx pauses too (cause "status"), and readiness says it is
// neither the key nor the url.
TEST_F(GatewayTest, PausesOnAnUndocumentedClientErrorAndSaysSo) {
  sandbox::Faults faults;
  faults.status_sequence = {{409, ""}, {409, ""}};
  sandbox_->SetFaults(faults);
  Send({Purchase("a")});
  std::string report;
  ASSERT_TRUE(WaitFor([&] { return ReadyzStatus("/readyz", &report) == 503; }));
  EXPECT_EQ(report,
            "paused by the API: default (HTTP 409: unexpected status)\n");
  ASSERT_TRUE(Delivered(1));
  ASSERT_TRUE(WaitFor([&] { return ReadyzStatus() == 200; }));
  EXPECT_THAT(MetricsText(),
              HasSubstr("conversions_events_retried_total{destination="
                        "\"default\",cause=\"status\"} 1"));
}

// The API refused the first try, so it never saved the event: the same
// event sent again, with the same id as the spec asks, is accepted (not a
// duplicate), replaces the dead letter and is delivered.
TEST_F(GatewayTest, ACorrectedResendReplacesItsDeadLetter) {
  const v1::GetEventStatusRequest lookup = DeadLetteredPurchase("p1");
  ASSERT_FALSE(lookup.id().empty());
  v1::GetEventStatusResponse status;
  EXPECT_THAT(MetricsText(),
              Not(HasSubstr("conversions_events_replaced_total{")));
  v1::SendEventsResponse resent = Send({Purchase("p1")});
  EXPECT_EQ(resent.results(0).outcome(), v1::EventResult::OUTCOME_ACCEPTED);
  EXPECT_THAT(
      MetricsText(),
      HasSubstr("conversions_events_replaced_total{destination="
                "\"default\",api=\"send\",replaced=\"dead_letter\"} 1"));
  ASSERT_TRUE(Delivered(1));
  EXPECT_THAT(DeliveredIds(), ::testing::ElementsAre("p1"));
  ASSERT_TRUE(WaitForState(lookup, v1::DELIVERY_STATE_DELIVERED, &status));
  grpc::ClientContext context;
  v1::ListDeadLettersResponse dead;
  ASSERT_TRUE(
      stub_->ListDeadLetters(&context, v1::ListDeadLettersRequest(), &dead)
          .ok());
  EXPECT_EQ(dead.dead_letters_size(), 0);
  // Delivered now: a third send is a duplicate.
  EXPECT_EQ(Send({Purchase("p1")}).results(0).outcome(),
            v1::EventResult::OUTCOME_DUPLICATE);
}

TEST_F(GatewayTest, DeadLettersAnExpiredEventWithoutSendingIt) {
  // Both are accepted with time left; they linger (no batch fills) while
  // the clock moves 60 s on, which closes the window of "old" (30 s left)
  // but not of "late" (2 minutes left). The drain dead-letters "old"
  // without sending it, and the sandbox refuses its one request (401):
  // "late" and "fresh" go out after the restart. (Were the events claimed
  // before the clock moved, that request would be the one refused, and the
  // restart would find "old" expired all the same.)
  sandbox::Faults faults;
  faults.auth_failures = 1;
  sandbox_->SetFaults(faults);
  service::GatewayConfig config = Config();
  config.destinations[0].dispatcher.linger = std::chrono::seconds(600);
  StartGateway(config);
  v1::Event old = Purchase("old");
  old.set_timestamp_ms(WallNowMs() - 7 * kDayMs + 30'000);
  v1::Event late = Purchase("late");
  late.set_timestamp_ms(WallNowMs() - 7 * kDayMs + 120'000);
  // One with less than 10 s left is refused on receipt: accepted, it
  // would expire before its first send.
  v1::Event closing = Purchase("closing");
  closing.set_timestamp_ms(WallNowMs() - 7 * kDayMs + 3'000);
  v1::SendEventsResponse response =
      Send({old, late, Purchase("fresh"), closing});
  EXPECT_EQ(response.results(0).outcome(), v1::EventResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(response.results(1).outcome(), v1::EventResult::OUTCOME_ACCEPTED);
  ASSERT_EQ(response.results(3).outcome(), v1::EventResult::OUTCOME_REJECTED);
  ASSERT_EQ(response.results(3).violations_size(), 1);
  EXPECT_EQ(response.results(3).violations(0).field(), "timestamp_ms");
  EXPECT_EQ(response.results(3).violations(0).reason(), "OUT_OF_RANGE");
  EXPECT_THAT(response.results(3).violations(0).description(),
              HasSubstr("less than 10 s"));
  EXPECT_TRUE(sandbox_->AcceptedEvents().empty());
  clock_.Advance(std::chrono::seconds(60));
  gateway_.reset();  // drains
  StartGateway();
  ASSERT_TRUE(Delivered(2));
  EXPECT_THAT(DeliveredIds(), ::testing::UnorderedElementsAre("late", "fresh"));
  v1::ListDeadLettersRequest request;
  request.set_reason(v1::DEAD_LETTER_REASON_EXPIRED);
  v1::ListDeadLettersResponse dead;
  ASSERT_TRUE(WaitFor([&] {
    grpc::ClientContext context;
    dead.Clear();
    return stub_->ListDeadLetters(&context, request, &dead).ok() &&
           dead.dead_letters_size() == 1;
  }));
  EXPECT_EQ(dead.dead_letters(0).event_id(), "old");
  for (const auto& e : sandbox_->AcceptedEvents()) EXPECT_NE(e["id"], "old");
  // Retrying it leaves it as it is, counted: its window has closed.
  grpc::ClientContext context;
  v1::RetryDeadLettersRequest retry;
  retry.set_reason(v1::DEAD_LETTER_REASON_EXPIRED);
  v1::RetryDeadLettersResponse retried;
  ASSERT_TRUE(stub_->RetryDeadLetters(&context, retry, &retried).ok());
  EXPECT_EQ(retried.requeued_count(), 0);
  EXPECT_EQ(retried.window_closed_count(), 1);
  grpc::ClientContext again;
  dead.Clear();
  ASSERT_TRUE(stub_->ListDeadLetters(&again, request, &dead).ok());
  EXPECT_EQ(dead.dead_letters_size(), 1);
}

TEST_F(GatewayTest, KeepsClearTextIdentifiersOutOfTheSpoolFiles) {
  v1::Event e = Purchase("private");
  e.mutable_user()->clear_emails();
  e.mutable_user()->add_emails("Unmistakable.Person@Example.com");
  e.mutable_user()->add_phone_numbers("+1 (415) 555-0199");
  e.mutable_user()->add_first_names("Zebulon");
  e.mutable_user()->add_external_ids("crm-secret-42");
  ASSERT_EQ(Send({e}).results(0).outcome(), v1::EventResult::OUTCOME_ACCEPTED);
  ASSERT_TRUE(Delivered(1));
  gateway_.reset();  // flush and close the database and its WAL
  std::string bytes;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::ifstream in(dir_.path() + "/spool.db" + suffix, std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_FALSE(bytes.empty());
  EXPECT_NE(bytes.find("private"), std::string::npos);  // the event id is kept
  for (const char* clear : {"Unmistakable", "unmistakable", "4155550199",
                            "Zebulon", "zebulon", "crm-secret-42"}) {
    EXPECT_EQ(bytes.find(clear), std::string::npos) << "found clear text";
  }
}

// An event sent only with validate_only is validated by the API, not
// saved: its status says so, and sending it again validates it again.
TEST_F(GatewayTest, AValidateOnlyEventsStatusSaysItWasOnlyValidated) {
  v1::SendEventsRequest request;
  *request.add_events() = Purchase("check");
  request.set_validate_only(true);
  auto send = [&] {
    v1::SendEventsResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->SendEvents(&context, request, &response).ok());
    return response.results(0).outcome();
  };
  EXPECT_EQ(send(), v1::EventResult::OUTCOME_ACCEPTED);
  v1::GetEventStatusRequest lookup;
  lookup.set_type(v1::EVENT_TYPE_ORDER_CREATED);
  lookup.set_id("check");
  v1::GetEventStatusResponse status;
  ASSERT_TRUE(WaitForState(lookup, v1::DELIVERY_STATE_DELIVERED, &status));
  EXPECT_TRUE(status.validate_only());
  EXPECT_EQ(send(), v1::EventResult::OUTCOME_ACCEPTED);  // checked again
  // Once a real send has the key, the status is the real event's.
  Send({Purchase("check")});
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetEventStatus(&context, lookup, &status).ok());
  EXPECT_FALSE(status.validate_only());
}

// The audit's case: xv-0 is refused as a validate_only check, then sent for
// real and delivered. Its check's dead letter stays listed, but says it was
// a check; a real dead letter (real-0) says it was not.
TEST_F(GatewayTest, ListedDeadLettersSayWhetherTheyWereValidateOnly) {
  sandbox::Faults faults;
  faults.poison_ids = {"xv-0", "real-0"};
  sandbox_->SetFaults(faults);
  v1::SendEventsRequest check;
  *check.add_events() = Purchase("xv-0");
  check.set_validate_only(true);
  v1::SendEventsResponse checked;
  grpc::ClientContext check_context;
  ASSERT_TRUE(stub_->SendEvents(&check_context, check, &checked).ok());
  ASSERT_EQ(checked.results(0).outcome(), v1::EventResult::OUTCOME_ACCEPTED);
  Send({Purchase("real-0")});
  v1::ListDeadLettersResponse dead;
  auto list_two = [&] {
    return WaitFor([&] {
      grpc::ClientContext context;
      dead.Clear();
      return stub_
                 ->ListDeadLetters(&context, v1::ListDeadLettersRequest(),
                                   &dead)
                 .ok() &&
             dead.dead_letters_size() == 2;
    });
  };
  auto validate_only_by_id = [&] {
    std::map<std::string, bool> flags;
    for (const v1::DeadLetter& d : dead.dead_letters()) {
      flags[d.event_id()] = d.validate_only();
    }
    return flags;
  };
  ASSERT_TRUE(list_two());
  const std::map<std::string, bool> expected = {{"real-0", false},
                                                {"xv-0", true}};
  EXPECT_EQ(validate_only_by_id(), expected);
  // Each lane alone.
  for (bool lane : {false, true}) {
    v1::ListDeadLettersRequest one_lane;
    one_lane.set_validate_only(lane);
    v1::ListDeadLettersResponse listed;
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ListDeadLetters(&context, one_lane, &listed).ok());
    ASSERT_EQ(listed.dead_letters_size(), 1) << lane;
    EXPECT_EQ(listed.dead_letters(0).event_id(), lane ? "xv-0" : "real-0");
  }

  sandbox_->ClearFaults();
  EXPECT_EQ(Send({Purchase("xv-0")}).results(0).outcome(),
            v1::EventResult::OUTCOME_ACCEPTED);
  v1::GetEventStatusRequest lookup;
  lookup.set_type(v1::EVENT_TYPE_ORDER_CREATED);
  lookup.set_id("xv-0");
  v1::GetEventStatusResponse status;
  ASSERT_TRUE(WaitForState(lookup, v1::DELIVERY_STATE_DELIVERED, &status));
  EXPECT_FALSE(status.validate_only());
  ASSERT_TRUE(list_two());
  EXPECT_EQ(validate_only_by_id(), expected);
}

TEST_F(GatewayTest, ValidateEventsReturnsWireJsonAndAsksTheApi) {
  v1::ValidateEventsRequest request;
  *request.add_events() = Purchase("v1");
  request.set_validate_only(true);
  v1::ValidateEventsResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ValidateEvents(&context, request, &response).ok());
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_THAT(response.results(0).wire_json(), HasSubstr("\"emails_sha256\""));
  EXPECT_THAT(response.results(0).wire_json(),
              ::testing::Not(HasSubstr("Jane.Doe")));
  EXPECT_EQ(response.api_validation().http_status(), 200);
  // Nothing is stored or delivered.
  EXPECT_TRUE(sandbox_->AcceptedEvents().empty());
  EXPECT_EQ(gateway_->spool()->QueuedCount(), 0);
  // The call to the API shows in its metrics, as the dispatcher's do.
  const std::string metrics = MetricsText();
  EXPECT_THAT(metrics, HasSubstr("conversions_api_requests_total{destination="
                                 "\"default\",code=\"200\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("conversions_api_latency_seconds_count{"
                                 "destination=\"default\"} 1"));
}

TEST_F(GatewayTest, RejectsRequestErrorsWithGrpcCodes) {
  grpc::Status status;
  Send({}, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::SendEventsRequest request;
  request.set_destination("nope");
  *request.add_events() = Purchase("x");
  v1::SendEventsResponse response;
  grpc::ClientContext context;
  EXPECT_EQ(stub_->SendEvents(&context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // A long name comes back cut; one that does not look like a destination
  // name (a control character, an email, a phone number) not at all.
  request.set_destination("shop-" + std::string(100, 'x'));
  grpc::ClientContext long_context;
  grpc::Status long_name = stub_->SendEvents(&long_context, request, &response);
  EXPECT_EQ(long_name.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(long_name.error_message(),
              ::testing::StartsWith("unknown destination \"shop-xxx"));
  EXPECT_THAT(long_name.error_message(), ::testing::EndsWith("xxx\"..."));
  for (const std::string& name :
       {std::string("bad\nname"), std::string("ada.lovelace@example.com"),
        std::string("14155552671")}) {
    request.set_destination(name);
    grpc::ClientContext hidden_context;
    grpc::Status hidden =
        stub_->SendEvents(&hidden_context, request, &response);
    EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(hidden.error_message(),
              "unknown destination (its name is not shown: it does not look "
              "like a destination name)");
  }
  // Each refusal is counted by its reason.
  const std::string metrics = MetricsText();
  EXPECT_THAT(metrics, HasSubstr("conversions_requests_refused_total{api="
                                 "\"send\",reason=\"event_count\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("conversions_requests_refused_total{api=\"send\","
                        "reason=\"unknown_destination\"} 5"));
}

TEST_F(GatewayTest, AnswersRequestsThatDoNotParseWithInvalidArgument) {
  // Raw request bytes, as no C++ client can send them.
  auto call = [this](const std::string& method, std::string bytes) {
    grpc::GenericStub stub(channel_);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, "/conversions.v1.ConversionService/" + method,
                   grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status s) { done.set_value(s); });
    return done.get_future().get();
  };
  // SendEvents with events[0].id "a" and a lone surrogate, U+D83D, as
  // protobufjs encodes it (ED A0 BD): not UTF-8, so not a proto3 string.
  grpc::Status surrogate = call("SendEvents",
                                "\x12\x06\x0a\x04"
                                "a\xed\xa0\xbd");
  EXPECT_EQ(surrogate.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(surrogate.error_message(), HasSubstr("SendEvents"));
  EXPECT_THAT(surrogate.error_message(), HasSubstr("UTF-8"));
  // With the gateway's log handler (main installs it), protobuf's
  // complaint names the field, and so does the answer.
  service::InstallLibraryLogHandlers();
  grpc::Status named = call("SendEvents",
                            "\x12\x06\x0a\x04"
                            "a\xed\xa0\xbd");
  EXPECT_EQ(named.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(named.error_message(),
              HasSubstr("SendEvents: string field conversions.v1.Event.id "
                        "holds invalid UTF-8"));
  // TrackEvents reads its bytes itself (service/track_request.h): the
  // same for a key of events[0] with a lone surrogate.
  grpc::Status track =
      call("TrackEvents", std::string("\x12\x08\x0a\x06\x0a\x04"
                                      "a\xed\xa0\xbd",
                                      10));
  EXPECT_EQ(track.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(track.error_message(), HasSubstr("TrackEvents"));
  EXPECT_THAT(track.error_message(), HasSubstr("events[0]"));
  EXPECT_THAT(track.error_message(), HasSubstr("UTF-8"));
  // Truncated protobuf: a field of 5 bytes with 3 present.
  for (const char* method :
       {"SendEvents", "ValidateEvents", "TrackEvents", "GetEventStatus",
        "ListDeadLetters", "RetryDeadLetters"}) {
    grpc::Status truncated = call(method, std::string("\x12\x05\x0a\x10\x01"));
    EXPECT_EQ(truncated.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << method << ": " << truncated.error_message();
  }
  // Each is counted, by the method's api label: TrackEvents by its own
  // parse (the surrogate and the truncated request), the others by the
  // interceptor.
  const std::string metrics = MetricsText();
  for (const auto& [api, count] :
       std::vector<std::pair<std::string, int>>{{"send", 3},
                                                {"validate", 1},
                                                {"track", 2},
                                                {"status", 1},
                                                {"list_dead_letters", 1},
                                                {"retry_dead_letters", 1}}) {
    EXPECT_THAT(metrics, HasSubstr(absl::StrCat(
                             "conversions_requests_refused_total{api=\"", api,
                             "\",reason=\"invalid_request\"} ", count)));
  }
  // A method that does not exist is still UNIMPLEMENTED.
  EXPECT_EQ(call("NoSuchMethod", "").error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  // And a request that parses is served as before.
  grpc::Status ok;
  Send({Purchase("parse-ok")}, &ok);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
}

TEST_F(GatewayTest, RefusesToStartOnPortsAnotherProcessListensOn) {
  // A second gateway on the first one's ports must fail, not share them
  // (SO_REUSEPORT would let the kernel split connections between both).
  // It must also send nothing of its spool before it fails: the dispatcher
  // starts only once both ports are bound, so no transport is ever made.
  TempDir other_spool;
  service::GatewayConfig config = Config();
  config.spool.path = other_spool.path() + "/spool.db";
  config.grpc_listen = gateway_->grpc_address();
  int transports_made = 0;
  auto factory = [&](const service::DispatchTarget& target) {
    ++transports_made;
    return service::NewHttpTransport(target.url, {});
  };
  auto grpc_taken = service::Gateway::Start(config, &clock_, factory);
  ASSERT_FALSE(grpc_taken.ok());
  EXPECT_THAT(grpc_taken.status().message(),
              HasSubstr(absl::StrCat(gateway_->grpc_address(),
                                     ": Address already in use")));
  config.grpc_listen = "127.0.0.1:0";
  config.http_listen = gateway_->http_address();
  auto http_taken = service::Gateway::Start(config, &clock_, factory);
  ASSERT_FALSE(http_taken.ok());
  EXPECT_THAT(http_taken.status().message(),
              HasSubstr(absl::StrCat(gateway_->http_address(),
                                     ": Address already in use")));
  EXPECT_EQ(transports_made, 0);
  // With both ports free, a transport that cannot be made fails the start
  // after the servers started; they stop again.
  config.http_listen = "127.0.0.1:0";
  auto no_transport = service::Gateway::Start(
      config, &clock_, [](const service::DispatchTarget&) {
        return absl::StatusOr<std::unique_ptr<service::HttpTransport>>(
            absl::InvalidArgumentError("no transport here"));
      });
  ASSERT_FALSE(no_transport.ok());
  EXPECT_EQ(no_transport.status().message(), "no transport here");
  // The first gateway still serves.
  EXPECT_EQ(Send({Purchase("still")}).results(0).outcome(),
            v1::EventResult::OUTCOME_ACCEPTED);
}

TEST_F(GatewayTest, TheHttpPortListensWithALargeBacklog) {
  // cpp-httplib listens with a backlog of 5; bursts of new /v1/track
  // connections beyond it would wait for SYN retransmits.
  EXPECT_GE(ListenBacklog(gateway_->http_address()), 128);
  // As large as gRPC's own on the other port.
  EXPECT_EQ(ListenBacklog(gateway_->http_address()),
            ListenBacklog(gateway_->grpc_address()));
}

TEST_F(GatewayTest, SpoolThatCannotBeOpenedNamesTheKeyAndThePath) {
  service::GatewayConfig config = Config();
  // A folder, not a database file (inside dir_, so that the spool's lock
  // file beside it goes with dir_).
  config.spool.path = dir_.path() + "/folder";
  ASSERT_TRUE(std::filesystem::create_directory(config.spool.path));
  auto other = service::Gateway::Start(
      config, &clock_, [](const service::DispatchTarget& target) {
        return service::NewHttpTransport(target.url, {});
      });
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(other.status().message(),
              HasSubstr(absl::StrCat("spool.path ", config.spool.path, ": ")));
}

// A client watching health (a streaming call that never ends by itself)
// must not hold the drain: the dispatcher still delivers what is queued.
TEST_F(GatewayTest, AnOpenHealthWatchDoesNotStopTheDrainFromDelivering) {
  service::GatewayConfig config = Config();
  config.shutdown_drain_timeout = std::chrono::seconds(2);
  // Long enough that the event is still lingering when the drain starts
  // (a drain does not linger).
  config.destinations[0].dispatcher.linger = std::chrono::seconds(60);
  StartGateway(config);
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext watch_context;
  grpc::health::v1::HealthCheckRequest request;
  auto watch = stub->Watch(&watch_context, request);
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  ASSERT_EQ(Send({Purchase("queued")}).results(0).outcome(),
            v1::EventResult::OUTCOME_ACCEPTED);
  EXPECT_TRUE(sandbox_->AcceptedEvents().empty());  // lingering
  gateway_.reset();                                 // drains
  EXPECT_EQ(DeliveredIds(), std::vector<std::string>{"queued"});
  watch_context.TryCancel();
  watch->Finish().IgnoreError();
}

TEST_F(GatewayTest, DrainCancelsARequestTheApiHoldsPastTheDeadline) {
  service::GatewayConfig config = Config();
  config.shutdown_drain_timeout = std::chrono::milliseconds(200);
  config.destinations[0].dispatcher.request_timeout = std::chrono::seconds(60);
  ASSERT_NO_FATAL_FAILURE(
      SendAnEventTheApiHolds(config, std::chrono::seconds(20)));
  // The drain ends at its deadline: the request is cancelled, not waited
  // for (that would take the 20 s and deliver the event).
  gateway_.reset();
  EXPECT_TRUE(sandbox_->AcceptedEvents().empty());
  // The event stayed queued and goes out after the restart.
  sandbox_->ClearFaults();
  StartGateway(config);
  ASSERT_TRUE(Delivered(1));
  EXPECT_EQ(DeliveredIds(), std::vector<std::string>{"held"});
}

// While the dispatcher drains, every ConversionService call is refused
// with UNAVAILABLE, not only the ones that carry events: a status lookup
// or a retry of dead letters would otherwise still be served, and a
// validate_only check would start an API request past the drain.
TEST_F(GatewayTest, EveryCallIsRefusedWhileTheDispatcherDrains) {
  service::GatewayConfig config = Config();
  config.shutdown_drain_timeout = std::chrono::seconds(20);
  // The drain waits for it.
  ASSERT_NO_FATAL_FAILURE(
      SendAnEventTheApiHolds(config, std::chrono::seconds(3)));
  JoiningThread drain([&] { gateway_->Drain(); });
  ASSERT_TRUE(WaitFor([&] { return Health() == Serving::NOT_SERVING; }));
  auto code = [&](auto call) {
    grpc::ClientContext context;
    return call(&context).error_code();
  };
  EXPECT_EQ(code([&](grpc::ClientContext* c) {
              v1::GetEventStatusRequest request;
              request.set_type(v1::EVENT_TYPE_ORDER_CREATED);
              request.set_id("held");
              v1::GetEventStatusResponse response;
              return stub_->GetEventStatus(c, request, &response);
            }),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(code([&](grpc::ClientContext* c) {
              v1::ListDeadLettersResponse response;
              return stub_->ListDeadLetters(c, v1::ListDeadLettersRequest(),
                                            &response);
            }),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(code([&](grpc::ClientContext* c) {
              v1::RetryDeadLettersResponse response;
              return stub_->RetryDeadLetters(c, v1::RetryDeadLettersRequest(),
                                             &response);
            }),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(code([&](grpc::ClientContext* c) {
              v1::ValidateEventsRequest request;
              *request.add_events() = Purchase("check");
              request.set_validate_only(true);
              v1::ValidateEventsResponse response;
              return stub_->ValidateEvents(c, request, &response);
            }),
            grpc::StatusCode::UNAVAILABLE);
  // POST /v1/track too, before its body is read: the connection is closed.
  {
    RawConnection c(PortOf(gateway_->http_address()));
    ASSERT_TRUE(c.Send(
        "POST /v1/track HTTP/1.1\r\nHost: gateway\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"));
    const std::string head = c.ResponseHead();
    EXPECT_THAT(head, HasSubstr("HTTP/1.1 503"));
    EXPECT_THAT(head, HasSubstr("Connection: close"));
  }
  // Each is counted as refused for draining, under its own api.
  for (const char* api : {"status", "list_dead_letters", "retry_dead_letters",
                          "validate", "http_track"}) {
    EXPECT_EQ(gateway_->metrics()->requests_refused.Value({api, "draining"}), 1)
        << api;
  }
  drain.join();
  EXPECT_EQ(DeliveredIds(), std::vector<std::string>{"held"});
}

// A client still sending its request when the drain's deadline comes
// does not hold the exit: cpp-httplib's read timeout (5 s) is per read, so
// one that trickles its body would hold it for as long as it keeps on.
TEST_F(GatewayTest, DrainCutsAnHttpRequestStillArrivingAtTheDeadline) {
  service::GatewayConfig config = Config();
  config.shutdown_drain_timeout = std::chrono::milliseconds(200);
  StartGateway(config);
  RawConnection slow(PortOf(gateway_->http_address()));
  // "100 Continue": the request was let in and its body is awaited.
  ASSERT_TRUE(
      slow.Send("POST /v1/track HTTP/1.1\r\nHost: gateway\r\n"
                "Content-Type: application/json\r\nContent-Length: 1000\r\n"
                "Expect: 100-continue\r\n\r\n"));
  ASSERT_THAT(slow.ResponseHead(), HasSubstr("HTTP/1.1 100"));
  ASSERT_TRUE(slow.Send("{"));
  const auto started = std::chrono::steady_clock::now();
  gateway_->Drain();
  EXPECT_LT(std::chrono::steady_clock::now() - started,
            std::chrono::seconds(4));
  EXPECT_EQ(slow.StatusLine(1), "");  // cut, not answered
}

// A request let in before the drain is served, as a gRPC call in flight
// is: its body, sent during the drain, is read and its events stored (and
// delivered after the restart).
TEST_F(GatewayTest, DrainServesARequestWhoseBodyCameDuringIt) {
  service::GatewayConfig config = Config();
  config.shutdown_drain_timeout = std::chrono::seconds(30);
  StartGateway(config);
  RawConnection c(PortOf(gateway_->http_address()));
  const std::string body =
      R"({"events": [{"event_name": "generate_lead", "type": "online",)"
      R"( "context": {"event_id": "late-lead",)"
      R"( "page": {"url": "https://shop.example.com/contact"}},)"
      R"( "user": {"email": "lead@example.org"}}]})";
  ASSERT_TRUE(
      c.Send(absl::StrCat("POST /v1/track HTTP/1.1\r\nHost: gateway\r\n"
                          "Content-Type: application/json\r\nContent-Length: ",
                          body.size(), "\r\nExpect: 100-continue\r\n\r\n")));
  ASSERT_THAT(c.ResponseHead(), HasSubstr("HTTP/1.1 100"));
  JoiningThread drain([&] { gateway_->Drain(); });
  ASSERT_TRUE(WaitFor([&] { return Health() == Serving::NOT_SERVING; }));
  ASSERT_TRUE(c.Send(body));
  const std::string response = c.ResponseHead();
  EXPECT_THAT(response, HasSubstr("HTTP/1.1 200"));
  drain.join();
  StartGateway();
  ASSERT_TRUE(Delivered(1));
  EXPECT_EQ(DeliveredIds(), std::vector<std::string>{"late-lead"});
}

// An idle keep-alive connection (a scrape's, a probe's) is closed when the
// drain stops the HTTP port, not waited for until its keep-alive timeout
// (5 s) or the drain's deadline.
TEST_F(GatewayTest, DrainClosesAnIdleKeepAliveConnectionAtOnce) {
  service::GatewayConfig config = Config();
  config.shutdown_drain_timeout = std::chrono::seconds(30);
  StartGateway(config);
  RawConnection idle(PortOf(gateway_->http_address()));
  ASSERT_TRUE(idle.Send("GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n"));
  ASSERT_THAT(idle.ResponseHead(), HasSubstr("HTTP/1.1 200"));
  const auto started = std::chrono::steady_clock::now();
  gateway_->Drain();
  EXPECT_LT(std::chrono::steady_clock::now() - started,
            std::chrono::seconds(4));
}

// A validate_only call still waiting for the API at the drain's deadline
// is cancelled: the drain does not wait for the destination's
// request_timeout.
TEST_F(GatewayTest, DrainCancelsAValidateOnlyCallTheApiHolds) {
  service::GatewayConfig config = Config();
  config.shutdown_drain_timeout = std::chrono::milliseconds(200);
  config.destinations[0].dispatcher.request_timeout = std::chrono::seconds(60);
  StartGateway(config);
  sandbox::Faults faults;
  faults.latency = std::chrono::seconds(20);
  sandbox_->SetFaults(faults);
  JoiningThread check([&] {
    v1::ValidateEventsRequest request;
    *request.add_events() = Purchase("check");
    request.set_validate_only(true);
    v1::ValidateEventsResponse response;
    grpc::ClientContext context;
    stub_->ValidateEvents(&context, request, &response).IgnoreError();
  });
  ASSERT_TRUE(WaitFor([&] { return sandbox_->RequestCount() >= 1; }));
  const auto started = std::chrono::steady_clock::now();
  gateway_.reset();  // drains, then waits for the call's thread
  EXPECT_LT(std::chrono::steady_clock::now() - started,
            std::chrono::seconds(10));
  check.join();
}

TEST_F(GatewayTest, ResumesQueuedEventsAfterARestart) {
  sandbox::Faults faults;
  faults.auth_failures = 1000000;  // nothing gets through before the restart
  sandbox_->SetFaults(faults);
  Send({Purchase("a"), Purchase("b")});
  gateway_.reset();  // drain: the destination is paused, events stay queued
  sandbox_->ClearFaults();
  StartGateway();
  ASSERT_TRUE(Delivered(2));
}

}  // namespace
}  // namespace conversions::testing
