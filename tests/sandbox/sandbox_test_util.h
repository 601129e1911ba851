// Shared fixture for the sandbox tests: an in-process Sandbox on
// 127.0.0.1:0 with a fixed clock, and an httplib client bound to it.
#ifndef CONVERSIONS_TESTS_SANDBOX_SANDBOX_TEST_UTIL_H_
#define CONVERSIONS_TESTS_SANDBOX_SANDBOX_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/sandbox/sandbox.h"

namespace conversions::sandbox::testing {

using ::nlohmann::json;

// The sandbox clock in every test: 2026-03-19T04:00:00Z.
inline constexpr int64_t kNowMs = 1'773'892'800'000;
inline constexpr char kApiKey[] = "test-key-0123";
inline constexpr char kPixel[] = "pixel-1";
inline constexpr char kOtherPixel[] = "pixel-2";
// SHA-256 of "user@example.com".
inline constexpr char kEmailHash[] =
    "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514";

// A valid web purchase (order_created) with the given id.
inline json WebPurchase(const std::string& id) {
  return {
      {"id", id},
      {"type", "order_created"},
      {"timestamp_ms", kNowMs - 60'000},
      {"source_url", "https://shop.example.com/checkout"},
      {"action_source", "web"},
      {"user",
       {{"emails_sha256", json::array({kEmailHash})},
        {"countries", json::array({"US"})},
        {"ip_address", "203.0.113.1"},
        {"user_agent", "Mozilla/5.0"}}},
      {"data",
       {{"type", "contents"},
        {"amount", 2599},
        {"currency", "USD"},
        {"contents", json::array({json{{"id", "sku_1"},
                                       {"name", "Starter bundle"},
                                       {"content_type", "product"},
                                       {"quantity", 1},
                                       {"amount", 2599}}})}}},
  };
}

// A minimal valid event of `type` (with the data shape it needs).
inline json MinimalEvent(const std::string& id, const std::string& type) {
  json event = {{"id", id},
                {"type", type},
                {"timestamp_ms", kNowMs},
                {"action_source", "offline"}};
  if (type == "app_installed" || type == "app_opened") {
    event["action_source"] = "mobile_app";
  }
  if (type == "custom") event["custom_event_name"] = "quote_requested";
  std::string shape = "contents";
  if (type == "app_installed" || type == "app_opened" ||
      type == "appointment_scheduled" || type == "lead_created" ||
      type == "registration_completed") {
    shape = "customer_action";
  } else if (type == "subscription_created" || type == "trial_started") {
    shape = "plan_enrollment";
  } else if (type == "custom") {
    shape = "custom";
  }
  event["data"] = {{"type", shape}};
  return event;
}

inline json Batch(std::vector<json> events) {
  return {{"events", std::move(events)}};
}

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SandboxOptions options;
    options.api_key = kApiKey;
    options.pixel_ids = {kPixel, kOtherPixel};
    options.now_ms = [] { return kNowMs; };
    options.threads = 4;
    absl::StatusOr<std::unique_ptr<Sandbox>> started =
        Sandbox::Start(std::move(options));
    ASSERT_TRUE(started.ok()) << started.status();
    sandbox_ = *std::move(started);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", sandbox_->port());
    client_->set_connection_timeout(5);
    client_->set_read_timeout(10);
  }

  // POST /v1/events?pid=PIXEL with the given key; an empty key sends no
  // Authorization header.
  httplib::Result PostEvents(const json& body,
                             const std::string& pixel = kPixel,
                             const std::string& key = kApiKey) {
    return PostRaw(body.dump(), pixel, key);
  }
  httplib::Result PostRaw(
      const std::string& body, const std::string& pixel = kPixel,
      const std::string& key = kApiKey,
      const std::string& content_type = "application/json") {
    httplib::Headers headers;
    if (!key.empty()) headers.emplace("Authorization", "Bearer " + key);
    return client_->Post("/v1/events?pid=" + pixel, headers, body,
                         content_type);
  }

  // The parsed JSON body of a response (discarded if it is not JSON).
  static json BodyOf(const httplib::Result& result) {
    return json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  }
  static std::string ErrorMessage(const httplib::Result& result) {
    json body = BodyOf(result);
    if (!body.is_object() || !body.contains("error")) return "<no error>";
    return body["error"].value("message", "<no message>");
  }

  std::unique_ptr<Sandbox> sandbox_;
  // Declared after sandbox_, so it closes its connections first.
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace conversions::sandbox::testing

#endif  // CONVERSIONS_TESTS_SANDBOX_SANDBOX_TEST_UTIL_H_
