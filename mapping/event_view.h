// A borrowed, read-only form of a conversions.v1.Event: the same fields,
// read through the same accessor names as the generated class, but held as
// string views, numbers and enums that point into someone else's storage.
// Internal to the mapping library.
//
// MapEvent's core is a template over its input (event_mapper.cc): it reads
// a v1::Event for SendEvents and an EventView for tag events. MapTagEvent
// fills an EventView straight from the tag event's google.protobuf.Struct
// (views of its strings, numbers converted on the way), so a tag event goes
// to the wire without a typed event in between and without copying a
// string.
//
// An EventView does not own its strings: they live in the Struct it was
// read from, or in its own `texts` (numbers written as text). Valid while
// both are alive and unchanged.
#ifndef CONVERSIONS_MAPPING_EVENT_VIEW_H_
#define CONVERSIONS_MAPPING_EVENT_VIEW_H_

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "conversions/v1/event.pb.h"
#include "mapping/event_mapper.h"

namespace conversions::mapping {
namespace internal {

// A repeated string field: views, in order.
class TextList {
 public:
  int size() const { return static_cast<int>(values_.size()); }
  std::string_view operator[](int i) const {
    return values_[static_cast<size_t>(i)];
  }
  // From its two words: a view just stored by parts (by the tag mapper's
  // readers) and copied whole would be loaded as one 16-byte word, which
  // waits for both stores to complete rather than take their values.
  void push_back(std::string_view v) {
    values_.emplace_back(v.data(), v.size());
  }
  void clear() { values_.clear(); }

 private:
  std::vector<std::string_view> values_;
};

// A currency code: at most three bytes, held in place (the tag model's are
// trimmed and upper-cased, so they are not views of the event).
class CurrencyCode {
 public:
  void assign(std::string_view code) {
    size_ = code.size() > 3 ? 3 : static_cast<std::uint8_t>(code.size());
    for (size_t i = 0; i < size_; ++i) code_[i] = code[i];
  }
  std::string_view view() const { return {code_.data(), size_}; }

 private:
  std::array<char, 3> code_{};
  std::uint8_t size_ = 0;
};

// v1::Content, without group_id and variant (the tag model has neither;
// group_id() reads empty and variant_size() 0).
struct ContentView {
  // User-provided, so that emplace_back() runs the member initializers
  // alone: a value-initialized ContentView is first zeroed whole, which
  // GCC emits as `rep stos`, slow to start for 88 bytes, once per item.
  ContentView() {}

  std::string_view id() const { return id_; }
  std::string_view group_id() const { return {}; }
  std::string_view name() const { return name_; }
  std::string_view content_type() const { return content_type_; }
  bool has_quantity() const { return has_quantity_; }
  std::int64_t quantity() const { return quantity_; }
  bool has_amount() const { return has_amount_; }
  std::int64_t amount() const { return amount_; }
  std::string_view currency() const { return currency_.view(); }
  int variant_size() const { return 0; }

  std::string_view id_;
  std::string_view name_;
  std::string_view content_type_;
  bool has_quantity_ = false;
  std::int64_t quantity_ = 0;
  bool has_amount_ = false;
  std::int64_t amount_ = 0;
  CurrencyCode currency_;
};

// v1::UserData.
struct UserView {
  const TextList& emails() const { return emails_; }
  const TextList& emails_sha256() const { return emails_sha256_; }
  const TextList& phone_numbers() const { return phone_numbers_; }
  const TextList& phone_numbers_sha256() const { return phone_numbers_sha256_; }
  const TextList& external_ids() const { return external_ids_; }
  const TextList& external_ids_sha256() const { return external_ids_sha256_; }
  const TextList& first_names() const { return first_names_; }
  const TextList& first_names_sha256() const { return first_names_sha256_; }
  const TextList& last_names() const { return last_names_; }
  const TextList& last_names_sha256() const { return last_names_sha256_; }
  const TextList& regions() const { return regions_; }
  const TextList& postal_codes() const { return postal_codes_; }
  const TextList& cities() const { return cities_; }
  const TextList& countries() const { return countries_; }
  std::string_view android_advertising_id() const {
    return android_advertising_id_;
  }
  std::string_view ip_address() const { return ip_address_; }
  std::string_view obref() const { return obref_; }
  std::string_view user_agent() const { return user_agent_; }

  TextList emails_, emails_sha256_;
  TextList phone_numbers_, phone_numbers_sha256_;
  TextList external_ids_, external_ids_sha256_;
  TextList first_names_, first_names_sha256_;
  TextList last_names_, last_names_sha256_;
  TextList regions_, postal_codes_, cities_, countries_;
  std::string_view android_advertising_id_;
  std::string_view ip_address_;
  std::string_view obref_;
  std::string_view user_agent_;
};

// v1::EventData, without custom_properties (the tag model has none).
struct DataView {
  bool has_amount() const { return has_amount_; }
  std::int64_t amount() const { return amount_; }
  std::string_view currency() const { return currency_.view(); }
  int contents_size() const { return static_cast<int>(contents_.size()); }
  const std::vector<ContentView>& contents() const { return contents_; }
  const ContentView& contents(int i) const {
    return contents_[static_cast<size_t>(i)];
  }
  std::string_view plan_id() const { return plan_id_; }

  bool has_amount_ = false;
  std::int64_t amount_ = 0;
  CurrencyCode currency_;
  std::vector<ContentView> contents_;
  std::string_view plan_id_;
};

// v1::Event.
struct EventView {
  std::string_view id() const { return id_; }
  v1::EventType type() const { return type_; }
  std::int64_t timestamp_ms() const { return timestamp_ms_; }
  std::string_view custom_event_name() const { return custom_event_name_; }
  std::string_view oppref() const { return oppref_; }
  v1::ActionSource action_source() const { return action_source_; }
  std::string_view source_url() const { return source_url_; }
  bool opt_out() const { return opt_out_; }
  const UserView& user() const { return user_; }
  const DataView& data() const { return data_; }

  // Empties every field, keeping the lists' capacity for the next event.
  void Clear();
  // Stores `text` (a number written out) in `texts`; returns a view of it.
  std::string_view Keep(std::string_view text);

  std::string_view id_;
  v1::EventType type_ = v1::EVENT_TYPE_UNSPECIFIED;
  std::int64_t timestamp_ms_ = 0;
  std::string_view custom_event_name_;
  std::string_view oppref_;
  v1::ActionSource action_source_ = v1::ACTION_SOURCE_UNSPECIFIED;
  std::string_view source_url_;
  bool opt_out_ = false;
  UserView user_;
  DataView data_;

  // Strings the views may point to; a deque, so that adding one moves none.
  std::deque<std::string> texts;
  size_t texts_used = 0;
};

// Copies `view` into a typed event (for tests and tools: MapEvent of the
// result equals MapEventView of `view`).
void ToTypedEvent(const EventView& view, v1::Event* event);

// MapEvent for an EventView: the same rules, byte for byte the same output.
void MapEventView(const EventView& event, std::int64_t now_ms,
                  MappedEvent* result);

}  // namespace internal
}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_EVENT_VIEW_H_
