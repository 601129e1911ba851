// TrackEvents (gRPC) and POST /v1/track (JSON) end to end against the
// sandbox: the same tag-model events give identical results and identical
// wire events.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/gateway_fixture.h"

namespace conversions::testing {
namespace {

class TrackTest : public GatewayFixture {
 protected:
  // Three tag events: a purchase with two items, a lead, and a refund that
  // has no event mapping.
  std::string RequestJson() const {
    std::string ts = std::to_string(timestamp_ms_);
    return R"({"destination": "", "events": [
      {"event_name": "purchase", "type": "online", "value": 129.99,
       "currency": "EUR",
       "context": {"event_id": "t-purchase-1", "event_timestamp": ")" +
           ts + R"(",
                   "page": {"url": "https://shop.example.com/thanks"},
                   "device": {"ip": "203.0.113.9", "user_agent": "Mozilla/5.0"}},
       "user": {"email": " Jane.Doe@Example.com ", "phone": "+33612345678",
                "country": "FRA", "consent_categories": ["1", "2"]},
       "items": [
         {"id": "sku_1", "quantity": 1, "product": {"name": "Shoes", "price": 99.99}},
         {"id": "sku_2", "quantity": 2, "product": {"name": "Socks", "price": 15}}]},
      {"event_name": "generate_lead", "type": "online",
       "context": {"event_id": "t-lead-2", "event_timestamp": )" +
           ts + R"(,
                   "page": {"url": "https://shop.example.com/contact"}},
       "user": {"email": "lead@example.org"}},
      {"event_name": "refund", "context": {"event_id": "t-refund-3"}}
    ]})";
  }

  // Sends `body` (a TrackEventsRequest in JSON) through TrackEvents and
  // POST /v1/track; returns both answers, gRPC's first.
  std::vector<v1::TrackEventsResponse> TrackBothWays(const std::string& body) {
    std::vector<v1::TrackEventsResponse> responses(2);
    v1::TrackEventsRequest request;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(body, &request).ok());
    grpc::ClientContext context;
    grpc::Status status = stub_->TrackEvents(&context, request, &responses[0]);
    EXPECT_TRUE(status.ok()) << status.error_message();
    httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
    auto res = http.Post("/v1/track", body, "application/json");
    EXPECT_TRUE(res);
    if (res) {
      EXPECT_TRUE(
          google::protobuf::util::JsonStringToMessage(res->body, &responses[1])
              .ok())
          << res->body;
    }
    return responses;
  }

  std::string TrackGrpc() {
    v1::TrackEventsRequest request;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(RequestJson(), &request)
            .ok());
    v1::TrackEventsResponse response;
    grpc::ClientContext context;
    grpc::Status status = stub_->TrackEvents(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return Canonical(response);
  }

  std::string TrackHttp(int* http_status = nullptr) {
    httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
    auto res = http.Post("/v1/track", RequestJson(), "application/json");
    EXPECT_TRUE(res);
    if (!res) return "";
    if (http_status) *http_status = res->status;
    v1::TrackEventsResponse response;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(res->body, &response).ok())
        << res->body;
    return Canonical(response);
  }

  static std::string Canonical(const v1::TrackEventsResponse& response) {
    std::string out;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    EXPECT_TRUE(
        google::protobuf::util::MessageToJsonString(response, &out, options)
            .ok());
    return out;
  }

  // The sandbox's events, sorted by id, as text.
  std::string SandboxEvents() {
    std::vector<nlohmann::json> events = sandbox_->AcceptedEvents();
    std::sort(events.begin(), events.end(),
              [](const auto& a, const auto& b) { return a["id"] < b["id"]; });
    return nlohmann::json(events).dump();
  }

  // A fresh gateway and an empty sandbox, as if nothing had been sent.
  void Restart() {
    gateway_.reset();
    std::filesystem::remove_all(dir_.path() + "/spool.db");
    std::filesystem::remove_all(dir_.path() + "/spool.db-wal");
    std::filesystem::remove_all(dir_.path() + "/spool.db-shm");
    sandbox_->Reset();
    StartGateway();
  }

  const std::int64_t timestamp_ms_ = WallNowMs() - 5000;
};

TEST_F(TrackTest, GrpcAndHttpGiveIdenticalResultsAndWireEvents) {
  std::string grpc_results = TrackGrpc();
  ASSERT_TRUE(Delivered(2));
  std::string grpc_wire = SandboxEvents();

  Restart();
  int status = 0;
  std::string http_results = TrackHttp(&status);
  EXPECT_EQ(status, 200);
  ASSERT_TRUE(Delivered(2));
  std::string http_wire = SandboxEvents();

  EXPECT_EQ(grpc_results, http_results);
  EXPECT_EQ(grpc_wire, http_wire);

  v1::TrackEventsResponse response;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(grpc_results, &response)
          .ok());
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(response.results(0).outcome(), v1::EventResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(response.results(1).outcome(), v1::EventResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(response.results(2).outcome(), v1::EventResult::OUTCOME_SKIPPED);
  EXPECT_THAT(response.results(2).skip_reason(),
              ::testing::HasSubstr("refund"));
  EXPECT_EQ(response.results(2).event_id(), "t-refund-3");

  // The purchase went out as the API expects it.
  nlohmann::json wire = nlohmann::json::parse(grpc_wire);
  ASSERT_EQ(wire.size(), 2u);
  const nlohmann::json& purchase =
      wire[0]["id"] == "t-purchase-1" ? wire[0] : wire[1];
  EXPECT_EQ(purchase["type"], "order_created");
  EXPECT_EQ(purchase["action_source"], "web");
  EXPECT_EQ(purchase["timestamp_ms"], timestamp_ms_);
  EXPECT_EQ(purchase["data"]["amount"], 12999);
  EXPECT_EQ(purchase["data"]["currency"], "EUR");
  ASSERT_EQ(purchase["data"]["contents"].size(), 2u);
  EXPECT_EQ(purchase["data"]["contents"][0]["amount"], 9999);
  EXPECT_EQ(purchase["data"]["contents"][1]["quantity"], 2);
  EXPECT_EQ(purchase["user"]["countries"][0], "FR");
  EXPECT_EQ(purchase["user"]["emails_sha256"].size(), 1u);
  EXPECT_FALSE(purchase["user"].contains("email"));
}

// dry_run maps and checks only: each accepted result carries the wire
// JSON it would be sent as, the same by gRPC and HTTP; nothing is stored
// or sent; and a real send of the same events delivers exactly that JSON.
TEST_F(TrackTest, DryRunReturnsTheWireJsonAndStoresNothing) {
  std::string body = RequestJson();
  body.insert(1, R"("dry_run": true, )");
  std::vector<v1::TrackEventsResponse> dry = TrackBothWays(body);
  EXPECT_EQ(Canonical(dry[0]), Canonical(dry[1]));
  ASSERT_EQ(dry[0].results_size(), 3);
  std::map<std::string, nlohmann::json> shown;
  for (int i = 0; i < 2; ++i) {
    const v1::EventResult& r = dry[0].results(i);
    EXPECT_EQ(r.outcome(), v1::EventResult::OUTCOME_ACCEPTED);
    ASSERT_FALSE(r.wire_json().empty());
    shown[r.event_id()] = nlohmann::json::parse(r.wire_json());
  }
  EXPECT_EQ(dry[0].results(2).outcome(), v1::EventResult::OUTCOME_SKIPPED);
  EXPECT_EQ(dry[0].results(2).wire_json(), "");
  EXPECT_THAT(dry[0].results(0).wire_json(),
              ::testing::Not(::testing::HasSubstr("Example.com")));

  // Nothing was counted (the refund was skipped, twice) ...
  service::Metrics* metrics = gateway_->metrics();
  EXPECT_EQ(metrics->events_skipped.Value({"default", "unmapped"}), 0);
  EXPECT_EQ(metrics->events_accepted.Value({"default", "track"}), 0);
  EXPECT_EQ(metrics->events_accepted.Value({"default", "http_track"}), 0);
  // ... nor stored: the gateway does not know the events.
  v1::GetEventStatusRequest lookup;
  lookup.set_type(v1::EVENT_TYPE_ORDER_CREATED);
  lookup.set_id("t-purchase-1");
  v1::GetEventStatusResponse status;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetEventStatus(&context, lookup, &status).ok());
  EXPECT_EQ(status.state(), v1::DELIVERY_STATE_UNSPECIFIED);

  // Sent for real, the API receives what the dry run showed.
  TrackGrpc();
  ASSERT_TRUE(Delivered(2));
  std::map<std::string, nlohmann::json> received;
  for (const nlohmann::json& e : sandbox_->AcceptedEvents()) {
    received[e["id"].get<std::string>()] = e;
  }
  EXPECT_EQ(received, shown);

  // dry_run asks for nothing to be stored; validate_only for the API to
  // check stored events: both at once is refused, by either entry.
  body.insert(1, R"("validate_only": true, )");
  v1::TrackEventsRequest both;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(body, &both).ok());
  v1::TrackEventsResponse refused;
  grpc::ClientContext refused_context;
  grpc::Status grpc_status =
      stub_->TrackEvents(&refused_context, both, &refused);
  EXPECT_EQ(grpc_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(grpc_status.error_message(),
              ::testing::HasSubstr("dry_run and validate_only"));
  httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
  auto res = http.Post("/v1/track", body, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
}

TEST_F(TrackTest, RejectionsNameTheTagEventsOwnPaths) {
  // A web event without a page URL and with an invalid email: what the
  // mapper finds is named by the properties the caller sent.
  const std::string body = R"({"events": [
      {"event_name": "purchase", "type": "online",
       "context": {"event_id": "t-bad-1"},
       "user": {"email": ["jane@example.com", "not an email"]}}]})";
  for (const v1::TrackEventsResponse& response : TrackBothWays(body)) {
    ASSERT_EQ(response.results_size(), 1);
    const v1::EventResult& result = response.results(0);
    EXPECT_EQ(result.outcome(), v1::EventResult::OUTCOME_REJECTED);
    ASSERT_EQ(result.violations_size(), 1);
    EXPECT_EQ(result.violations(0).field(), "context.page.url");
    EXPECT_EQ(result.violations(0).description(),
              "context.page.url is required when action_source is web");
    ASSERT_EQ(result.warnings_size(), 1);
    EXPECT_EQ(result.warnings(0).field(), "user.email[1]");
  }
}

TEST_F(TrackTest, ARejectedEventReportsEveryProblemAtOnce) {
  // A tag-model problem (a negative value) and two the mapper core finds
  // (a page URL that is no http URL, an email that is none): all three,
  // through both entry points, as SendEvents would for a typed event.
  const std::string body = R"({"events": [
      {"event_name": "purchase", "type": "online", "value": -1,
       "currency": "USD",
       "context": {"event_id": "t-bad-2", "page": {"url": "mailto:x"}},
       "user": {"email": "not an email"}}]})";
  for (const v1::TrackEventsResponse& response : TrackBothWays(body)) {
    ASSERT_EQ(response.results_size(), 1);
    const v1::EventResult& result = response.results(0);
    EXPECT_EQ(result.outcome(), v1::EventResult::OUTCOME_REJECTED);
    EXPECT_EQ(result.event_id(), "t-bad-2");
    ASSERT_EQ(result.violations_size(), 2);
    EXPECT_EQ(result.violations(0).field(), "value");
    EXPECT_EQ(result.violations(0).reason(), "OUT_OF_RANGE");
    EXPECT_EQ(result.violations(1).field(), "context.page.url");
    EXPECT_EQ(result.violations(1).reason(), "INVALID_FORMAT");
    ASSERT_EQ(result.warnings_size(), 1);
    EXPECT_EQ(result.warnings(0).field(), "user.email");
  }
  EXPECT_THAT(MetricsText(),
              ::testing::HasSubstr("conversions_events_rejected_total{"
                                   "destination=\"default\",api=\"track\","
                                   "reason=\"OUT_OF_RANGE\"} 1"));
}

// The warnings of the tag mapping are counted as the mapper core's are,
// by destination, API and code.
TEST_F(TrackTest, CountsTheTagMappingsWarningsToo) {
  const std::string body = R"({"events": [
      {"event_name": "purchase", "type": "kiosk",
       "context": {"event_id": "t-warn-1",
                   "page": {"url": "https://shop.example.com/x"}},
       "user": {"email": "not an email", "phone_sha256": "ab"}}]})";
  for (const v1::TrackEventsResponse& response : TrackBothWays(body)) {
    ASSERT_EQ(response.results_size(), 1);
    EXPECT_EQ(response.results(0).warnings_size(), 3);
  }
  const std::string text = MetricsText();
  for (const char* line :
       {"{destination=\"default\",api=\"track\",reason=\"DEFAULTED\"} 1\n",
        "{destination=\"default\",api=\"track\",reason=\"DROPPED_"
        "INCOMPATIBLE_HASH\"} 1\n",
        "{destination=\"default\",api=\"track\",reason=\"DROPPED_INVALID\"} "
        "1\n",
        "{destination=\"default\",api=\"http_track\",reason=\"DEFAULTED\"} "
        "1\n"}) {
    EXPECT_THAT(text, ::testing::HasSubstr(absl::StrCat(
                          "conversions_identifier_warnings_total", line)));
  }
}

TEST_F(TrackTest, HttpTrackAnswersRequestErrorsWithStatusCodes) {
  httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
  auto bad_json = http.Post("/v1/track", "{not json", "application/json");
  ASSERT_TRUE(bad_json);
  EXPECT_EQ(bad_json->status, 400);
  EXPECT_THAT(bad_json->body, ::testing::HasSubstr("INVALID_ARGUMENT"));
  auto unknown = http.Post(
      "/v1/track",
      R"({"destination":"nope","events":[{"event_name":"purchase"}]})",
      "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto empty = http.Post("/v1/track", R"({"events":[]})", "application/json");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
  // Each refusal is counted by its reason.
  const std::string metrics = MetricsText();
  for (const char* reason :
       {"invalid_request", "unknown_destination", "event_count"}) {
    EXPECT_THAT(metrics, ::testing::HasSubstr(absl::StrCat(
                             "conversions_requests_refused_total{api=\"http_"
                             "track\",reason=\"",
                             reason, "\"} 1")));
  }
}

TEST_F(TrackTest, HttpTrackParseErrorsDoNotQuoteTheBody) {
  httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
  // The JSON parser's own messages quote the text around a syntax error and
  // a value of the wrong type; here each holds a clear-text email.
  const std::string bodies[] = {
      // Events each encoded as a string, a common client mistake.
      R"({"events": ["{\"user\": {\"email\": \"jane@example.com\"}}"]})",
      // A bad escape inside an identifier.
      R"({"events": [{"user": {"email": "jane@exa\u00mple.com"}}]})",
      // A missing colon right after one.
      R"({"events": [{"user": {"email" "jane@example.com"}}]})",
      // A half surrogate pair inside one.
      R"({"events": [{"user": {"email": "jane\ud83d@example.com"}}]})",
      // A value of the wrong type.
      R"({"validate_only": "jane@example.com", "events": [{}]})",
      // An identifier as an unknown request field's name.
      R"({"jane@example.com": 1, "events": [{}]})",
  };
  for (const std::string& body : bodies) {
    auto res = http.Post("/v1/track", body, "application/json");
    ASSERT_TRUE(res) << body;
    EXPECT_EQ(res->status, 400) << body;
    nlohmann::json error = nlohmann::json::parse(res->body)["error"];
    EXPECT_EQ(error["code"], "INVALID_ARGUMENT") << res->body;
    std::string message = error["message"];
    EXPECT_THAT(message, ::testing::HasSubstr("body is not a "
                                              "TrackEventsRequest in JSON"));
    EXPECT_THAT(message, ::testing::Not(::testing::HasSubstr("jane"))) << body;
    EXPECT_THAT(message, ::testing::Not(::testing::HasSubstr("\n")));
  }
  // What went wrong is still said, with the field it happened in.
  auto wrong_type = http.Post(
      "/v1/track", R"({"validate_only": "jane@example.com", "events": [{}]})",
      "application/json");
  ASSERT_TRUE(wrong_type);
  EXPECT_THAT(nlohmann::json::parse(wrong_type->body)["error"]["message"]
                  .get<std::string>(),
              ::testing::HasSubstr("validate_only"));
  // protobuf's C++ parser reads "yes" as true; the gateway does not guess.
  auto yes =
      http.Post("/v1/track", R"({"validate_only": "yes", "events": [{}]})",
                "application/json");
  ASSERT_TRUE(yes);
  EXPECT_EQ(yes->status, 400);
  EXPECT_THAT(
      nlohmann::json::parse(yes->body)["error"]["message"].get<std::string>(),
      ::testing::HasSubstr("validate_only must be true or false"));
  // A typo in a field name is named; a name that is no plain field name
  // (above: an email) is not.
  auto typo = http.Post("/v1/track", R"({"event": [{}]})", "application/json");
  ASSERT_TRUE(typo);
  EXPECT_EQ(typo->status, 400);
  EXPECT_THAT(
      nlohmann::json::parse(typo->body)["error"]["message"].get<std::string>(),
      ::testing::HasSubstr("unknown field \"event\""));
}

// JSON that protobuf's parser would take but RFC 8259 does not is refused
// whole: nothing of it is stored, and the message says where, not what.
TEST_F(TrackTest, HttpTrackTakesOnlyStrictJson) {
  httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
  const std::string bodies[] = {
      R"({'events': [{'event_name': 'purchase', 'context': {'event_id': 'o'},
          'user': {'email': 'jane@example.com'}}]})",
      R"({events: [{"event_name": "purchase"}]})",
      R"({"events": [{"event_name": "purchase"},]})",
      // The error comes after an identifier, which is not quoted.
      R"({"events": [{"user": {"email": "jane@example.com"}, }]})",
  };
  for (const std::string& body : bodies) {
    auto res = http.Post("/v1/track", body, "application/json");
    ASSERT_TRUE(res) << body;
    EXPECT_EQ(res->status, 400) << body;
    const std::string message =
        nlohmann::json::parse(res->body)["error"]["message"];
    EXPECT_THAT(message,
                ::testing::StartsWith("body is not a TrackEventsRequest in "
                                      "JSON: not valid JSON (RFC 8259): "));
    EXPECT_THAT(message, ::testing::HasSubstr(" at line "));
    EXPECT_THAT(message, ::testing::Not(::testing::HasSubstr("jane")));
  }
  EXPECT_EQ(gateway_->spool()->QueuedCount(), 0);
}

TEST_F(TrackTest, HttpTrackRefusesBodiesThatAreNotJson) {
  httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
  // curl -d sends form encoding; the body must not be taken as JSON anyway.
  for (const char* type :
       {"text/plain", "application/x-www-form-urlencoded", "application/xml"}) {
    auto res = http.Post("/v1/track", RequestJson(), type);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 415) << type;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    EXPECT_THAT(res->body, ::testing::HasSubstr("application/json")) << type;
    EXPECT_NO_THROW(nlohmann::json::parse(res->body)) << res->body;
  }
  EXPECT_THAT(MetricsText(),
              ::testing::HasSubstr("conversions_requests_refused_total{api=\""
                                   "http_track\",reason=\"unsupported_media_"
                                   "type\"} 3"));
  EXPECT_TRUE(sandbox_->AcceptedEvents().empty());
  EXPECT_EQ(gateway_->spool()->QueuedCount(), 0);
  // Parameters and case do not matter.
  auto ok =
      http.Post("/v1/track", RequestJson(), "Application/JSON; charset=utf-8");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

TEST_F(TrackTest, HttpTrackRefusesBodiesOverTheRequestSizeLimit) {
  service::GatewayConfig config = Config();
  // The limit both APIs share; small, so the test body is small.
  config.grpc.max_receive_message_bytes = 4096;
  StartGateway(config);
  httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
  std::string big = R"({"events": [{"event_name": "purchase", "pad": ")" +
                    std::string(8192, 'x') + R"("}]})";
  auto res = http.Post("/v1/track", big, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  nlohmann::json body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["error"]["code"], "RESOURCE_EXHAUSTED");
  EXPECT_THAT(body["error"]["message"].get<std::string>(),
              ::testing::HasSubstr("4096"));
  // A request under the limit still works on the same server.
  auto small = http.Post("/v1/track", RequestJson(), "application/json");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);
}

// Nesting past protobuf's limit is refused up front, naming the event, as
// TrackEvents refuses it: protobuf's JSON parser would spend seconds of CPU
// on a body of deeply nested lists before refusing it.
TEST_F(TrackTest, HttpTrackRefusesDeepNestingBeforeParsing) {
  httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
  const std::string deep = R"({"events": [{"event_name": "purchase", "x": )" +
                           std::string(200'000, '[') +
                           std::string(200'000, ']') + "}]}";
  auto res = http.Post("/v1/track", deep, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  nlohmann::json body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["error"]["code"], "INVALID_ARGUMENT");
  EXPECT_THAT(body["error"]["message"].get<std::string>(),
              ::testing::HasSubstr("events[0]: nesting deeper than 100"));
}

TEST_F(TrackTest, HttpErrorsOutsideTheRoutesAnswerJson) {
  httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
  auto unknown = http.Get("/v1/trak");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(unknown->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(unknown->body)["error"]["code"], "NOT_FOUND");
  auto get = http.Get("/v1/track");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  EXPECT_NO_THROW(nlohmann::json::parse(get->body)) << get->body;
}

}  // namespace
}  // namespace conversions::testing
