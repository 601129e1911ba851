#include "service/conversion_service.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/event_mapper.h"
#include "mapping/event_types.h"
#include "mapping/request_encoder.h"
#include "service/caller_auth.h"
#include "service/dispatcher.h"
#include "service/log.h"
#include "service/status_util.h"
#include "service/track_request.h"

namespace conversions::service {
namespace {

// Ends the message that refuses an event key.
constexpr char kKeyNeeds[] =
    " (a key needs a type, with custom_event_name for custom events, and an "
    "id)";

// What is wrong with an event key given to GetEventStatus or
// RetryDeadLetters ("no id", "unknown type 99", ...), or "" when its type,
// custom event name (custom events) and id are there.
std::string MissingInKey(v1::EventType type,
                         const std::string& custom_event_name,
                         const std::string& id) {
  std::vector<std::string> missing;
  if (type == v1::EVENT_TYPE_UNSPECIFIED) {
    missing.push_back("no type");
  } else if (type == v1::EVENT_TYPE_CUSTOM && custom_event_name.empty()) {
    missing.push_back("no custom_event_name (required for custom events)");
  } else if (EventName(type, custom_event_name).empty()) {
    missing.push_back(absl::StrCat("unknown type ", static_cast<int>(type)));
  }
  if (id.empty()) missing.push_back("no id");
  return absl::StrJoin(missing, ", ");
}

using google::protobuf::util::TimeUtil;

// Most validate_only calls to the API in flight at once.
constexpr int kMaxApiValidations = 16;

// The caller's credentials: the `authorization` metadata, "" when there
// is none, kSeveralCredentials when there are several.
std::string_view Authorization(const grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto [first, last] = metadata.equal_range("authorization");
  if (first == last) return {};
  if (std::next(first) != last) return kSeveralCredentials;
  return {first->second.data(), first->second.size()};
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
  switch (reason) {
    case DeadReason::kExpired:
      return v1::DEAD_LETTER_REASON_EXPIRED;
    case DeadReason::kDamaged:
      return v1::DEAD_LETTER_REASON_DAMAGED;
    case DeadReason::kRejected:
      break;
  }
  return v1::DEAD_LETTER_REASON_REJECTED;
}

// The reason filter of a request: nullopt (every reason) for UNSPECIFIED.
// A value this server does not know (a client built from a newer proto)
// is InvalidArgument, not "every reason": a retry would re-queue them all.
absl::StatusOr<std::optional<DeadReason>> ReasonFilter(
    v1::DeadLetterReason reason) {
  switch (reason) {
    case v1::DEAD_LETTER_REASON_UNSPECIFIED:
      return std::nullopt;
    case v1::DEAD_LETTER_REASON_REJECTED:
      return DeadReason::kRejected;
    case v1::DEAD_LETTER_REASON_EXPIRED:
      return DeadReason::kExpired;
    case v1::DEAD_LETTER_REASON_DAMAGED:
      return DeadReason::kDamaged;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("reason ", static_cast<int>(reason),
                       " is not a DeadLetterReason this gateway knows"));
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

ConversionServiceImpl::ConversionServiceImpl(EventIngestor* ingestor,
                                             ApiValidator validator)
    : ingestor_(ingestor), validator_(std::move(validator)) {
  SetMessageAllocatorFor_SendEvents(&send_allocator_);
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
      ingestor_->Authenticate(Authorization(context), kApiSend);
  if (!caller.ok()) return Finish(context, ToGrpcStatus(caller.status()));
  absl::Status check =
      ingestor_->CheckRequest(request->events_size(), kApiSend);
  if (!check.ok()) return Finish(context, ToGrpcStatus(check));
  absl::StatusOr<const DestinationConfig*> destination =
      ingestor_->ResolveFor(*caller, request->destination(), kApiSend);
  if (!destination.ok()) {
    return Finish(context, ToGrpcStatus(destination.status()));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ingestor_->StoreTyped(**destination, request->events(),
                        request->validate_only(), kApiSend,
                        FinishWithResults(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* ConversionServiceImpl::ValidateEvents(
    grpc::CallbackServerContext* context,
    const v1::ValidateEventsRequest* request,
    v1::ValidateEventsResponse* response) {
  absl::StatusOr<const Caller*> caller =
      ingestor_->Authenticate(Authorization(context), kApiValidate);
  if (!caller.ok()) return Finish(context, ToGrpcStatus(caller.status()));
  if (absl::Status check =
          ingestor_->CheckRequest(request->events_size(), kApiValidate);
      !check.ok()) {
    return Finish(context, ToGrpcStatus(check));
  }
  absl::StatusOr<const DestinationConfig*> destination =
      ingestor_->ResolveFor(*caller, request->destination(), kApiValidate);
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
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  absl::StatusOr<const Caller*> caller =
      ingestor_->Authenticate(Authorization(context), kApiTrack);
  if (!caller.ok()) return Finish(context, ToGrpcStatus(caller.status()));
  // The request's bytes, in one piece (gRPC hands them over in slices).
  std::vector<grpc::Slice> slices;
  if (!request->Dump(&slices).ok()) {
    return Finish(context, grpc::Status(grpc::StatusCode::INTERNAL,
                                        "cannot read the request"));
  }
  std::string joined;
  std::string_view wire;
  if (slices.size() == 1) {
    wire = std::string_view(reinterpret_cast<const char*>(slices[0].begin()),
                            slices[0].size());
  } else {
    for (const grpc::Slice& s : slices) {
      joined.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    wire = joined;
  }
  TrackEventsInput input;
  absl::Status parsed = ParseTrackEventsRequest(wire, &input);
  if (!parsed.ok()) {
    ingestor_->CountRefused(kApiTrack, "invalid_request");
    return Finish(context, ToGrpcStatus(parsed));
  }
  absl::Status check = ingestor_->CheckRequest(input.event_count, kApiTrack);
  if (!check.ok()) return Finish(context, ToGrpcStatus(check));
  absl::StatusOr<const DestinationConfig*> destination =
      ingestor_->ResolveFor(*caller, input.destination, kApiTrack);
  if (!destination.ok()) {
    return Finish(context, ToGrpcStatus(destination.status()));
  }
  if (input.dry_run) {
    absl::StatusOr<std::vector<v1::EventResult>> results =
        ingestor_->DryRunTrack(**destination, input, kApiTrack);
    if (!results.ok()) return Finish(context, ToGrpcStatus(results.status()));
    v1::TrackEventsResponse out;
    for (v1::EventResult& r : *results) *out.add_results() = std::move(r);
    grpc::Slice bytes(out.SerializeAsString());
    *response = grpc::ByteBuffer(&bytes, 1);
    return Finish(context, grpc::Status::OK);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Mapped before StoreTagTrees returns: the trees may go with `input`.
  ingestor_->StoreTagTrees(
      **destination, input.events, input.validate_only, kApiTrack,
      [reactor, response](absl::Status status,
                          std::vector<v1::EventResult> results) {
        if (!status.ok()) {
          reactor->Finish(ToGrpcStatus(status));
          return;
        }
        v1::TrackEventsResponse out;
        for (v1::EventResult& r : results) *out.add_results() = std::move(r);
        grpc::Slice bytes(out.SerializeAsString());
        *response = grpc::ByteBuffer(&bytes, 1);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ConversionServiceImpl::GetEventStatus(
    grpc::CallbackServerContext* context,
    const v1::GetEventStatusRequest* request,
    v1::GetEventStatusResponse* response) {
  absl::StatusOr<const Caller*> caller =
      ingestor_->Authenticate(Authorization(context), kApiStatus);
  if (!caller.ok()) return Finish(context, ToGrpcStatus(caller.status()));
  if (absl::Status serving = ingestor_->CheckServing(kApiStatus);
      !serving.ok()) {
    return Finish(context, ToGrpcStatus(serving));
  }
  absl::StatusOr<const DestinationConfig*> destination =
      ingestor_->ResolveFor(*caller, request->destination(), kApiStatus);
  if (!destination.ok()) {
    return Finish(context, ToGrpcStatus(destination.status()));
  }
  if (std::string missing = MissingInKey(
          request->type(), request->custom_event_name(), request->id());
      !missing.empty()) {
    return Finish(
        context,
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     absl::StrCat("invalid event key: ", missing, kKeyNeeds)));
  }
  std::string name = EventName(request->type(), request->custom_event_name());
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
    case EventState::kQueued: {
      response->set_state(v1::DELIVERY_STATE_QUEUED);
      // The event's own time after a failure; later while its destination
      // holds everything (another batch's backoff or Retry-After, a pause).
      std::int64_t next = record->attempts > 0 ? record->next_attempt_ms : 0;
      const std::int64_t held =
          ingestor_->dispatcher()->HeldUntilMs((*destination)->name);
      if (held > ingestor_->clock()->NowMs()) next = std::max(next, held);
      if (next > 0) *response->mutable_next_attempt_time() = Millis(next);
      break;
    }
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
  response->set_validate_only(record->validate_only);
  return Finish(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ConversionServiceImpl::ListDeadLetters(
    grpc::CallbackServerContext* context,
    const v1::ListDeadLettersRequest* request,
    v1::ListDeadLettersResponse* response) {
  absl::StatusOr<const Caller*> caller =
      ingestor_->Authenticate(Authorization(context), kApiListDeadLetters);
  if (!caller.ok()) return Finish(context, ToGrpcStatus(caller.status()));
  if (absl::Status serving = ingestor_->CheckServing(kApiListDeadLetters);
      !serving.ok()) {
    return Finish(context, ToGrpcStatus(serving));
  }
  if (request->page_size() < 0 || request->page_size() > 1000) {
    return Finish(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                        "page_size must be 0 to 1000"));
  }
  DeadLetterQuery query;
  if (!request->destination().empty()) {
    absl::StatusOr<const DestinationConfig*> destination =
        ingestor_->ResolveFor(*caller, request->destination(),
                              kApiListDeadLetters);
    if (!destination.ok()) {
      return Finish(context, ToGrpcStatus(destination.status()));
    }
    query.destination = (*destination)->name;
  } else if (absl::Status all =
                 ingestor_->AuthorizeAll(*caller, kApiListDeadLetters);
             !all.ok()) {
    return Finish(context, ToGrpcStatus(all));
  }
  absl::StatusOr<std::optional<DeadReason>> reason =
      ReasonFilter(request->reason());
  if (!reason.ok()) return Finish(context, ToGrpcStatus(reason.status()));
  query.reason = *reason;
  if (request->has_validate_only())
    query.validate_only = request->validate_only();
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
    out->set_validate_only(r.validate_only);
  }
  response->set_next_page_token(page->next_page_token);
  return Finish(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ConversionServiceImpl::RetryDeadLetters(
    grpc::CallbackServerContext* context,
    const v1::RetryDeadLettersRequest* request,
    v1::RetryDeadLettersResponse* response) {
  absl::StatusOr<const Caller*> caller =
      ingestor_->Authenticate(Authorization(context), kApiRetryDeadLetters);
  if (!caller.ok()) return Finish(context, ToGrpcStatus(caller.status()));
  if (absl::Status serving = ingestor_->CheckServing(kApiRetryDeadLetters);
      !serving.ok()) {
    return Finish(context, ToGrpcStatus(serving));
  }
  absl::StatusOr<const DestinationConfig*> destination = ingestor_->ResolveFor(
      *caller, request->destination(), kApiRetryDeadLetters);
  if (!destination.ok()) {
    return Finish(context, ToGrpcStatus(destination.status()));
  }
  std::vector<EventKeyRef> keys;
  for (int i = 0; i < request->events_size(); ++i) {
    const v1::EventKey& key = request->events(i);
    if (std::string missing =
            MissingInKey(key.type(), key.custom_event_name(), key.id());
        !missing.empty()) {
      return Finish(context,
                    grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 absl::StrCat("invalid event key events[", i,
                                              "]: ", missing, kKeyNeeds)));
    }
    keys.push_back({EventName(key.type(), key.custom_event_name()), key.id()});
  }
  absl::StatusOr<std::optional<DeadReason>> reason =
      ReasonFilter(request->reason());
  if (!reason.ok()) return Finish(context, ToGrpcStatus(reason.status()));
  Clock* clock = ingestor_->clock();
  std::optional<bool> validate_only;
  if (request->has_validate_only()) validate_only = request->validate_only();
  const std::int64_t now = clock->NowMs();
  absl::StatusOr<RequeueResult> result = ingestor_->spool()->Requeue(
      (*destination)->name, keys, *reason, validate_only,
      OldestRequeueableTimestampMs(now), now);
  if (!result.ok()) return Finish(context, ToGrpcStatus(result.status()));
  response->set_requeued_count(result->requeued);
  response->set_window_closed_count(result->window_closed);
  if (result->requeued > 0) {
    ingestor_->NotifyRequeued((*destination)->name, result->requeued);
  }
  LogInfo("dead_letters_requeued",
          {{"destination", (*destination)->name},
           {"count", absl::StrCat(result->requeued)},
           {"window_closed", absl::StrCat(result->window_closed)}});
  return Finish(context, grpc::Status::OK);
}

bool InFlightTransports::Add(HttpTransport* transport) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_) return false;
  transports_.push_back(transport);
  return true;
}

void InFlightTransports::Remove(HttpTransport* transport) {
  std::lock_guard<std::mutex> lock(mu_);
  transports_.erase(
      std::remove(transports_.begin(), transports_.end(), transport),
      transports_.end());
}

void InFlightTransports::CancelAll() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  for (HttpTransport* transport : transports_) transport->Cancel();
}

ApiValidator MakeApiValidator(
    std::function<absl::StatusOr<std::unique_ptr<HttpTransport>>(
        const DestinationConfig&)>
        factory,
    Metrics* metrics, InFlightTransports* in_flight) {
  return [factory = std::move(factory), metrics, in_flight](
             const DestinationConfig& destination,
             const std::vector<std::string>& wire_events) {
    v1::ApiValidation result;
    absl::StatusOr<std::unique_ptr<HttpTransport>> transport =
        factory(destination);
    if (!transport.ok()) {
      result.set_message(std::string(transport.status().message()));
      return result;
    }
    if (in_flight != nullptr && !in_flight->Add(transport->get())) {
      result.set_message("the gateway is shutting down");
      return result;
    }
    struct Unregister {
      InFlightTransports* in_flight;
      HttpTransport* transport;
      ~Unregister() {
        if (in_flight != nullptr) in_flight->Remove(transport);
      }
    } unregister{in_flight, transport->get()};
    mapping::RequestEnvelope envelope;
    envelope.validate_only = true;
    absl::StatusOr<std::string> source =
        mapping::NormalizeIntegrationSource(destination.integration_source);
    if (source.ok()) envelope.integration_source = *source;
    HttpRequest request;
    request.url = RequestUrl(destination.endpoint, destination.pixel_id);
    request.bearer_token = destination.api_key;
    request.body = mapping::EncodeRequest(envelope, wire_events);
    const auto started = std::chrono::steady_clock::now();
    absl::StatusOr<HttpResponse> response = (*transport)->Post(request);
    // A call the drain cancelled is not an API request (as the
    // dispatcher's, see conversions_events_retried_total{cause="shutdown"}).
    if (metrics != nullptr && !absl::IsCancelled(response.status())) {
      metrics->api_requests.Add(
          {destination.name,
           absl::StrCat(response.ok() ? response->status : 0)});
      metrics->api_latency.Observe(
          {destination.name}, std::chrono::duration<double>(
                                  std::chrono::steady_clock::now() - started)
                                  .count());
    }
    if (!response.ok()) {
      result.set_message(std::string(response.status().message()));
      return result;
    }
    result.set_http_status(response->status);
    result.set_message(
        response->status >= 200 && response->status < 300
            ? "valid"
            : ApiErrorMessage(response->body, destination.api_key));
    return result;
  };
}

std::string_view ApiOfMethod(std::string_view method) {
  if (method == "SendEvents") return kApiSend;
  if (method == "ValidateEvents") return kApiValidate;
  if (method == "TrackEvents") return kApiTrack;
  if (method == "GetEventStatus") return kApiStatus;
  if (method == "ListDeadLetters") return kApiListDeadLetters;
  if (method == "RetryDeadLetters") return kApiRetryDeadLetters;
  return "other";
}

}  // namespace conversions::service
