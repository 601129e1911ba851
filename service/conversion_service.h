// The gRPC ConversionService: maps, validates and stores events, and answers
// status and dead-letter queries.
#ifndef CONVERSIONS_SERVICE_CONVERSION_SERVICE_H_
#define CONVERSIONS_SERVICE_CONVERSION_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "conversions/v1/conversion_service.grpc.pb.h"
#include "mapping/tag_mapper.h"
#include "service/arena_allocator.h"
#include "service/caller_auth.h"
#include "service/clock.h"
#include "service/config.h"
#include "service/dispatcher.h"
#include "service/http_transport.h"
#include "service/metrics.h"
#include "service/spool.h"

namespace conversions::service {

// The most events one request may carry.
inline constexpr int kMaxEventsPerRequest = 1000;

// Shared by the gRPC service and the HTTP /v1/track endpoint: turns mapped
// events into stored ones and per-event results.
class EventIngestor {
 public:
  // Completion of Store: a whole-request error, or one result per event.
  using StoreCallback =
      std::function<void(absl::Status, std::vector<v1::EventResult>)>;

  EventIngestor(const GatewayConfig* config, Spool* spool,
                Dispatcher* dispatcher, Clock* clock, Metrics* metrics,
                std::atomic<bool>* draining);

  // Returns the configured destination (the default one for ""), or
  // NotFound.
  absl::StatusOr<const DestinationConfig*> Resolve(
      const std::string& name) const;

  // Finds the caller from the request's `authorization` value (gRPC
  // metadata or HTTP header): Unauthenticated when callers are configured
  // and it names none of them; nullptr when authentication is off. `api`
  // labels the denial metric.
  absl::StatusOr<const Caller*> Authenticate(std::string_view authorization,
                                             const std::string& api) const;

  // Resolve, then PermissionDenied unless `caller` may use the
  // destination.
  absl::StatusOr<const DestinationConfig*> ResolveFor(
      const Caller* caller, const std::string& name,
      const std::string& api) const;

  // PermissionDenied unless `caller` may use every destination.
  absl::Status AuthorizeAll(const Caller* caller, const std::string& api) const;

  // Checks the request-level rules: not draining, 1 to 1,000 events.
  absl::Status CheckRequest(int event_count) const;

  // Compiles every destination's tag mapping (event mapping, smart
  // mapping, default action source, consent). FailedPrecondition naming the
  // destination when one is invalid.
  absl::Status CompileTagMappings();

  // Maps tag-model events with the destination's tag mapping, then treats
  // them as StoreTyped does. Unmapped events and events without the
  // required consent answer SKIPPED and are never stored.
  void StoreTag(
      const DestinationConfig& destination,
      const google::protobuf::RepeatedPtrField<google::protobuf::Struct>&
          events,
      bool validate_only, const std::string& api, StoreCallback done);

  // Maps typed events and stores the accepted ones; `done` runs once they
  // are durable (possibly on the spool's writer thread). `api` names the
  // entry point for metrics ("send", "track").
  void StoreTyped(const DestinationConfig& destination,
                  const google::protobuf::RepeatedPtrField<v1::Event>& events,
                  bool validate_only, const std::string& api,
                  StoreCallback done);

  // Maps typed events without storing them; each accepted result carries
  // its wire JSON in `wire_json`. Returns the accepted wire events too.
  std::vector<v1::EventResult> ValidateTyped(
      const google::protobuf::RepeatedPtrField<v1::Event>& events,
      std::vector<std::string>* accepted_wire_events);

  // Tells the dispatcher that `count` events of `destination` were queued
  // again (RetryDeadLetters).
  void NotifyRequeued(const std::string& destination, int count);

  Clock* clock() const { return clock_; }
  Metrics* metrics() const { return metrics_; }
  Spool* spool() const { return spool_; }

 private:
  const GatewayConfig* const config_;
  Spool* const spool_;
  Dispatcher* const dispatcher_;
  Clock* const clock_;
  Metrics* const metrics_;
  const CallerAuthenticator auth_;
  // Maps one typed event into `result`; appends it to `to_store` when
  // accepted.
  void MapOne(const v1::Event& event, std::int64_t now,
              const DestinationConfig& destination, bool validate_only,
              const std::string& api, mapping::MappedEvent* mapped,
              v1::EventResult* result, std::vector<SpoolEvent>* to_store);
  // Records a mapped event `*mapped` (id `event_id`) into `result`, as
  // MapOne does after MapEvent.
  void RecordMapped(const std::string& event_id,
                    const DestinationConfig& destination, bool validate_only,
                    const std::string& api, mapping::MappedEvent* mapped,
                    v1::EventResult* result, std::vector<SpoolEvent>* to_store);
  // Stores `to_store` (events of `results` at `stored_index`) and
  // completes `done` with the outcomes.
  void Store(const DestinationConfig& destination, bool validate_only,
             const std::string& api, std::int64_t now,
             std::vector<v1::EventResult> results,
             std::vector<SpoolEvent> to_store, std::vector<int> stored_index,
             StoreCallback done);

  std::atomic<bool>* const draining_;
  // Compiled tag mapping per destination name; set by CompileTagMappings.
  std::map<std::string, mapping::CompiledTagMapping> tag_mappings_;
};

// Sends one validate_only request to a destination's API and reports the
// answer; used by ValidateEvents with validate_only.
using ApiValidator = std::function<v1::ApiValidation(
    const DestinationConfig&, const std::vector<std::string>& wire_events)>;

class ConversionServiceImpl final
    : public v1::ConversionService::CallbackService {
 public:
  ConversionServiceImpl(EventIngestor* ingestor, ApiValidator validator);
  // Waits for validate_only calls still running off the gRPC threads.
  ~ConversionServiceImpl() override;

  grpc::ServerUnaryReactor* SendEvents(
      grpc::CallbackServerContext* context,
      const v1::SendEventsRequest* request,
      v1::SendEventsResponse* response) override;
  grpc::ServerUnaryReactor* ValidateEvents(
      grpc::CallbackServerContext* context,
      const v1::ValidateEventsRequest* request,
      v1::ValidateEventsResponse* response) override;
  grpc::ServerUnaryReactor* TrackEvents(
      grpc::CallbackServerContext* context,
      const v1::TrackEventsRequest* request,
      v1::TrackEventsResponse* response) override;
  grpc::ServerUnaryReactor* GetEventStatus(
      grpc::CallbackServerContext* context,
      const v1::GetEventStatusRequest* request,
      v1::GetEventStatusResponse* response) override;
  grpc::ServerUnaryReactor* ListDeadLetters(
      grpc::CallbackServerContext* context,
      const v1::ListDeadLettersRequest* request,
      v1::ListDeadLettersResponse* response) override;
  grpc::ServerUnaryReactor* RetryDeadLetters(
      grpc::CallbackServerContext* context,
      const v1::RetryDeadLettersRequest* request,
      v1::RetryDeadLettersResponse* response) override;

 private:
  EventIngestor* const ingestor_;
  const ApiValidator validator_;
  // Requests with many events are parsed onto a per-call arena.
  ArenaMessageAllocator<v1::SendEventsRequest, v1::SendEventsResponse>
      send_allocator_;
  ArenaMessageAllocator<v1::TrackEventsRequest, v1::TrackEventsResponse>
      track_allocator_;
  ArenaMessageAllocator<v1::ValidateEventsRequest, v1::ValidateEventsResponse>
      validate_allocator_;
  // Bounds the validate_only calls to the API running at once.
  std::atomic<int> api_validations_{0};
};

// Returns the dedup name of an event type: its API name, or the lower-cased
// custom event name for EVENT_TYPE_CUSTOM; empty when invalid.
std::string EventName(v1::EventType type, const std::string& custom_event_name);

// Returns an ApiValidator that posts with a fresh transport per call.
ApiValidator MakeApiValidator(
    std::function<absl::StatusOr<std::unique_ptr<HttpTransport>>(
        const DestinationConfig&)>
        factory);

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_CONVERSION_SERVICE_H_
