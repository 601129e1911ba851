#include "tests/sandbox/sandbox.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/integration/raw_http.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace conversions::sandbox {
namespace {

using ::conversions::sandbox::testing::Batch;
using ::conversions::sandbox::testing::json;
using ::conversions::sandbox::testing::kApiKey;
using ::conversions::sandbox::testing::kNowMs;
using ::conversions::sandbox::testing::kOtherPixel;
using ::conversions::sandbox::testing::kPixel;
using ::conversions::sandbox::testing::MinimalEvent;
using ::conversions::sandbox::testing::SandboxTest;
using ::conversions::sandbox::testing::WebPurchase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Options for a second sandbox next to the fixture's: its key and clock, one
// pixel.
SandboxOptions SecondSandboxOptions() {
  SandboxOptions options;
  options.api_key = kApiKey;
  options.pixel_ids = {kPixel};
  options.now_ms = [] { return kNowMs; };
  return options;
}

// --- Accepting and recording -----------------------------------------------

TEST_F(SandboxTest, AcceptsBatchAndRecordsExactEventsInOrder) {
  std::vector<json> events = {WebPurchase("o-1"), WebPurchase("o-2"),
                              WebPurchase("o-3")};
  httplib::Result res = PostEvents(Batch(events));
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(BodyOf(res), json({{"events_received", 3}}));
  EXPECT_EQ(sandbox_->AcceptedEvents(), events);
  EXPECT_EQ(sandbox_->RequestCount(), 1);
  EXPECT_THAT(sandbox_->BatchSizes(), ElementsAre(3));
  EXPECT_THAT(res->get_header_value("x-request-id"), HasSubstr("req_"));
}

TEST_F(SandboxTest, GetEventsServesRecordedEventsRequestsAndBatches) {
  ASSERT_EQ(PostEvents(Batch({WebPurchase("o-1"), WebPurchase("o-2")}))->status,
            200);
  ASSERT_EQ(PostEvents(Batch({WebPurchase("o-3")}), kOtherPixel)->status, 200);
  ASSERT_EQ(PostEvents(Batch({}))->status, 400);

  httplib::Result res = client_->Get("/_sandbox/events");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(
      BodyOf(res),
      json({{"events",
             {WebPurchase("o-1"), WebPurchase("o-2"), WebPurchase("o-3")}},
            {"requests", 3},
            {"batches", {2, 1}}}));
  EXPECT_EQ(BodyOf(res), sandbox_->Snapshot());

  // ?pid= narrows the events to one pixel.
  res = client_->Get("/_sandbox/events?pid=pixel-2");
  ASSERT_TRUE(res);
  EXPECT_EQ(BodyOf(res)["events"], json::array({WebPurchase("o-3")}));
  EXPECT_THAT(sandbox_->AcceptedEventsForPixel(kOtherPixel),
              ElementsAre(WebPurchase("o-3")));
}

TEST_F(SandboxTest, StatsCountRequestsEventsAndBatches) {
  ASSERT_EQ(PostEvents(Batch({WebPurchase("o-1"), WebPurchase("o-2")}))->status,
            200);
  // A duplicate counts in its batch but is not recorded again.
  ASSERT_EQ(PostEvents(Batch({WebPurchase("o-2")}))->status, 200);
  ASSERT_EQ(PostEvents(Batch({}))->status, 400);

  httplib::Result res = client_->Get("/_sandbox/stats");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(BodyOf(res), json({{"requests", 3},
                               {"events", 2},
                               {"batches", 2},
                               {"batch_events", 3},
                               {"now_ms", kNowMs},
                               {"first_event_ms", kNowMs},
                               {"last_event_ms", kNowMs}}));
  EXPECT_EQ(BodyOf(res), sandbox_->Stats());
}

TEST(SandboxStatsTest, TellWhenTheFirstAndLastEventsWereRecorded) {
  auto clock = std::make_shared<std::atomic<std::int64_t>>(kNowMs);
  SandboxOptions options = SecondSandboxOptions();
  options.now_ms = [clock] { return clock->load(); };
  absl::StatusOr<std::unique_ptr<Sandbox>> sandbox =
      Sandbox::Start(std::move(options));
  ASSERT_TRUE(sandbox.ok()) << sandbox.status();
  EXPECT_EQ((*sandbox)->Stats()["first_event_ms"], 0);
  httplib::Client client("127.0.0.1", (*sandbox)->port());
  const httplib::Headers auth = {
      {"Authorization", std::string("Bearer ") + kApiKey}};
  const std::string path = "/v1/events?pid=" + std::string(kPixel);
  auto post = [&](const json& body) {
    httplib::Result res =
        client.Post(path, auth, body.dump(), "application/json");
    return res ? res->status : 0;
  };
  ASSERT_EQ(post(Batch({WebPurchase("o-1")})), 200);
  *clock = kNowMs + 500;
  ASSERT_EQ(post(Batch({WebPurchase("o-2")})), 200);
  *clock = kNowMs + 900;
  ASSERT_EQ(post(Batch({WebPurchase("o-2")})), 200);  // a duplicate
  json stats = (*sandbox)->Stats();
  EXPECT_EQ(stats["first_event_ms"], kNowMs);
  EXPECT_EQ(stats["last_event_ms"], kNowMs + 500);
  EXPECT_EQ(stats["now_ms"], kNowMs + 900);
  (*sandbox)->Reset();
  EXPECT_EQ((*sandbox)->Stats()["last_event_ms"], 0);
}

TEST_F(SandboxTest, AcceptsEveryEventTypeWithItsDataShape) {
  const std::vector<std::string> types = {"app_installed",
                                          "app_opened",
                                          "appointment_scheduled",
                                          "checkout_started",
                                          "contents_viewed",
                                          "custom",
                                          "items_added",
                                          "lead_created",
                                          "order_created",
                                          "page_viewed",
                                          "registration_completed",
                                          "subscription_created",
                                          "trial_started"};
  std::vector<json> events;
  for (const std::string& type : types) {
    events.push_back(MinimalEvent("id-" + type, type));
  }
  httplib::Result res = PostEvents(Batch(events));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(sandbox_->AcceptedEvents().size(), types.size());
}

TEST_F(SandboxTest, AcceptsWhatTheSpecAllows) {
  json custom = MinimalEvent("c-1", "custom");
  custom["custom_event_name"] = "Quote-Requested_2";
  custom["data"] = {
      {"type", "custom"},
      {"plan_id", "pro"},
      {"amount", 8900},
      {"currency", "jpy"},  // the API upper-cases it
      {"free_form", {{"nested", json::array({1, "x", nullptr})}}},
      {"contents", json::array({json{{"variant_dict", {{"size", "m"}}}}})}};
  json plan = MinimalEvent("p-1", "subscription_created");
  plan["data"] = {{"type", "plan_enrollment"},
                  {"plan_id", "pro_monthly"},
                  {"amount", 0},
                  {"currency", "KWD"}};
  json web = WebPurchase("w-1");
  // More than 3 hashes: the API uses the first 3 and ignores the rest.
  web["user"]["emails_sha256"] =
      json::array({std::string(64, 'a'), std::string(64, 'b'),
                   std::string(64, 'c'), std::string(64, 'd')});
  web["user"]["obref"] = "opaque";
  web["user"]["android_advertising_id"] =
      "38400000-8CF0-11BD-B23E-10B96E40000D";
  web["user"]["ip_address"] = "2001:db8::ff00:42:8329";
  // The all-zero GAID is ignored, not rejected (spec 5a).
  json zero_gaid = WebPurchase("w-2");
  zero_gaid["user"]["android_advertising_id"] =
      "00000000-0000-0000-0000-000000000000";
  web["oppref"] = "opaque";
  web["opt_out"] = true;
  // An item amount may rely on the event-level currency.
  web["data"]["contents"][0].erase("currency");
  json oldest = WebPurchase("t-old");
  oldest["timestamp_ms"] = kNowMs - 7LL * 24 * 60 * 60 * 1000;
  json newest = WebPurchase("t-new");
  newest["timestamp_ms"] = kNowMs + 10 * 60 * 1000;
  // Outside the web, any scheme with a host (spec 2: "a scheme and host"),
  // as the gateway sends it: an app's deep link, say.
  json app = MinimalEvent("a-1", "app_opened");
  app["source_url"] = "myapp://product/1";
  json offline = MinimalEvent("o-1", "order_created");
  offline["source_url"] = "ftp://files.example.com/receipt";
  json body =
      Batch({custom, plan, web, zero_gaid, oldest, newest, app, offline});
  body["integration_source"] = "  My_Bridge.v2 ";  // trimmed, lower-cased
  body["validate_only"] = false;

  httplib::Result res = PostEvents(body);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(sandbox_->AcceptedEvents().size(), 8u);
}

TEST_F(SandboxTest, AcceptsAThousandEvents) {
  std::vector<json> events;
  for (int i = 0; i < 1000; ++i) {
    events.push_back(MinimalEvent("e-" + std::to_string(i), "page_viewed"));
  }
  httplib::Result res = PostEvents(Batch(events));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(sandbox_->BatchSizes(), ElementsAre(1000));
}

TEST_F(SandboxTest, NlohmannOnlyPathAnswersAndRecordsAlike) {
  SandboxOptions options = SecondSandboxOptions();
  options.fast_path = false;
  absl::StatusOr<std::unique_ptr<Sandbox>> slow =
      Sandbox::Start(std::move(options));
  ASSERT_TRUE(slow.ok()) << slow.status();
  httplib::Client slow_client("127.0.0.1", (*slow)->port());

  json custom = MinimalEvent("c-1", "custom");
  custom["data"]["score"] = 0.1;
  custom["data"]["nested"] = {{"n", {1, 2.5, "x", nullptr}}};
  json bad = WebPurchase("o-2");
  bad["data"]["amount"] = 1.5;
  // An app's deep link: any scheme with a host, outside the web.
  json app = MinimalEvent("a-1", "app_opened");
  app["source_url"] = "myapp://product/1";
  json app_no_host = MinimalEvent("a-2", "app_opened");
  app_no_host["source_url"] = "myapp:///product/1";
  for (const json& body :
       {Batch({WebPurchase("o-1"), custom}), Batch({WebPurchase("o-3"), bad}),
        Batch({WebPurchase("o-1")}), Batch({app}), Batch({app_no_host})}) {
    httplib::Result fast_res = PostEvents(body);
    httplib::Result slow_res =
        slow_client.Post("/v1/events?pid=" + std::string(kPixel),
                         {{"Authorization", std::string("Bearer ") + kApiKey}},
                         body.dump(), "application/json");
    ASSERT_TRUE(fast_res);
    ASSERT_TRUE(slow_res);
    EXPECT_EQ(fast_res->status, slow_res->status) << body.dump();
    EXPECT_EQ(fast_res->body, slow_res->body) << body.dump();
  }
  EXPECT_EQ(sandbox_->AcceptedEvents(), (*slow)->AcceptedEvents());
  EXPECT_EQ(sandbox_->AcceptedEvents(),
            (std::vector<json>{WebPurchase("o-1"), custom, app}));
  EXPECT_EQ(sandbox_->Snapshot(), (*slow)->Snapshot());
}

TEST_F(SandboxTest, WithoutKeepingEventsItStillValidatesDeduplicatesAndCounts) {
  SandboxOptions options = SecondSandboxOptions();
  options.keep_events = false;
  absl::StatusOr<std::unique_ptr<Sandbox>> lean =
      Sandbox::Start(std::move(options));
  ASSERT_TRUE(lean.ok()) << lean.status();
  httplib::Client client("127.0.0.1", (*lean)->port());
  const httplib::Headers auth = {
      {"Authorization", std::string("Bearer ") + kApiKey}};
  const std::string path = "/v1/events?pid=" + std::string(kPixel);

  json bad = WebPurchase("o-9");
  bad["data"]["amount"] = 1.5;
  httplib::Result res = client.Post(
      path, auth, Batch({WebPurchase("o-1"), WebPurchase("o-2")}).dump(),
      "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = client.Post(path, auth, Batch({WebPurchase("o-2")}).dump(),
                    "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = client.Post(path, auth, Batch({bad}).dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);

  EXPECT_THAT((*lean)->AcceptedEvents(), IsEmpty());
  EXPECT_EQ((*lean)->Stats(), json({{"requests", 3},
                                    {"events", 2},
                                    {"batches", 2},
                                    {"batch_events", 3},
                                    {"now_ms", kNowMs},
                                    {"first_event_ms", kNowMs},
                                    {"last_event_ms", kNowMs}}));
}

// --- Atomic failure and request-level errors -------------------------------

TEST_F(SandboxTest, OneBadEventFailsTheWholeBatchNamingIndexAndField) {
  std::vector<json> events;
  for (int i = 0; i < 5; ++i) events.push_back(WebPurchase(std::to_string(i)));
  // Eight days old: outside the 7-day window.
  events[3]["timestamp_ms"] = kNowMs - 8LL * 24 * 60 * 60 * 1000;

  httplib::Result res = PostEvents(Batch(events));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  json error = BodyOf(res)["error"];
  EXPECT_THAT(error["message"].get<std::string>(),
              HasSubstr("events[3].timestamp_ms: "));
  EXPECT_EQ(error["type"], "invalid_request_error");
  EXPECT_EQ(error["param"], "events[3].timestamp_ms");
  EXPECT_THAT(sandbox_->AcceptedEvents(), IsEmpty());
  EXPECT_THAT(sandbox_->BatchSizes(), IsEmpty());
  EXPECT_EQ(sandbox_->RequestCount(), 1);
}

TEST_F(SandboxTest, ReportsEveryViolationOfTheBatch) {
  json first = WebPurchase("a");
  first.erase("id");
  json second = WebPurchase("b");
  second["data"]["currency"] = "XYZ";
  httplib::Result res = PostEvents(Batch({first, second}));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(ErrorMessage(res), HasSubstr("events[0].id: is required"));
  EXPECT_THAT(ErrorMessage(res), HasSubstr("events[1].data.currency: "));
}

TEST_F(SandboxTest, MissingKeyIsUnauthorized) {
  httplib::Result res = PostEvents(Batch({WebPurchase("a")}), kPixel, "");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(BodyOf(res)["error"]["type"], "invalid_request_error");
  EXPECT_THAT(sandbox_->AcceptedEvents(), IsEmpty());
}

TEST_F(SandboxTest, WrongKeyIsUnauthorizedAndNotEchoed) {
  httplib::Result res =
      PostEvents(Batch({WebPurchase("a")}), kPixel, "wrong-key-777");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(BodyOf(res)["error"]["type"], "invalid_request_error");
  EXPECT_THAT(res->body, Not(HasSubstr("wrong-key-777")));
  EXPECT_THAT(res->body, Not(HasSubstr(kApiKey)));
  EXPECT_THAT(sandbox_->AcceptedEvents(), IsEmpty());
}

TEST_F(SandboxTest, NonBearerSchemeIsUnauthorized) {
  httplib::Headers headers = {
      {"Authorization", std::string("Basic ") + kApiKey}};
  httplib::Result res =
      client_->Post("/v1/events?pid=pixel-1", headers,
                    Batch({WebPurchase("a")}).dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
}

TEST_F(SandboxTest, UnknownOrMissingPixelIsBadRequest) {
  httplib::Result unknown = PostEvents(Batch({WebPurchase("a")}), "nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
  EXPECT_EQ(BodyOf(unknown)["error"]["param"], "pid");

  httplib::Result missing = PostEvents(Batch({WebPurchase("a")}), "");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 400);
  EXPECT_THAT(ErrorMessage(missing), HasSubstr("pid"));
}

TEST_F(SandboxTest, MalformedJsonIsBadRequest) {
  httplib::Result res = PostRaw("{\"events\": [");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(BodyOf(res)["error"]["type"], "invalid_request_error");
}

// Custom data may nest (spec 3: "any JSON"), but not without bound:
// 75,000 levels once overflowed the stack that records the event.
TEST_F(SandboxTest, DeepNestingIsRefusedNotFatal) {
  auto nested = [](int levels) {
    json custom = MinimalEvent("deep-" + std::to_string(levels), "custom");
    custom["custom_event_name"] = "deep";
    std::string body = Batch({custom}).dump();
    const std::string marker = R"("type":"custom")";
    // The data's: dump() sorts keys, so "data" comes before the event's type.
    const size_t at = body.find(marker);
    body.insert(at + marker.size(), R"(,"n":)" + std::string(levels, '[') +
                                        std::string(levels, ']'));
    return body;
  };
  httplib::Result deep = PostRaw(nested(75000));
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->status, 400);
  EXPECT_THAT(ErrorMessage(deep), ::testing::HasSubstr("deeper than 1000"));
  // Still serving, and a body at the limit (4 levels + 996) is recorded.
  httplib::Result at_limit = PostRaw(nested(996));
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(at_limit->status, 200) << ErrorMessage(at_limit);
  EXPECT_EQ(sandbox_->AcceptedEvents().size(), 1u);
}

TEST_F(SandboxTest, NonJsonContentTypeIsBadRequest) {
  httplib::Result res =
      PostRaw(Batch({WebPurchase("a")}).dump(), kPixel, kApiKey, "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(ErrorMessage(res), HasSubstr("Content-Type"));
}

TEST_F(SandboxTest, UnknownRouteGetsJsonNotFound) {
  httplib::Result res = client_->Get("/v1/nothing");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_THAT(ErrorMessage(res), HasSubstr("/v1/nothing"));
}

// --- Request bodies as httplib reads them -----------------------------------
// The sandbox reads POST /v1/events bodies itself (into reused buffers);
// these pin what httplib's own reading did, which clients may see.

TEST_F(SandboxTest, ChunkedBodyIsReadWhole) {
  const std::string body =
      Batch({WebPurchase("c-1"), WebPurchase("c-2")}).dump();
  httplib::Headers headers = {
      {"Authorization", absl::StrCat("Bearer ", kApiKey)}};
  // No length: the client sends the body in chunks of 10 bytes.
  httplib::Result res = client_->Post(
      absl::StrCat("/v1/events?pid=", kPixel), headers,
      [&body](size_t offset, httplib::DataSink& sink) {
        if (offset < body.size()) {
          sink.write(body.data() + offset,
                     std::min<size_t>(10, body.size() - offset));
        } else {
          sink.done();
        }
        return true;
      },
      "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(sandbox_->AcceptedEvents().size(), 2u);
}

TEST_F(SandboxTest, FormEncodedBodyIsReadAsParameters) {
  // httplib parses a form-encoded body into the request's parameters, so the
  // pid is found there and the content type is what fails.
  httplib::Headers headers = {
      {"Authorization", absl::StrCat("Bearer ", kApiKey)}};
  httplib::Result res =
      client_->Post("/v1/events", headers, absl::StrCat("pid=", kPixel),
                    "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(ErrorMessage(res), "Content-Type must be application/json");
  EXPECT_EQ(sandbox_->RequestCount(), 1);
}

TEST_F(SandboxTest, OversizedFormEncodedBodyIsPayloadTooLarge) {
  // httplib refuses a form-encoded body over 8,192 bytes before any handler.
  httplib::Result res = PostRaw(std::string(9000, 'a'), kPixel, kApiKey,
                                "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(ErrorMessage(res),
            "The request body is too large (POST /v1/events)");
  EXPECT_EQ(sandbox_->RequestCount(), 0);
  // The connection still serves the next request.
  EXPECT_EQ(PostEvents(Batch({WebPurchase("after")}))->status, 200);
}

TEST_F(SandboxTest, MultipartBodyIsNotJson) {
  httplib::MultipartFormDataItems items = {
      {"events", Batch({WebPurchase("m-1")}).dump(), "", "application/json"}};
  httplib::Headers headers = {
      {"Authorization", absl::StrCat("Bearer ", kApiKey)}};
  httplib::Result res =
      client_->Post(absl::StrCat("/v1/events?pid=", kPixel), headers, items);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(ErrorMessage(res), "Content-Type must be application/json");
  EXPECT_EQ(sandbox_->RequestCount(), 1);
}

TEST_F(SandboxTest, MultipartBodyWithoutBoundaryIsRefusedBeforeTheHandler) {
  httplib::Result res =
      PostRaw("--x--", kPixel, kApiKey, "multipart/form-data");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(ErrorMessage(res), HasSubstr("POST /v1/events"));
  EXPECT_EQ(sandbox_->RequestCount(), 0);
}

// --- Dedup and validate_only ------------------------------------------------

TEST_F(SandboxTest, DuplicateIsAcceptedButFirstReceivedWins) {
  json first = WebPurchase("order-1");
  json second = WebPurchase("order-1");
  second["data"]["amount"] = 1;  // same key, different content
  ASSERT_EQ(PostEvents(Batch({first}))->status, 200);
  httplib::Result res = PostEvents(Batch({second}));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(BodyOf(res)["events_received"], 1);
  EXPECT_THAT(sandbox_->AcceptedEvents(), ElementsAre(first));
  EXPECT_THAT(sandbox_->BatchSizes(), ElementsAre(1, 1));
}

TEST_F(SandboxTest, DedupKeyIsPixelEventNameAndId) {
  json order = MinimalEvent("same", "order_created");
  json page = MinimalEvent("same", "page_viewed");  // other event name
  json custom_a = MinimalEvent("same", "custom");
  custom_a["custom_event_name"] = "Quote_Requested";
  json custom_b = custom_a;
  custom_b["custom_event_name"] = "quote_requested";  // same once lowered
  json custom_c = custom_a;
  custom_c["custom_event_name"] = "demo_booked";
  ASSERT_EQ(
      PostEvents(Batch({order, page, custom_a, custom_b, custom_c, order}))
          ->status,
      200);
  ASSERT_EQ(PostEvents(Batch({order}), kOtherPixel)->status, 200);
  EXPECT_THAT(sandbox_->AcceptedEventsForPixel(kPixel),
              ElementsAre(order, page, custom_a, custom_c));
  EXPECT_THAT(sandbox_->AcceptedEventsForPixel(kOtherPixel),
              ElementsAre(order));
  EXPECT_THAT(sandbox_->BatchSizes(), ElementsAre(6, 1));
}

TEST_F(SandboxTest, DedupHoldsManyKeysAndKeysOfAnyLength) {
  // Enough keys to fill more than one 1 MB block of the key arena, and ids
  // longer than a block, which are stored on their own.
  const std::string long_a(1100 * 1000, 'a');
  const std::string long_b(1100 * 1000, 'b');
  std::vector<json> first;
  for (int i = 0; i < 999; ++i) {
    first.push_back(MinimalEvent(absl::StrCat("id-", i, std::string(1000, 'x')),
                                 "lead_created"));
  }
  first.push_back(MinimalEvent(long_a, "lead_created"));
  ASSERT_EQ(PostEvents(Batch(first))->status, 200);
  ASSERT_EQ(PostEvents(Batch({MinimalEvent(long_b, "lead_created"),
                              MinimalEvent(long_a, "lead_created"), first[0],
                              first[998]}))
                ->status,
            200);
  EXPECT_EQ(sandbox_->Stats()["events"], 1001);
  // Reset forgets them all.
  sandbox_->Reset();
  ASSERT_EQ(PostEvents(Batch({first[0], MinimalEvent(long_a, "lead_created")}))
                ->status,
            200);
  EXPECT_EQ(sandbox_->Stats()["events"], 2);
}

TEST_F(SandboxTest, ValidateOnlyValidatesAndRecordsNothing) {
  json body = Batch({WebPurchase("v-1")});
  body["validate_only"] = true;
  httplib::Result res = PostEvents(body);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(BodyOf(res)["events_received"], 1);
  EXPECT_THAT(sandbox_->AcceptedEvents(), IsEmpty());
  EXPECT_THAT(sandbox_->BatchSizes(), IsEmpty());

  // It still rejects invalid events.
  json bad = body;
  bad["events"][0]["type"] = "purchase";
  EXPECT_EQ(PostEvents(bad)->status, 400);

  // And it left no dedup key behind: the real send is recorded.
  ASSERT_EQ(PostEvents(Batch({WebPurchase("v-1")}))->status, 200);
  EXPECT_THAT(sandbox_->AcceptedEvents(), ElementsAre(WebPurchase("v-1")));
  EXPECT_EQ(sandbox_->RequestCount(), 3);
}

// --- Faults
// -------------------------------------------------------------------

TEST_F(SandboxTest, StatusSequenceIsConsumedOnePerRequest) {
  Faults faults;
  faults.status_sequence = {{429, "1"}, {503, ""}};
  sandbox_->SetFaults(faults);
  json body = Batch({WebPurchase("a")});

  httplib::Result first = PostEvents(body);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 429);
  EXPECT_EQ(first->get_header_value("Retry-After"), "1");
  EXPECT_EQ(BodyOf(first)["error"]["type"], "rate_limit_error");

  httplib::Result second = PostEvents(body);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503);
  EXPECT_FALSE(second->has_header("Retry-After"));
  EXPECT_EQ(BodyOf(second)["error"]["type"], "server_error");
  EXPECT_THAT(sandbox_->AcceptedEvents(), IsEmpty());

  httplib::Result third = PostEvents(body);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 200);
  EXPECT_THAT(sandbox_->AcceptedEvents(), ElementsAre(WebPurchase("a")));
  EXPECT_EQ(sandbox_->RequestCount(), 3);
}

TEST_F(SandboxTest, FaultsControlEndpointSetsShowsAndClearsFaults) {
  httplib::Result set = client_->Post(
      "/_sandbox/faults",
      R"({"status_sequence":[{"status":429,"retry_after":"2"},{"status":500}],
          "poison_ids":["p"],"auth_failures":1})",
      "application/json");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 200) << set->body;

  // auth_failures is consumed before status_sequence.
  EXPECT_EQ(PostEvents(Batch({WebPurchase("a")}))->status, 401);
  httplib::Result limited = PostEvents(Batch({WebPurchase("a")}));
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->get_header_value("Retry-After"), "2");

  httplib::Result pending = client_->Get("/_sandbox/faults");
  ASSERT_TRUE(pending);
  EXPECT_EQ(BodyOf(pending), json({{"status_sequence", {{{"status", 500}}}},
                                   {"latency_ms", 0},
                                   {"drop_connections", 0},
                                   {"poison_ids", {"p"}},
                                   {"auth_failures", 0}}));

  httplib::Result cleared = client_->Delete("/_sandbox/faults");
  ASSERT_TRUE(cleared);
  EXPECT_EQ(cleared->status, 200);
  EXPECT_EQ(PostEvents(Batch({WebPurchase("p")}))->status, 200);
}

TEST_F(SandboxTest, FaultsControlEndpointRejectsUnknownKeys) {
  httplib::Result res = client_->Post(
      "/_sandbox/faults", R"({"drop_connection": 1})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(ErrorMessage(res), HasSubstr("drop_connection: unknown field"));
}

TEST_F(SandboxTest, LatencyDelaysEveryRequest) {
  Faults faults;
  faults.latency = std::chrono::milliseconds(50);
  faults.status_sequence = {{503, ""}};
  sandbox_->SetFaults(faults);
  for (int expected_status : {503, 200}) {
    auto start = std::chrono::steady_clock::now();
    httplib::Result res = PostEvents(Batch({WebPurchase("a")}));
    auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, expected_status);
    EXPECT_GE(elapsed, std::chrono::milliseconds(50));
  }
}

TEST_F(SandboxTest, DroppedConnectionIsAClientErrorWithNoResponse) {
  Faults faults;
  faults.drop_connections = 1;
  sandbox_->SetFaults(faults);

  httplib::Result dropped = PostEvents(Batch({WebPurchase("a")}));
  EXPECT_FALSE(dropped);
  EXPECT_EQ(dropped.error(), httplib::Error::Read);
  EXPECT_THAT(sandbox_->AcceptedEvents(), IsEmpty());

  httplib::Result next = PostEvents(Batch({WebPurchase("a")}));
  ASSERT_TRUE(next) << httplib::to_string(next.error());
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(sandbox_->RequestCount(), 2);
  EXPECT_THAT(sandbox_->AcceptedEvents(), ElementsAre(WebPurchase("a")));
}

TEST_F(SandboxTest, DroppedConnectionSendsNoBytes) {
  Faults faults;
  faults.drop_connections = 1;
  sandbox_->SetFaults(faults);
  // A raw socket shows that not even a status line arrives before EOF.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  timeval timeout{10, 0};  // a guard only; EOF arrives at once
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(sandbox_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string body = Batch({WebPurchase("a")}).dump();
  const std::string request = absl::StrCat(
      "POST /v1/events?pid=pixel-1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Authorization: Bearer ",
      kApiKey,
      "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
      "\r\n\r\n", body);
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  char buffer[256];
  ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
  close(fd);
  EXPECT_EQ(n, 0) << "expected EOF before any response byte";
  EXPECT_EQ(sandbox_->RequestCount(), 1);
}

TEST_F(SandboxTest, PoisonIdFailsAnyBatchContainingIt) {
  Faults faults;
  faults.poison_ids = {"bad-1"};
  sandbox_->SetFaults(faults);

  httplib::Result poisoned = PostEvents(
      Batch({WebPurchase("ok-1"), WebPurchase("ok-2"), WebPurchase("bad-1")}));
  ASSERT_TRUE(poisoned);
  EXPECT_EQ(poisoned->status, 400);
  EXPECT_THAT(ErrorMessage(poisoned), HasSubstr("events[2].id"));
  EXPECT_THAT(sandbox_->AcceptedEvents(), IsEmpty());

  // Not consumed: it fails again; batches without it pass.
  EXPECT_EQ(PostEvents(Batch({WebPurchase("bad-1")}))->status, 400);
  EXPECT_EQ(PostEvents(Batch({WebPurchase("ok-1")}))->status, 200);
}

TEST_F(SandboxTest, AuthFailuresAnswer401WithTheRightKey) {
  Faults faults;
  faults.auth_failures = 2;
  sandbox_->SetFaults(faults);
  for (int i = 0; i < 2; ++i) {
    httplib::Result res = PostEvents(Batch({WebPurchase("a")}));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    EXPECT_EQ(BodyOf(res)["error"]["type"], "invalid_request_error");
  }
  EXPECT_EQ(PostEvents(Batch({WebPurchase("a")}))->status, 200);
  EXPECT_EQ(sandbox_->PendingFaults().auth_failures, 0);
}

// --- Reset, lifetime ---------------------------------------------------------

TEST_F(SandboxTest, ResetForgetsEventsCountersDedupAndFaults) {
  ASSERT_EQ(PostEvents(Batch({WebPurchase("a")}))->status, 200);
  Faults faults;
  faults.auth_failures = 5;
  sandbox_->SetFaults(faults);

  httplib::Result res =
      client_->Post("/_sandbox/reset", "", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(sandbox_->Snapshot(), json({{"events", json::array()},
                                        {"requests", 0},
                                        {"batches", json::array()}}));

  // No fault left, and the dedup key is gone.
  ASSERT_EQ(PostEvents(Batch({WebPurchase("a")}))->status, 200);
  EXPECT_THAT(sandbox_->AcceptedEvents(), ElementsAre(WebPurchase("a")));
}

TEST_F(SandboxTest, ResetTakesAPostWithoutABody) {
  Faults faults;
  faults.auth_failures = 5;
  sandbox_->SetFaults(faults);
  // `curl -X POST .../_sandbox/reset` sends neither a body nor a length.
  ::conversions::testing::RawConnection connection(sandbox_->port());
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE(connection.Send(
      "POST /_sandbox/reset HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  EXPECT_EQ(connection.StatusLine(), "HTTP/1.1 200 OK");
  EXPECT_EQ(sandbox_->PendingFaults().auth_failures, 0);
}

TEST_F(SandboxTest, ResetReadsABodyItIsSentSoTheNextRequestIsAnswered) {
  ::conversions::testing::RawConnection connection(sandbox_->port());
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE(
      connection.Send("POST /_sandbox/reset HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Content-Length: 2\r\n\r\n{}"));
  EXPECT_EQ(connection.StatusLine(), "HTTP/1.1 200 OK");
  // Had "{}" been left unread, it would start the next request line.
  ASSERT_TRUE(
      connection.Send("GET /_sandbox/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Connection: close\r\n\r\n"));
  const std::string answer = connection.ReadToEnd();
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 200 OK")) << answer;
  EXPECT_THAT(answer, HasSubstr("\"requests\"")) << answer;
}

TEST_F(SandboxTest, ShutdownIsIdempotentAndWakesLatencyWaits) {
  Faults faults;
  faults.latency = std::chrono::minutes(10);
  sandbox_->SetFaults(faults);
  std::thread caller([this] { PostEvents(Batch({WebPurchase("a")})); });
  // Shut down only once the request is inside the latency wait.
  while (sandbox_->RequestCount() == 0) std::this_thread::yield();
  auto start = std::chrono::steady_clock::now();
  sandbox_->Shutdown();
  sandbox_->Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  caller.join();
}

TEST(SandboxStartTest, RejectsBadOptions) {
  SandboxOptions no_key;
  no_key.api_key = "";
  EXPECT_EQ(Sandbox::Start(no_key).status().code(),
            absl::StatusCode::kInvalidArgument);
  SandboxOptions no_pixel;
  no_pixel.pixel_ids = {};
  EXPECT_EQ(Sandbox::Start(no_pixel).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SandboxStartTest, BusyPortIsUnavailable) {
  absl::StatusOr<std::unique_ptr<Sandbox>> first = Sandbox::Start({});
  ASSERT_TRUE(first.ok()) << first.status();
  SandboxOptions same_port;
  same_port.port = (*first)->port();
  EXPECT_EQ(Sandbox::Start(same_port).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace conversions::sandbox
