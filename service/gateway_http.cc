// Gateway's HTTP port (cpp-httplib): /healthz, /readyz, /metrics and
// POST /v1/track, with the guard that refuses a request before its body is
// read. The rest of Gateway is in gateway.cc.
#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "mapping/json_writer.h"
#include "service/address.h"
#include "service/caller_auth.h"
#include "service/event_ingestor.h"
#include "service/gateway.h"
#include "service/http_threads.h"
#include "service/json_input.h"
#include "service/log.h"
#include "service/tls_server.h"
#include "service/track_json.h"
#include "service/track_request.h"

namespace conversions::service {
namespace {

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
  // Two media types or codings leave what the body is to the reader, too.
  for (const char* field :
       {"Content-Length", "Content-Type", "Content-Encoding"}) {
    if (req.get_header_value_count(field) > 1) {
      metrics_.requests_refused.Add({"http_track", "invalid_request"});
      return refuse(400, absl::InvalidArgumentError(absl::StrCat(
                             "POST /v1/track carries more than one ", field)));
    }
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

}  // namespace conversions::service
