#include "tests/sandbox/sandbox.h"

#include <dirent.h>
#include <httplib.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/memory/memory.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/sandbox/accepted_batch.h"
#include "tests/sandbox/request_validator.h"

namespace conversions::sandbox {
namespace {

using ::nlohmann::json;

// Bodies above this size get 413 from httplib.
constexpr size_t kMaxBodyBytes = 64 * 1024 * 1024;
// A request scratch whose body buffer grew beyond this is not kept.
constexpr size_t kMaxKeptBodyBytes = 16 * 1024 * 1024;
// Idle keep-alive connections are closed after this long (seconds); it also
// bounds how long Shutdown() waits for an idle client.
constexpr time_t kKeepAliveSeconds = 1;

// JSON nested deeper than this is refused: nlohmann parses any depth, but
// dumping (to record an event) recurses once per level, and 75,000 levels
// overflowed the stack. The gateway's events nest about 100 levels at most
// (protobuf's recursion limit).
constexpr int kMaxJsonDepth = 1000;

// True if `body` opens more than `limit` arrays or objects inside one
// another (strings skipped); a scan, so any depth is safe to look at.
bool NestsDeeperThan(std::string_view body, int limit) {
  int depth = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '"') {
      for (++i; i < body.size() && body[i] != '"'; ++i) {
        if (body[i] == '\\') ++i;
      }
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(Dump(body), "application/json");
}

// The OpenAI error "type" for a status.
std::string ErrorTypeFor(int status) {
  if (status == 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

// Answers with an OpenAI-style error body:
// {"error": {"message", "type", "param", "code"}}.
void SendError(httplib::Response& res, int status, std::string message,
               std::string param = "", std::string code = "") {
  json error = {{"message", std::move(message)},
                {"type", ErrorTypeFor(status)},
                {"param", nullptr},
                {"code", nullptr}};
  if (!param.empty()) error["param"] = std::move(param);
  if (!code.empty()) error["code"] = std::move(code);
  SendJson(res, status, {{"error", std::move(error)}});
}

// True if `addr` is the numeric host `host` with port `port`, formatted the
// way httplib formats Request::remote_addr and local_addr.
bool SameEndpoint(const sockaddr_storage& addr, socklen_t len,
                  const std::string& host, int port) {
  char name[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, name,
                  sizeof(name), service, sizeof(service),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  return host == name && std::atoi(service) == port;
}

// Closes the connection that carries `req` without a response: the client
// reads end-of-file before any byte of a status line, as when a server
// crashes. httplib 0.11 gives a handler no handle on its socket, so this
// finds the socket by its address pair among the process's descriptors and
// shuts it down (httplib still owns and closes the descriptor; its attempt
// to write the response then fails). The search is exact: a TCP connection
// is the only socket with this local and remote address pair.
bool ShutDownConnection(const httplib::Request& req) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return false;
  bool found = false;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    int fd = std::atoi(entry->d_name);
    sockaddr_storage local{};
    socklen_t local_len = sizeof(local);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
        !SameEndpoint(local, local_len, req.local_addr, req.local_port)) {
      continue;
    }
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof(peer);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0 ||
        !SameEndpoint(peer, peer_len, req.remote_addr, req.remote_port)) {
      continue;
    }
    found = shutdown(fd, SHUT_RDWR) == 0;
    break;
  }
  closedir(dir);
  return found;
}

void DropConnection(const httplib::Request& req, httplib::Response& res) {
  if (ShutDownConnection(req)) return;
  // Fallback (no /proc): announce a body and fail to produce it, so httplib
  // closes the connection after the headers; clients still see a read error.
  res.set_content_provider(1, "application/json",
                           [](size_t /*offset*/, size_t /*length*/,
                              httplib::DataSink& /*sink*/) { return false; });
}

// "Bearer KEY" with the scheme matched case-insensitively (RFC 6750).
bool HasBearerKey(const std::string& authorization, const std::string& key) {
  constexpr absl::string_view kScheme = "bearer ";
  return authorization.size() == kScheme.size() + key.size() &&
         absl::StartsWithIgnoreCase(authorization, kScheme) &&
         absl::string_view(authorization).substr(kScheme.size()) == key;
}

// True if an event of `batch` has one of `poison_ids`.
bool HasPoisonId(const AcceptedBatch& batch,
                 const std::vector<std::string>& poison_ids) {
  for (const AcceptedEvent& event : batch.events) {
    if (std::find(poison_ids.begin(), poison_ids.end(), event.id) !=
        poison_ids.end()) {
      return true;
    }
  }
  return false;
}

bool IsJsonContentType(const std::string& content_type) {
  absl::string_view media =
      absl::string_view(content_type).substr(0, content_type.find(';'));
  return absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(media),
                                "application/json");
}

}  // namespace

absl::StatusOr<std::unique_ptr<Sandbox>> Sandbox::Start(
    SandboxOptions options) {
  if (options.api_key.empty()) {
    return absl::InvalidArgumentError("api_key must not be empty");
  }
  if (options.pixel_ids.empty()) {
    return absl::InvalidArgumentError("pixel_ids must not be empty");
  }
  for (const std::string& pixel_id : options.pixel_ids) {
    if (pixel_id.empty()) {
      return absl::InvalidArgumentError("pixel ids must not be empty");
    }
  }
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError("port must be in [0, 65535]");
  }
  if (options.threads < 1) {
    return absl::InvalidArgumentError("threads must be at least 1");
  }
  if (!options.now_ms) {
    options.now_ms = [] { return absl::ToUnixMillis(absl::Now()); };
  }
  auto sandbox = absl::WrapUnique(new Sandbox(std::move(options)));
  absl::Status status = sandbox->Listen();
  if (!status.ok()) return status;
  return sandbox;
}

Sandbox::Sandbox(SandboxOptions options) : options_(std::move(options)) {}

Sandbox::~Sandbox() { Shutdown(); }

absl::Status Sandbox::Listen() {
  server_ = std::make_unique<httplib::Server>();
  const size_t threads = static_cast<size_t>(options_.threads);
  server_->new_task_queue = [threads] {
    return new httplib::ThreadPool(threads);
  };
  // httplib's default sets SO_REUSEPORT, which lets a second server bind the
  // same port and silently take half the connections. SO_REUSEADDR only.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server_->set_keep_alive_timeout(kKeepAliveSeconds);
  // Answer without waiting for the client's delayed ACK (Nagle).
  server_->set_tcp_nodelay(true);
  server_->set_payload_max_length(kMaxBodyBytes);

  server_->Post("/v1/events",
                [this](const httplib::Request& req, httplib::Response& res,
                       const httplib::ContentReader& read_content) {
                  ServeEvents(req, res, read_content);
                });
  server_->Get("/_sandbox/events",
               [this](const httplib::Request& req, httplib::Response& res) {
                 HandleGetEvents(req, res);
               });
  server_->Get("/_sandbox/stats",
               [this](const httplib::Request&, httplib::Response& res) {
                 SendJson(res, 200, Stats());
               });
  // Reset takes no body. With a plain handler httplib reads a POST without
  // Content-Length until the connection closes, so `curl -X POST` got a 400
  // after its timeout; this reads a body only when one is announced.
  server_->Post("/_sandbox/reset",
                [this](const httplib::Request& req, httplib::Response& res,
                       const httplib::ContentReader& read_content) {
                  if (req.has_header("Content-Length") ||
                      req.has_header("Transfer-Encoding")) {
                    read_content([](const char*, size_t) { return true; });
                  }
                  Reset();
                  SendJson(res, 200, {{"ok", true}});
                });
  server_->Post("/_sandbox/faults",
                [this](const httplib::Request& req, httplib::Response& res) {
                  HandleSetFaults(req, res);
                });
  server_->Get("/_sandbox/faults",
               [this](const httplib::Request&, httplib::Response& res) {
                 SendJson(res, 200, FaultsToJson(PendingFaults()));
               });
  server_->Delete("/_sandbox/faults",
                  [this](const httplib::Request&, httplib::Response& res) {
                    ClearFaults();
                    SendJson(res, 200, FaultsToJson(PendingFaults()));
                  });
  // Unrouted requests (404, 405, 413, ...) get an OpenAI-style body too.
  server_->set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        // A handler that threw is a 500 of the sandbox's own, not a
        // client's mistake.
        const char* what =
            res.status == 413   ? "The request body is too large"
            : res.status == 400 ? "We could not read the request"
            : res.status >= 500
                ? "The server had an error while processing your request"
                : "Invalid URL";
        SendError(res, res.status,
                  absl::StrCat(what, " (", req.method, " ", req.path, ")"));
        return httplib::Server::HandlerResponse::Handled;
      }));

  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
  } else if (!server_->bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot bind ", options_.host, ":", options_.port));
  }
  port_ = port;

  listen_thread_ = std::thread([this] {
    // A client that goes away before its answer makes the write raise
    // SIGPIPE; block it here, and so in the worker threads this thread
    // creates, instead of changing the process's disposition.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    server_->listen_after_bind();
    listen_returned_ = true;
  });
  // httplib's stop() is a no-op until the accept loop runs, so Shutdown()
  // must not race ahead of it. The socket already listens, so this wait is
  // only for the thread to start.
  while (!server_->is_running() && !listen_returned_) {
    std::this_thread::yield();
  }
  return absl::OkStatus();
}

void Sandbox::Shutdown() {
  std::call_once(shutdown_once_, [this] { DoShutdown(); });
}

void Sandbox::DoShutdown() {
  {
    absl::MutexLock lock(&shutdown_mu_);
    shutting_down_ = true;
  }
  if (server_ != nullptr) server_->stop();
  if (listen_thread_.joinable()) listen_thread_.join();
}

void Sandbox::Delay(int64_t ms) {
  absl::MutexLock lock(&shutdown_mu_);
  shutdown_mu_.AwaitWithTimeout(absl::Condition(&shutting_down_),
                                absl::Milliseconds(ms));
}

struct Sandbox::RequestScratch {
  std::string body;
  BatchParser parser;
};

std::unique_ptr<Sandbox::RequestScratch> Sandbox::TakeScratch() {
  {
    absl::MutexLock lock(&scratch_mu_);
    if (!free_scratches_.empty()) {
      std::unique_ptr<RequestScratch> scratch =
          std::move(free_scratches_.back());
      free_scratches_.pop_back();
      return scratch;
    }
  }
  return std::make_unique<RequestScratch>();
}

void Sandbox::ReturnScratch(std::unique_ptr<RequestScratch> scratch) {
  scratch->body.clear();
  // An exceptionally large body is not worth keeping memory for.
  if (scratch->body.capacity() > kMaxKeptBodyBytes) {
    std::string().swap(scratch->body);
  }
  absl::MutexLock lock(&scratch_mu_);
  if (free_scratches_.size() < static_cast<size_t>(options_.threads)) {
    free_scratches_.push_back(std::move(scratch));
  }
}

void Sandbox::ServeEvents(const httplib::Request& req, httplib::Response& res,
                          const httplib::ContentReader& read_content) {
  // The body is read before anything else, as httplib reads req.body before
  // calling a plain handler; what follows mirrors that reading
  // (Server::read_content in httplib 0.11), so clients see no difference.
  std::unique_ptr<RequestScratch> scratch = TakeScratch();
  std::string& body = scratch->body;
  bool read = false;
  if (req.is_multipart_form_data()) {
    // httplib keeps the parts in req.files and leaves req.body empty; the
    // sandbox reads neither (the content type is not JSON).
    read = read_content(
        [](const httplib::MultipartFormData& /*part*/) { return true; },
        [](const char* /*data*/, size_t /*size*/) { return true; });
  } else {
    size_t length = 0;
    if (absl::SimpleAtoi(req.get_header_value("Content-Length"), &length) &&
        length <= kMaxBodyBytes) {
      body.reserve(length);
    }
    read = read_content([&body](const char* data, size_t size) {
      body.append(data, size);
      return true;
    });
  }
  if (!read) {
    // httplib set the status (400, 413, ...); its error handler words it.
    ReturnScratch(std::move(scratch));
    return;
  }
  if (req.get_header_value("Content-Type")
          .find("application/x-www-form-urlencoded") == 0) {
    // httplib parses a form-encoded body into the query parameters.
    if (body.size() > CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH) {
      res.status = 413;
    } else {
      httplib::Request form = req;
      form.body = body;
      httplib::detail::parse_query_text(form.body, form.params);
      AnswerEvents(form, form.body, scratch->parser, res);
    }
    ReturnScratch(std::move(scratch));
    return;
  }
  AnswerEvents(req, body, scratch->parser, res);
  ReturnScratch(std::move(scratch));
}

void Sandbox::HandleEvents(const httplib::Request& req,
                           httplib::Response& res) {
  std::unique_ptr<RequestScratch> scratch = TakeScratch();
  AnswerEvents(req, req.body, scratch->parser, res);
  ReturnScratch(std::move(scratch));
}

void Sandbox::AnswerEvents(const httplib::Request& req, absl::string_view body,
                           BatchParser& parser, httplib::Response& res) {
  // Take this request's faults out under the lock; act on them after.
  FaultAction action = FaultAction::kNone;
  InjectedStatus injected;
  int64_t latency_ms = 0;
  std::vector<std::string> poison_ids;
  int request_number = 0;
  {
    absl::MutexLock lock(&mu_);
    request_number = ++request_count_;
    latency_ms = faults_.latency.count();
    if (faults_.drop_connections > 0) {
      --faults_.drop_connections;
      action = FaultAction::kDrop;
    } else if (faults_.auth_failures > 0) {
      --faults_.auth_failures;
      action = FaultAction::kAuthFailure;
    } else if (!faults_.status_sequence.empty()) {
      injected = faults_.status_sequence.front();
      faults_.status_sequence.erase(faults_.status_sequence.begin());
      action = FaultAction::kStatus;
    }
    poison_ids = faults_.poison_ids;
  }
  res.set_header("x-request-id", absl::StrCat("req_sandbox_", request_number));
  if (latency_ms > 0) Delay(latency_ms);

  switch (action) {
    case FaultAction::kDrop:
      DropConnection(req, res);
      return;
    case FaultAction::kAuthFailure:
      SendError(res, 401, "Incorrect API key provided.", "", "invalid_api_key");
      return;
    case FaultAction::kStatus:
      if (!injected.retry_after.empty()) {
        res.set_header("Retry-After", injected.retry_after);
      }
      SendError(res, injected.status,
                absl::StrCat("The sandbox answered ", injected.status,
                             " (status_sequence fault)."));
      return;
    case FaultAction::kNone:
      break;
  }

  // Auth. The key is never echoed.
  const std::string authorization = req.get_header_value("Authorization");
  if (authorization.empty()) {
    SendError(res, 401,
              "You didn't provide an API key. Send it in the Authorization "
              "header as 'Authorization: Bearer KEY'.",
              "", "missing_api_key");
    return;
  }
  if (!HasBearerKey(authorization, options_.api_key)) {
    SendError(res, 401, "Incorrect API key provided.", "", "invalid_api_key");
    return;
  }

  // Pixel.
  const std::string pixel_id = req.get_param_value("pid");
  if (pixel_id.empty()) {
    SendError(res, 400, "Missing required query parameter: pid", "pid");
    return;
  }
  if (std::find(options_.pixel_ids.begin(), options_.pixel_ids.end(),
                pixel_id) == options_.pixel_ids.end()) {
    SendError(res, 400, "pid: unknown pixel id", "pid");
    return;
  }

  // Body.
  if (!IsJsonContentType(req.get_header_value("Content-Type"))) {
    SendError(res, 400, "Content-Type must be application/json");
    return;
  }
  const int64_t now_ms = options_.now_ms();
  if (options_.fast_path) {
    // Most batches are valid: try RapidJSON first. nullopt means invalid or
    // unsure, and the nlohmann path below decides and words the answer.
    std::optional<AcceptedBatch> batch = parser.Parse(
        body, now_ms, options_.keep_events || options_.on_event != nullptr);
    if (batch.has_value() && !HasPoisonId(*batch, poison_ids)) {
      const size_t received = batch->events.size();
      if (!batch->validate_only) Record(pixel_id, std::move(batch->events));
      SendJson(res, 200, {{"events_received", received}});
      return;
    }
  }

  if (NestsDeeperThan({body.data(), body.size()}, kMaxJsonDepth)) {
    SendError(res, 400,
              absl::StrCat("We could not parse the JSON body of your "
                           "request: it nests arrays and objects deeper than ",
                           kMaxJsonDepth, " levels."));
    return;
  }
  const json parsed = json::parse(body.begin(), body.end(), /*cb=*/nullptr,
                                  /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    SendError(res, 400, "We could not parse the JSON body of your request.");
    return;
  }

  BatchCheck check = ValidateEventsBody(parsed, now_ms);
  if (!poison_ids.empty() && parsed.is_object()) {
    auto events = parsed.find("events");
    if (events != parsed.end() && events->is_array() &&
        events->size() <= kMaxEventsPerBatch) {
      for (size_t i = 0; i < events->size(); ++i) {
        auto id = (*events)[i].is_object() ? (*events)[i].find("id")
                                           : (*events)[i].end();
        if (id != (*events)[i].end() && id->is_string() &&
            std::find(poison_ids.begin(), poison_ids.end(),
                      id->get_ref<const std::string&>()) != poison_ids.end()) {
          check.violations.push_back(
              {absl::StrCat("events[", i, "].id"),
               "rejected by the sandbox (poison_ids fault)"});
        }
      }
    }
  }
  if (!check.ok()) {
    SendError(res, 400, FormatViolations(check.violations),
              check.violations.front().field);
    return;
  }

  const json& events = parsed.at("events");
  if (!check.validate_only) {
    std::vector<AcceptedEvent> accepted(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      accepted[i].name = std::move(check.event_names[i]);
      accepted[i].id = events[i].at("id").get<std::string>();
      accepted[i].json = events[i].dump();
    }
    Record(pixel_id, std::move(accepted));
  }
  SendJson(res, 200, {{"events_received", events.size()}});
}

absl::string_view Sandbox::KeyArena::Store(absl::string_view key) {
  if (key.size() > kBlockBytes) {
    // Too big for a block: a string of its own (a deque never moves them).
    return oversized_.emplace_back(key);
  }
  if (kBlockBytes - used_ < key.size()) {
    // Not make_unique: it would zero the block first.
    blocks_.push_back(std::unique_ptr<char[]>(new char[kBlockBytes]));
    used_ = 0;
  }
  char* stored = blocks_.back().get() + used_;
  std::memcpy(stored, key.data(), key.size());
  used_ += key.size();
  return absl::string_view(stored, key.size());
}

void Sandbox::KeyArena::Clear() {
  blocks_.clear();
  oversized_.clear();
  used_ = kBlockBytes;
}

void Sandbox::Record(const std::string& pixel_id,
                     std::vector<AcceptedEvent> events) {
  // The dedup keys, built before taking the lock, end to end in one buffer.
  std::string keys;
  std::vector<size_t> key_ends;
  key_ends.reserve(events.size());
  for (const AcceptedEvent& event : events) {
    absl::StrAppend(&keys, pixel_id, absl::string_view("\0", 1), event.name,
                    absl::string_view("\0", 1), event.id);
    key_ends.push_back(keys.size());
  }
  absl::MutexLock lock(&mu_);
  batch_sizes_.push_back(static_cast<int>(events.size()));
  batch_events_ += static_cast<std::int64_t>(events.size());
  size_t key_begin = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const absl::string_view key(keys.data() + key_begin,
                                key_ends[i] - key_begin);
    key_begin = key_ends[i];
    // First received wins: a known pixel + event name + id is not recorded
    // again. A new key's bytes are copied into the arena.
    bool is_new = false;
    dedup_keys_.lazy_emplace(key, [&](const auto& construct) {
      is_new = true;
      construct(key_arena_.Store(key));
    });
    if (!is_new) continue;
    ++recorded_count_;
    last_event_ms_ = options_.now_ms();
    if (first_event_ms_ == 0) first_event_ms_ = last_event_ms_;
    if (options_.on_event)
      options_.on_event(pixel_id, json::parse(events[i].json));
    if (options_.keep_events) {
      recorded_.push_back({pixel_id, std::move(events[i].json)});
    }
  }
}

void Sandbox::HandleGetEvents(const httplib::Request& req,
                              httplib::Response& res) const {
  if (!req.has_param("pid")) {
    SendJson(res, 200, Snapshot());
    return;
  }
  json snapshot = AcceptedEventsForPixel(req.get_param_value("pid"));
  absl::MutexLock lock(&mu_);
  SendJson(res, 200,
           {{"events", std::move(snapshot)},
            {"requests", request_count_},
            {"batches", batch_sizes_}});
}

void Sandbox::HandleSetFaults(const httplib::Request& req,
                              httplib::Response& res) {
  const json body = json::parse(req.body, /*cb=*/nullptr,
                                /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    SendError(res, 400, "We could not parse the JSON body of your request.");
    return;
  }
  absl::StatusOr<Faults> faults = FaultsFromJson(body);
  if (!faults.ok()) {
    SendError(res, 400, std::string(faults.status().message()));
    return;
  }
  SetFaults(*std::move(faults));
  SendJson(res, 200, FaultsToJson(PendingFaults()));
}

std::vector<json> Sandbox::AcceptedEvents() const {
  absl::MutexLock lock(&mu_);
  std::vector<json> events;
  events.reserve(recorded_.size());
  for (const Recorded& recorded : recorded_) {
    events.push_back(json::parse(recorded.event));
  }
  return events;
}

std::vector<json> Sandbox::AcceptedEventsForPixel(
    absl::string_view pixel_id) const {
  absl::MutexLock lock(&mu_);
  std::vector<json> events;
  for (const Recorded& recorded : recorded_) {
    if (recorded.pixel_id == pixel_id) {
      events.push_back(json::parse(recorded.event));
    }
  }
  return events;
}

int Sandbox::RequestCount() const {
  absl::MutexLock lock(&mu_);
  return request_count_;
}

std::vector<int> Sandbox::BatchSizes() const {
  absl::MutexLock lock(&mu_);
  return batch_sizes_;
}

json Sandbox::Snapshot() const {
  absl::MutexLock lock(&mu_);
  json events = json::array();
  for (const Recorded& recorded : recorded_) {
    events.push_back(json::parse(recorded.event));
  }
  return {{"events", std::move(events)},
          {"requests", request_count_},
          {"batches", batch_sizes_}};
}

json Sandbox::Stats() const {
  absl::MutexLock lock(&mu_);
  return {{"requests", request_count_},     {"events", recorded_count_},
          {"batches", batch_sizes_.size()}, {"batch_events", batch_events_},
          {"now_ms", options_.now_ms()},    {"first_event_ms", first_event_ms_},
          {"last_event_ms", last_event_ms_}};
}

void Sandbox::SetFaults(Faults faults) {
  absl::MutexLock lock(&mu_);
  faults_ = std::move(faults);
}

Faults Sandbox::PendingFaults() const {
  absl::MutexLock lock(&mu_);
  return faults_;
}

void Sandbox::Reset() {
  absl::MutexLock lock(&mu_);
  recorded_.clear();
  dedup_keys_.clear();
  key_arena_.Clear();
  batch_sizes_.clear();
  batch_events_ = 0;
  recorded_count_ = 0;
  first_event_ms_ = 0;
  last_event_ms_ = 0;
  request_count_ = 0;
  faults_ = Faults();
}

}  // namespace conversions::sandbox
