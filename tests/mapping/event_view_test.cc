// MapEvent's core reads a typed event or an EventView (event_view.h): the
// same golden events and identifier vectors, given as views of the typed
// events, must map to the same results byte for byte. Also checks
// ToTypedEvent, which the typed form of MapTagEvent uses.
#include "mapping/event_view.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "mapping/event_mapper.h"
#include "tests/mapping/golden_vectors.h"
#include "tests/mapping/mapper_test_util.h"
#include "tests/mapping/test_util.h"

namespace conversions::mapping {
namespace {

using ::conversions::testing::EventFromText;
using ::conversions::testing::GoldenEventNames;
using ::conversions::testing::kNowMs;
using ::conversions::testing::ReadTestData;
using ::conversions::testing::ReadVectorRows;
using ::conversions::testing::RowLocation;
using ::conversions::testing::ValidEvent;
using ::conversions::testing::VectorRow;
using internal::ContentView;
using internal::EventView;
using internal::TextList;

// Whether `event` has only fields an EventView holds (not content group ids
// or variants, nor custom properties; currencies of at most three bytes).
bool Representable(const v1::Event& event) {
  if (event.data().has_custom_properties()) return false;
  if (event.data().currency().size() > 3) return false;
  for (const v1::Content& c : event.data().contents()) {
    if (!c.group_id().empty() || c.variant_size() > 0) return false;
    if (c.currency().size() > 3) return false;
  }
  return true;
}

void ViewList(const google::protobuf::RepeatedPtrField<std::string>& from,
              TextList* to) {
  for (const std::string& value : from) to->push_back(value);
}

// Fills `view` with views of `event`'s fields.
void ViewOf(const v1::Event& event, EventView* view) {
  view->Clear();
  view->id_ = event.id();
  view->type_ = event.type();
  view->timestamp_ms_ = event.timestamp_ms();
  view->custom_event_name_ = event.custom_event_name();
  view->oppref_ = event.oppref();
  view->action_source_ = event.action_source();
  view->source_url_ = event.source_url();
  view->opt_out_ = event.opt_out();
  const v1::UserData& u = event.user();
  ViewList(u.emails(), &view->user_.emails_);
  ViewList(u.emails_sha256(), &view->user_.emails_sha256_);
  ViewList(u.phone_numbers(), &view->user_.phone_numbers_);
  ViewList(u.phone_numbers_sha256(), &view->user_.phone_numbers_sha256_);
  ViewList(u.external_ids(), &view->user_.external_ids_);
  ViewList(u.external_ids_sha256(), &view->user_.external_ids_sha256_);
  ViewList(u.first_names(), &view->user_.first_names_);
  ViewList(u.first_names_sha256(), &view->user_.first_names_sha256_);
  ViewList(u.last_names(), &view->user_.last_names_);
  ViewList(u.last_names_sha256(), &view->user_.last_names_sha256_);
  ViewList(u.regions(), &view->user_.regions_);
  ViewList(u.postal_codes(), &view->user_.postal_codes_);
  ViewList(u.cities(), &view->user_.cities_);
  ViewList(u.countries(), &view->user_.countries_);
  view->user_.android_advertising_id_ = u.android_advertising_id();
  view->user_.ip_address_ = u.ip_address();
  view->user_.obref_ = u.obref();
  view->user_.user_agent_ = u.user_agent();
  const v1::EventData& d = event.data();
  view->data_.has_amount_ = d.has_amount();
  view->data_.amount_ = d.amount();
  view->data_.currency_.assign(d.currency());
  for (const v1::Content& c : d.contents()) {
    ContentView& content = view->data_.contents_.emplace_back();
    content.id_ = c.id();
    content.name_ = c.name();
    content.content_type_ = c.content_type();
    content.has_quantity_ = c.has_quantity();
    content.quantity_ = c.quantity();
    content.has_amount_ = c.has_amount();
    content.amount_ = c.amount();
    content.currency_.assign(c.currency());
  }
  view->data_.plan_id_ = d.plan_id();
}

// Maps `event` both ways and expects the same result.
void ExpectSameThroughView(const v1::Event& event) {
  ASSERT_TRUE(Representable(event));
  MappedEvent typed = MapEvent(event, kNowMs);
  EventView view;
  ViewOf(event, &view);
  MappedEvent viewed;
  viewed.wire_json = "left over";  // the result is reset first
  internal::MapEventView(view, kNowMs, &viewed);
  EXPECT_EQ(viewed.violations, typed.violations);
  EXPECT_EQ(viewed.warnings, typed.warnings);
  EXPECT_EQ(viewed.wire_json, typed.wire_json);
  EXPECT_EQ(viewed.event_name, typed.event_name);
  EXPECT_EQ(viewed.id, typed.id);
  EXPECT_EQ(viewed.timestamp_ms, typed.timestamp_ms);

  // And back: the typed event of the view maps the same again.
  v1::Event round_trip;
  internal::ToTypedEvent(view, &round_trip);
  EXPECT_EQ(MapEvent(round_trip, kNowMs).wire_json, typed.wire_json);
}

TEST(EventViewTest, MapsEveryRepresentableGoldenEventAsTheTypedEvent) {
  int representable = 0;
  for (const std::string& name : GoldenEventNames()) {
    SCOPED_TRACE("tests/data/golden/" + name);
    v1::Event event =
        EventFromText(ReadTestData("golden/" + name + ".event.textproto"));
    if (!Representable(event)) continue;
    ++representable;
    ExpectSameThroughView(event);
  }
  EXPECT_GE(representable, 6);
}

TEST(EventViewTest, MapsEveryIdentifierVectorAsTheTypedEvent) {
  std::vector<VectorRow> rows = ReadVectorRows("identifier_vectors.tsv");
  ASSERT_FALSE(rows.empty());
  for (const VectorRow& row : rows) {
    SCOPED_TRACE(RowLocation(row));
    v1::Event event = ValidEvent();
    v1::UserData* u = event.mutable_user();
    if (row.kind == "email") u->add_emails(row.input);
    if (row.kind == "phone") u->add_phone_numbers(row.input);
    if (row.kind == "external_id") u->add_external_ids(row.input);
    if (row.kind == "name") u->add_last_names(row.input);
    ExpectSameThroughView(event);
  }
}

TEST(EventViewTest, ReportsTheSameViolationsAsTheTypedEvent) {
  v1::Event event = ValidEvent();
  event.set_id(" ");
  event.set_type(v1::EVENT_TYPE_CUSTOM);
  event.set_timestamp_ms(kNowMs + 3'600'000);
  event.set_source_url("ftp://example.com");
  event.mutable_data()->set_amount(-1);
  event.mutable_data()->set_currency("usd");
  v1::Content* c = event.mutable_data()->add_contents();
  c->set_quantity(0);
  c->set_amount(5);
  c->set_currency("XYZ");
  for (int i = 0; i < 1001; ++i) event.mutable_user()->add_cities("Paris");
  ExpectSameThroughView(event);
  EXPECT_FALSE(MapEvent(event, kNowMs).ok());
}

TEST(EventViewTest, ClearKeepsNothingOfTheLastEvent) {
  v1::Event rich = ValidEvent();
  rich.mutable_user()->add_emails("user@example.com");
  rich.mutable_data()->add_contents()->set_id("a");
  EventView view;
  ViewOf(rich, &view);
  view.Keep("12345");
  view.Clear();
  v1::Event empty;
  internal::ToTypedEvent(view, &empty);
  EXPECT_EQ(empty.ByteSizeLong(), 0u);
  EXPECT_EQ(view.texts_used, 0u);
}

TEST(EventViewTest, KeptTextsStayPutWhenMoreAreKept) {
  EventView view;
  std::string_view first = view.Keep("1");
  for (int i = 0; i < 1000; ++i) view.Keep(std::to_string(i));
  EXPECT_EQ(first, "1");
}

}  // namespace
}  // namespace conversions::mapping
