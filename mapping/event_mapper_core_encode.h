// Mapper's encoder (event_mapper_core_mapper.h): writes the wire JSON of an
// event that passed validation, and fills the rest of its MappedEvent.
// Internal to the mapping library: include event_mapper.h or event_view.h
// instead.
#ifndef CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_ENCODE_H_
#define CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_ENCODE_H_

#include <cstddef>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "conversions/v1/event.pb.h"
#include "mapping/event_mapper.h"
#include "mapping/event_mapper_core_mapper.h"
#include "mapping/event_mapper_core_support.h"
#include "mapping/event_types.h"
#include "mapping/json_writer.h"

namespace conversions::mapping {
namespace internal::core {

template <typename Event>
template <size_t N>
inline void Mapper<Event>::WriteHashed(const char (&key)[N],
                                       const HashedList& list,
                                       JsonFragmentWriter* w) {
  if (list.size == 0) return;
  w->Key(key);
  size_t array = w->OpenArray();
  for (size_t i = 0; i < list.size; ++i) {
    w->Comma();
    // Lower-case hex: nothing to escape.
    w->PlainString(
        std::string_view(list.values[i].data(), list.values[i].size()));
  }
  w->CloseArray(array);
}

template <typename Event>
template <size_t N>
inline void Mapper<Event>::WriteRaw(const char (&key)[N], const RawList& list,
                                    JsonFragmentWriter* w) {
  if (list.size == 0) return;
  w->Key(key);
  size_t array = w->OpenArray();
  for (size_t i = 0; i < list.size; ++i) {
    w->Comma();
    w->String(list.values[i]);
  }
  w->CloseArray(array);
}

template <typename Event>
template <size_t N>
inline void Mapper<Event>::WriteOptional(const char (&key)[N],
                                         std::string_view value,
                                         JsonFragmentWriter* w) {
  if (value.empty()) return;
  w->StringField(key, value);
}

// Writes a currency upper-cased; nothing when empty. CheckCurrency has
// looked it up already: Encode runs only for events without violations.
template <typename Event>
inline void Mapper<Event>::WriteCurrency(std::string_view currency,
                                         JsonFragmentWriter* w) {
  if (currency.size() != 3) return;
  char upper[3];
  for (size_t i = 0; i < 3; ++i) {
    char c = currency[i];
    upper[i] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  }
  w->PlainStringField("currency", std::string_view(upper, 3));
}

// Writes the wire event with JsonFragmentWriter: each key is a literal
// with its comma, which costs less than JsonWriter's comma tracking on an
// event of some forty values. The golden tests hold the output byte for
// byte.
template <typename Event>
inline void Mapper<Event>::Encode() {
  const auto& d = event_.data();
  JsonFragmentWriter w(&result_->wire_json,
                       512 + event_.user().user_agent().size() +
                           event_.source_url().size() + 96 * d.contents_size());
  size_t event = w.OpenObject();
  w.StringField("id", event_.id());
  w.PlainStringField("type", type_name_);  // API names need no escaping
  w.IntField("timestamp_ms", timestamp_ms_);
  WriteOptional("custom_event_name", custom_name_, &w);
  WriteOptional("oppref", oppref_, &w);
  WriteOptional("source_url", source_url_, &w);
  w.PlainStringField("action_source", action_source_name_);
  if (event_.opt_out()) {
    w.Key("opt_out");
    w.Raw("true");
  }
  if (!user_.empty()) {
    w.Key("user");
    size_t user = w.OpenObject();
    WriteHashed("emails_sha256", user_.emails, &w);
    WriteHashed("phone_numbers_sha256", user_.phone_numbers, &w);
    WriteHashed("external_ids_sha256", user_.external_ids, &w);
    WriteHashed("first_names_sha256", user_.first_names, &w);
    WriteHashed("last_names_sha256", user_.last_names, &w);
    WriteRaw("regions", user_.regions, &w);
    WriteRaw("postal_codes", user_.postal_codes, &w);
    WriteRaw("cities", user_.cities, &w);
    WriteRaw("countries", user_.countries, &w);
    WriteOptional("android_advertising_id", user_.android_advertising_id, &w);
    WriteOptional("obref", user_.obref, &w);
    WriteOptional("ip_address", user_.ip_address, &w);
    WriteOptional("user_agent", user_.user_agent, &w);
    w.CloseObject(user);
  }
  w.Key("data");
  size_t data = w.OpenObject();
  w.PlainStringField("type", DataTypeName(data_type_));
  if (d.has_amount()) w.IntField("amount", d.amount());
  WriteCurrency(d.currency(), &w);
  if (d.contents_size() > 0) {
    w.Key("contents");
    size_t contents = w.OpenArray();
    for (const auto& c : d.contents()) {
      w.Comma();
      size_t content = w.OpenObject();
      WriteOptional("id", c.id(), &w);
      WriteOptional("group_id", c.group_id(), &w);
      WriteOptional("name", CutUtf8(c.name(), Limits::kContentNameBytes), &w);
      WriteOptional("content_type", c.content_type(), &w);
      if (c.has_quantity()) w.IntField("quantity", c.quantity());
      if (c.has_amount()) w.IntField("amount", c.amount());
      WriteCurrency(c.currency(), &w);
      if constexpr (kTyped) {
        if (c.variant_size() > 0) WriteVariant(c, &w);
      }
      w.CloseObject(content);
    }
    w.CloseArray(contents);
  }
  WriteOptional("plan_id", d.plan_id(), &w);
  if constexpr (kTyped) {
    if (d.has_custom_properties() && d.custom_properties().fields_size() > 0) {
      WriteCustomProperties(d.custom_properties(), &w);
    }
  }
  w.CloseObject(data);
  w.CloseObject(event);
  w.Finish();

  result_->event_name.assign(event_.type() == v1::EVENT_TYPE_CUSTOM
                                 ? std::string_view(custom_name_)
                                 : type_name_);
  result_->id = event_.id();
  result_->timestamp_ms = timestamp_ms_;
}

// An event whose wire JSON is over Limits::kEventWireBytes is refused, and
// its result holds no wire event.
template <typename Event>
inline void Mapper<Event>::ReportOversized() {
  const size_t size = result_->wire_json.size();
  result_->wire_json.clear();
  result_->event_name.clear();
  result_->id.clear();
  result_->timestamp_ms = 0;
  Violation(event_.data().contents_size() > 0 ? "data.contents" : "", kTooLong,
            absl::StrCat("the event's API JSON would be ", size,
                         " bytes, more than the ", Limits::kEventWireBytes,
                         " one event may take; send fewer contents or "
                         "shorter values"));
}

}  // namespace internal::core
}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_ENCODE_H_
