// Maps one event of a tag-management event model (Commanders Act style:
// `event_name`, `context.event_id`, `user.email`, `items[]`, ...), given as a
// TagTree (tag_tree.h: a google.protobuf.Struct parsed into a flat tree) or
// as a google.protobuf.Struct, to the Conversions API's wire event. The tag
// mapping reads the tree into the fields of a conversions.v1.Event; the
// core of MapEvent (event_mapper.h) then validates, normalizes, hashes and
// encodes them exactly as it does for SendEvents, so tag events and typed
// events share every rule. The fields go from one to the other as views of
// the tree's strings (event_view.h), not as a typed event. The Struct forms
// copy the Struct into a tree (TagTreeFromStruct) and map that: the tree
// forms are the fast ones.
//
// The mapping follows the tag-management destination's field-mapping table
// (shared/spec/tag-event-mapping.md §3), with these deliberate departures:
// money uses the currency's ISO 4217 exponent (JPY 0, KWD 3), not "x 100";
// the event model's `type` values (online, call, store, ...) are translated
// to action sources; geo fields go to the API's raw lists.
//
// Pure: no I/O, no clock (the caller passes "now"), no logging.
#ifndef CONVERSIONS_MAPPING_TAG_MAPPER_H_
#define CONVERSIONS_MAPPING_TAG_MAPPER_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "conversions/v1/event.pb.h"
#include "google/protobuf/struct.pb.h"
#include "mapping/event_mapper.h"
#include "mapping/event_view.h"
#include "mapping/tag_tree.h"

namespace conversions::mapping {

// The slots of the field-mapping table, each named by its default source
// path (the "CA default property" column). A slot whose name starts with
// `items.X.` is read from each element of the item list.
//
//   slot                               -> Event field
//   context.event_id                   -> id (required; a string, or a whole
//                                         number below 2^53)
//   context.event_timestamp            -> timestamp_ms (epoch ms, number or
//                                         digits; absent: now_ms)
//   partners.openai.custom_event_name  -> custom_event_name, custom events
//                                         only; `event_name` is always the
//                                         last fallback
//   partners.openai.oppref             -> oppref
//   type                               -> action_source (see below)
//   context.page.url                   -> source_url
//   user.email / user.phone / user.id  -> user.emails / phone_numbers /
//                                         external_ids (clear; hashed later)
//   user.firstname / user.lastname     -> user.first_names / last_names
//   user.country / city / zipcode /    -> user.countries / cities /
//     state                               postal_codes / regions (raw)
//   context.device.ip / user_agent     -> user.ip_address / user_agent
//   partners.openai.opt_out            -> opt_out (bool, "true" or "false")
//   value, currency                    -> data.amount (minor units of the
//                                         currency), data.currency
//   partners.openai.plan_id            -> data.plan_id (subscription,
//                                         trial and custom events only)
//   items                              -> data.contents (not for
//                                         customer_action events)
//   items.X.id / items.X.product.name  -> contents[].id / name
//   items.X.content_type, content_type -> contents[].content_type: the
//                                         item's, else the event's, else
//                                         "product"
//   items.X.product.price              -> contents[].amount (unit price, in
//                                         minor units of the item currency)
//   items.X.quantity                   -> contents[].quantity (whole number)
//   items.X.currency                   -> contents[].currency; default
//                                         sources items.X.currency, then
//                                         items.X.product.currency; else the
//                                         event currency (left implicit)
//
// A text slot (an identifier, a location, an item id, ...) reads a string,
// or a number as its text when that text is surely the number the caller
// wrote: a whole number below 2^53, or a fraction of at most 15 significant
// digits. Any other number (12345678901234567890 arrives as the double
// 12345678901234567168) is dropped with a DROPPED_INVALID warning asking
// for a string, never sent as another value.
//
// A container the mapping reads properties of (`user`, `partners.openai`,
// `context.page`, an item's `product`, ...) that is present but not an
// object (a string, a number, a list) gets one DROPPED_INVALID warning
// naming its path ("user", "items[0].product"), since none of the
// properties under it could be read; a null or missing one stays silent.
//
// A `value` or item price whose currency is missing or invalid is still
// checked for what no currency cures (not a number, negative, too large
// even without minor units), so that both problems are reported, as for a
// typed event.
//
// Fixed sources that are not slots: `event_name` (the event mapping),
// `user.consent_categories` (consent), and the pre-hashed `user.email_sha256`,
// `user.id_sha256`, `user.firstname_sha256` and `user.lastname_sha256`, which
// pass through to the *_sha256 lists. `user.phone_sha256` is dropped with a
// warning: the event model hashes E.164 with its '+', the API hashes the
// digits without it, so such a hash can never match. Re-point `user.phone` at
// a property holding the API's hash to send one: MapEvent passes 64-hex
// values through. The MD5 twins of the user properties the API uses, and
// the SHA-256 twins of the locations (which the API takes in clear), are
// dropped with a warning each too. A pre-hashed property that smart mapping
// makes a source of a slot (`user.email` -> `user.email_sha256`) is read by
// that slot alone, so that it is neither sent nor reported twice.
inline constexpr std::array<std::string_view, 29> kTagSlots = {
    "context.event_id",
    "context.event_timestamp",
    "partners.openai.custom_event_name",
    "partners.openai.oppref",
    "type",
    "context.page.url",
    "user.email",
    "user.phone",
    "user.id",
    "user.firstname",
    "user.lastname",
    "user.country",
    "user.city",
    "user.zipcode",
    "user.state",
    "context.device.ip",
    "context.device.user_agent",
    "partners.openai.opt_out",
    "value",
    "currency",
    "partners.openai.plan_id",
    "items",
    "items.X.id",
    "items.X.product.name",
    "items.X.content_type",
    "content_type",
    "items.X.product.price",
    "items.X.quantity",
    "items.X.currency"};

// In TagMappingConfig::event_mapping, "send no events of this name".
inline constexpr v1::EventType kSkipTagEvent = v1::EVENT_TYPE_UNSPECIFIED;

// One destination's mapping settings. The defaults reproduce the
// destination's prebuilt mappings.
struct TagMappingConfig {
  // Event mapping: event_name (exact, case-sensitive) -> event type. Adds to
  // or overrides DefaultTagEventMapping(); kSkipTagEvent (config: `skip`)
  // maps a name to nothing, so that its events are SKIPPED. Default: empty.
  std::map<std::string, v1::EventType> event_mapping;
  // Smart mapping: slot (one of kTagSlots) -> source paths, tried in order;
  // the first present value wins (null, "", white space only, [] and {}
  // are passed over). Replaces the slot's default sources. A path is
  // dot-separated segments of [A-Za-z0-9_-]; an all-digit segment also
  // indexes a list ("user.emails.0"). In an
  // `items.X.*` slot, a path may hold one `X` segment meaning "the current
  // item": `items.X.sku` reads `sku` of each element of the list the `items`
  // slot resolved to, whatever path that is (`products.X.sku` is accepted
  // when `products` is one of the `items` slot's paths). A path without `X`
  // in an item slot reads the event itself. Default: empty.
  std::map<std::string, std::vector<std::string>> field_mapping;
  // The action source of events whose `type` is absent or not recognized
  // (app events use ACTION_SOURCE_MOBILE_APP instead). Default: web.
  v1::ActionSource default_action_source = v1::ACTION_SOURCE_WEB;
  // Consent categories an event needs: every one must be listed in the
  // event's `user.consent_categories`, else the event is skipped. Default:
  // empty (no consent rule).
  std::vector<std::string> consent_categories;
};

// The default event mapping, the destination's (spec §2, the Quick
// reference): every API event type name but app_installed and app_opened
// maps to itself; begin_checkout -> checkout_started, generate_lead ->
// lead_created, purchase -> order_created, page_view -> page_viewed,
// sign_up -> registration_completed. Any other name (view_item and
// add_to_cart among them) needs an event_mapping entry. Sorted by name.
std::vector<std::pair<std::string_view, v1::EventType>>
DefaultTagEventMapping();

namespace internal {
struct TagPlan;  // defined in tag_mapper.cc
}  // namespace internal

// A validated TagMappingConfig, precompiled so that mapping an event does no
// path parsing and reads each shared path prefix once. Immutable; cheap to
// copy and safe to share between threads.
class CompiledTagMapping {
 public:
  // The prebuilt mappings: an empty TagMappingConfig.
  static CompiledTagMapping Default();

  const internal::TagPlan& plan() const { return *plan_; }

 private:
  friend absl::StatusOr<CompiledTagMapping> CompileTagMapping(
      const TagMappingConfig& config);
  explicit CompiledTagMapping(std::shared_ptr<const internal::TagPlan> plan)
      : plan_(std::move(plan)) {}

  std::shared_ptr<const internal::TagPlan> plan_;
};

// Validates and compiles `config`. Returns InvalidArgument naming every
// problem: an unknown slot, a slot with no paths, a malformed path (empty
// or bad segment; `X` outside an `items.X.*` slot, twice, last, or after
// a list other than `items` or an `items` slot path), an event mapping
// with an empty name or an invalid type, an invalid default action source,
// or an empty consent category.
absl::StatusOr<CompiledTagMapping> CompileTagMapping(
    const TagMappingConfig& config);

// Returns CompileTagMapping(config).status(): for start-up checks.
absl::Status ValidateTagMappingConfig(const TagMappingConfig& config);

// The custom event name a tag event's `event_name` that is no valid one
// ("Add To Cart") is sent as: ASCII letters and digits lower-cased, '-'
// kept, each run of other characters one '_', trimmed of '_' and '-' at
// both ends, at most 64 characters ("add_to_cart"); "" when no letter or
// digit is left. A valid name is only lower-cased, as it is sent. Lookups
// by key take a name given either way.
std::string CustomEventNameFromEventName(std::string_view event_name);

// The result of mapping one tag event.
struct TagMapResult {
  enum class Outcome {
    kMapped,    // the event has every field MapEvent needs
    kSkipped,   // not for this destination (event mapping, consent): not an
                // error; `skip_reason` says why
    kRejected,  // the event is malformed: see `violations`
  };
  Outcome outcome = Outcome::kMapped;
  // Why the event was skipped: "event 'refund' has no event mapping",
  // "consent: missing category 'analytics'". Empty unless kSkipped.
  std::string skip_reason;
  // The event id as read, for the event's result whatever the outcome: ""
  // when the event has none or it is not usable.
  std::string event_id;
  // The typed event, filled only by the typed forms of MapTagEvent (for
  // tests and tools); complete only when kMapped.
  v1::Event event;
  // Problems that reject the event, with field paths in the source model
  // ("context.event_id", "items[1].product.price"). Empty unless kRejected.
  std::vector<FieldIssue> violations;
  // Values dropped or replaced while mapping ("type", "user.phone_sha256");
  // the event is still sent. MapEvent adds its own warnings.
  std::vector<FieldIssue> warnings;

  bool mapped() const { return outcome == Outcome::kMapped; }

  // Working memory MapTagEvent reuses across calls; not part of the result.
  // The value of each node of the plan: a node index of the event's tree.
  std::vector<std::uint32_t> scratch;
  // The Struct forms' copy of the event, which `view` then points into.
  TagTree tree;
  internal::EventView view;  // points into the event (tree) last mapped
  // Whether `view` holds every field the tag mapping could read: the event
  // type mapped, so every slot was read.
  bool view_filled = false;
};

// Maps `event`, received at `now_ms` (Unix epoch milliseconds, used when the
// event has no timestamp), to the wire event, reusing the buffers of `*tag`
// and `*mapped` (reset first). In order: the consent rule (an event it
// skips has nothing read but its id), the event mapping, then every slot;
// collects every violation of the tag mapping rather than stopping at the
// first. When
// `tag->mapped()`, `*mapped` is what MapEvent gives for the typed event of
// the tag mapping (its violations reject the event too), but with every
// issue named by the tag event's path of the value ("context.page.url",
// "user.email[2]", "items[0].product.price") instead of the typed event's
// ("source_url", ...), and a description that starts with the name
// renamed with it; a value that came from no property (a default) keeps
// the typed name. Otherwise `*mapped` is empty and `tag` says why. A
// rejected event whose name mapped also gets, after the tag mapping's own
// issues, those MapEvent finds in the fields the tag mapping could read
// (named as above; without the `id` or `custom_event_name` REQUIRED that
// repeats a tag violation), so that every problem is reported at once, as
// for a typed event. Does not fill `tag->event`. The hot path: no typed
// event, no copied string. `tag->view` points into `event` afterwards.
void MapTagEvent(const TagTree& event, const CompiledTagMapping& mapping,
                 std::int64_t now_ms, TagMapResult* tag, MappedEvent* mapped);

// As above, for a Struct: copies it into `tag->tree` (TagTreeFromStruct),
// then maps that. `tag->view` points into `tag->tree` afterwards.
void MapTagEvent(const google::protobuf::Struct& event,
                 const CompiledTagMapping& mapping, std::int64_t now_ms,
                 TagMapResult* tag, MappedEvent* mapped);

// Events MapTagEventGroup maps at once.
inline constexpr int kTagGroup = 16;

// Maps every event of `events` (at most kTagGroup), each exactly as
// MapTagEvent(events[i], mapping, now_ms, &tags[i], &mapped[i]) does, but
// phase by phase: the tag mapping of every event of the group, then the
// mapper of every event. Run one after the other, the two phases evict
// each other's branch history; grouped, a request of many tag events costs
// about a tenth less per event (tag_group_ratio of
// tests/bench/tag_mapping_benchmark).
void MapTagEventGroup(absl::Span<const TagTree> events,
                      const CompiledTagMapping& mapping, std::int64_t now_ms,
                      TagMapResult* tags, MappedEvent* mapped);

// As above for events[first, first + count), count <= kTagGroup, given as
// Structs: each is copied into tags[i - first].tree first.
void MapTagEventGroup(
    const google::protobuf::RepeatedPtrField<google::protobuf::Struct>& events,
    int first, int count, const CompiledTagMapping& mapping,
    std::int64_t now_ms, TagMapResult* tags, MappedEvent* mapped);

// Maps `event` as above up to the typed event, and returns it in
// `result.event` (also when the event is rejected: the fields read until
// then) instead of mapping it further: MapEvent(result.event) then gives
// the wire event of the form above. For tests and tools.
TagMapResult MapTagEvent(const TagTree& event,
                         const CompiledTagMapping& mapping,
                         std::int64_t now_ms);
TagMapResult MapTagEvent(const google::protobuf::Struct& event,
                         const CompiledTagMapping& mapping,
                         std::int64_t now_ms);

// As above, reusing the buffers of `*result` (reset first).
void MapTagEvent(const TagTree& event, const CompiledTagMapping& mapping,
                 std::int64_t now_ms, TagMapResult* result);
void MapTagEvent(const google::protobuf::Struct& event,
                 const CompiledTagMapping& mapping, std::int64_t now_ms,
                 TagMapResult* result);

namespace internal {
// The tag mapping alone: fills `result->view` (and `result->event_id`), not
// `result->event`. For benchmarks of the part the tag model adds.
void MapTagEventToView(const TagTree& event, const CompiledTagMapping& mapping,
                       std::int64_t now_ms, TagMapResult* result);
// As above for a Struct, copied into `result->tree` first.
void MapTagEventToView(const google::protobuf::Struct& event,
                       const CompiledTagMapping& mapping, std::int64_t now_ms,
                       TagMapResult* result);
}  // namespace internal

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_TAG_MAPPER_H_
