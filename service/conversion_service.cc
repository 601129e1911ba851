#include "service/conversion_service.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <array>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "mapping/event_mapper.h"
#include "mapping/event_types.h"
#include "mapping/request_encoder.h"
#include "service/log.h"
#include "service/status_util.h"

namespace conversions::service {
namespace {

using google::protobuf::util::TimeUtil;

// Most validate_only calls to the API in flight at once.
constexpr int kMaxApiValidations = 16;

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

// The caller's credentials: the `authorization` metadata, or "".
std::string_view Authorization(const grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return {};
  return {it->second.data(), it->second.size()};
}

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// Returns the store callback of a SendEvents or TrackEvents call: it copies
// the per-event results into `response` and finishes `reactor`.
template <typename Response>
EventIngestor::StoreCallback FinishWithResults(
    grpc::ServerUnaryReactor* reactor, Response* response) {
  return [reactor, response](absl::Status status,
                             std::vector<v1::EventResult> results) {
    if (!status.ok()) {
      reactor->Finish(ToGrpcStatus(status));
      return;
    }
    for (v1::EventResult& r : results) *response->add_results() = std::move(r);
    reactor->Finish(grpc::Status::OK);
  };
}

google::protobuf::Timestamp Millis(std::int64_t ms) {
  return TimeUtil::MillisecondsToTimestamp(ms);
}

v1::DeadLetterReason ToProto(DeadReason reason) {
  return reason == DeadReason::kExpired ? v1::DEAD_LETTER_REASON_EXPIRED
                                        : v1::DEAD_LETTER_REASON_REJECTED;
}

std::optional<DeadReason> FromProto(v1::DeadLetterReason reason) {
  switch (reason) {
    case v1::DEAD_LETTER_REASON_REJECTED:
      return DeadReason::kRejected;
    case v1::DEAD_LETTER_REASON_EXPIRED:
      return DeadReason::kExpired;
    default:
      return std::nullopt;
  }
}

// Splits a stored event name back into type and custom name.
void SetTypeFromName(const std::string& event_name, v1::EventType* type,
                     std::string* custom_event_name) {
  if (auto t = mapping::EventTypeFromName(event_name)) {
    *type = *t;
  } else {
    *type = v1::EVENT_TYPE_CUSTOM;
    *custom_event_name = event_name;
  }
}

}  // namespace

std::string EventName(v1::EventType type,
                      const std::string& custom_event_name) {
  if (type == v1::EVENT_TYPE_CUSTOM) {
    return absl::AsciiStrToLower(custom_event_name);
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
        absl::StrCat("unknown destination \"", name, "\""));
  }
  return destination;
}

absl::StatusOr<const Caller*> EventIngestor::Authenticate(
    std::string_view authorization, const std::string& api) const {
  absl::StatusOr<const Caller*> caller = auth_.Authenticate(authorization);
  if (!caller.ok()) metrics_->requests_denied.Add({api, "unauthenticated"});
  return caller;
}

absl::StatusOr<const DestinationConfig*> EventIngestor::ResolveFor(
    const Caller* caller, const std::string& name,
    const std::string& api) const {
  absl::StatusOr<const DestinationConfig*> destination = Resolve(name);
  if (!destination.ok()) return destination;
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

absl::Status EventIngestor::CheckRequest(int event_count) const {
  if (draining_->load()) {
    return absl::UnavailableError("the gateway is shutting down");
  }
  if (event_count < 1 || event_count > kMaxEventsPerRequest) {
    return absl::InvalidArgumentError(
        absl::StrCat("a request carries 1 to ", kMaxEventsPerRequest,
                     " events, not ", event_count));
  }
  return absl::OkStatus();
}

absl::Status EventIngestor::CompileTagMappings() {
  for (const DestinationConfig& d : config_->destinations) {
    mapping::TagMappingConfig tag;
    tag.event_mapping = d.event_mapping;
    tag.field_mapping = d.field_mapping;
    tag.default_action_source = d.default_action_source;
    tag.consent_categories = d.consent_categories;
    absl::StatusOr<mapping::CompiledTagMapping> compiled =
        mapping::CompileTagMapping(tag);
    if (!compiled.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "destinations \"", d.name, "\": ", compiled.status().message()));
    }
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

void EventIngestor::RecordMapped(const std::string& event_id,
                                 const DestinationConfig& destination,
                                 bool validate_only, const std::string& api,
                                 mapping::MappedEvent* mapped,
                                 v1::EventResult* result,
                                 std::vector<SpoolEvent>* to_store) {
  result->set_event_id(event_id);
  FillIssues(mapped->violations, mapped->warnings, result);
  for (const mapping::FieldIssue& w : mapped->warnings) {
    metrics_->identifier_warnings.Add({w.reason});
  }
  if (!mapped->ok()) {
    result->set_outcome(v1::EventResult::OUTCOME_REJECTED);
    metrics_->events_rejected.Add(
        {destination.name, api, mapped->violations[0].reason});
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

void EventIngestor::StoreTag(
    const DestinationConfig& destination,
    const google::protobuf::RepeatedPtrField<google::protobuf::Struct>& events,
    bool validate_only, const std::string& api, StoreCallback done) {
  auto compiled = tag_mappings_.find(destination.name);
  if (compiled == tag_mappings_.end()) {
    done(absl::FailedPreconditionError("no tag mapping for the destination"),
         {});
    return;
  }
  const std::int64_t now = clock_->NowMs();
  std::vector<v1::EventResult> results(events.size());
  std::vector<SpoolEvent> to_store;
  std::vector<int> stored_index;
  to_store.reserve(events.size());
  // Mapped a group at a time (mapping::MapTagEventGroup): the tag mapping
  // of up to 16 events, then their wire events; no typed event between.
  std::array<mapping::TagMapResult, mapping::kTagGroup> tags;
  std::array<mapping::MappedEvent, mapping::kTagGroup> mapped;
  for (int first = 0; first < events.size(); first += mapping::kTagGroup) {
    const int count = std::min(mapping::kTagGroup, events.size() - first);
    mapping::MapTagEventGroup(events, first, count, compiled->second, now,
                              tags.data(), mapped.data());
    for (int g = 0; g < count; ++g) {
      const int i = first + g;
      const mapping::TagMapResult& tag = tags[g];
      v1::EventResult& result = results[i];
      result.set_index(i);
      switch (tag.outcome) {
        case mapping::TagMapResult::Outcome::kSkipped:
          result.set_event_id(tag.event_id);
          result.set_outcome(v1::EventResult::OUTCOME_SKIPPED);
          result.set_skip_reason(tag.skip_reason);
          metrics_->events_skipped.Add(
              {destination.name, absl::StartsWith(tag.skip_reason, "consent")
                                     ? "consent"
                                     : "unmapped"});
          continue;
        case mapping::TagMapResult::Outcome::kRejected:
          result.set_event_id(tag.event_id);
          result.set_outcome(v1::EventResult::OUTCOME_REJECTED);
          FillIssues(tag.violations, tag.warnings, &result);
          metrics_->events_rejected.Add(
              {destination.name, api,
               tag.violations.empty() ? "INVALID" : tag.violations[0].reason});
          continue;
        case mapping::TagMapResult::Outcome::kMapped:
          break;
      }
      // Warnings of the tag mapping come first, then the mapper's.
      FillIssues({}, tag.warnings, &result);
      size_t before = to_store.size();
      RecordMapped(tag.event_id, destination, validate_only, api, &mapped[g],
                   &result, &to_store);
      if (to_store.size() > before) stored_index.push_back(i);
    }
  }
  Store(destination, validate_only, api, now, std::move(results),
        std::move(to_store), std::move(stored_index), std::move(done));
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
  spool_->Append(std::move(to_store), now,
                 [this, shared_results, stored_index = std::move(stored_index),
                  name, validate_only, api, done = std::move(done)](
                     absl::StatusOr<std::vector<AppendOutcome>> outcomes) {
                   if (!outcomes.ok()) {
                     done(outcomes.status(), {});
                     return;
                   }
                   int accepted = 0;
                   for (size_t k = 0; k < outcomes->size(); ++k) {
                     v1::EventResult& result =
                         (*shared_results)[stored_index[k]];
                     if ((*outcomes)[k] == AppendOutcome::kAccepted) {
                       result.set_outcome(v1::EventResult::OUTCOME_ACCEPTED);
                       ++accepted;
                     } else {
                       result.set_outcome(v1::EventResult::OUTCOME_DUPLICATE);
                     }
                   }
                   metrics_->events_accepted.Add({name, api}, accepted);
                   metrics_->events_duplicate.Add(
                       {name, api},
                       static_cast<std::int64_t>(outcomes->size()) - accepted);
                   if (accepted > 0)
                     dispatcher_->Notify({name, validate_only}, accepted);
                   done(absl::OkStatus(), std::move(*shared_results));
                 });
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
  for (int i = 0; i < events.size(); ++i) {
    mapping::MapEvent(events[i], now, &mapped);
    v1::EventResult& result = results[i];
    result.set_index(i);
    result.set_event_id(events[i].id());
    FillIssues(mapped.violations, mapped.warnings, &result);
    if (mapped.ok()) {
      result.set_outcome(v1::EventResult::OUTCOME_ACCEPTED);
      result.set_wire_json(mapped.wire_json);
      accepted_wire_events->push_back(mapped.wire_json);
    } else {
      result.set_outcome(v1::EventResult::OUTCOME_REJECTED);
    }
  }
  return results;
}

ConversionServiceImpl::ConversionServiceImpl(EventIngestor* ingestor,
                                             ApiValidator validator)
    : ingestor_(ingestor), validator_(std::move(validator)) {
  SetMessageAllocatorFor_SendEvents(&send_allocator_);
  SetMessageAllocatorFor_TrackEvents(&track_allocator_);
  SetMessageAllocatorFor_ValidateEvents(&validate_allocator_);
}

ConversionServiceImpl::~ConversionServiceImpl() {
  // Bounded by the transport's timeouts; such calls are rare.
  while (api_validations_.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

grpc::ServerUnaryReactor* ConversionServiceImpl::SendEvents(
    grpc::CallbackServerContext* context, const v1::SendEventsRequest* request,
    v1::SendEventsResponse* response) {
  absl::StatusOr<const Caller*> caller =
      ingestor_->Authenticate(Authorization(context), "send");
  if (!caller.ok()) return Finish(context, ToGrpcStatus(caller.status()));
  absl::Status check = ingestor_->CheckRequest(request->events_size());
  if (!check.ok()) return Finish(context, ToGrpcStatus(check));
  absl::StatusOr<const DestinationConfig*> destination =
      ingestor_->ResolveFor(*caller, request->destination(), "send");
  if (!destination.ok()) {
    return Finish(context, ToGrpcStatus(destination.status()));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ingestor_->StoreTyped(**destination, request->events(),
                        request->validate_only(), "send",
                        FinishWithResults(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* ConversionServiceImpl::ValidateEvents(
    grpc::CallbackServerContext* context,
    const v1::ValidateEventsRequest* request,
    v1::ValidateEventsResponse* response) {
  absl::StatusOr<const Caller*> caller =
      ingestor_->Authenticate(Authorization(context), "validate");
  if (!caller.ok()) return Finish(context, ToGrpcStatus(caller.status()));
  if (request->events_size() < 1 ||
      request->events_size() > kMaxEventsPerRequest) {
    return Finish(
        context, ToGrpcStatus(ingestor_->CheckRequest(request->events_size())));
  }
  absl::StatusOr<const DestinationConfig*> destination =
      ingestor_->ResolveFor(*caller, request->destination(), "validate");
  if (!destination.ok()) {
    return Finish(context, ToGrpcStatus(destination.status()));
  }
  std::vector<std::string> wire_events;
  for (v1::EventResult& r :
       ingestor_->ValidateTyped(request->events(), &wire_events)) {
    *response->add_results() = std::move(r);
  }
  if (!request->validate_only() || wire_events.empty() || !validator_) {
    return Finish(context, grpc::Status::OK);
  }
  if (api_validations_.fetch_add(1) >= kMaxApiValidations) {
    api_validations_.fetch_sub(1);
    return Finish(context,
                  grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                               "too many validate_only calls in flight"));
  }
  // The API call blocks; run it off the gRPC callback thread.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const DestinationConfig* target = *destination;
  std::thread([this, reactor, response, target,
               wire_events = std::move(wire_events)] {
    *response->mutable_api_validation() = validator_(*target, wire_events);
    api_validations_.fetch_sub(1);
    reactor->Finish(grpc::Status::OK);
  }).detach();
  return reactor;
}

grpc::ServerUnaryReactor* ConversionServiceImpl::TrackEvents(
    grpc::CallbackServerContext* context, const v1::TrackEventsRequest* request,
    v1::TrackEventsResponse* response) {
  absl::StatusOr<const Caller*> caller =
      ingestor_->Authenticate(Authorization(context), "track");
  if (!caller.ok()) return Finish(context, ToGrpcStatus(caller.status()));
  absl::Status check = ingestor_->CheckRequest(request->events_size());
  if (!check.ok()) return Finish(context, ToGrpcStatus(check));
  absl::StatusOr<const DestinationConfig*> destination =
      ingestor_->ResolveFor(*caller, request->destination(), "track");
  if (!destination.ok()) {
    return Finish(context, ToGrpcStatus(destination.status()));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ingestor_->StoreTag(**destination, request->events(),
                      request->validate_only(), "track",
                      FinishWithResults(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* ConversionServiceImpl::GetEventStatus(
    grpc::CallbackServerContext* context,
    const v1::GetEventStatusRequest* request,
    v1::GetEventStatusResponse* response) {
  absl::StatusOr<const Caller*> caller =
      ingestor_->Authenticate(Authorization(context), "status");
  if (!caller.ok()) return Finish(context, ToGrpcStatus(caller.status()));
  absl::StatusOr<const DestinationConfig*> destination =
      ingestor_->ResolveFor(*caller, request->destination(), "status");
  if (!destination.ok()) {
    return Finish(context, ToGrpcStatus(destination.status()));
  }
  std::string name = EventName(request->type(), request->custom_event_name());
  if (name.empty() || request->id().empty()) {
    return Finish(context,
                  grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                               "type (with custom_event_name for custom "
                               "events) and id are required"));
  }
  absl::StatusOr<EventStatusRecord> record =
      ingestor_->spool()->Lookup((*destination)->name, name, request->id());
  if (!record.ok()) {
    if (absl::IsNotFound(record.status())) {
      response->set_state(v1::DELIVERY_STATE_UNSPECIFIED);
      return Finish(context, grpc::Status::OK);
    }
    return Finish(context, ToGrpcStatus(record.status()));
  }
  switch (record->state) {
    case EventState::kQueued:
      response->set_state(v1::DELIVERY_STATE_QUEUED);
      if (record->attempts > 0) {
        *response->mutable_next_attempt_time() =
            Millis(record->next_attempt_ms);
      }
      break;
    case EventState::kInFlight:
      response->set_state(v1::DELIVERY_STATE_IN_FLIGHT);
      break;
    case EventState::kDelivered:
      response->set_state(v1::DELIVERY_STATE_DELIVERED);
      *response->mutable_delivered_time() = Millis(record->done_ms);
      break;
    case EventState::kDead:
      response->set_state(v1::DELIVERY_STATE_DEAD_LETTERED);
      if (record->dead_reason) {
        response->set_dead_letter_reason(ToProto(*record->dead_reason));
      }
      break;
  }
  *response->mutable_accepted_time() = Millis(record->accepted_ms);
  response->set_attempts(record->attempts);
  response->set_last_error(record->last_error);
  return Finish(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ConversionServiceImpl::ListDeadLetters(
    grpc::CallbackServerContext* context,
    const v1::ListDeadLettersRequest* request,
    v1::ListDeadLettersResponse* response) {
  absl::StatusOr<const Caller*> caller =
      ingestor_->Authenticate(Authorization(context), "list_dead_letters");
  if (!caller.ok()) return Finish(context, ToGrpcStatus(caller.status()));
  if (request->page_size() < 0 || request->page_size() > 1000) {
    return Finish(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                        "page_size must be 0 to 1000"));
  }
  DeadLetterQuery query;
  if (!request->destination().empty()) {
    absl::StatusOr<const DestinationConfig*> destination =
        ingestor_->ResolveFor(*caller, request->destination(),
                              "list_dead_letters");
    if (!destination.ok()) {
      return Finish(context, ToGrpcStatus(destination.status()));
    }
    query.destination = (*destination)->name;
  } else if (absl::Status all =
                 ingestor_->AuthorizeAll(*caller, "list_dead_letters");
             !all.ok()) {
    return Finish(context, ToGrpcStatus(all));
  }
  query.reason = FromProto(request->reason());
  query.page_size = request->page_size() == 0 ? 100 : request->page_size();
  query.page_token = request->page_token();
  absl::StatusOr<DeadLetterPage> page =
      ingestor_->spool()->ListDeadLetters(query);
  if (!page.ok()) return Finish(context, ToGrpcStatus(page.status()));
  for (const DeadLetterRecord& r : page->dead_letters) {
    v1::DeadLetter* out = response->add_dead_letters();
    out->set_destination(r.destination);
    v1::EventType type;
    std::string custom;
    SetTypeFromName(r.event_name, &type, &custom);
    out->set_type(type);
    out->set_custom_event_name(custom);
    out->set_event_id(r.event_id);
    out->set_reason(ToProto(r.reason));
    out->set_message(r.message);
    *out->mutable_dead_lettered_time() = Millis(r.dead_ms);
    out->set_attempts(r.attempts);
    out->set_wire_json(r.wire_json);
  }
  response->set_next_page_token(page->next_page_token);
  return Finish(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ConversionServiceImpl::RetryDeadLetters(
    grpc::CallbackServerContext* context,
    const v1::RetryDeadLettersRequest* request,
    v1::RetryDeadLettersResponse* response) {
  absl::StatusOr<const Caller*> caller =
      ingestor_->Authenticate(Authorization(context), "retry_dead_letters");
  if (!caller.ok()) return Finish(context, ToGrpcStatus(caller.status()));
  absl::StatusOr<const DestinationConfig*> destination = ingestor_->ResolveFor(
      *caller, request->destination(), "retry_dead_letters");
  if (!destination.ok()) {
    return Finish(context, ToGrpcStatus(destination.status()));
  }
  std::vector<EventKeyRef> keys;
  for (const v1::EventKey& key : request->events()) {
    std::string name = EventName(key.type(), key.custom_event_name());
    if (name.empty() || key.id().empty()) {
      return Finish(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                          "every event key needs a type and "
                                          "an id"));
    }
    keys.push_back({std::move(name), key.id()});
  }
  Clock* clock = ingestor_->clock();
  absl::StatusOr<int> requeued = ingestor_->spool()->Requeue(
      (*destination)->name, keys, FromProto(request->reason()), clock->NowMs());
  if (!requeued.ok()) return Finish(context, ToGrpcStatus(requeued.status()));
  response->set_requeued_count(*requeued);
  if (*requeued > 0) ingestor_->NotifyRequeued((*destination)->name, *requeued);
  LogInfo("dead_letters_requeued", {{"destination", (*destination)->name},
                                    {"count", absl::StrCat(*requeued)}});
  return Finish(context, grpc::Status::OK);
}

ApiValidator MakeApiValidator(
    std::function<absl::StatusOr<std::unique_ptr<HttpTransport>>(
        const DestinationConfig&)>
        factory) {
  return [factory = std::move(factory)](
             const DestinationConfig& destination,
             const std::vector<std::string>& wire_events) {
    v1::ApiValidation result;
    absl::StatusOr<std::unique_ptr<HttpTransport>> transport =
        factory(destination);
    if (!transport.ok()) {
      result.set_message(std::string(transport.status().message()));
      return result;
    }
    mapping::RequestEnvelope envelope;
    envelope.validate_only = true;
    absl::StatusOr<std::string> source =
        mapping::NormalizeIntegrationSource(destination.integration_source);
    if (source.ok()) envelope.integration_source = *source;
    HttpRequest request;
    request.url = RequestUrl(destination.endpoint, destination.pixel_id);
    request.bearer_token = destination.api_key;
    request.body = mapping::EncodeRequest(envelope, wire_events);
    absl::StatusOr<HttpResponse> response = (*transport)->Post(request);
    if (!response.ok()) {
      result.set_message(std::string(response.status().message()));
      return result;
    }
    result.set_http_status(response->status);
    result.set_message(response->status >= 200 && response->status < 300
                           ? "valid"
                           : ApiErrorMessage(response->body));
    return result;
  };
}

}  // namespace conversions::service
