// The gateway on a spool disk that fills up: requests are refused with
// RESOURCE_EXHAUSTED, the gateway turns not ready (readyz 503, health
// NOT_SERVING) so that traffic goes to replicas with room, and it is ready
// again, and accepts events, once the disk has room.
//
// The disk is a small tmpfs mounted in a mount namespace of the test's own,
// which needs root (CAP_SYS_ADMIN); without it the test is skipped and
// says so.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/service/private_tmpfs.h"

namespace conversions::testing {
namespace {

class DiskFullTest : public GatewayFixture {
 protected:
  // Unmounted after the fixture's TearDown has stopped the gateway.
  PrivateTmpfs disk_;

  void SetUp() override {
    const std::string mounted = dir_.path() + "/disk";
    std::filesystem::create_directory(mounted);
    if (std::string why = disk_.Mount(mounted, "2m"); !why.empty()) {
      GTEST_SKIP() << why;
    }
    auto sandbox = sandbox::Sandbox::Start(sandbox::SandboxOptions());
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    sandbox_ = std::move(*sandbox);
    spool_path_ = mounted + "/spool.db";
  }

  service::GatewayConfig DiskConfig() {
    service::GatewayConfig config = Config();
    config.spool.path = spool_path_;
    // Room means two of the largest requests: 1 MiB here.
    config.grpc.max_receive_message_bytes = 512 * 1024;
    return config;
  }

  // Sends 50-event requests of about 1 KB per event until one is refused;
  // returns the events accepted, and the refusal in *status.
  int Fill(grpc::Status* status) {
    int accepted = 0;
    for (int first = 0; first < 100'000 && status->ok(); first += 50) {
      std::vector<v1::Event> events;
      for (int i = first; i < first + 50; ++i) {
        v1::Event e = Purchase(absl::StrCat("fill_", i));
        e.set_source_url("https://shop.example.com/" + std::string(900, 'p'));
        events.push_back(std::move(e));
      }
      v1::SendEventsResponse response = Send(events, status);
      if (status->ok()) accepted += response.results_size();
    }
    return accepted;
  }

  std::string spool_path_;

  std::string ReadyzBody() {
    httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
    auto res = http.Get("/readyz");
    return res ? res->body : "";
  }
};

TEST_F(DiskFullTest, AFullDiskMakesTheGatewayNotReadyUntilThereIsRoom) {
  service::GatewayConfig config = DiskConfig();
  // Nothing is delivered (a wrong key pauses the destination), so the
  // events stay and fill the disk.
  config.destinations[0].api_key = "wrong-key";
  StartGateway(config);
  grpc::Status status;
  const int accepted = Fill(&status);
  ASSERT_FALSE(status.ok()) << "2 MiB never filled up";
  EXPECT_GT(accepted, 50);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              ::testing::HasSubstr("the spool's disk is full"));
  EXPECT_EQ(ReadyzStatus(), 503);
  EXPECT_THAT(ReadyzBody(), ::testing::HasSubstr("the spool's disk is full"));
  EXPECT_THAT(MetricsText(),
              ::testing::ContainsRegex(
                  "conversions_events_not_stored_total\\{destination="
                  "\"default\",api=\"send\",reason=\"disk_full\"\\} [1-9]"));

  // The volume grows: ready again (but for the paused destination), and
  // events are accepted.
  ASSERT_EQ(disk_.Resize("64m"), "");
  ASSERT_TRUE(WaitFor(
      [&] { return ReadyzBody().find("disk is full") == std::string::npos; }));
  EXPECT_EQ(Send({Purchase("after_room")}).results(0).outcome(),
            v1::EventResult::OUTCOME_ACCEPTED);
}

// The API refused every request while events filled the disk; once it
// takes them again, every event is delivered once, each batch's delivery
// is recorded (with the room the spool's reserve held back, then with what
// the delivered events' files gave back), so no batch is sent again and
// again, and the gateway takes events again. (The API refuses with 401
// here, which pauses the destination: a 503 with this test's fast backoff
// rewrites every queued event's row many times a second, which fills the
// small disk with WAL and scatters each batch over the payload files.)
TEST_F(DiskFullTest, DeliveriesAfterAFullDiskAreRecordedAndFreeIt) {
  ASSERT_EQ(disk_.Resize("8m"), "");
  sandbox::Faults faults;
  faults.auth_failures = 100'000;
  sandbox_->SetFaults(faults);
  service::GatewayConfig config = DiskConfig();
  config.spool.payload_segment_bytes = 512 << 10;
  config.spool.disk_reserve_bytes = 1 << 20;
  config.spool.prepare_payload_files = false;
  StartGateway(config);
  grpc::Status status;
  const int accepted = Fill(&status);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  ASSERT_GT(accepted, 2000);

  sandbox_->ClearFaults();
  const int requests_before = sandbox_->RequestCount();
  ASSERT_TRUE(Delivered(static_cast<size_t>(accepted)));
  ASSERT_TRUE(WaitFor([&] {
    return MetricsText().find(absl::StrCat(
               "conversions_events_delivered_total{destination=\"default\"} ",
               accepted, "\n")) != std::string::npos;
  })) << MetricsText();
  // A batch of up to 1,000 per request, each once (a little slack for a
  // request the clearing of the faults raced).
  EXPECT_LE(sandbox_->RequestCount() - requests_before, accepted / 1000 + 8);
  EXPECT_EQ(sandbox_->AcceptedEvents().size(), static_cast<size_t>(accepted));

  ASSERT_TRUE(WaitFor([&] {
    return ReadyzBody().find("disk is full") == std::string::npos;
  })) << ReadyzBody();
  grpc::Status after;
  ASSERT_TRUE(WaitFor([&] {
    v1::SendEventsResponse response = Send({Purchase("after_room")}, &after);
    return after.ok() &&
           response.results(0).outcome() == v1::EventResult::OUTCOME_ACCEPTED;
  })) << after.error_message();
}

}  // namespace
}  // namespace conversions::testing
