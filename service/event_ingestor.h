// The intake shared by the gRPC ConversionService and the HTTP /v1/track
// endpoint: resolves the destination and the caller, maps each event
// (typed or tag), and stores the mapped ones in the spool, answering one
// result per event.
#ifndef CONVERSIONS_SERVICE_EVENT_INGESTOR_H_
#define CONVERSIONS_SERVICE_EVENT_INGESTOR_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "conversions/v1/conversion_service.pb.h"
#include "mapping/event_mapper.h"
#include "mapping/tag_mapper.h"
#include "mapping/tag_tree.h"
#include "service/caller_auth.h"
#include "service/clock.h"
#include "service/config.h"
#include "service/dispatcher.h"
#include "service/metrics.h"
#include "service/spool.h"
#include "service/track_request.h"

namespace conversions::service {

// The most events one request may carry.
inline constexpr int kMaxEventsPerRequest = 1000;

// Compiles one destination's tag mapping (event mapping, smart mapping,
// default action source, consent). FailedPrecondition naming the
// destination when it is invalid.
absl::StatusOr<mapping::CompiledTagMapping> CompileDestinationTagMapping(
    const DestinationConfig& destination);

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

  // Unavailable once the gateway drains: every ConversionService call is
  // refused then (clients retry elsewhere or later), and counted for `api`
  // as refused for "draining".
  absl::Status CheckServing(const std::string& api) const;

  // Checks the request-level rules: not draining (unless
  // `admitted_before_drain`: a request let in before the drain began and
  // served now, as a gRPC call in flight finishes), 1 to 1,000 events;
  // counts a refusal for `api`.
  absl::Status CheckRequest(int event_count, const std::string& api,
                            bool admitted_before_drain = false) const;

  // Counts a request of `api` refused whole for `reason` (in
  // conversions_requests_refused_total).
  void CountRefused(const std::string& api, const char* reason) const;

  // Compiles every destination's tag mapping (event mapping, smart
  // mapping, default action source, consent). FailedPrecondition naming the
  // destination when one is invalid.
  absl::Status CompileTagMappings();

  // Maps tag-model events, read into TagTrees (TrackEvents and POST
  // /v1/track read them straight from the request), with the
  // destination's tag mapping, then treats them as StoreTyped does.
  // Unmapped events and events without the required consent answer
  // SKIPPED and are never stored. The trees need to live only until this
  // returns.
  void StoreTagTrees(const DestinationConfig& destination,
                     absl::Span<const mapping::TagTree> events,
                     bool validate_only, const std::string& api,
                     StoreCallback done);

  // Maps tag-model events as StoreTagTrees does, without storing them
  // (TrackEvents and POST /v1/track with dry_run): each accepted result
  // carries its wire JSON in `wire_json`, up to 8 MiB of it in all (then
  // WIRE_JSON_OMITTED). Counts nothing in the metrics,
  // as ValidateTyped.
  absl::StatusOr<std::vector<v1::EventResult>> DryRunTagTrees(
      const DestinationConfig& destination,
      absl::Span<const mapping::TagTree> events);
  // DryRunTagTrees of a TrackEvents request with dry_run: INVALID_ARGUMENT
  // (counted for `api` as invalid_request) when it also asks for
  // validate_only, which needs events stored and sent.
  absl::StatusOr<std::vector<v1::EventResult>> DryRunTrack(
      const DestinationConfig& destination, const TrackEventsInput& request,
      const std::string& api);

  // Maps typed events and stores the accepted ones; `done` runs once they
  // are durable (possibly on the spool's writer thread). `api` names the
  // entry point for metrics ("send", "track").
  void StoreTyped(const DestinationConfig& destination,
                  const google::protobuf::RepeatedPtrField<v1::Event>& events,
                  bool validate_only, const std::string& api,
                  StoreCallback done);

  // Maps typed events without storing them; each accepted result carries
  // its wire JSON in `wire_json`, up to 8 MiB of it in all (then
  // WIRE_JSON_OMITTED). Returns every accepted wire event too.
  std::vector<v1::EventResult> ValidateTyped(
      const google::protobuf::RepeatedPtrField<v1::Event>& events,
      std::vector<std::string>* accepted_wire_events);

  // Tells the dispatcher that `count` events of `destination` were queued
  // again (RetryDeadLetters).
  void NotifyRequeued(const std::string& destination, int count);

  // Whether the last write to the spool failed because its disk is full
  // (storage_status.h), until a write succeeds or ClearSpoolDiskFull. The
  // gateway is not ready meanwhile.
  bool spool_disk_full() const {
    return spool_disk_full_.load(std::memory_order_relaxed);
  }
  void ClearSpoolDiskFull() {
    spool_disk_full_.store(false, std::memory_order_relaxed);
  }

  Clock* clock() const { return clock_; }
  Metrics* metrics() const { return metrics_; }
  Spool* spool() const { return spool_; }
  Dispatcher* dispatcher() const { return dispatcher_; }

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
  // Counts `warnings` of an event mapped for `destination` through `api`.
  void CountWarnings(const DestinationConfig& destination,
                     const std::string& api,
                     const std::vector<mapping::FieldIssue>& warnings) const;
  // Records a mapped event `*mapped` (id `event_id`) into `result`, as
  // MapOne does after MapEvent; counts its warnings and rejection in the
  // metrics when `count`.
  void RecordMapped(const std::string& event_id,
                    const DestinationConfig& destination, bool validate_only,
                    const std::string& api, mapping::MappedEvent* mapped,
                    v1::EventResult* result, std::vector<SpoolEvent>* to_store,
                    bool count = true);
  // Maps tag-model events into `results` (one each), and the events to
  // store into `to_store`, with their result indexes in `stored_index`;
  // counts skips, rejections and warnings in the metrics when `count`.
  absl::Status MapTagTrees(const DestinationConfig& destination,
                           absl::Span<const mapping::TagTree> events,
                           bool validate_only, const std::string& api,
                           std::int64_t now, bool count,
                           std::vector<v1::EventResult>* results,
                           std::vector<SpoolEvent>* to_store,
                           std::vector<int>* stored_index);
  // Stores `to_store` (events of `results` at `stored_index`) and
  // completes `done` with the outcomes.
  void Store(const DestinationConfig& destination, bool validate_only,
             const std::string& api, std::int64_t now,
             std::vector<v1::EventResult> results,
             std::vector<SpoolEvent> to_store, std::vector<int> stored_index,
             StoreCallback done);

  // Sets each stored event's result from its outcome (a replacement is
  // accepted), counts them and logs each dead letter replaced. Returns the
  // number accepted.
  int RecordOutcomes(const std::string& destination, const std::string& api,
                     const std::vector<AppendOutcome>& outcomes,
                     const std::vector<int>& stored_index,
                     std::vector<v1::EventResult>* results);

  // Counts the events of a failed Store and, for a full disk or an
  // unexpected error, logs it: at most once per kStoreFailureLogIntervalMs,
  // with the number of failures not logged since.
  void RecordStoreFailure(const absl::Status& status,
                          const std::string& destination,
                          const std::string& api, std::int64_t events,
                          std::int64_t now);

  std::atomic<bool>* const draining_;
  std::atomic<std::int64_t> store_failure_logged_ms_{0};
  std::atomic<bool> spool_disk_full_{false};
  std::atomic<std::int64_t> store_failures_unlogged_{0};
  // Compiled tag mapping per destination name; set by CompileTagMappings.
  std::map<std::string, mapping::CompiledTagMapping> tag_mappings_;
};

// Returns the dedup name of an event type: its API name, or for
// EVENT_TYPE_CUSTOM the custom event name as it was stored: lower-cased,
// and one that is no valid name made one as a tag event's event_name is
// ("Add To Cart": add_to_cart); empty when invalid.
std::string EventName(v1::EventType type, const std::string& custom_event_name);

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_EVENT_INGESTOR_H_
