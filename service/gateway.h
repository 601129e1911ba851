// The whole gateway: spool, dispatcher, gRPC server (ConversionService,
// health, reflection) and the HTTP port (/healthz, /readyz, /metrics),
// started and drained in the right order.
#ifndef CONVERSIONS_SERVICE_GATEWAY_H_
#define CONVERSIONS_SERVICE_GATEWAY_H_

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "service/call_counter.h"
#include "service/clock.h"
#include "service/config.h"
#include "service/connection_cut.h"
#include "service/conversion_service.h"
#include "service/dispatcher.h"
#include "service/metrics.h"
#include "service/spool.h"

namespace grpc {
class Server;
}
namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace conversions::service {

class Gateway {
 public:
  // Makes a transport for a destination; the real one uses cpp-httplib.
  using TransportFactory = Dispatcher::TransportFactory;

  // Opens the spool, starts the dispatcher and both servers. The bound
  // addresses are grpc_address() and http_address().
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(
      GatewayConfig config, Clock* clock, TransportFactory factory);

  // The checks of Start that need neither the ports nor the spool's
  // contents, for `conversions-gateway --check-config`: every destination's
  // tag mapping compiles, the TLS files make a server context, and the
  // spool's file (or its folder, for a new spool) and its payload folder
  // can be written. Every problem found, one per line. (LoadConfig and
  // ValidateForServing have checked the rest.)
  static absl::Status CheckConfig(const GatewayConfig& config);
  ~Gateway();

  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& http_address() const { return http_address_; }

  // Reports NOT_SERVING, stops accepting, finishes in-flight RPCs, lets the
  // dispatcher deliver what is due until the drain deadline, then stops
  // everything. Idempotent.
  void Drain();

  // True while serving: started, not draining, the spool's disk not full,
  // and (unless `ignore_paused`) no destination paused by the API.
  bool Ready(bool ignore_paused = false) const;

  Metrics* metrics() { return &metrics_; }
  Spool* spool() { return spool_.get(); }
  Dispatcher* dispatcher() { return dispatcher_.get(); }

 private:
  Gateway(GatewayConfig config, Clock* clock);
  absl::Status Init(TransportFactory factory);
  absl::Status StartGrpc();
  absl::Status StartHttp();
  // Sets the gRPC health statuses from readiness when it changes, every
  // 250 ms and at once when poked (PokeHealth); prunes the spool.
  void HealthLoop();
  // Wakes HealthLoop now: a destination's pause began or ended.
  void PokeHealth();
  // What /readyz says: "ready", or why not; paused destinations are named
  // also when `ignore_paused` leaves them out of readiness.
  std::string ReadinessReport(bool ignore_paused = false) const;
  // Serves POST /v1/track: the TrackEvents semantics over JSON;
  // `authorization` is the request's Authorization header ("" if none).
  // cpp-httplib's pre-routing handler: answers (and returns false) what
  // must not get as far as reading a body: a method a path does not take,
  // a POST /v1/track without a Content-Length (chunked), or one from a
  // caller who may not send events.
  bool GuardHttpRequest(const httplib::Request& req, httplib::Response& res);
  // Whether the spool's file system has room for two of the largest
  // requests again, after a write failed for a full disk.
  bool SpoolDiskHasRoom() const;
  void HandleTrack(const std::string& body, const std::string& authorization,
                   int* status, std::string* out);

  const GatewayConfig config_;
  Clock* const clock_;
  Metrics metrics_;
  std::atomic<bool> started_{false};
  std::atomic<bool> draining_{false};
  // Before dispatcher_, whose workers poke the health loop (PokeHealth).
  std::mutex health_mu_;
  std::condition_variable health_cv_;
  bool health_poked_ = false;  // guarded by health_mu_
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<EventIngestor> ingestor_;
  // Before service_, whose validate_only calls use it until they end.
  InFlightTransports api_validations_;
  std::unique_ptr<ConversionServiceImpl> service_;
  // Before grpc_server_, which its interceptors use until it is gone.
  CallCounter calls_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<httplib::Server> http_server_;
  std::thread http_thread_;
  int http_port_ = 0;
  RequestsInProgress http_requests_;  // on the HTTP port
  std::promise<void> http_stopped_;   // set once http_thread_ is done
  std::thread health_thread_;
  std::string grpc_address_;
  std::string http_address_;
  std::mutex drain_mu_;
  bool drained_ = false;  // guarded by drain_mu_
};

// Builds the dispatcher's view of every destination.
std::vector<DispatchTarget> DispatchTargets(const GatewayConfig& config);

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_GATEWAY_H_
