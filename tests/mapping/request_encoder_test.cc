#include "mapping/request_encoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tests/mapping/test_util.h"

namespace conversions::mapping {
namespace {

using ::conversions::testing::ParseJson;

constexpr char kEvent1[] = R"({"id":"a","type":"page_viewed"})";
constexpr char kEvent2[] = R"({"id":"b","type":"lead_created"})";

// --- EncodeRequest ---

TEST(EncodeRequestTest, OmitsDefaultEnvelopeFields) {
  EXPECT_EQ(EncodeRequest(RequestEnvelope{}, {kEvent1}),
            std::string(R"({"events":[)") + kEvent1 + "]}");
}

TEST(EncodeRequestTest, WritesEnvelopeKeysInTheDocumentedOrder) {
  RequestEnvelope envelope;
  envelope.validate_only = true;
  envelope.integration_source = "my_cpp_bridge";
  EXPECT_EQ(EncodeRequest(envelope, {kEvent1, kEvent2}),
            std::string(R"({"integration_source":"my_cpp_bridge",)") +
                R"("validate_only":true,"events":[)" + kEvent1 + "," + kEvent2 +
                "]}");
}

TEST(EncodeRequestTest, OmitsValidateOnlyWhenFalse) {
  RequestEnvelope envelope;
  envelope.integration_source = "bridge";
  EXPECT_EQ(EncodeRequest(envelope, {kEvent1}),
            std::string(R"({"integration_source":"bridge","events":[)") +
                kEvent1 + "]}");
}

TEST(EncodeRequestTest, WritesValidateOnlyWithoutIntegrationSource) {
  RequestEnvelope envelope;
  envelope.validate_only = true;
  EXPECT_EQ(
      EncodeRequest(envelope, {kEvent1}),
      std::string(R"({"validate_only":true,"events":[)") + kEvent1 + "]}");
}

TEST(EncodeRequestTest, EmbedsEventsVerbatimAndInOrder) {
  std::vector<std::string> events;
  for (int i = 0; i < 1000; ++i) {
    events.push_back(R"({"id":")" + std::to_string(i) + R"("})");
  }
  nlohmann::json parsed = ParseJson(EncodeRequest(RequestEnvelope{}, events));
  ASSERT_EQ(parsed["events"].size(), kMaxEventsPerRequest);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(parsed["events"][i]["id"], std::to_string(i));
  }
}

TEST(EncodeRequestTest, ReplacesTheOutputBuffer) {
  std::string out = "stale";
  std::vector<std::string_view> events = {kEvent1};
  EncodeRequest(RequestEnvelope{}, events, &out);
  EXPECT_EQ(out, std::string(R"({"events":[)") + kEvent1 + "]}");
}

TEST(EncodeRequestTest, ProducesJsonThatRoundTrips) {
  RequestEnvelope envelope;
  envelope.validate_only = true;
  envelope.integration_source = "acme.connector-v2";
  nlohmann::json parsed =
      ParseJson(EncodeRequest(envelope, {kEvent1, kEvent2}));
  EXPECT_EQ(parsed, nlohmann::json::parse(
                        std::string(R"({"integration_source":)"
                                    R"("acme.connector-v2",)"
                                    R"("validate_only":true,"events":[)") +
                        kEvent1 + "," + kEvent2 + "]}"));
}

// --- NormalizeIntegrationSource ---

TEST(NormalizeIntegrationSourceTest, TrimsAndLowerCases) {
  EXPECT_EQ(*NormalizeIntegrationSource("  My_CPP_Bridge\t"), "my_cpp_bridge");
  EXPECT_EQ(*NormalizeIntegrationSource("ACME.Connector-V2"),
            "acme.connector-v2");
}

TEST(NormalizeIntegrationSourceTest, KeepsAnEmptyValueEmpty) {
  EXPECT_EQ(*NormalizeIntegrationSource(""), "");
  EXPECT_EQ(*NormalizeIntegrationSource("   "), "");
}

TEST(NormalizeIntegrationSourceTest, AcceptsOneCharacter) {
  EXPECT_EQ(*NormalizeIntegrationSource("A"), "a");
  EXPECT_EQ(*NormalizeIntegrationSource("7"), "7");
}

TEST(NormalizeIntegrationSourceTest, AcceptsSixtyFourCharacters) {
  std::string value = "A" + std::string(63, 'b');
  EXPECT_EQ(*NormalizeIntegrationSource(value), "a" + std::string(63, 'b'));
}

TEST(NormalizeIntegrationSourceTest, RejectsSixtyFiveCharacters) {
  EXPECT_EQ(NormalizeIntegrationSource(std::string(65, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The length limit applies after trimming, as the API trims first.
TEST(NormalizeIntegrationSourceTest, CountsLengthAfterTrimming) {
  std::string value = "  " + std::string(64, 'a') + "  ";
  EXPECT_EQ(*NormalizeIntegrationSource(value), std::string(64, 'a'));
}

TEST(NormalizeIntegrationSourceTest, RejectsAFirstCharacterThatIsNotAlnum) {
  for (const char* value : {".abc", "_abc", "-abc"}) {
    SCOPED_TRACE(value);
    EXPECT_EQ(NormalizeIntegrationSource(value).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(NormalizeIntegrationSourceTest, AcceptsDotsUnderscoresAndHyphensLater) {
  EXPECT_EQ(*NormalizeIntegrationSource("a._-"), "a._-");
}

TEST(NormalizeIntegrationSourceTest, RejectsOtherCharacters) {
  for (const char* value :
       {"my bridge", "bridge!", "a/b", "a:b", "a+b", "caf\xC3\xA9", "a\tb"}) {
    SCOPED_TRACE(value);
    EXPECT_EQ(NormalizeIntegrationSource(value).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(NormalizeIntegrationSourceTest, RejectsInvalidUtf8) {
  EXPECT_EQ(NormalizeIntegrationSource("ab\xFF").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace conversions::mapping
