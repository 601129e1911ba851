// Helpers of the spool tests (spool_test.cc, spool_segments_test.cc).
#ifndef CONVERSIONS_TESTS_SERVICE_SPOOL_TEST_UTIL_H_
#define CONVERSIONS_TESTS_SERVICE_SPOOL_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "service/spool.h"
#include "tests/service/temp_dir.h"

namespace conversions::service {

inline constexpr std::int64_t kNow = 1773892800000;

inline SpoolEvent Event(std::string id, std::string destination = "default",
                        std::string name = "order_created") {
  SpoolEvent e;
  e.destination = std::move(destination);
  e.event_name = std::move(name);
  e.event_id = id;
  e.timestamp_ms = kNow - 1000;
  e.wire_json = R"({"id":")" + id + R"("})";
  return e;
}

// Appends and waits for the commit.
inline absl::StatusOr<std::vector<AppendOutcome>> AppendSync(
    Spool& spool, std::vector<SpoolEvent> events, std::int64_t now = kNow) {
  auto done = std::make_shared<
      std::promise<absl::StatusOr<std::vector<AppendOutcome>>>>();
  auto future = done->get_future();
  spool.Append(std::move(events), now,
               [done](absl::StatusOr<std::vector<AppendOutcome>> r) {
                 done->set_value(std::move(r));
               });
  return future.get();
}

// Runs `sql` on the SQLite file at `path` (creating it): a spool file as an
// earlier version wrote it.
inline void WriteSqliteFile(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
}

class SpoolFixture : public ::testing::Test {
 protected:
  std::unique_ptr<Spool> OpenSpool(SpoolOptions options = {}) {
    options.path = dir_.path() + "/spool.db";
    auto spool = Spool::Open(options);
    EXPECT_TRUE(spool.ok()) << spool.status();
    return spool.ok() ? std::move(*spool) : nullptr;
  }

  testing::TempDir dir_;
  const LaneKey lane_{"default", false};
};

}  // namespace conversions::service

#endif  // CONVERSIONS_TESTS_SERVICE_SPOOL_TEST_UTIL_H_
