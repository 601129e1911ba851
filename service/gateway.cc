#include "service/gateway.h"

#include <google/protobuf/util/json_util.h>
#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <httplib.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "grpc/health/v1/health.pb.h"
#include "mapping/json_writer.h"
#include "mapping/request_encoder.h"
#include "service/address.h"
#include "service/caller_auth.h"
#include "service/event_ingestor.h"
#include "service/http_threads.h"
#include "service/json_input.h"
#include "service/log.h"
#include "service/parse_error_interceptor.h"
#include "service/tls_server.h"
#include "service/track_json.h"
#include "service/track_request.h"

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

std::string ErrorJson(const absl::Status& status) {
  std::string message;
  mapping::AppendJsonString(
      std::string_view(status.message().data(), status.message().size()),
      &message);
  return absl::StrCat("{\"error\":{\"code\":\"",
                      absl::StatusCodeToString(status.code()),
                      "\",\"message\":", message, "}}\n");
}

// Whether `type` (a Content-Type) is application/json (any case) in
// UTF-8: with no charset parameter, or charset utf-8 (RFC 8259 §8.1: JSON
// exchanged between systems is UTF-8; a body in another charset would be
// read as UTF-8 all the same).
bool IsJsonMediaType(std::string_view type) {
  const absl::string_view whole(type.data(), type.size());
  std::vector<absl::string_view> parts = absl::StrSplit(whole, ';');
  if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(parts[0]),
                              "application/json")) {
    return false;
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    absl::string_view param = absl::StripAsciiWhitespace(parts[i]);
    const size_t equals = param.find('=');
    if (equals == absl::string_view::npos) continue;
    if (!absl::EqualsIgnoreCase(
            absl::StripAsciiWhitespace(param.substr(0, equals)), "charset")) {
      continue;
    }
    absl::string_view charset =
        absl::StripAsciiWhitespace(param.substr(equals + 1));
    if (charset.size() >= 2 && charset.front() == '"' &&
        charset.back() == '"') {
      charset = charset.substr(1, charset.size() - 2);
    }
    // "utf8" is a common label for it (WHATWG's Encoding standard takes
    // it), and US-ASCII text is UTF-8.
    if (!absl::EqualsIgnoreCase(charset, "utf-8") &&
        !absl::EqualsIgnoreCase(charset, "utf8") &&
        !absl::EqualsIgnoreCase(charset, "us-ascii")) {
      return false;
    }
  }
  return true;
}

// Threads that serve HTTP connections at most (http_threads.h): as many
// connections are served at once, probes and scrapes included.
constexpr size_t kMaxHttpConnectionThreads = 128;

std::string JoinHostPort(const std::string& host, int port) {
  return host.find(':') != std::string::npos
             ? absl::StrCat("[", host, "]:", port)
             : absl::StrCat(host, ":", port);
}

// The request's credentials: its Authorization header, "" when there is
// none, kSeveralCredentials when there are several.
std::string AuthorizationOf(const httplib::Request& req) {
  if (req.get_header_value_count("Authorization") > 1) {
    return std::string(kSeveralCredentials);
  }
  return req.get_header_value("Authorization");
}

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

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

namespace {

// Why nothing can be made in the folder `dir` ("" when something can): a
// folder made and removed at once. access() says yes for root wherever the
// mode bits do, also on /proc or /sys, where nothing can be made.
std::string CannotMakeIn(const std::string& dir) {
  std::string probe = dir + "/.conversions-check-XXXXXX";
  if (mkdtemp(probe.data()) == nullptr) {
    return absl::StrCat("cannot create it in ", dir, ": ",
                        std::strerror(errno));
  }
  rmdir(probe.c_str());
  return "";
}

// Why `path` cannot be written as the spool wants it ("" when it can): an
// existing file or folder must be writable; a missing one is made with
// the folders above it (as Spool::Open does), so something must be made
// in the nearest folder that exists.
std::string UnwritableReason(const std::string& path, bool folder) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (folder ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
      return absl::StrCat(path, " is not a ", folder ? "folder" : "file");
    }
    const int mode = folder ? (W_OK | X_OK) : (R_OK | W_OK);
    if (access(path.c_str(), mode) != 0) {
      return absl::StrCat(path, ": ", std::strerror(errno));
    }
    if (folder) {
      if (std::string reason = CannotMakeIn(path); !reason.empty()) {
        return absl::StrCat(path, ": ", reason);
      }
    }
    return "";
  }
  if (errno != ENOENT) return absl::StrCat(path, ": ", std::strerror(errno));
  std::filesystem::path ancestor =
      std::filesystem::absolute(path).lexically_normal().parent_path();
  int error = 0;
  while (stat(ancestor.c_str(), &st) != 0) {
    error = errno;
    if (error != ENOENT || !ancestor.has_relative_path()) break;
    ancestor = ancestor.parent_path();
    error = 0;
  }
  if (error != 0) {
    return absl::StrCat(path, ": ", ancestor.string(), ": ",
                        std::strerror(error));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::StrCat(path, ": ", ancestor.string(), " is not a folder");
  }
  if (access(ancestor.c_str(), W_OK | X_OK) != 0) {
    return absl::StrCat(path, ": cannot create it in ", ancestor.string(), ": ",
                        std::strerror(errno));
  }
  if (std::string reason = CannotMakeIn(ancestor.string()); !reason.empty()) {
    return absl::StrCat(path, ": ", reason);
  }
  return "";
}

// Why a socket cannot be bound to `at` (": Address already in use"), for
// the message of a listener that failed to start, which neither gRPC nor
// cpp-httplib explains; "" when a bind now succeeds (the failure was
// elsewhere, or the port was freed since).
std::string BindProblem(const HostPort& at) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port = absl::StrCat(at.port);
  if (int e = getaddrinfo(at.host.c_str(), port.c_str(), &hints, &found);
      e != 0) {
    return absl::StrCat(": ", gai_strerror(e));
  }
  std::string problem;
  for (addrinfo* a = found; a != nullptr && problem.empty(); a = a->ai_next) {
    int sock = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (sock < 0) {
      problem = absl::StrCat(": ", std::strerror(errno));
      continue;
    }
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (bind(sock, a->ai_addr, a->ai_addrlen) != 0) {
      problem = absl::StrCat(": ", std::strerror(errno));
    }
    close(sock);
  }
  freeaddrinfo(found);
  return problem;
}

}  // namespace

absl::Status Gateway::CheckConfig(const GatewayConfig& config) {
  std::vector<std::string> problems;
  for (const DestinationConfig& d : config.destinations) {
    absl::StatusOr<mapping::CompiledTagMapping> compiled =
        CompileDestinationTagMapping(d);
    if (!compiled.ok()) problems.emplace_back(compiled.status().message());
  }
  if (config.tls.enabled()) {
    absl::StatusOr<std::unique_ptr<httplib::Server>> tls =
        MakeTlsServer(config.tls);
    if (!tls.ok()) {
      problems.push_back(absl::StrCat("tls: ", tls.status().message()));
    }
  }
  for (const auto& [path, folder] :
       {std::pair{config.spool.path, false},
        std::pair{config.spool.path + ".payloads", true}}) {
    std::string reason = UnwritableReason(path, folder);
    if (!reason.empty()) problems.push_back("spool.path: " + reason);
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrJoin(problems, "\n"));
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
      "Dead letters held, per destination and reason (rejected, expired): "
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
          for (DeadReason reason :
               {DeadReason::kRejected, DeadReason::kExpired}) {
            double n = 0;
            for (const DeadLetterCount& c : *counts) {
              if (c.destination == d.name && c.reason == reason) {
                n = static_cast<double>(c.count);
              }
            }
            samples.push_back(
                {{d.name,
                  reason == DeadReason::kRejected ? "rejected" : "expired"},
                 n});
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

absl::Status Gateway::StartHttp() {
  absl::StatusOr<HostPort> listen = ParseHostPort(config_.http_listen);
  if (!listen.ok()) return listen.status();
  if (config_.tls.enabled()) {
    absl::StatusOr<std::unique_ptr<httplib::Server>> tls =
        MakeTlsServer(config_.tls);
    if (!tls.ok()) return tls.status();
    http_server_ = *std::move(tls);
  } else {
    http_server_ = std::make_unique<httplib::Server>();
  }
  // A thread per open connection, up to a bound (see http_threads.h).
  http_server_->new_task_queue = [] {
    return new HttpThreads(kMaxHttpConnectionThreads);
  };
  // Before any body is read: only POST /v1/track takes one, only with a
  // Content-Length (cpp-httplib reads a chunked body, or one that runs to
  // the end of the connection, into memory whatever its size), and only
  // from a caller that may send events.
  // Each request is in progress from here (or from the 100-continue
  // handler, below) until its response is written (the logger), for the
  // drain (see Drain).
  http_server_->set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        // Told "100 Continue", the request passed the guard then: it is
        // not refused now that its body comes (the drain may have begun in
        // between). The test is cpp-httplib's own.
        if (req.get_header_value("Expect") == "100-continue") {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        http_requests_.Begin({req.remote_addr, req.remote_port});
        return GuardHttpRequest(req, res)
                   ? httplib::Server::HandlerResponse::Unhandled
                   : httplib::Server::HandlerResponse::Handled;
      });
  // The logger runs once the response is written (post-routing runs
  // before): a response still being sent is a request in progress.
  http_server_->set_logger(
      [this](const httplib::Request& req, const httplib::Response&) {
        http_requests_.End({req.remote_addr, req.remote_port});
      });
  // A client that asks before sending the body (Expect: 100-continue, as
  // curl does for large bodies) hears the refusal instead of "go ahead";
  // cpp-httplib asks this before the pre-routing handler, and answers a
  // status other than 100 without routing the request.
  http_server_->set_expect_100_continue_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        http_requests_.Begin({req.remote_addr, req.remote_port});
        if (GuardHttpRequest(req, res)) return 100;
        // This path of cpp-httplib sends no Content-Length of its own (the
        // routed path does), and without one the client reads to the end.
        res.set_header("Content-Length", std::to_string(res.body.size()));
        return res.status;
      });
  http_server_->Get("/healthz",
                    [](const httplib::Request&, httplib::Response& res) {
                      res.set_content("ok\n", "text/plain");
                    });
  // /readyz?exclude=paused (as kube-apiserver's /readyz?exclude=...)
  // leaves paused destinations out: the gateway still queues their events,
  // and a key revoked for one destination then does not take every replica
  // out of the Services, with the other destinations' intake.
  http_server_->Get(
      "/readyz", [this](const httplib::Request& req, httplib::Response& res) {
        bool ignore_paused = false;
        const size_t excludes = req.get_param_value_count("exclude");
        for (size_t i = 0; i < excludes; ++i) {
          const std::string check = req.get_param_value("exclude", i);
          if (check != "paused") {
            res.status = 400;
            res.set_content(
                absl::StrCat("unknown readiness check \"", check.substr(0, 64),
                             "\" in exclude; the one that can be excluded is "
                             "\"paused\"\n"),
                "text/plain");
            return;
          }
          ignore_paused = true;
        }
        res.status = Ready(ignore_paused) ? 200 : 503;
        res.set_content(ReadinessReport(ignore_paused), "text/plain");
      });
  http_server_->Post(
      "/v1/track", [this](const httplib::Request& req, httplib::Response& res) {
        // The headers were checked before the body was read (GuardHttpRequest).
        int status = 500;
        std::string body;
        HandleTrack(req.body, AuthorizationOf(req), &status, &body);
        res.status = status;
        if (status == 401) res.set_header("WWW-Authenticate", "Bearer");
        res.set_content(body, "application/json");
      });
  http_server_->Get(
      "/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics_.Render(),
                        "text/plain; version=0.0.4; charset=utf-8");
      });
  // Without TCP_NODELAY, a response written in two parts (headers, then
  // body) waits for the client's delayed ACK of the first: about 40 ms per
  // request on a keep-alive connection (Nagle's algorithm). Accepted
  // sockets inherit it from the listening one.
  http_server_->set_tcp_nodelay(true);
  // The same bound as a gRPC request; larger bodies are refused with 413
  // before they are read into memory.
  http_server_->set_payload_max_length(
      static_cast<size_t>(config_.grpc.max_receive_message_bytes));
  // Errors cpp-httplib answers itself (unknown path, body too large, bad
  // request line) get a JSON body like the handlers' own errors.
  http_server_->set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        absl::Status error;
        if (res.status == 404) {
          error = absl::NotFoundError(absl::StrCat(
              "no such endpoint: ", req.method, " ", req.path.substr(0, 200),
              "; see /healthz, /readyz, /metrics and POST /v1/track"));
        } else if (res.status == 413) {
          if (req.path == "/v1/track") {
            metrics_.requests_refused.Add({"http_track", "too_large"});
          }
          error = absl::ResourceExhaustedError(
              absl::StrCat("request body larger than ",
                           config_.grpc.max_receive_message_bytes,
                           " bytes (grpc.max_receive_message_bytes)"));
        } else {
          error = absl::UnknownError(absl::StrCat("HTTP ", res.status));
        }
        res.set_content(ErrorJson(error), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  // cpp-httplib's default sets SO_REUSEPORT (see StartGrpc); keep only
  // SO_REUSEADDR, so that a restart can rebind at once. The socket is
  // remembered for the backlog below.
  int listen_socket = -1;
  http_server_->set_socket_options([&listen_socket](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_socket = sock;
  });
  int port = listen->port;
  if (port == 0) {
    port = http_server_->bind_to_any_port(listen->host);
  } else if (!http_server_->bind_to_port(listen->host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ",
                                               config_.http_listen,
                                               BindProblem(*listen)));
  }
  // cpp-httplib listens with a backlog of 5: a burst of new connections
  // (clients posting to /v1/track, a restart of many probes) beyond it
  // waits for SYN retransmits, a second and more. Listening again on the
  // same socket raises the backlog in place (Linux); the kernel caps it at
  // net.core.somaxconn, as it does gRPC's.
  http_server_->set_socket_options([](socket_t) {});  // drops the capture
  if (listen_socket >= 0 && ::listen(listen_socket, SOMAXCONN) != 0) {
    LogWarn("http_backlog_not_raised",
            {{"error", std::strerror(errno)},
             {"message", "the HTTP port keeps cpp-httplib's backlog of 5"}});
  }
  http_address_ = JoinHostPort(listen->host, port);
  http_port_ = port;
  http_thread_ = std::thread([this] {
    http_server_->listen_after_bind();
    http_stopped_.set_value();
  });
  return absl::OkStatus();
}

bool Gateway::GuardHttpRequest(const httplib::Request& req,
                               httplib::Response& res) {
  auto refuse = [&res](int status, const absl::Status& error) {
    res.status = status;
    // The body, if any, is not read: the connection cannot carry another
    // request.
    res.set_header("Connection", "close");
    res.set_content(ErrorJson(error), "application/json");
    return false;
  };
  const bool track = req.path == "/v1/track";
  const bool probe =
      req.path == "/healthz" || req.path == "/readyz" || req.path == "/metrics";
  // A method a path does not take is UNIMPLEMENTED, as gRPC-gateway answers
  // it (an INVALID_ARGUMENT would send a client to its request's content).
  if (track && req.method != "POST") {
    res.set_header("Allow", "POST");
    return refuse(
        405, absl::UnimplementedError("/v1/track takes POST with a JSON body"));
  }
  if (probe && req.method != "GET" && req.method != "HEAD") {
    res.set_header("Allow", "GET, HEAD");
    return refuse(405, absl::UnimplementedError(
                           absl::StrCat(req.path, " takes GET (or HEAD)")));
  }
  if (!track && !probe) {
    // cpp-httplib reads the body of a POST, PUT, PATCH or DELETE before it
    // finds no route, a chunked one whatever its size.
    if (req.method == "GET" || req.method == "HEAD") return true;  // its 404
    return refuse(
        404, absl::NotFoundError(absl::StrCat(
                 "no such endpoint: ", req.method, " ", req.path.substr(0, 200),
                 "; see /healthz, /readyz, /metrics and POST "
                 "/v1/track")));
  }
  if (!track) return true;  // GET or HEAD of a probe
  // Draining: said before the body is read, as gRPC refuses a new call.
  if (absl::Status serving = ingestor_->CheckServing("http_track");
      !serving.ok()) {
    return refuse(HttpStatusOf(serving.code()), serving);
  }
  if (req.has_header("Transfer-Encoding") ||
      !req.has_header("Content-Length")) {
    metrics_.requests_refused.Add({"http_track", "length_required"});
    return refuse(411, absl::InvalidArgumentError(
                           "POST /v1/track needs a Content-Length: send the "
                           "body whole, not chunked"));
  }
  if (config_.tls.verifies_clients() && !HasVerifiedClientCertificate(req)) {
    // Mutual TLS: the connection carried no client certificate.
    metrics_.requests_denied.Add({"http_track", "no_client_certificate"});
    return refuse(401, absl::UnauthenticatedError(
                           "a client certificate signed by a CA of "
                           "tls.client_ca_file is required"));
  }
  absl::StatusOr<const Caller*> caller =
      ingestor_->Authenticate(AuthorizationOf(req), "http_track");
  if (!caller.ok()) {
    res.set_header("WWW-Authenticate", "Bearer");
    return refuse(HttpStatusOf(caller.status().code()), caller.status());
  }
  // Two lengths leave the body's end to whoever reads the request: a proxy
  // in front may take the other one (request smuggling; RFC 9112 §6.3).
  if (req.get_header_value_count("Content-Length") > 1) {
    metrics_.requests_refused.Add({"http_track", "invalid_request"});
    return refuse(
        400, absl::InvalidArgumentError("POST /v1/track carries more than one "
                                        "Content-Length"));
  }
  // Too large is said now, from the header: cpp-httplib would read the
  // whole body (and throw it away) before its own 413, holding one of the
  // connection threads for as long as the client keeps sending.
  const std::string length = req.get_header_value("Content-Length");
  std::uint64_t bytes = 0;
  if (!absl::SimpleAtoi(length, &bytes) || length.empty() ||
      length.front() < '0' || length.front() > '9') {
    metrics_.requests_refused.Add({"http_track", "invalid_request"});
    return refuse(400, absl::InvalidArgumentError(
                           "POST /v1/track: Content-Length is not a number "
                           "of bytes"));
  }
  if (bytes >
      static_cast<std::uint64_t>(config_.grpc.max_receive_message_bytes)) {
    metrics_.requests_refused.Add({"http_track", "too_large"});
    return refuse(413, absl::ResourceExhaustedError(absl::StrCat(
                           "request body of ", bytes, " bytes is larger than ",
                           config_.grpc.max_receive_message_bytes,
                           " bytes (grpc.max_receive_message_bytes)")));
  }
  // cpp-httplib inflates a gzip, deflate or br body as it reads it, and
  // bounds only the bytes received: a body of a few hundred kilobytes
  // could inflate to gigabytes. Only an uncompressed body is taken (RFC
  // 7694: 415, with the codings that are).
  if (const std::string coding = req.get_header_value("Content-Encoding");
      req.has_header("Content-Encoding") &&
      !absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(coding), "identity")) {
    metrics_.requests_refused.Add({"http_track", "unsupported_media_type"});
    res.set_header("Accept-Encoding", "identity");
    return refuse(415, absl::InvalidArgumentError(absl::StrCat(
                           "POST /v1/track takes an uncompressed body, not "
                           "Content-Encoding \"",
                           coding.substr(0, 40), "\"")));
  }
  // JSON only, checked before the body is read: besides saying what the
  // body is, it keeps browsers from posting here cross-site without a CORS
  // preflight (a form can send text/plain or form encoding, not
  // application/json).
  if (const std::string type = req.get_header_value("Content-Type");
      !IsJsonMediaType(type)) {
    metrics_.requests_refused.Add({"http_track", "unsupported_media_type"});
    return refuse(415, absl::InvalidArgumentError(absl::StrCat(
                           "Content-Type must be application/json (in "
                           "UTF-8), got \"",
                           type.substr(0, 100), "\"")));
  }
  return true;
}

void Gateway::HandleTrack(const std::string& body,
                          const std::string& authorization, int* status,
                          std::string* out) {
  absl::StatusOr<const Caller*> caller =
      ingestor_->Authenticate(authorization, "http_track");
  if (!caller.ok()) {
    *status = HttpStatusOf(caller.status().code());
    *out = ErrorJson(caller.status());
    return;
  }
  TrackEventsInput request;
  absl::Status error = ParseTrackEventsJson(body, &request);
  if (!error.ok()) ingestor_->CountRefused("http_track", "invalid_request");
  const DestinationConfig* destination = nullptr;
  if (error.ok()) {
    // The guard refused the request before its body was read if the
    // gateway was draining then: let in before, it is served, as a gRPC
    // call in flight is (the drain cuts its connection at the deadline).
    error = ingestor_->CheckRequest(request.event_count, "http_track",
                                    /*admitted_before_drain=*/true);
  }
  if (error.ok()) {
    absl::StatusOr<const DestinationConfig*> resolved =
        ingestor_->ResolveFor(*caller, request.destination, "http_track");
    if (resolved.ok()) {
      destination = *resolved;
    } else {
      error = resolved.status();
    }
  }
  if (!error.ok()) {
    *status = HttpStatusOf(error.code());
    *out = ErrorJson(error);
    return;
  }
  absl::Status store_status;
  std::vector<v1::EventResult> results;
  if (request.dry_run) {
    absl::StatusOr<std::vector<v1::EventResult>> dry =
        ingestor_->DryRunTrack(*destination, request, "http_track");
    if (dry.ok()) {
      results = *std::move(dry);
    } else {
      store_status = dry.status();
    }
  } else {
    std::promise<std::pair<absl::Status, std::vector<v1::EventResult>>> promise;
    auto future = promise.get_future();
    ingestor_->StoreTagTrees(
        *destination, request.events, request.validate_only, "http_track",
        [&promise](absl::Status s, std::vector<v1::EventResult> r) {
          promise.set_value({std::move(s), std::move(r)});
        });
    std::tie(store_status, results) = future.get();
  }
  if (!store_status.ok()) {
    *status = HttpStatusOf(store_status.code());
    *out = ErrorJson(store_status);
    return;
  }
  v1::TrackEventsResponse response;
  for (v1::EventResult& r : results) *response.add_results() = std::move(r);
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  print.always_print_primitive_fields = true;
  auto printed =
      google::protobuf::util::MessageToJsonString(response, out, print);
  if (!printed.ok()) {
    *status = 500;
    *out = ErrorJson(absl::InternalError("cannot encode the response"));
    return;
  }
  out->push_back('\n');
  *status = 200;
}

bool Gateway::Ready(bool ignore_paused) const {
  return started_ && !draining_ && dispatcher_ &&
         (ignore_paused || dispatcher_->PausedDestinations().empty()) &&
         !ingestor_->spool_disk_full();
}

std::string Gateway::ReadinessReport(bool ignore_paused) const {
  if (!started_) return "starting\n";
  if (draining_) return "draining\n";
  if (ingestor_->spool_disk_full()) {
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
    if (ingestor_->spool_disk_full() && SpoolDiskHasRoom()) {
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
