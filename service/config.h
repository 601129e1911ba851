// The gateway's configuration: one YAML file (DESIGN.md, "Configuration"),
// parsed and validated once at start-up into plain option structs.
//
// Every key has a default, so the binary also starts with no file. Parsing
// is strict: an unknown key, a value of the wrong type or out of range is an
// error that names the file, the line and the key path, for example
//
//   config.yaml:12: destinations[0].dispatcher: unknown key "lingr"
//
// Secrets (API keys, and pixel ids read from the environment) never live in
// the YAML: the file names an environment variable or a secret file, and the
// loader resolves it through an injected `Environment`. A secret that is
// missing is not a parse error (the run script starts the sandbox when no key
// is set); `ValidateForServing` rejects it before the gateway sends anything.
// No error message ever contains a secret value, and `Describe` is the only
// way to print a config: it redacts the API keys.
#ifndef CONVERSIONS_SERVICE_CONFIG_H_
#define CONVERSIONS_SERVICE_CONFIG_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conversions/v1/event.pb.h"
#include "mapping/tag_mapper.h"
#include "service/address.h"

namespace conversions::service {

// The mapping slots a destination's `field_mapping` may re-point, each named
// by its default source path in the tag-management event model
// (spec/tag-event-mapping.md section 3). `X` stands for the item index.
// Shared with the tag mapper so both agree on the slot names.
inline constexpr const auto& kFieldMappingSlots = mapping::kTagSlots;

// Log verbosity (`log_level`).
enum class LogLevel { kDebug, kInfo, kWarn, kError };

// SQLite's fsync policy for the spool (`spool.synchronous`).
enum class SpoolSynchronous {
  kFull,    // fsync on every commit: an acknowledged event survives power loss
  kNormal,  // fsync at WAL checkpoints only: faster, may lose recent commits
};

// gRPC server tuning (`grpc:`).
struct GrpcOptions {
  // Largest request accepted, bytes, gRPC and POST /v1/track bodies alike
  // (default 16 MiB).
  int max_receive_message_bytes = 16 * 1024 * 1024;
  // Idle time before the server pings a client (default 60s).
  std::chrono::milliseconds keepalive_time = std::chrono::seconds(60);
  // Time to wait for a ping acknowledgement before closing (default 20s).
  std::chrono::milliseconds keepalive_timeout = std::chrono::seconds(20);
  // Idle time after which a connection is closed; 0 = never (default 0s).
  std::chrono::milliseconds max_connection_idle{0};
  // Concurrent RPCs per HTTP/2 connection (default 1000).
  int max_concurrent_streams = 1000;
};

// The durable event spool (`spool:`).
// TLS on both listeners (gRPC and HTTP). Off when absent: plaintext, for
// loopback or behind a service mesh that encrypts with mTLS.
struct TlsOptions {
  // PEM certificate chain, server certificate first (required with tls).
  std::string cert_file;
  // PEM private key of the certificate (required with tls).
  std::string key_file;
  // PEM CA certificates that sign client certificates (optional): mutual
  // TLS. The gRPC port then refuses connections without a client
  // certificate one of them signed; the HTTP port asks for one, refuses one
  // they did not sign, and requires one for POST /v1/track (health,
  // readiness and metrics stay open for probes and scrapers).
  std::string client_ca_file;
  // Their contents, read at start-up. key_pem is a secret: never log it.
  std::string cert_pem;
  std::string key_pem;
  std::string client_ca_pem;

  bool enabled() const { return !cert_file.empty(); }
  bool verifies_clients() const { return !client_ca_file.empty(); }
};

struct SpoolOptions {
  // SQLite database file (default ./data/spool.db).
  std::string path = "./data/spool.db";
  // Queued (undelivered) events above which writes fail with
  // RESOURCE_EXHAUSTED (default 2,000,000), but for a destination holding
  // less than its share: the bound divided by `destinations`.
  std::int64_t max_queued_events = 2'000'000;
  // The configured destinations (not a YAML key: the gateway sets it).
  int destinations = 1;
  // How long delivered rows stay for dedup and status look-ups (default 7d).
  std::chrono::milliseconds retention = std::chrono::hours(24 * 7);
  // Delivered events kept beyond which the oldest are pruned before their
  // retention ends, so that the dedup keys the spool holds in memory (20
  // to 40 bytes each) stay bounded (default 5,000,000).
  std::int64_t max_retained_events = 5'000'000;
  // fsync policy (default full).
  SpoolSynchronous synchronous = SpoolSynchronous::kFull;
  // Most events written in one group-committed transaction (default 10000).
  int group_commit_max_events = 10'000;
  // Whether the next payload log file is written full of zeros ahead of
  // time when the groups are small (service/payload_log.h; default true):
  // fewer disk writes per sync, for up to one file's size (64 MiB) of disk.
  bool prepare_payload_files = true;
  // Size of a payload log file (service/payload_log.h). Not a
  // configuration key: tests make it small.
  std::int64_t payload_segment_bytes = 64 << 20;
  // Size of the disk reserve (service/spool_reserve.h); negative for the
  // default (1/8 of the file system, 1 MiB to 64 MiB), 0 for none. Not
  // a configuration key: tests make it small.
  std::int64_t disk_reserve_bytes = -1;
};

// Batching, timeouts and retry of the per-destination sender (`dispatcher:`,
// overridable per destination).
struct DispatcherOptions {
  // Events per API request, 1..1000 (default 1000).
  int max_batch_events = 1000;
  // Request body size budget, bytes (default 4 MiB).
  std::int64_t max_batch_bytes = 4 * 1024 * 1024;
  // Longest wait for a batch to fill before sending it (default 200ms).
  std::chrono::milliseconds linger{200};
  // Concurrent API requests per destination (default 4).
  int max_in_flight_requests = 4;
  // TCP + TLS connect deadline (default 5s).
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
  // Whole-request deadline (default 30s).
  std::chrono::milliseconds request_timeout = std::chrono::seconds(30);
  // First retry delay before jitter (default 1s).
  std::chrono::milliseconds initial_backoff = std::chrono::seconds(1);
  // Cap on the retry delay, >= initial_backoff (default 5m).
  std::chrono::milliseconds max_backoff = std::chrono::minutes(5);
  // Growth of the delay per attempt, 1.0..100.0 (default 2.0).
  double backoff_multiplier = 2.0;
  // Interval between probes of a destination paused by the API (see
  // Dispatcher::PausesDestination; default 30s).
  std::chrono::milliseconds auth_probe_interval = std::chrono::seconds(30);
};

// One OpenAI Conversions API destination (`destinations[i]`).
struct DestinationConfig {
  // Unique name, [a-z0-9_-]{1,64}; requests select it (default "default").
  std::string name = "default";
  // True for the destination used when a request names none; after loading
  // exactly one destination has it (the one marked `default: true`, else the
  // first).
  bool is_default = false;

  // Resolved pixel id (`?pid=`); empty when not found. Not a secret.
  std::string pixel_id;
  // True when pixel_id holds a usable value.
  bool has_pixel_id = false;
  // Environment variable the pixel id is read from; empty when the YAML
  // gives `pixel_id` itself (default OPENAI_PIXEL_ID).
  std::string pixel_id_env = "OPENAI_PIXEL_ID";

  // Resolved API key; empty when missing or unusable. A secret: never log it.
  std::string api_key;
  // True when api_key holds a usable value.
  bool has_api_key = false;
  // Environment variable holding the key; empty when api_key_file is used
  // (default OPENAI_CONVERSIONS_API_KEY).
  std::string api_key_env = "OPENAI_CONVERSIONS_API_KEY";
  // File holding the key, trailing newline trimmed; empty when api_key_env
  // is used (default empty).
  std::string api_key_file;

  // Where the pixel id's and the API key's sources are set, as config
  // errors name places ("config.yaml:7: destinations[0].api_key_env", or the
  // destination's own line and path when its key is left to the default);
  // empty without a config file.
  std::string pixel_id_where, api_key_where;
  // Why pixel_id or api_key is missing, each a whole message that starts
  // with its place, for ValidateForServing; never holds a secret value
  // (default empty).
  std::vector<std::string> secret_problems;

  // API endpoint, http(s); http only for loopback hosts; the dispatcher
  // appends ?pid= (default https://bzr.openai.com/v1/events).
  std::string endpoint = "https://bzr.openai.com/v1/events";
  // Sent as `integration_source` when not empty (default empty).
  std::string integration_source;
  // Action source for tag events whose `type` is absent or unknown
  // (default web).
  v1::ActionSource default_action_source = v1::ACTION_SOURCE_WEB;
  // Tag event name -> API event type, ahead of the built-in quick reference
  // (default empty).
  std::map<std::string, v1::EventType> event_mapping;
  // Field-mapping slot (one of kFieldMappingSlots) -> source paths tried in
  // order; `X` in a path is the item index (default empty).
  std::map<std::string, std::vector<std::string>> field_mapping;
  // Consent categories an event must carry to be sent (default empty).
  std::vector<std::string> consent_categories;
  // The global dispatcher options with this destination's overrides
  // (`destinations[i].dispatcher`) applied; the dispatcher reads these.
  DispatcherOptions dispatcher;
};

// The whole configuration file.
// One internal service allowed to call the gateway (`callers[i]`).
struct CallerConfig {
  // Unique name, [a-z0-9_-]{1,64}; shows in errors, never the token.
  std::string name;
  // Environment variable holding the caller's bearer token; empty when
  // token_file is used. One of the two is required.
  std::string token_env;
  // File holding the token, trailing newline trimmed.
  std::string token_file;
  // Resolved token: 16 to 4096 printable ASCII characters, no spaces,
  // unique among callers. A secret: never log it.
  std::string token;
  // Destination names the caller may use; "*" is every destination.
  // Required, not empty.
  std::vector<std::string> destinations;
};

struct GatewayConfig {
  // gRPC address, host:port; port 0 picks a free port
  // (default 127.0.0.1:50051).
  std::string grpc_listen = "127.0.0.1:50051";
  // HTTP address for health, readiness, metrics and /v1/track, host:port
  // (default 127.0.0.1:8080).
  std::string http_listen = "127.0.0.1:8080";
  // Least severe level logged (default info).
  LogLevel log_level = LogLevel::kInfo;
  // Deadline for a graceful drain on SIGTERM (default 30s).
  std::chrono::milliseconds shutdown_drain_timeout = std::chrono::seconds(30);
  // gRPC server tuning.
  GrpcOptions grpc;
  // TLS on the gRPC and HTTP listeners (default: off).
  TlsOptions tls;
  // The durable spool.
  SpoolOptions spool;
  // Dispatcher defaults for every destination.
  DispatcherOptions dispatcher;
  // At least one; names unique (default: one destination named "default").
  std::vector<DestinationConfig> destinations = {DestinationConfig()};
  // Services allowed to call, each with its own token (service/
  // caller_auth.h). Empty: no caller authentication (default empty).
  std::vector<CallerConfig> callers;
};

// Reads the process environment and files. An interface so that tests can
// use fakes (STYLE.md 8).
class Environment {
 public:
  virtual ~Environment() = default;
  // Returns the value of environment variable `name`, nullopt when unset.
  virtual std::optional<std::string> GetEnv(std::string_view name) const = 0;
  // Returns the whole content of the file at `path`, unchanged.
  virtual absl::StatusOr<std::string> ReadFile(
      const std::string& path) const = 0;
};

// The real environment: getenv(3) and the file system.
class SystemEnvironment final : public Environment {
 public:
  std::optional<std::string> GetEnv(std::string_view name) const override;
  absl::StatusOr<std::string> ReadFile(const std::string& path) const override;
};

// Reads and parses the config file at `path` (through `env.ReadFile`), then
// resolves secrets. An empty `path` means no file: all defaults. Errors are
// FAILED_PRECONDITION (bad configuration, STYLE.md 5) and list every problem
// found, one per line, as "FILE:LINE: KEY.PATH: message".
absl::StatusOr<GatewayConfig> LoadConfig(const std::string& path,
                                         const Environment& env);

// As LoadConfig, from YAML text; `source_name` stands for the file name in
// messages. Empty text (or only comments) gives the defaults.
absl::StatusOr<GatewayConfig> ParseConfig(
    std::string_view yaml_text, const Environment& env,
    std::string_view source_name = "config");

// Checks what parsing leaves to run time: every destination has a pixel id
// and an API key. FAILED_PRECONDITION naming each missing secret (never a
// value) otherwise.
absl::Status ValidateForServing(const GatewayConfig& config);

// The tag mapping a destination configures (event and field mapping,
// default action source, consent), for mapping::CompileTagMapping.
mapping::TagMappingConfig TagMappingOf(const DestinationConfig& destination);

// Returns the config on one line of key=value pairs for the start-up log,
// with API keys redacted ("<redacted>" or "<missing>").
std::string Describe(const GatewayConfig& config);

// Returns the destination called `name`, the default one for an empty
// `name`, or nullptr when there is none.
const DestinationConfig* FindDestination(const GatewayConfig& config,
                                         std::string_view name);

// Parses a duration written "<integer><unit>", unit one of ms, s, m, h, d
// ("200ms", "30s", "5m", "7d"). INVALID_ARGUMENT when malformed or beyond
// 365 days.
absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_CONFIG_H_
