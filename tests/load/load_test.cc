// Tests of conversions-load: flag parsing, percentiles, the benchmark event
// (checked against the real mapping), and whole runs against the in-process
// echo service on 127.0.0.1:0.
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mapping/event_mapper.h"
#include "tests/closed_port.h"
#include "tests/load/echo_service.h"
#include "tests/load/load_generator.h"
#include "tests/load/load_options.h"
#include "tests/service/temp_dir.h"

namespace conversions::load {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ParseLoadArgsTest, HasTheDocumentedDefaults) {
  absl::StatusOr<LoadOptions> options = ParseLoadArgs({});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->target, "127.0.0.1:50051");
  EXPECT_EQ(options->concurrency, 64);
  EXPECT_EQ(options->events_per_request, 1);
  EXPECT_EQ(options->duration, std::chrono::seconds(10));
  EXPECT_EQ(options->warmup, std::chrono::seconds(2));
  EXPECT_EQ(options->channels, 2);
  EXPECT_EQ(options->total_events, 0);
  EXPECT_FALSE(options->duration_given);
}

TEST(ParseLoadArgsTest, ReadsEveryFlag) {
  absl::StatusOr<LoadOptions> options = ParseLoadArgs({"--target",
                                                       "127.0.0.1:9",
                                                       "--concurrency=8",
                                                       "--events-per-request",
                                                       "100",
                                                       "--duration",
                                                       "3s",
                                                       "--warmup",
                                                       "0s",
                                                       "--destination",
                                                       "sandbox",
                                                       "--channels",
                                                       "4",
                                                       "--threads",
                                                       "1",
                                                       "--total-events",
                                                       "1000000",
                                                       "--count-file",
                                                       "/tmp/c",
                                                       "--ids-file",
                                                       "/tmp/i",
                                                       "--id-prefix",
                                                       "p-",
                                                       "--rpc-timeout",
                                                       "500ms"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->target, "127.0.0.1:9");
  EXPECT_EQ(options->concurrency, 8);
  EXPECT_EQ(options->events_per_request, 100);
  EXPECT_EQ(options->duration, std::chrono::seconds(3));
  EXPECT_TRUE(options->duration_given);
  EXPECT_EQ(options->warmup, std::chrono::seconds(0));
  EXPECT_EQ(options->destination, "sandbox");
  EXPECT_EQ(options->channels, 4);
  EXPECT_EQ(options->threads, 1);
  EXPECT_EQ(options->total_events, 1000000);
  EXPECT_EQ(options->count_file, "/tmp/c");
  EXPECT_EQ(options->ids_file, "/tmp/i");
  EXPECT_EQ(options->id_prefix, "p-");
  EXPECT_EQ(options->rpc_timeout, std::chrono::milliseconds(500));
}

TEST(ParseLoadArgsTest, RejectsBadValues) {
  EXPECT_FALSE(ParseLoadArgs({"--events-per-request", "1001"}).ok());
  EXPECT_FALSE(ParseLoadArgs({"--concurrency", "0"}).ok());
  EXPECT_FALSE(ParseLoadArgs({"--duration", "0s"}).ok());
  EXPECT_FALSE(ParseLoadArgs({"--duration", "soon"}).ok());
  EXPECT_FALSE(ParseLoadArgs({"--total-events", "-5"}).ok());
  EXPECT_FALSE(ParseLoadArgs({"--target"}).ok());
  EXPECT_FALSE(ParseLoadArgs({"--bogus", "1"}).ok());
  EXPECT_FALSE(ParseLoadArgs({"stray"}).ok());
}

TEST(PercentileTest, UsesNearestRank) {
  const std::vector<std::int64_t> values = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(Percentile(values, 0.50), 5);
  EXPECT_EQ(Percentile(values, 0.99), 10);
  EXPECT_EQ(Percentile(values, 1.0), 10);
  EXPECT_EQ(Percentile({42}, 0.5), 42);
  EXPECT_EQ(Percentile({}, 0.5), 0);
}

TEST(RealisticEventTest, IsAcceptedByTheMappingWithoutWarnings) {
  v1::Event event = RealisticEvent();
  event.set_id("load-00000000-0");
  constexpr std::int64_t kNowMs = 1773892800000;
  event.set_timestamp_ms(kNowMs);
  const mapping::MappedEvent mapped = mapping::MapEvent(event, kNowMs);
  EXPECT_TRUE(mapped.ok()) << mapped.violations.front().field << ": "
                           << mapped.violations.front().description;
  EXPECT_TRUE(mapped.warnings.empty());
  EXPECT_EQ(event.user().emails_size(), 1);
  EXPECT_EQ(event.user().phone_numbers_size(), 1);
  EXPECT_EQ(event.user().external_ids_size(), 1);
  EXPECT_EQ(event.data().contents_size(), 3);
  EXPECT_EQ(event.data().currency(), "USD");
}

// Answers every SendEvents with RESOURCE_EXHAUSTED, as a full spool does.
class FullSpoolService final : public v1::ConversionService::CallbackService {
 public:
  grpc::ServerUnaryReactor* SendEvents(grpc::CallbackServerContext* context,
                                       const v1::SendEventsRequest*,
                                       v1::SendEventsResponse*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "spool full"));
    return reactor;
  }
};

class LoadRunTest : public ::testing::Test {
 protected:
  void StartServer(grpc::Service* service) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service);
    ApplyGatewayServerSettings(&builder);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    target_ = "127.0.0.1:" + std::to_string(port);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  LoadOptions Options() const {
    LoadOptions options;
    options.target = target_;
    options.concurrency = 4;
    options.channels = 2;
    options.threads = 2;
    options.connect_timeout = std::chrono::seconds(10);
    return options;
  }

  std::unique_ptr<grpc::Server> server_;
  std::string target_;
};

TEST_F(LoadRunTest, TotalEventsModeSendsExactlyNUniqueEvents) {
  EchoConversionService echo;
  StartServer(&echo);
  conversions::testing::TempDir temp;
  LoadOptions options = Options();
  // 250 events in requests of 7: the last request carries the 5 left over.
  options.total_events = 250;
  options.events_per_request = 7;
  options.id_prefix = "t-";
  options.random_ids = false;
  options.ids_file = temp.path() + "/ids.txt";
  options.count_file = temp.path() + "/count.txt";

  LoadGenerator generator(options);
  ASSERT_TRUE(generator.Connect().ok());
  const LoadReport report = generator.Run();

  EXPECT_TRUE(report.clean());
  EXPECT_EQ(report.accepted, 250);
  EXPECT_EQ(report.events_completed, 250);
  EXPECT_EQ(report.requests_completed, 36);
  EXPECT_EQ(report.measured_events, 250);
  EXPECT_EQ(echo.events(), 250);
  EXPECT_GT(report.events_per_second, 0);

  ASSERT_TRUE(WriteOutputFiles(report, options).ok());
  std::ifstream count_file(options.count_file);
  std::string count;
  std::getline(count_file, count);
  EXPECT_EQ(count, "250");
  std::ifstream ids_file(options.ids_file);
  std::set<std::string> ids;
  for (std::string line; std::getline(ids_file, line);) {
    EXPECT_THAT(line, StartsWith("t-"));
    ids.insert(line);
  }
  EXPECT_EQ(ids.size(), 250u);
  EXPECT_EQ(ids.count("t-0"), 1u);
  EXPECT_EQ(ids.count("t-249"), 1u);
}

TEST_F(LoadRunTest, DurableEchoAnswersOnlyAfterWritingEveryEventId) {
  conversions::testing::TempDir temp;
  const std::string path = temp.path() + "/durable.log";
  absl::StatusOr<std::unique_ptr<DurableAnswers>> durable =
      DurableAnswers::Open(path);
  ASSERT_TRUE(durable.ok()) << durable.status();
  EchoConversionService echo(durable->get());
  StartServer(&echo);
  LoadOptions options = Options();
  options.total_events = 60;
  options.events_per_request = 3;
  options.id_prefix = "d-";
  options.random_ids = false;

  LoadGenerator generator(options);
  ASSERT_TRUE(generator.Connect().ok());
  const LoadReport report = generator.Run();

  EXPECT_TRUE(report.clean());
  EXPECT_EQ(report.accepted, 60);
  // Every answered request was written first; requests that waited for the
  // same write share its fdatasync.
  std::ifstream file(path);
  std::set<std::string> ids;
  for (std::string line; std::getline(file, line);) ids.insert(line);
  EXPECT_EQ(ids.size(), 60u);
  EXPECT_EQ(ids.count("d-0"), 1u);
  EXPECT_EQ(ids.count("d-59"), 1u);
  EXPECT_GE((*durable)->syncs(), 1);
  EXPECT_LE((*durable)->syncs(), 20);
}

TEST(DurableAnswersTest, OpenFailsForAFolderThatDoesNotExist) {
  absl::StatusOr<std::unique_ptr<DurableAnswers>> durable =
      DurableAnswers::Open("/nonexistent-folder/durable.log");
  EXPECT_EQ(durable.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(LoadRunTest, RandomIdsAreUniqueAndScattered) {
  EchoConversionService echo;
  StartServer(&echo);
  conversions::testing::TempDir temp;
  LoadOptions options = Options();
  options.total_events = 100;
  options.events_per_request = 10;
  options.id_prefix = "r-";
  options.ids_file = temp.path() + "/ids.txt";
  LoadGenerator generator(options);
  ASSERT_TRUE(generator.Connect().ok());
  const LoadReport report = generator.Run();
  ASSERT_TRUE(report.clean());
  ASSERT_TRUE(WriteOutputFiles(report, options).ok());
  std::ifstream ids_file(options.ids_file);
  std::set<std::string> ids;
  for (std::string line; std::getline(ids_file, line);) {
    ASSERT_THAT(line, ::testing::MatchesRegex("r-[0-9a-f]{16}"));
    ids.insert(line);
  }
  EXPECT_EQ(ids.size(), 100u);
  // Scattered: consecutive events do not share a long common prefix.
  EXPECT_EQ(ids.count(generator.EventId(0)), 1u);
  EXPECT_NE(generator.EventId(0).substr(0, 6),
            generator.EventId(1).substr(0, 6));
}

TEST(ParseLoadArgsTest, IdsFlagChoosesTheIdShape) {
  auto sequential = ParseLoadArgs({"--target", "x:1", "--ids", "sequential"});
  ASSERT_TRUE(sequential.ok()) << sequential.status();
  EXPECT_FALSE(sequential->random_ids);
  auto defaults = ParseLoadArgs({"--target", "x:1"});
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->random_ids);
  EXPECT_FALSE(ParseLoadArgs({"--target", "x:1", "--ids", "uuid"}).ok());
}

TEST_F(LoadRunTest, CountsFailedRequestsByCode) {
  FullSpoolService full;
  StartServer(&full);
  LoadOptions options = Options();
  options.total_events = 10;
  LoadGenerator generator(options);
  ASSERT_TRUE(generator.Connect().ok());
  const LoadReport report = generator.Run();

  EXPECT_FALSE(report.clean());
  EXPECT_EQ(report.requests_failed, 10);
  EXPECT_EQ(report.errors.at("RESOURCE_EXHAUSTED"), 10);
  EXPECT_EQ(report.error_examples.at("RESOURCE_EXHAUSTED"), "spool full");
  EXPECT_EQ(report.accepted, 0);
  EXPECT_EQ(report.measured_requests, 0);
  const std::string text = FormatReport(report, options, "p-");
  EXPECT_THAT(text, HasSubstr("errors: RESOURCE_EXHAUSTED=10\n"));
  EXPECT_THAT(text, HasSubstr("\nresult requests_per_second=0.0 "));
  EXPECT_THAT(text, HasSubstr(" errors=10 accepted=0 "));
}

TEST_F(LoadRunTest, DurationModeEndsByItselfAfterWarmupAndDuration) {
  EchoConversionService echo;
  StartServer(&echo);
  LoadOptions options = Options();
  // Short on purpose: the run is bounded by warmup + duration.
  options.warmup = std::chrono::milliseconds(50);
  options.duration = std::chrono::milliseconds(200);
  LoadGenerator generator(options);
  ASSERT_TRUE(generator.Connect().ok());
  const LoadReport report = generator.Run();

  EXPECT_TRUE(report.clean());
  EXPECT_DOUBLE_EQ(report.window_seconds, 0.2);
  EXPECT_GT(report.measured_requests, 0);
  // Warm-up and tail requests are completed but not measured.
  EXPECT_GT(report.requests_completed, report.measured_requests);
  EXPECT_LE(report.p50_ms, report.p99_ms);
  EXPECT_LE(report.p99_ms, report.max_ms);
  const std::string text = FormatReport(report, options, generator.id_prefix());
  const std::vector<std::string> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  EXPECT_THAT(lines.back(), StartsWith("result requests_per_second="));
  EXPECT_THAT(lines.back(), HasSubstr(" errors=0 "));
}

TEST_F(LoadRunTest, StopEndsARunThatWouldLastAnHour) {
  EchoConversionService echo;
  StartServer(&echo);
  LoadOptions options = Options();
  options.warmup = std::chrono::seconds(0);
  options.duration = std::chrono::hours(1);
  LoadGenerator generator(options);
  ASSERT_TRUE(generator.Connect().ok());
  generator.Stop();  // as SIGTERM would, before any request
  const LoadReport report = generator.Run();
  EXPECT_EQ(report.requests_completed, 0);
  EXPECT_TRUE(report.clean());
}

TEST(LoadConnectTest, UnreachableTargetIsUnavailable) {
  const int port = conversions::testing::ClosedLoopbackPort();
  ASSERT_GT(port, 0);
  LoadOptions options;
  options.target = "127.0.0.1:" + std::to_string(port);
  options.connect_timeout = std::chrono::milliseconds(300);
  LoadGenerator generator(options);
  EXPECT_EQ(generator.Connect().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace conversions::load
