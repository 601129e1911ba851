// The dedup name a lookup by key (GetEventStatus, RetryDeadLetters) uses.
#include <gtest/gtest.h>

#include "service/event_ingestor.h"

namespace conversions::service {
namespace {

TEST(EventNameTest, IsTheApiNameOfAStandardType) {
  EXPECT_EQ(EventName(v1::EVENT_TYPE_ORDER_CREATED, "ignored"),
            "order_created");
  EXPECT_EQ(EventName(v1::EVENT_TYPE_UNSPECIFIED, ""), "");
}

// A valid custom name is only lower-cased, as it was sent; one a tag
// event's event_name gave ("Add To Cart", stored as add_to_cart) finds the
// event it was stored as.
TEST(EventNameTest, IsACustomNameAsItWasStored) {
  EXPECT_EQ(EventName(v1::EVENT_TYPE_CUSTOM, "Quote__Requested"),
            "quote__requested");
  EXPECT_EQ(EventName(v1::EVENT_TYPE_CUSTOM, "Add To Cart"), "add_to_cart");
  EXPECT_EQ(EventName(v1::EVENT_TYPE_CUSTOM, " add to cart! "), "add_to_cart");
  EXPECT_EQ(EventName(v1::EVENT_TYPE_CUSTOM, ""), "");
}

}  // namespace
}  // namespace conversions::service
