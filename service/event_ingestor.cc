#include "service/event_ingestor.h"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "mapping/event_types.h"
#include "mapping/tag_tree.h"
#include "service/log.h"
#include "service/storage_status.h"

namespace conversions::service {
namespace {

// A spool that cannot write fails every request; one line per this long.
constexpr std::int64_t kStoreFailureLogIntervalMs = 10'000;

void FillIssues(const std::vector<mapping::FieldIssue>& violations,
                const std::vector<mapping::FieldIssue>& warnings,
                v1::EventResult* result) {
  for (const mapping::FieldIssue& v : violations) {
    v1::FieldViolation* out = result->add_violations();
    out->set_field(v.field);
    out->set_reason(v.reason);
    out->set_description(v.description);
  }
  for (const mapping::FieldIssue& w : warnings) {
    v1::FieldWarning* out = result->add_warnings();
    out->set_field(w.field);
    out->set_reason(w.reason);
    out->set_description(w.description);
  }
}

// Warnings, and violations, an event's result lists at most. Every value
// dropped has its warning, and an event can carry some 1,400 that are (14
// lists of 100): 1,000 such events, an 8 MB request, made an answer of
// 86 MB and a gateway of 600 MB. A rejected event's contents and variants
// can break some 10,000 rules. Past the limit one last issue,
// MORE_WARNINGS or MORE_VIOLATIONS, says how many are not listed; the
// warnings metric counts them all.
constexpr int kMaxIssuesListed = 50;

// Keeps the first kMaxIssuesListed - 1 issues of `issues` and puts the
// number of the others in a last one, when there are more than
// kMaxIssuesListed.
template <typename Issue>
void CapIssues(google::protobuf::RepeatedPtrField<Issue>* issues,
               const char* reason, const char* what, const char* counted_by) {
  const int count = issues->size();
  if (count <= kMaxIssuesListed) return;
  const int omitted = count - (kMaxIssuesListed - 1);
  issues->DeleteSubrange(kMaxIssuesListed - 1, omitted);
  Issue* last = issues->Add();
  last->set_reason(reason);
  last->set_description(absl::StrCat(
      omitted, " more ", what, " of this event are not listed (at most ",
      kMaxIssuesListed - 1, " are", counted_by, ")"));
}

// CapIssues for the violations and the warnings of `result`. Called once
// they are all in.
void CapListedIssues(v1::EventResult* result) {
  CapIssues(result->mutable_violations(), "MORE_VIOLATIONS", "violations", "");
  CapIssues(result->mutable_warnings(), "MORE_WARNINGS", "warnings",
            "; conversions_identifier_warnings_total counts every one");
}

// Wire JSON one answer (ValidateEvents, a dry_run) carries at most. An
// event's is at most 1 MiB, but JSON escapes can make it six times its
// request bytes: 4 such events in a 14 MB request made an 80 MB answer,
// past what gRPC sends. Events past the budget are answered without it.
constexpr size_t kMaxAnswerWireBytes = 8 * 1024 * 1024;

// Sets `wire` as the wire_json of accepted `result`, unless the answer's
// `*answer_wire_bytes` would then pass kMaxAnswerWireBytes: the result,
// and every later one, then gets a WIRE_JSON_OMITTED warning instead (after
// the 50 others, if it has them), so that the answer's wire JSON is that of
// its first valid events, in order.
void SetWireJson(std::string wire, size_t* answer_wire_bytes,
                 v1::EventResult* result) {
  if (*answer_wire_bytes + wire.size() > kMaxAnswerWireBytes) {
    *answer_wire_bytes = kMaxAnswerWireBytes + 1;  // none after this one
    v1::FieldWarning* w = result->add_warnings();
    w->set_reason("WIRE_JSON_OMITTED");
    w->set_description(
        absl::StrCat("the event is valid; its wire_json (", wire.size(),
                     " bytes) is not in this answer, which carries at most ",
                     kMaxAnswerWireBytes,
                     " bytes of it: send fewer events per request to see it"));
    return;
  }
  *answer_wire_bytes += wire.size();
  result->set_wire_json(std::move(wire));
}

// A destination name a caller sent, for a message: quoted and cut, and
// only when it looks like a destination name (letters, digits, - _ . : /
// and spaces; fewer than seven digits): the message is shown and logged,
// and a client that puts an email or a phone number in the wrong field
// must not have it repeated.
std::string ShownName(const std::string& name) {
  constexpr size_t kShown = 64;
  int digits = 0;
  const bool plain =
      !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
        if (absl::ascii_isdigit(static_cast<unsigned char>(c))) ++digits;
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
               c == '_' || c == '.' || c == ':' || c == '/' || c == ' ';
      });
  if (!plain || digits >= 7) {
    return "(its name is not shown: it does not look like a destination "
           "name)";
  }
  return absl::StrCat("\"", name.substr(0, kShown),
                      name.size() > kShown ? "\"..." : "\"");
}

}  // namespace

std::string EventName(v1::EventType type,
                      const std::string& custom_event_name) {
  if (type == v1::EVENT_TYPE_CUSTOM) {
    // A name as a tag event's event_name gives it ("Add To Cart") finds
    // the event it was stored as (add_to_cart); a valid one is only
    // lower-cased, as it was sent.
    std::string normalized =
        mapping::CustomEventNameFromEventName(custom_event_name);
    return normalized.empty() ? absl::AsciiStrToLower(custom_event_name)
                              : normalized;
  }
  return std::string(mapping::EventTypeName(type));
}

EventIngestor::EventIngestor(const GatewayConfig* config, Spool* spool,
                             Dispatcher* dispatcher, Clock* clock,
                             Metrics* metrics, std::atomic<bool>* draining)
    : config_(config),
      spool_(spool),
      dispatcher_(dispatcher),
      clock_(clock),
      metrics_(metrics),
      auth_(config->callers),
      draining_(draining) {}

absl::StatusOr<const DestinationConfig*> EventIngestor::Resolve(
    const std::string& name) const {
  const DestinationConfig* destination = FindDestination(*config_, name);
  if (destination == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("unknown destination ", ShownName(name)));
  }
  return destination;
}

absl::StatusOr<const Caller*> EventIngestor::Authenticate(
    std::string_view authorization, const std::string& api) const {
  absl::StatusOr<const Caller*> caller = auth_.Authenticate(authorization);
  if (!caller.ok()) metrics_->requests_denied.Add({api, "unauthenticated"});
  return caller;
}

void EventIngestor::CountRefused(const std::string& api,
                                 const char* reason) const {
  metrics_->requests_refused.Add({api, reason});
}

absl::StatusOr<const DestinationConfig*> EventIngestor::ResolveFor(
    const Caller* caller, const std::string& name,
    const std::string& api) const {
  absl::StatusOr<const DestinationConfig*> destination = Resolve(name);
  if (!destination.ok() && caller != nullptr && !caller->all_destinations) {
    // Not NOT_FOUND: a caller limited to some destinations learns nothing
    // of the others, not even whether a name is one. The answer reads as
    // for a destination that exists.
    metrics_->requests_denied.Add({api, "permission_denied"});
    return absl::PermissionDeniedError(
        absl::StrCat("caller \"", caller->name, "\" may not use destination ",
                     ShownName(name)));
  }
  if (!destination.ok()) {
    CountRefused(api, "unknown_destination");
    return destination;
  }
  absl::Status allowed =
      CallerAuthenticator::Authorize(caller, (*destination)->name);
  if (!allowed.ok()) {
    metrics_->requests_denied.Add({api, "permission_denied"});
    return allowed;
  }
  return destination;
}

absl::Status EventIngestor::AuthorizeAll(const Caller* caller,
                                         const std::string& api) const {
  absl::Status allowed = CallerAuthenticator::AuthorizeAll(caller);
  if (!allowed.ok()) metrics_->requests_denied.Add({api, "permission_denied"});
  return allowed;
}

absl::Status EventIngestor::CheckServing(const std::string& api) const {
  if (draining_->load()) {
    CountRefused(api, "draining");
    return absl::UnavailableError("the gateway is shutting down");
  }
  return absl::OkStatus();
}

absl::Status EventIngestor::CheckRequest(int event_count,
                                         const std::string& api,
                                         bool admitted_before_drain) const {
  if (!admitted_before_drain) {
    if (absl::Status serving = CheckServing(api); !serving.ok()) {
      return serving;
    }
  }
  if (event_count < 1 || event_count > kMaxEventsPerRequest) {
    CountRefused(api, "event_count");
    return absl::InvalidArgumentError(
        absl::StrCat("a request carries 1 to ", kMaxEventsPerRequest,
                     " events, not ", event_count));
  }
  return absl::OkStatus();
}

absl::StatusOr<mapping::CompiledTagMapping> CompileDestinationTagMapping(
    const DestinationConfig& destination) {
  absl::StatusOr<mapping::CompiledTagMapping> compiled =
      mapping::CompileTagMapping(TagMappingOf(destination));
  if (!compiled.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("destinations \"", destination.name,
                     "\": ", compiled.status().message()));
  }
  return compiled;
}

absl::Status EventIngestor::CompileTagMappings() {
  for (const DestinationConfig& d : config_->destinations) {
    absl::StatusOr<mapping::CompiledTagMapping> compiled =
        CompileDestinationTagMapping(d);
    if (!compiled.ok()) return compiled.status();
    tag_mappings_.emplace(d.name, std::move(*compiled));
  }
  return absl::OkStatus();
}

void EventIngestor::MapOne(const v1::Event& event, std::int64_t now,
                           const DestinationConfig& destination,
                           bool validate_only, const std::string& api,
                           mapping::MappedEvent* mapped,
                           v1::EventResult* result,
                           std::vector<SpoolEvent>* to_store) {
  mapping::MapEvent(event, now, mapped);
  RecordMapped(event.id(), destination, validate_only, api, mapped, result,
               to_store);
}

void EventIngestor::CountWarnings(
    const DestinationConfig& destination, const std::string& api,
    const std::vector<mapping::FieldIssue>& warnings) const {
  for (const mapping::FieldIssue& w : warnings) {
    metrics_->identifier_warnings.Add({destination.name, api, w.reason});
  }
}

void EventIngestor::RecordMapped(
    const std::string& event_id, const DestinationConfig& destination,
    bool validate_only, const std::string& api, mapping::MappedEvent* mapped,
    v1::EventResult* result, std::vector<SpoolEvent>* to_store, bool count) {
  result->set_event_id(event_id);
  FillIssues(mapped->violations, mapped->warnings, result);
  CapListedIssues(result);  // the tag mapping's came before, if any
  if (count) CountWarnings(destination, api, mapped->warnings);
  if (!mapped->ok()) {
    result->set_outcome(v1::EventResult::OUTCOME_REJECTED);
    if (count) {
      metrics_->events_rejected.Add(
          {destination.name, api, mapped->violations[0].reason});
    }
    return;
  }
  SpoolEvent e;
  e.destination = destination.name;
  e.validate_only = validate_only;
  e.event_name = std::move(mapped->event_name);
  e.event_id = std::move(mapped->id);
  e.timestamp_ms = mapped->timestamp_ms;
  e.wire_json = std::move(mapped->wire_json);
  to_store->push_back(std::move(e));
}

void EventIngestor::StoreTyped(
    const DestinationConfig& destination,
    const google::protobuf::RepeatedPtrField<v1::Event>& events,
    bool validate_only, const std::string& api, StoreCallback done) {
  const std::int64_t now = clock_->NowMs();
  std::vector<v1::EventResult> results(events.size());
  std::vector<SpoolEvent> to_store;
  std::vector<int> stored_index;  // result index of each stored event
  to_store.reserve(events.size());
  mapping::MappedEvent mapped;
  for (int i = 0; i < events.size(); ++i) {
    results[i].set_index(i);
    size_t before = to_store.size();
    MapOne(events[i], now, destination, validate_only, api, &mapped,
           &results[i], &to_store);
    if (to_store.size() > before) stored_index.push_back(i);
  }
  Store(destination, validate_only, api, now, std::move(results),
        std::move(to_store), std::move(stored_index), std::move(done));
}

void EventIngestor::StoreTagTrees(const DestinationConfig& destination,
                                  absl::Span<const mapping::TagTree> events,
                                  bool validate_only, const std::string& api,
                                  StoreCallback done) {
  const std::int64_t now = clock_->NowMs();
  std::vector<v1::EventResult> results;
  std::vector<SpoolEvent> to_store;
  std::vector<int> stored_index;
  absl::Status mapped =
      MapTagTrees(destination, events, validate_only, api, now,
                  /*count=*/true, &results, &to_store, &stored_index);
  if (!mapped.ok()) {
    done(mapped, {});
    return;
  }
  Store(destination, validate_only, api, now, std::move(results),
        std::move(to_store), std::move(stored_index), std::move(done));
}

absl::StatusOr<std::vector<v1::EventResult>> EventIngestor::DryRunTagTrees(
    const DestinationConfig& destination,
    absl::Span<const mapping::TagTree> events) {
  std::vector<v1::EventResult> results;
  std::vector<SpoolEvent> mapped;
  std::vector<int> index;
  absl::Status s =
      MapTagTrees(destination, events, /*validate_only=*/false, "",
                  clock_->NowMs(), /*count=*/false, &results, &mapped, &index);
  if (!s.ok()) return s;
  size_t answer_wire_bytes = 0;
  for (size_t k = 0; k < mapped.size(); ++k) {
    v1::EventResult& result = results[static_cast<size_t>(index[k])];
    result.set_outcome(v1::EventResult::OUTCOME_ACCEPTED);
    SetWireJson(std::move(mapped[k].wire_json), &answer_wire_bytes, &result);
  }
  return results;
}

absl::StatusOr<std::vector<v1::EventResult>> EventIngestor::DryRunTrack(
    const DestinationConfig& destination, const TrackEventsInput& request,
    const std::string& api) {
  if (request.validate_only) {
    CountRefused(api, "invalid_request");
    return absl::InvalidArgumentError(
        "dry_run and validate_only cannot be combined: dry_run maps the "
        "events and returns their wire_json without storing or sending "
        "them; validate_only stores them and has the API check them");
  }
  return DryRunTagTrees(destination, request.events);
}

absl::Status EventIngestor::MapTagTrees(
    const DestinationConfig& destination,
    absl::Span<const mapping::TagTree> events, bool validate_only,
    const std::string& api, std::int64_t now, bool count,
    std::vector<v1::EventResult>* results, std::vector<SpoolEvent>* to_store,
    std::vector<int>* stored_index) {
  auto compiled = tag_mappings_.find(destination.name);
  if (compiled == tag_mappings_.end()) {
    return absl::FailedPreconditionError("no tag mapping for the destination");
  }
  const int size = static_cast<int>(events.size());
  results->assign(events.size(), v1::EventResult());
  to_store->clear();
  to_store->reserve(events.size());
  stored_index->clear();
  // Mapped a group at a time (mapping::MapTagEventGroup): the tag mapping
  // of up to 16 events, then their wire events; no typed event between.
  std::array<mapping::TagMapResult, mapping::kTagGroup> tags;
  std::array<mapping::MappedEvent, mapping::kTagGroup> mapped;
  for (int first = 0; first < size; first += mapping::kTagGroup) {
    const int group = std::min(mapping::kTagGroup, size - first);
    mapping::MapTagEventGroup(
        events.subspan(static_cast<size_t>(first), static_cast<size_t>(group)),
        compiled->second, now, tags.data(), mapped.data());
    for (int g = 0; g < group; ++g) {
      const int i = first + g;
      const mapping::TagMapResult& tag = tags[g];
      v1::EventResult& result = (*results)[static_cast<size_t>(i)];
      result.set_index(i);
      switch (tag.outcome) {
        case mapping::TagMapResult::Outcome::kSkipped:
          result.set_event_id(tag.event_id);
          result.set_outcome(v1::EventResult::OUTCOME_SKIPPED);
          result.set_skip_reason(tag.skip_reason);
          if (count) {
            metrics_->events_skipped.Add(
                {destination.name, absl::StartsWith(tag.skip_reason, "consent")
                                       ? "consent"
                                       : "unmapped"});
          }
          continue;
        case mapping::TagMapResult::Outcome::kRejected:
          result.set_event_id(tag.event_id);
          result.set_outcome(v1::EventResult::OUTCOME_REJECTED);
          FillIssues(tag.violations, tag.warnings, &result);
          CapListedIssues(&result);
          if (count) {
            CountWarnings(destination, api, tag.warnings);
            metrics_->events_rejected.Add({destination.name, api,
                                           tag.violations.empty()
                                               ? "INVALID"
                                               : tag.violations[0].reason});
          }
          continue;
        case mapping::TagMapResult::Outcome::kMapped:
          break;
      }
      // Warnings of the tag mapping come first, then the mapper's.
      FillIssues({}, tag.warnings, &result);
      if (count) CountWarnings(destination, api, tag.warnings);
      size_t before = to_store->size();
      RecordMapped(tag.event_id, destination, validate_only, api, &mapped[g],
                   &result, to_store, count);
      if (to_store->size() > before) stored_index->push_back(i);
    }
  }
  return absl::OkStatus();
}

void EventIngestor::Store(const DestinationConfig& destination,
                          bool validate_only, const std::string& api,
                          std::int64_t now,
                          std::vector<v1::EventResult> results,
                          std::vector<SpoolEvent> to_store,
                          std::vector<int> stored_index, StoreCallback done) {
  if (to_store.empty()) {
    done(absl::OkStatus(), std::move(results));
    return;
  }
  auto shared_results =
      std::make_shared<std::vector<v1::EventResult>>(std::move(results));
  std::string name = destination.name;
  // For the dispatcher's byte budget: what the accepted events take, in
  // proportion (duplicates are few).
  std::int64_t bytes = 0;
  for (const SpoolEvent& e : to_store) {
    bytes += static_cast<std::int64_t>(e.wire_json.size());
  }
  spool_->Append(std::move(to_store), now,
                 [this, shared_results, stored_index = std::move(stored_index),
                  name, validate_only, api, now, bytes, done = std::move(done)](
                     absl::StatusOr<std::vector<AppendOutcome>> outcomes) {
                   if (!outcomes.ok()) {
                     RecordStoreFailure(
                         outcomes.status(), name, api,
                         static_cast<std::int64_t>(stored_index.size()), now);
                     done(outcomes.status(), {});
                     return;
                   }
                   if (spool_disk_full()) ClearSpoolDiskFull();
                   const int accepted =
                       RecordOutcomes(name, api, *outcomes, stored_index,
                                      shared_results.get());
                   if (accepted > 0) {
                     dispatcher_->Notify(
                         {name, validate_only}, accepted,
                         bytes * accepted /
                             static_cast<std::int64_t>(stored_index.size()));
                   }
                   done(absl::OkStatus(), std::move(*shared_results));
                 });
}

int EventIngestor::RecordOutcomes(const std::string& destination,
                                  const std::string& api,
                                  const std::vector<AppendOutcome>& outcomes,
                                  const std::vector<int>& stored_index,
                                  std::vector<v1::EventResult>* results) {
  int accepted = 0;
  int dead_letters = 0;
  int validated = 0;
  for (size_t k = 0; k < outcomes.size(); ++k) {
    v1::EventResult& result = (*results)[stored_index[k]];
    if (outcomes[k] == AppendOutcome::kDuplicate) {
      result.set_outcome(v1::EventResult::OUTCOME_DUPLICATE);
      continue;
    }
    result.set_outcome(v1::EventResult::OUTCOME_ACCEPTED);
    ++accepted;
    if (outcomes[k] == AppendOutcome::kReplacedValidated) ++validated;
    if (outcomes[k] != AppendOutcome::kReplacedDeadLetter) continue;
    ++dead_letters;
    // The dead letter leaves the listing: say where it went, as its
    // dead-lettering was logged.
    LogInfo("dead_letter_replaced", {{"destination", destination},
                                     {"api", api},
                                     {"event_id", result.event_id()}});
  }
  metrics_->events_accepted.Add({destination, api}, accepted);
  metrics_->events_duplicate.Add(
      {destination, api},
      static_cast<std::int64_t>(outcomes.size()) - accepted);
  if (dead_letters > 0) {
    metrics_->events_replaced.Add({destination, api, "dead_letter"},
                                  dead_letters);
  }
  if (validated > 0) {
    metrics_->events_replaced.Add({destination, api, "validated"}, validated);
  }
  return accepted;
}

void EventIngestor::RecordStoreFailure(const absl::Status& status,
                                       const std::string& destination,
                                       const std::string& api,
                                       std::int64_t events, std::int64_t now) {
  const StoreFailure failure = StoreFailureOf(status);
  if (failure == StoreFailure::kDiskFull) {
    spool_disk_full_.store(true, std::memory_order_relaxed);
  }
  metrics_->events_not_stored.Add(
      {destination, api, std::string(StoreFailureName(failure))}, events);
  // The queue bound and a drain are the caller's to handle (and show in
  // the metrics); a full disk or an error is the operator's.
  if (failure == StoreFailure::kQueueFull ||
      failure == StoreFailure::kShuttingDown) {
    return;
  }
  std::int64_t last = store_failure_logged_ms_.load();
  if (now - last < kStoreFailureLogIntervalMs ||
      !store_failure_logged_ms_.compare_exchange_strong(last, now)) {
    store_failures_unlogged_.fetch_add(1);
    return;
  }
  LogError("spool_write_failed",
           {{"destination", destination},
            {"reason", std::string(StoreFailureName(failure))},
            {"error", std::string(status.message())},
            {"events", absl::StrCat(events)},
            {"failures_not_logged",
             absl::StrCat(store_failures_unlogged_.exchange(0))}});
}

void EventIngestor::NotifyRequeued(const std::string& destination, int count) {
  for (bool validate_only : {false, true}) {
    dispatcher_->Notify({destination, validate_only}, count);
  }
}

std::vector<v1::EventResult> EventIngestor::ValidateTyped(
    const google::protobuf::RepeatedPtrField<v1::Event>& events,
    std::vector<std::string>* accepted_wire_events) {
  const std::int64_t now = clock_->NowMs();
  std::vector<v1::EventResult> results(events.size());
  mapping::MappedEvent mapped;
  size_t answer_wire_bytes = 0;
  for (int i = 0; i < events.size(); ++i) {
    mapping::MapEvent(events[i], now, &mapped);
    v1::EventResult& result = results[i];
    result.set_index(i);
    result.set_event_id(events[i].id());
    FillIssues(mapped.violations, mapped.warnings, &result);
    CapListedIssues(&result);
    if (mapped.ok()) {
      result.set_outcome(v1::EventResult::OUTCOME_ACCEPTED);
      SetWireJson(mapped.wire_json, &answer_wire_bytes, &result);
      accepted_wire_events->push_back(mapped.wire_json);
    } else {
      result.set_outcome(v1::EventResult::OUTCOME_REJECTED);
    }
  }
  return results;
}

}  // namespace conversions::service
