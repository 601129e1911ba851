// The structured log lines, and gRPC's and protobuf's messages routed into
// them.
#include "service/log.h"

#include <gmock/gmock.h>
#include <grpc/support/log.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_split.h"
#include "conversions/v1/event.pb.h"

namespace conversions::service {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST(LogTest, WritesOneKeyValueLinePerEventWithValuesQuotedAsNeeded) {
  ::testing::internal::CaptureStderr();
  LogWarn("spool_full", {{"destination", "eu shop"}, {"message", "a\nb"}});
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(out, StartsWith("ts="));
  EXPECT_THAT(out, HasSubstr(" level=warn event=spool_full "
                             "destination=\"eu shop\" message=\"a\\nb\"\n"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

TEST(LogTest, LibraryMessagesBecomeStructuredLines) {
  InstallLibraryLogHandlers();
  ::testing::internal::CaptureStderr();
  // A string field holding invalid UTF-8: protobuf logs an error while
  // parsing, as it does for such a request.
  v1::Event event;
  EXPECT_FALSE(event.ParseFromString(std::string("\x0a\x02\xff\xfe", 4)));
  gpr_log(GPR_ERROR, "transport says %d", 42);
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(out, HasSubstr(" level=warn event=protobuf_log source="));
  EXPECT_THAT(out, HasSubstr("invalid UTF-8"));
  EXPECT_THAT(out, HasSubstr(" level=error event=grpc_log source="));
  EXPECT_THAT(out, HasSubstr("message=\"transport says 42\""));
  EXPECT_THAT(out, Not(HasSubstr("[libprotobuf")));
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    EXPECT_THAT(std::string(line), StartsWith("ts=")) << out;
  }
}

}  // namespace
}  // namespace conversions::service
