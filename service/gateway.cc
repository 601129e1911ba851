#include "service/gateway.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <httplib.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpc/health/v1/health.pb.h"
#include "mapping/request_encoder.h"
#include "service/address.h"
#include "service/event_ingestor.h"
#include "service/log.h"
#include "service/parse_error_interceptor.h"

namespace conversions::service {
namespace {

constexpr char kServiceName[] = "conversions.v1.ConversionService";
// The health service name that, as /readyz?exclude=paused, leaves paused
// destinations out: SERVING while events can be accepted and queued.
constexpr char kIntakeHealthName[] = "conversions.intake";

// A draining gateway refuses new calls (UNAVAILABLE) before gRPC's Shutdown
// until none has started for kRefuseQuietTime, for at most kRefuseTime
// (Gateway::Drain).
constexpr std::chrono::milliseconds kRefuseQuietTime{100};
constexpr std::chrono::milliseconds kRefuseTime{1000};
// How often delivered rows past the retention are pruned, at most: a
// quarter of the retention when that is shorter (at least a second), so
// that dedup and status look-ups end close to the retention however short.
constexpr std::int64_t kPruneIntervalMs = 10 * 60 * 1000;

}  // namespace

std::vector<DispatchTarget> DispatchTargets(const GatewayConfig& config) {
  std::vector<DispatchTarget> targets;
  for (const DestinationConfig& d : config.destinations) {
    DispatchTarget t;
    t.name = d.name;
    t.url = RequestUrl(d.endpoint, d.pixel_id);
    t.api_key = d.api_key;
    absl::StatusOr<std::string> source =
        mapping::NormalizeIntegrationSource(d.integration_source);
    if (source.ok()) t.integration_source = *source;
    t.options = d.dispatcher;
    targets.push_back(std::move(t));
  }
  return targets;
}

Gateway::Gateway(GatewayConfig config, Clock* clock)
    : config_(std::move(config)), clock_(clock) {}

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(
    GatewayConfig config, Clock* clock, TransportFactory factory) {
  std::unique_ptr<Gateway> gateway(new Gateway(std::move(config), clock));
  absl::Status s = gateway->Init(std::move(factory));
  if (!s.ok()) {
    gateway->Drain();
    return s;
  }
  return gateway;
}

absl::Status Gateway::Init(TransportFactory factory) {
  SetLogLevel(config_.log_level);
  SpoolOptions spool_options = config_.spool;
  spool_options.destinations = static_cast<int>(config_.destinations.size());
  absl::StatusOr<std::unique_ptr<Spool>> spool =
      Spool::Open(spool_options, [this](const SpoolSyncReport& sync) {
        metrics_.spool_sync_seconds.Observe({}, sync.seconds);
        metrics_.spool_sync_calls.Observe({}, sync.callers);
        if (!sync.ok) metrics_.spool_sync_failures.Add({});
      });
  if (!spool.ok()) {
    // SQLite's own messages ("unable to open database file") name no file.
    return absl::Status(spool.status().code(),
                        absl::StrCat("spool.path ", config_.spool.path, ": ",
                                     spool.status().message()));
  }
  spool_ = std::move(*spool);
  metrics_.spool_sync_failures.Add({}, 0);  // shown as 0, not absent
  if (spool_->DroppedAtOpen() > 0) {
    LogWarn("spool_dropped_unwritten_events",
            {{"events", absl::StrCat(spool_->DroppedAtOpen())},
             {"message",
              "these events' payloads had not reached the disk when the last "
              "run stopped, so they were never acknowledged; their callers "
              "retry them"}});
  }

  dispatcher_ = std::make_unique<Dispatcher>(spool_.get(), clock_, &metrics_,
                                             DispatchTargets(config_), factory);
  // gRPC health follows a pause as /readyz does, not up to 250 ms later.
  dispatcher_->SetPauseListener([this] { PokeHealth(); });
  ingestor_ = std::make_unique<EventIngestor>(
      &config_, spool_.get(), dispatcher_.get(), clock_, &metrics_, &draining_);
  if (absl::Status s = ingestor_->CompileTagMappings(); !s.ok()) return s;
  service_ = std::make_unique<ConversionServiceImpl>(
      ingestor_.get(),
      MakeApiValidator(
          [this](const DestinationConfig& d) {
            HttpTransportOptions options;
            options.connect_timeout = d.dispatcher.connect_timeout;
            options.request_timeout = d.dispatcher.request_timeout;
            return NewHttpTransport(d.endpoint, options);
          },
          &metrics_, &api_validations_));

  metrics_.AddGauge(
      "conversions_spool_queued_events",
      "Events queued or in flight, per destination.", {"destination"}, [this] {
        // Counts from memory; the oldest event's age below reads the spool.
        std::vector<GaugeSample> samples;
        for (const DestinationConfig& d : config_.destinations) {
          samples.push_back(
              {{d.name}, static_cast<double>(spool_->QueuedCount(d.name))});
        }
        return samples;
      });
  metrics_.AddGauge(
      "conversions_spool_oldest_event_age_seconds",
      "Age of the oldest queued event, per destination (0 when empty).",
      {"destination"}, [this] {
        std::vector<GaugeSample> samples;
        absl::StatusOr<std::vector<DestinationDepth>> depths = spool_->Depths();
        std::int64_t now = clock_->NowMs();
        for (const DestinationConfig& d : config_.destinations) {
          double age = 0;
          if (depths.ok()) {
            for (const DestinationDepth& depth : *depths) {
              if (depth.destination == d.name && depth.oldest_accepted_ms > 0) {
                age = static_cast<double>(now - depth.oldest_accepted_ms) /
                      1000.0;
              }
            }
          }
          samples.push_back({{d.name}, age});
        }
        return samples;
      });
  metrics_.AddGauge(
      "conversions_spool_dead_letters",
      "Dead letters held, per destination and reason (rejected, expired, "
      "damaged): "
      "what ListDeadLetters lists and RetryDeadLetters can queue again, "
      "until they are retried, replaced or pruned after the retention. "
      "Events of the validate_only lane are not counted.",
      {"destination", "reason"}, [this] {
        std::vector<GaugeSample> samples;
        absl::StatusOr<std::vector<DeadLetterCount>> counts =
            spool_->CountDeadLetters();
        // Unknown rather than 0 when the spool cannot be read: no sample.
        if (!counts.ok()) return samples;
        for (const DestinationConfig& d : config_.destinations) {
          for (auto [reason, label] :
               {std::pair{DeadReason::kRejected, "rejected"},
                std::pair{DeadReason::kExpired, "expired"},
                std::pair{DeadReason::kDamaged, "damaged"}}) {
            double n = 0;
            for (const DeadLetterCount& c : *counts) {
              if (c.destination == d.name && c.reason == reason) {
                n = static_cast<double>(c.count);
              }
            }
            samples.push_back({{d.name, label}, n});
          }
        }
        return samples;
      });
  metrics_.AddGauge(
      "conversions_destination_paused",
      "1 while a destination is paused by the API: 401 or 403 (the key), "
      "a 3xx, 404, 405 or 410 (the url), a 400 or 422 naming a request "
      "parameter, not an event (a wrong pixel id), or another 4xx.",
      {"destination"}, [this] {
        std::vector<GaugeSample> samples;
        std::vector<Dispatcher::PausedDestination> paused =
            dispatcher_->PausedDestinations();
        for (const DestinationConfig& d : config_.destinations) {
          bool p = std::any_of(paused.begin(), paused.end(),
                               [&](const Dispatcher::PausedDestination& x) {
                                 return x.name == d.name;
                               });
          samples.push_back({{d.name}, p ? 1.0 : 0.0});
        }
        return samples;
      });
  metrics_.AddGauge(
      "conversions_spool_dedup_keys",
      "Event keys held in memory for local deduplication: every stored "
      "event, queued or kept for the retention window (20 to 40 bytes each).",
      {}, [this] {
        return std::vector<GaugeSample>{
            {{}, static_cast<double>(spool_->DedupKeyCount())}};
      });
  metrics_.AddGauge(
      "conversions_ready", "1 while the gateway is ready.", {}, [this] {
        return std::vector<GaugeSample>{{{}, Ready() ? 1.0 : 0.0}};
      });

  // The ports first: a gateway that cannot bind them (another process has
  // them) fails before its dispatcher sends anything of its spool. Events
  // accepted before the dispatcher starts wait in the spool, as after a
  // restart, and their notices count for when it does.
  absl::Status s = StartGrpc();
  if (!s.ok()) return s;
  if (!(s = StartHttp()).ok()) return s;
  if (!(s = dispatcher_->Start()).ok()) return s;
  started_ = true;
  health_thread_ = std::thread([this] { HealthLoop(); });
  LogInfo("gateway_started", {{"grpc_listen", grpc_address_},
                              {"http_listen", http_address_},
                              {"config", Describe(config_)}});
  if (config_.callers.empty()) {
    for (const std::string& listen :
         {config_.grpc_listen, config_.http_listen}) {
      absl::StatusOr<HostPort> at = ParseHostPort(listen);
      if (at.ok() && !IsLoopbackHost(at->host)) {
        LogWarn("caller_authentication_off",
                {{"listen", listen},
                 {"message",
                  "no callers are configured, so any client that reaches this "
                  "address may send events; configure callers, or let the "
                  "service mesh authenticate them"}});
        break;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Gateway::StartGrpc() {
  absl::StatusOr<HostPort> listen = ParseHostPort(config_.grpc_listen);
  if (!listen.ok()) return listen.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // gRPC's health service has no descriptor of its own in protobuf's pool;
  // naming a message of ours links the generated grpc.health.v1 file, so
  // that reflection can describe the service it lists.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::ServerBuilder builder;
  int port = 0;
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::InsecureServerCredentials();
  if (config_.tls.enabled()) {
    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back(
        {config_.tls.key_pem, config_.tls.cert_pem});
    if (config_.tls.verifies_clients()) {
      // Mutual TLS: no connection without a client certificate one of
      // these CAs signed (health and reflection included).
      tls.pem_root_certs = config_.tls.client_ca_pem;
      tls.client_certificate_request =
          GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    credentials = grpc::SslServerCredentials(tls);
  }
  builder.AddListeningPort(JoinHostPort(listen->host, listen->port),
                           credentials, &port);
  builder.RegisterService(service_.get());
  // Requests that do not parse answer INVALID_ARGUMENT, not UNIMPLEMENTED.
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  // The streams a client may hold open as long as it likes are not
  // counted: Drain does not wait for them.
  interceptors.push_back(std::make_unique<CallCountingInterceptorFactory>(
      &calls_,
      std::vector<std::string>{
          "/grpc.health.v1.Health/Watch",
          "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"}));
  interceptors.push_back(std::make_unique<ParseErrorInterceptorFactory>(
      absl::StrCat("/", kServiceName, "/"), [this](std::string_view method) {
        metrics_.requests_refused.Add(
            {std::string(ApiOfMethod(method)), "invalid_request"});
      }));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  const GrpcOptions& g = config_.grpc;
  builder.SetMaxReceiveMessageSize(g.max_receive_message_bytes);
  // Answers may be larger than requests: ValidateEvents adds each event's
  // wire JSON. (Dead-letter pages stop at 3 MiB, under the 4 MiB gRPC
  // clients take by default.)
  builder.SetMaxSendMessageSize(static_cast<int>(std::min<std::int64_t>(
      2 * static_cast<std::int64_t>(g.max_receive_message_bytes), INT_MAX)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(g.keepalive_time.count()));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             static_cast<int>(g.keepalive_timeout.count()));
  // Accept client pings as often as every 10 s without data, so mesh
  // sidecars and clients with keepalive are not cut off.
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  if (g.max_connection_idle.count() > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                               static_cast<int>(g.max_connection_idle.count()));
  }
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             g.max_concurrent_streams);
  // gRPC sets SO_REUSEPORT by default, which lets a second gateway (or the
  // HTTP listener) bind the same port and take half of the connections;
  // a port in use must fail the start-up instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  grpc_server_ = builder.BuildAndStart();
  if (!grpc_server_ || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ",
                                               config_.grpc_listen,
                                               BindProblem(*listen)));
  }
  grpc_address_ = JoinHostPort(listen->host, port);
  auto* health = grpc_server_->GetHealthCheckService();
  health->SetServingStatus(false);                     // until Start finishes
  health->SetServingStatus(kIntakeHealthName, false);  // known from the start
  return absl::OkStatus();
}

bool Gateway::Ready(bool ignore_paused) const {
  return started_ && !draining_ && dispatcher_ &&
         (ignore_paused || dispatcher_->PausedDestinations().empty()) &&
         !ingestor_->spool_disk_full() && !spool_->AppendsHeld();
}

std::string Gateway::ReadinessReport(bool ignore_paused) const {
  if (!started_) return "starting\n";
  if (draining_) return "draining\n";
  if (ingestor_->spool_disk_full() || spool_->AppendsHeld()) {
    return absl::StrCat("the spool's disk is full (", config_.spool.path,
                        "): new events cannot be stored\n");
  }
  std::vector<Dispatcher::PausedDestination> paused =
      dispatcher_->PausedDestinations();
  if (!paused.empty()) {
    // "default (HTTP 401: the key), shop (HTTP 404: the url)"
    std::string list = absl::StrJoin(
        paused, ", ",
        [](std::string* out, const Dispatcher::PausedDestination& p) {
          const std::string_view cause = Dispatcher::PauseCause(p.status);
          absl::StrAppend(out, p.name, " (HTTP ", p.status,
                          cause == "auth"       ? ": the key)"
                          : cause == "endpoint" ? ": the url)"
                          : cause == "request"
                              ? ": the request, not its events)"
                              : ": unexpected status)");
        });
    return absl::StrCat(ignore_paused ? "ready; " : "",
                        "paused by the API: ", list,
                        ignore_paused ? "; their events are queued\n" : "\n");
  }
  return "ready\n";
}

bool Gateway::SpoolDiskHasRoom() const {
  struct statvfs fs;
  const std::string dir =
      std::filesystem::absolute(config_.spool.path).parent_path().string();
  if (statvfs(dir.c_str(), &fs) != 0) return false;
  const std::uint64_t free_bytes =
      static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  return free_bytes >=
         2 * static_cast<std::uint64_t>(config_.grpc.max_receive_message_bytes);
}

void Gateway::HealthLoop() {
  std::unique_lock<std::mutex> lock(health_mu_);
  const std::int64_t prune_interval = std::clamp<std::int64_t>(
      config_.spool.retention.count() / 4, 1000, kPruneIntervalMs);
  std::int64_t next_prune = clock_->NowMs() + prune_interval;
  bool last = false;
  bool last_intake = false;
  bool first = true;
  while (!draining_) {
    bool ready = Ready();
    bool intake = Ready(/*ignore_paused=*/true);
    if (first || ready != last || intake != last_intake) {
      grpc::HealthCheckServiceInterface* health =
          grpc_server_->GetHealthCheckService();
      health->SetServingStatus(ready);
      health->SetServingStatus(kServiceName, ready);
      health->SetServingStatus(kIntakeHealthName, intake);
      if (!first && ready != last)
        LogInfo("readiness_changed", {{"ready", ready ? "true" : "false"}});
      last = ready;
      last_intake = intake;
      first = false;
    }
    // After a full disk the spool takes new events once it holds its
    // reserve again (a delivery's write may have found the disk full
    // without any append being refused); it tries here.
    const bool takes_appends = spool_->TakesAppends();
    if (ingestor_->spool_disk_full() && takes_appends && SpoolDiskHasRoom()) {
      // Room again (events delivered, files removed, the volume grown):
      // ready for events, and the next write tells.
      ingestor_->ClearSpoolDiskFull();
      LogInfo("spool_disk_has_room", {{"path", config_.spool.path}});
    }
    if (clock_->NowMs() >= next_prune) {
      lock.unlock();
      absl::StatusOr<std::int64_t> pruned = spool_->Prune(clock_->NowMs());
      if (pruned.ok() && *pruned > 0) {
        LogInfo("spool_pruned", {{"rows", absl::StrCat(*pruned)}});
      }
      lock.lock();
      next_prune = clock_->NowMs() + prune_interval;
    }
    health_cv_.wait_for(lock, std::chrono::milliseconds(250),
                        [this] { return health_poked_ || draining_; });
    health_poked_ = false;
  }
}

void Gateway::PokeHealth() {
  {
    std::lock_guard<std::mutex> lock(health_mu_);
    health_poked_ = true;
  }
  health_cv_.notify_all();
}

void Gateway::Drain() {
  std::lock_guard<std::mutex> drain_lock(drain_mu_);
  if (drained_) return;
  drained_ = true;
  std::int64_t deadline =
      clock_->NowMs() + config_.shutdown_drain_timeout.count();
  // A gateway whose start-up failed only cleans up: it never served, so
  // "draining" and "stopped" would mislead whoever reads the log.
  const bool served = started_;
  if (served) {
    LogInfo("gateway_draining",
            {{"deadline_ms",
              absl::StrCat(config_.shutdown_drain_timeout.count())}});
  }
  draining_ = true;
  {
    std::lock_guard<std::mutex> lock(health_mu_);
    health_cv_.notify_all();
  }
  if (health_thread_.joinable()) health_thread_.join();
  // New RPCs are refused (UNAVAILABLE: clients retry them elsewhere or
  // later); in-flight ones finish (their spool writes complete) while the
  // dispatcher delivers what it can until the deadline.
  if (grpc_server_) {
    grpc::HealthCheckServiceInterface* health =
        grpc_server_->GetHealthCheckService();
    health->SetServingStatus(false);
    health->Shutdown();  // NOT_SERVING for good, every service name
  }
  const auto refusing_since = std::chrono::steady_clock::now();
  if (dispatcher_) dispatcher_->Shutdown(deadline);
  if (grpc_server_) {
    // gRPC's Shutdown sends clients a GOAWAY and at once drops the calls
    // that reach it before they read the GOAWAY, answering them
    // CANCELLED, which clients do not retry; refused first, they get
    // UNAVAILABLE, which they do and which sends them into a backoff. So
    // the server stays up, refusing, until no call has started for a
    // moment (looked at once at least, however long the dispatcher took;
    // at most kRefuseTime after the drain began otherwise), never past the
    // drain's deadline.
    for (std::int64_t seen = calls_.started(); clock_->NowMs() < deadline;) {
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
          kRefuseQuietTime,
          std::chrono::milliseconds(deadline - clock_->NowMs())));
      const std::int64_t started = calls_.started();
      if ((started == seen && calls_.active() == 0) ||
          std::chrono::steady_clock::now() - refusing_since >= kRefuseTime) {
        break;
      }
      seen = started;
    }
    std::promise<void> stopping;  // set just before grpc_stop calls Shutdown
    std::promise<void> stopped;   // set once it returned
    std::thread grpc_stop([this, deadline, &stopping, &stopped] {
      stopping.set_value();
      grpc_server_->Shutdown(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(std::max<std::int64_t>(
                                 deadline - clock_->NowMs(), 0)));
      stopped.set_value();
    });
    // gRPC's Shutdown waits for every connection to close: also for idle
    // ones whose clients do not read (a Python channel between calls, a
    // proxy's pooled connection) and for health Watch streams, until the
    // deadline. Once the calls that carry work are done, and so is the
    // dispatcher, those are closed: nothing is left to wait for.
    const auto left = std::chrono::milliseconds(
        std::max<std::int64_t>(deadline - clock_->NowMs(), 0));
    if (calls_.WaitForNone(left)) {
      // Only once Shutdown has begun: before, it would only cut
      // connections that clients open again. grpc_stop announces the call
      // just before making it, so the cut is repeated every 50 ms until
      // Shutdown returns, in case the first came a moment too early.
      stopping.get_future().wait();
      std::future<void> done = stopped.get_future();
      do {
        grpc_server_cancel_all_calls(grpc_server_->c_server());
      } while (done.wait_for(std::chrono::milliseconds(50)) !=
                   std::future_status::ready &&
               clock_->NowMs() < deadline);
    }
    // validate_only calls still waiting for the API at the deadline. (One
    // still connecting ends with its connect, up to connect_timeout: the
    // transport cannot cancel a connect, and gRPC's Shutdown waits for the
    // call.)
    api_validations_.CancelAll();
    grpc_stop.join();
  }
  if (http_thread_.joinable()) {
    // cpp-httplib's stop() waits for every connection (connection_cut.h).
    // Idle ones (between requests, or before a request's headers came) are
    // cut at once; one serving a request (reading its body, storing its
    // events, writing the answer; a request let in before the drain is
    // served) has until the drain's deadline, when it is cut too: the read
    // timeout is per read, so a client that trickles its body would hold the
    // exit for as long as it keeps on.
    const auto cut_at = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(std::max<std::int64_t>(
                            deadline - clock_->NowMs(), 0));
    std::future<void> stopped = http_stopped_.get_future();
    // stop() does nothing before the listening thread runs (a start-up
    // that failed just after StartHttp).
    while (!http_server_->is_running() &&
           stopped.wait_for(std::chrono::milliseconds(1)) !=
               std::future_status::ready) {
    }
    http_server_->stop();
    bool logged = false;
    do {
      if (std::chrono::steady_clock::now() < cut_at) {
        // A connection whose next request has arrived, unread yet, is left
        // to reach the guard, which answers it 503 rather than a reset.
        CutConnectionsOnPort(http_port_, [this](const Connection& c) {
          return c.unread || http_requests_.Serving(c.peer);
        });
      } else if (const int cut = CutConnectionsOnPort(http_port_);
                 cut > 0 && !logged) {
        // Once: a connection cut is still found until its thread closes it.
        logged = true;
        LogInfo("http_connections_cut",
                {{"connections", absl::StrCat(cut)},
                 {"message",
                  "still serving a request at the drain's "
                  "deadline"}});
      }
    } while (stopped.wait_for(std::chrono::milliseconds(20)) !=
             std::future_status::ready);
    http_thread_.join();
  }
  if (spool_) spool_->Shutdown();
  if (served) {
    LogInfo("gateway_stopped",
            {{"queued", absl::StrCat(spool_ ? spool_->QueuedCount() : 0)}});
  }
}

Gateway::~Gateway() { Drain(); }

}  // namespace conversions::service
