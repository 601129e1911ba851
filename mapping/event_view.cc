#include "mapping/event_view.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "mapping/event_mapper_core.h"

namespace conversions::mapping {
namespace internal {
namespace {

void CopyList(const TextList& from,
              google::protobuf::RepeatedPtrField<std::string>* to) {
  for (int i = 0; i < from.size(); ++i) to->Add()->assign(from[i]);
}

}  // namespace

void EventView::Clear() {
  id_ = {};
  type_ = v1::EVENT_TYPE_UNSPECIFIED;
  timestamp_ms_ = 0;
  custom_event_name_ = {};
  oppref_ = {};
  action_source_ = v1::ACTION_SOURCE_UNSPECIFIED;
  source_url_ = {};
  opt_out_ = false;
  for (TextList* list :
       {&user_.emails_, &user_.emails_sha256_, &user_.phone_numbers_,
        &user_.phone_numbers_sha256_, &user_.external_ids_,
        &user_.external_ids_sha256_, &user_.first_names_,
        &user_.first_names_sha256_, &user_.last_names_,
        &user_.last_names_sha256_, &user_.regions_, &user_.postal_codes_,
        &user_.cities_, &user_.countries_}) {
    list->clear();
  }
  user_.android_advertising_id_ = {};
  user_.ip_address_ = {};
  user_.obref_ = {};
  user_.user_agent_ = {};
  data_.has_amount_ = false;
  data_.amount_ = 0;
  data_.currency_ = {};
  data_.contents_.clear();
  data_.plan_id_ = {};
  texts_used = 0;
}

std::string_view EventView::Keep(std::string_view text) {
  if (texts_used == texts.size()) texts.emplace_back();
  std::string& kept = texts[texts_used++];
  kept.assign(text);
  return kept;
}

void ToTypedEvent(const EventView& view, v1::Event* event) {
  event->Clear();
  event->set_id(std::string(view.id()));
  event->set_type(view.type());
  event->set_timestamp_ms(view.timestamp_ms());
  event->set_custom_event_name(std::string(view.custom_event_name()));
  event->set_oppref(std::string(view.oppref()));
  event->set_action_source(view.action_source());
  event->set_source_url(std::string(view.source_url()));
  event->set_opt_out(view.opt_out());
  // A tag event skipped or rejected before its type was known has no user
  // and no data, as it had none in the tag mapping's typed event.
  if (view.type() == v1::EVENT_TYPE_UNSPECIFIED) return;

  const UserView& u = view.user();
  v1::UserData* user = event->mutable_user();
  CopyList(u.emails(), user->mutable_emails());
  CopyList(u.emails_sha256(), user->mutable_emails_sha256());
  CopyList(u.phone_numbers(), user->mutable_phone_numbers());
  CopyList(u.phone_numbers_sha256(), user->mutable_phone_numbers_sha256());
  CopyList(u.external_ids(), user->mutable_external_ids());
  CopyList(u.external_ids_sha256(), user->mutable_external_ids_sha256());
  CopyList(u.first_names(), user->mutable_first_names());
  CopyList(u.first_names_sha256(), user->mutable_first_names_sha256());
  CopyList(u.last_names(), user->mutable_last_names());
  CopyList(u.last_names_sha256(), user->mutable_last_names_sha256());
  CopyList(u.regions(), user->mutable_regions());
  CopyList(u.postal_codes(), user->mutable_postal_codes());
  CopyList(u.cities(), user->mutable_cities());
  CopyList(u.countries(), user->mutable_countries());
  user->set_android_advertising_id(std::string(u.android_advertising_id()));
  user->set_ip_address(std::string(u.ip_address()));
  user->set_obref(std::string(u.obref()));
  user->set_user_agent(std::string(u.user_agent()));

  const DataView& d = view.data();
  v1::EventData* data = event->mutable_data();
  if (d.has_amount()) data->set_amount(d.amount());
  data->set_currency(std::string(d.currency()));
  for (const ContentView& c : d.contents()) {
    v1::Content* content = data->add_contents();
    content->set_id(std::string(c.id()));
    content->set_name(std::string(c.name()));
    content->set_content_type(std::string(c.content_type()));
    if (c.has_quantity()) content->set_quantity(c.quantity());
    if (c.has_amount()) content->set_amount(c.amount());
    content->set_currency(std::string(c.currency()));
  }
  data->set_plan_id(std::string(d.plan_id()));
}

// In its own file, apart from MapEvent: see event_mapper_core.h.
void MapEventView(const EventView& event, std::int64_t now_ms,
                  MappedEvent* result) {
  core::ResetResult(result);
  core::Mapper<EventView>(event, now_ms, result).Run();
}

}  // namespace internal
}  // namespace conversions::mapping
