// Caller authentication end to end: gRPC metadata and the HTTP header of
// POST /v1/track, per-caller destinations, and what stays open (health,
// metrics).
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/integration/raw_http.h"

namespace conversions::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCheckoutToken[] = "checkout-token-0123456789";
constexpr char kOpsToken[] = "ops-token-abcdefghijklmnop";

class AuthTest : public GatewayFixture {
 protected:
  void SetUp() override {
    auto sandbox = sandbox::Sandbox::Start(sandbox::SandboxOptions());
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    sandbox_ = std::move(*sandbox);
    service::GatewayConfig config = Config();
    service::DestinationConfig other = config.destinations[0];
    other.name = "other";
    other.is_default = false;
    config.destinations.push_back(other);
    service::CallerConfig checkout;
    checkout.name = "checkout";
    checkout.token = kCheckoutToken;
    checkout.destinations = {"default"};
    service::CallerConfig ops;
    ops.name = "ops";
    ops.token = kOpsToken;
    ops.destinations = {"*"};
    config.callers = {checkout, ops};
    StartGateway(std::move(config));
  }

  grpc::Status SendAs(const std::string& authorization,
                      const std::string& destination, const std::string& id) {
    v1::SendEventsRequest request;
    request.set_destination(destination);
    *request.add_events() = Purchase(id);
    v1::SendEventsResponse response;
    grpc::ClientContext context;
    if (!authorization.empty()) {
      context.AddMetadata("authorization", authorization);
    }
    grpc::Status status = stub_->SendEvents(&context, request, &response);
    if (status.ok()) {
      EXPECT_EQ(response.results(0).outcome(),
                v1::EventResult::OUTCOME_ACCEPTED);
    }
    return status;
  }

  httplib::Result TrackAs(const std::string& authorization,
                          const std::string& destination) {
    httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
    httplib::Headers headers;
    if (!authorization.empty()) headers.emplace("Authorization", authorization);
    std::string body = absl::StrCat(
        R"({"destination": ")", destination,
        R"(", "events": [{"event_name": "generate_lead", "type": "online",
        "context": {"event_id": "lead-)",
        destination, R"(", "page": {"url": "https://shop.example.com/c"}},
        "user": {"email": "lead@example.org"}}]})");
    return http.Post("/v1/track", headers, body, "application/json");
  }

  static std::string Bearer(const char* token) {
    return absl::StrCat("Bearer ", token);
  }
};

TEST_F(AuthTest, RequestsWithoutAValidTokenAreUnauthenticated) {
  for (const std::string& authorization :
       {std::string(), std::string(kCheckoutToken),
        std::string("Basic Y2hlY2tvdXQ6eA=="),
        std::string("Bearer not-a-token-of-anyone-here")}) {
    grpc::Status status = SendAs(authorization, "default", "e-unauth");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << authorization;
    EXPECT_THAT(status.error_message(), Not(HasSubstr(kCheckoutToken)));
    EXPECT_THAT(status.error_message(), Not(HasSubstr("not-a-token")));
  }
  EXPECT_THAT(MetricsText(),
              HasSubstr("conversions_requests_denied_total{api=\"send\","
                        "reason=\"unauthenticated\"} 4"));
}

// Two credentials are refused, even when one is good: which one counts
// would depend on who reads them (a proxy in front may take the other).
TEST_F(AuthTest, TwoCredentialsAreRefused) {
  v1::SendEventsRequest request;
  *request.add_events() = Purchase("e-two");
  v1::SendEventsResponse response;
  grpc::ClientContext context;
  context.AddMetadata("authorization", Bearer(kOpsToken));
  context.AddMetadata("authorization", Bearer(kCheckoutToken));
  grpc::Status status = stub_->SendEvents(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("more than one authorization header"));
  EXPECT_THAT(status.error_message(), Not(HasSubstr(kOpsToken)));

  httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
  httplib::Headers headers = {{"Authorization", Bearer(kOpsToken)},
                              {"Authorization", Bearer(kOpsToken)}};
  auto res =
      http.Post("/v1/track", headers,
                R"({"events": [{"event_name": "generate_lead", "type": "online",
          "context": {"event_id": "lead-two",
                      "page": {"url": "https://shop.example.com/c"}}}]})",
                "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_THAT(res->body, HasSubstr("more than one authorization header"));
}

TEST_F(AuthTest, CallersUseOnlyTheirDestinations) {
  EXPECT_TRUE(SendAs(Bearer(kCheckoutToken), "default", "e-1").ok());
  // The default destination, named by omission.
  EXPECT_TRUE(SendAs(Bearer(kCheckoutToken), "", "e-2").ok());
  // The scheme is case-insensitive.
  EXPECT_TRUE(SendAs(absl::StrCat("bearer ", kCheckoutToken), "", "e-3").ok());
  grpc::Status denied = SendAs(Bearer(kCheckoutToken), "other", "e-4");
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("checkout"));
  EXPECT_TRUE(SendAs(Bearer(kOpsToken), "other", "e-5").ok());
  // An unknown destination is still NOT_FOUND for a caller of every
  // destination; a caller of some learns nothing of the others, not even
  // whether a name exists: the answer reads as for "other".
  EXPECT_EQ(SendAs(Bearer(kOpsToken), "nope", "e-6").error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::Status unknown = SendAs(Bearer(kCheckoutToken), "nope", "e-7");
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(unknown.error_message(),
            absl::StrReplaceAll(denied.error_message(), {{"other", "nope"}}));
  EXPECT_TRUE(Delivered(4));
  EXPECT_THAT(MetricsText(),
              HasSubstr("conversions_requests_denied_total{api=\"send\","
                        "reason=\"permission_denied\"} 2"));
}

TEST_F(AuthTest, DeadLettersOfAllDestinationsNeedEveryDestination) {
  auto list = [&](const char* token, const std::string& destination) {
    v1::ListDeadLettersRequest request;
    request.set_destination(destination);
    v1::ListDeadLettersResponse response;
    grpc::ClientContext context;
    context.AddMetadata("authorization", Bearer(token));
    return stub_->ListDeadLetters(&context, request, &response);
  };
  EXPECT_EQ(list(kCheckoutToken, "").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(list(kCheckoutToken, "default").ok());
  EXPECT_TRUE(list(kOpsToken, "").ok());

  v1::GetEventStatusRequest request;
  request.set_destination("other");
  request.set_type(v1::EVENT_TYPE_ORDER_CREATED);
  request.set_id("e-1");
  v1::GetEventStatusResponse response;
  grpc::ClientContext context;
  context.AddMetadata("authorization", Bearer(kCheckoutToken));
  EXPECT_EQ(stub_->GetEventStatus(&context, request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AuthTest, HttpTrackAnswers401And403) {
  auto missing = TrackAs("", "default");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(missing->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_THAT(missing->body, HasSubstr("UNAUTHENTICATED"));
  auto denied = TrackAs(Bearer(kCheckoutToken), "other");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  auto ok = TrackAs(Bearer(kCheckoutToken), "default");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_THAT(ok->body, HasSubstr("OUTCOME_ACCEPTED"));
}

// The token is checked from the headers: a caller without one is refused
// before the gateway reads the body (never sent here).
TEST_F(AuthTest, HttpTrackRefusesAMissingTokenBeforeReadingTheBody) {
  RawConnection c(PortOf(gateway_->http_address()));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send(
      "POST /v1/track HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"));
  EXPECT_EQ(c.StatusLine(), "HTTP/1.1 401 Unauthorized");
}

TEST_F(AuthTest, HealthAndMetricsStayOpen) {
  httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(ReadyzStatus(), 200);
  EXPECT_THAT(MetricsText(), HasSubstr("conversions_ready 1"));
}

}  // namespace
}  // namespace conversions::testing
