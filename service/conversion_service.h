// The gRPC ConversionService: maps, validates and stores events, and answers
// status and dead-letter queries.
#ifndef CONVERSIONS_SERVICE_CONVERSION_SERVICE_H_
#define CONVERSIONS_SERVICE_CONVERSION_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "conversions/v1/conversion_service.grpc.pb.h"
#include "service/arena_allocator.h"
#include "service/config.h"
#include "service/event_ingestor.h"
#include "service/http_transport.h"

namespace conversions::service {

// The `api` label each ConversionService method gives its metrics and
// logs (conversions_requests_denied_total{api}, ...).
inline constexpr char kApiSend[] = "send";
inline constexpr char kApiValidate[] = "validate";
inline constexpr char kApiTrack[] = "track";
inline constexpr char kApiStatus[] = "status";
inline constexpr char kApiListDeadLetters[] = "list_dead_letters";
inline constexpr char kApiRetryDeadLetters[] = "retry_dead_letters";

// The `api` label of a ConversionService method by its name
// ("SendEvents"); "other" for a name the service does not have.
std::string_view ApiOfMethod(std::string_view method);

// Sends one validate_only request to a destination's API and reports the
// answer; used by ValidateEvents with validate_only.
using ApiValidator = std::function<v1::ApiValidation(
    const DestinationConfig&, const std::vector<std::string>& wire_events)>;

// The service's generated bases: every method with the callback API, and
// TrackEvents raw (its request bytes are read into TagTrees directly, see
// service/track_request.h).
using ConversionServiceBase =
    v1::ConversionService::WithCallbackMethod_SendEvents<
        v1::ConversionService::WithCallbackMethod_ValidateEvents<
            v1::ConversionService::WithRawCallbackMethod_TrackEvents<
                v1::ConversionService::WithCallbackMethod_GetEventStatus<
                    v1::ConversionService::WithCallbackMethod_ListDeadLetters<
                        v1::ConversionService::
                            WithCallbackMethod_RetryDeadLetters<
                                v1::ConversionService::Service>>>>>>;

class ConversionServiceImpl final : public ConversionServiceBase {
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
  // A TrackEventsRequest in, a TrackEventsResponse out, as bytes.
  grpc::ServerUnaryReactor* TrackEvents(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
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
  ArenaMessageAllocator<v1::ValidateEventsRequest, v1::ValidateEventsResponse>
      validate_allocator_;
  // Bounds the validate_only calls to the API running at once.
  std::atomic<int> api_validations_{0};
};

// The transports of API calls in flight, so that a drain can cancel them
// at its deadline (HttpTransport::Cancel) rather than wait for them, up to
// their destination's request_timeout. Thread-safe.
class InFlightTransports {
 public:
  // Registers `transport`; false, without registering it, once CancelAll
  // ran: the call is then not made.
  bool Add(HttpTransport* transport);
  // Before `transport` is destroyed.
  void Remove(HttpTransport* transport);
  // Cancels the transports registered and refuses later ones.
  void CancelAll();

 private:
  std::mutex mu_;
  std::vector<HttpTransport*> transports_;  // guarded by mu_
  bool cancelled_ = false;                  // guarded by mu_
};

// Returns an ApiValidator that posts with a fresh transport per call, and
// counts each call in `metrics` (if not null) as the dispatcher counts its
// requests: conversions_api_requests_total and the API latency. Each call's
// transport is registered in `in_flight` (if not null) while it runs.
ApiValidator MakeApiValidator(
    std::function<absl::StatusOr<std::unique_ptr<HttpTransport>>(
        const DestinationConfig&)>
        factory,
    Metrics* metrics = nullptr, InFlightTransports* in_flight = nullptr);

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_CONVERSION_SERVICE_H_
