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
    service::GatewayConfig config = Config();
    config.spool.path = mounted + "/spool.db";
    // Nothing is delivered (a wrong key pauses the destination), so the
    // events stay and fill the disk.
    config.destinations[0].api_key = "wrong-key";
    // Room means two of the largest requests: 1 MiB here.
    config.grpc.max_receive_message_bytes = 512 * 1024;
    StartGateway(config);
  }

  std::string ReadyzBody() {
    httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
    auto res = http.Get("/readyz");
    return res ? res->body : "";
  }
};

TEST_F(DiskFullTest, AFullDiskMakesTheGatewayNotReadyUntilThereIsRoom) {
  grpc::Status status;
  int batches = 0;
  for (int first = 0; first < 100'000 && status.ok(); first += 50) {
    std::vector<v1::Event> events;
    for (int i = first; i < first + 50; ++i) {
      v1::Event e = Purchase(absl::StrCat("fill_", i));
      e.set_source_url("https://shop.example.com/" + std::string(900, 'p'));
      events.push_back(std::move(e));
    }
    Send(events, &status);
    ++batches;
  }
  ASSERT_FALSE(status.ok()) << "2 MiB never filled up";
  EXPECT_GT(batches, 1);
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

}  // namespace
}  // namespace conversions::testing
