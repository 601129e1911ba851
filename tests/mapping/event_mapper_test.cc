#include "mapping/event_mapper.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/mapping/test_util.h"

namespace conversions::mapping {
namespace {

using ::conversions::testing::EventFromText;
using ::conversions::testing::kNowMs;
using ::conversions::testing::ParseJson;

TEST(EventMapperTest, MapsTheSpecWebPurchase) {
  v1::Event event = EventFromText(R"pb(
    id: "order_12345"
    type: EVENT_TYPE_ORDER_CREATED
    timestamp_ms: 1773892800000
    source_url: "https://shop.example.com/checkout/confirmation"
    action_source: ACTION_SOURCE_WEB
    user {
      emails: " User@Example.com "
      external_ids: "customer_123"
      countries: "US"
      cities: "San Francisco"
      postal_codes: "94107"
      ip_address: "203.0.113.1"
      user_agent: "Mozilla/5.0"
    }
    data {
      amount: 2599
      currency: "usd"
      contents { id: "sku_123" name: "Starter bundle" content_type: "product" quantity: 1 }
    }
  )pb");
  MappedEvent mapped = MapEvent(event, kNowMs);
  ASSERT_TRUE(mapped.ok()) << mapped.violations[0].description;
  EXPECT_EQ(
      mapped.wire_json,
      R"({"id":"order_12345","type":"order_created","timestamp_ms":1773892800000,)"
      R"("source_url":"https://shop.example.com/checkout/confirmation","action_source":"web",)"
      R"("user":{"emails_sha256":["b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514"],)"
      R"("external_ids_sha256":["18f69bcd2f9cc9c38195e722b2a5590429840ea5090971d2256e026926e55fa1"],)"
      R"("postal_codes":["94107"],"cities":["San Francisco"],"countries":["US"],)"
      R"("ip_address":"203.0.113.1","user_agent":"Mozilla/5.0"},)"
      R"("data":{"type":"contents","amount":2599,"currency":"USD",)"
      R"("contents":[{"id":"sku_123","name":"Starter bundle","content_type":"product","quantity":1}]}})");
  EXPECT_EQ(mapped.event_name, "order_created");
  EXPECT_TRUE(ParseJson(mapped.wire_json).is_object());
}

}  // namespace
}  // namespace conversions::mapping
