#include "service/config_parser.h"

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "service/address.h"

namespace conversions::service::config_internal {

int LineOf(const YAML::Node& node) {
  YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

std::string KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return Quoted(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "an undefined value";
  }
}

namespace {

bool IsWildcardHost(std::string_view host) {
  return host == "0.0.0.0" || host == "::";
}

// Why gRPC and HTTP cannot listen on these addresses ("" when they can):
// the same fixed port on the same or a wildcard host.
std::string ListenClash(const std::string& grpc, const std::string& http) {
  absl::StatusOr<HostPort> g = ParseHostPort(grpc);
  absl::StatusOr<HostPort> h = ParseHostPort(http);
  if (!g.ok() || !h.ok() || g->port == 0 || g->port != h->port) return "";
  if (g->host != h->host && !IsWildcardHost(g->host) &&
      !IsWildcardHost(h->host)) {
    return "";
  }
  return absl::StrCat("port ", h->port,
                      " is also grpc_listen's; gRPC and HTTP need ports of "
                      "their own");
}

}  // namespace

GatewayConfig Parser::Parse(const YAML::Node& root) {
  GatewayConfig config;
  Item top{root, "", LineOf(root)};
  if (root.IsScalar()) {
    // Not quoted: a file of one value is most likely a secret file given
    // to --config by mistake.
    Error(top,
          "expected a map of keys, got a single value (not shown; is this a "
          "secret file?)");
    return config;
  }
  std::optional<Item> destinations, callers, http_listen;
  ParseMap(
      top,
      {
          {"grpc_listen", Listen(&config.grpc_listen)},
          {"http_listen",
           [&](const Item& at) {
             http_listen = at;
             Listen (&config.http_listen)(at);
           }},
          {"log_level", Enum(&config.log_level, kLogLevels)},
          {"shutdown_drain_timeout",
           Duration(&config.shutdown_drain_timeout, Ms(0), kMaxDuration)},
          {"grpc", [&](const Item& at) { ParseGrpc(at, &config.grpc); }},
          {"tls", [&](const Item& at) { ParseTls(at, &config.tls); }},
          {"spool", [&](const Item& at) { ParseSpool(at, &config.spool); }},
          {"dispatcher",
           [&](const Item& at) { ParseDispatcher(at, &config.dispatcher); }},
          // Parsed last: destinations inherit the dispatcher options.
          {"destinations", [&](const Item& at) { destinations = at; }},
          // After destinations: callers name them.
          {"callers", [&](const Item& at) { callers = at; }},
      });
  // Both listeners bind with SO_REUSEPORT off, so one port for both would
  // fail at start-up with a vaguer message; say which keys clash instead.
  if (std::string clash = ListenClash(config.grpc_listen, config.http_listen);
      !clash.empty()) {
    Error(http_listen ? http_listen->line : 0, "http_listen", clash);
  }
  if (destinations) {
    config.destinations = ParseDestinations(*destinations, config.dispatcher);
  } else {
    config.destinations.front().dispatcher = config.dispatcher;
  }
  if (!config.destinations.empty()) {
    bool any = false;
    for (const DestinationConfig& d : config.destinations) any |= d.is_default;
    if (!any) config.destinations.front().is_default = true;
  }
  for (size_t i = 0; i < config.destinations.size(); ++i) {
    ResolveSecrets(i, &config.destinations[i]);
  }
  if (callers) config.callers = ParseCallers(*callers, config.destinations);
  return config;
}

void Parser::Error(int line, std::string_view path, std::string_view message) {
  std::string out(source_);
  if (line > 0) absl::StrAppend(&out, ":", line);
  absl::StrAppend(&out, ": ");
  if (!path.empty()) absl::StrAppend(&out, Av(path), ": ");
  absl::StrAppend(&out, Av(message));
  errors_.push_back(std::move(out));
}

void Parser::Error(const Item& at, std::string_view message) {
  Error(at.line, at.path, message);
}

void Parser::ParseMap(const Item& at, const std::vector<Field>& fields) {
  ForEachEntry(
      at, false, [&](const std::string& key, int key_line, const Item& child) {
        for (const Field& field : fields) {
          if (field.key == key) return field.handle(child);
        }
        // A key pasted where a YAML key goes is not repeated in the log.
        if (key.rfind("sk-", 0) == 0) {
          Error(key_line, at.path,
                "unknown key (not shown: it looks like an API key, which "
                "goes in the environment or a file, api_key_env or "
                "api_key_file)");
          return;
        }
        std::vector<std::string_view> keys;
        for (const Field& field : fields) keys.push_back(field.key);
        Error(key_line, at.path,
              absl::StrCat("unknown key ", Quoted(key), Suggestion(key, keys)));
      });
}

void Parser::ParseTls(const Item& at, TlsOptions* out) {
  std::optional<Item> cert, key, client_ca;
  ParseMap(at, {{"cert_file", [&](const Item& i) { cert = i; }},
                {"key_file", [&](const Item& i) { key = i; }},
                {"client_ca_file", [&](const Item& i) { client_ca = i; }}});
  if (!cert || !key) {
    Error(at, "needs both cert_file and key_file");
    return;
  }
  auto read = [&](const Item& item, std::string* path, std::string* pem,
                  std::string_view marker) {
    auto s = ReadString(item);
    if (!s) return false;
    if (s->empty() || HasControl(*s)) {
      Error(item, "must be a file path");
      return false;
    }
    absl::StatusOr<std::string> content = env_.ReadFile(*s);
    if (!content.ok()) {
      Error(item, absl::StrCat("cannot read file ", *s, ": ",
                               content.status().message()));
      return false;
    }
    // The content is not quoted: it may be a private key.
    if (content->find(marker) == std::string::npos) {
      Error(item, absl::StrCat("file ", *s, " holds no PEM ", Av(marker)));
      return false;
    }
    *path = *s;
    *pem = *std::move(content);
    return true;
  };
  TlsOptions tls;
  if (!read(*cert, &tls.cert_file, &tls.cert_pem, "CERTIFICATE") ||
      !read(*key, &tls.key_file, &tls.key_pem, "PRIVATE KEY")) {
    return;
  }
  if (std::string problem = TlsPairProblem(tls.cert_pem, tls.key_pem);
      !problem.empty()) {
    Error(*key, problem);
    return;
  }
  if (client_ca) {
    if (!read(*client_ca, &tls.client_ca_file, &tls.client_ca_pem,
              "CERTIFICATE")) {
      return;
    }
    if (std::string problem = CaBundleProblem(tls.client_ca_pem);
        !problem.empty()) {
      Error(*client_ca, problem);
      return;
    }
  }
  *out = std::move(tls);
}

void Parser::ParseGrpc(const Item& at, GrpcOptions* out) {
  ParseMap(at, {
                   {"max_receive_message_bytes",
                    Integer(&out->max_receive_message_bytes, 1, kMaxInt)},
                   {"keepalive_time",
                    Duration(&out->keepalive_time, Ms(1), kMaxGrpcDuration)},
                   {"keepalive_timeout",
                    Duration(&out->keepalive_timeout, Ms(1), kMaxGrpcDuration)},
                   {"max_connection_idle", Duration(&out->max_connection_idle,
                                                    Ms(0), kMaxGrpcDuration)},
                   {"max_concurrent_streams",
                    Integer(&out->max_concurrent_streams, 1, kMaxInt)},
               });
}

void Parser::ParseSpool(const Item& at, SpoolOptions* out) {
  ParseMap(
      at,
      {
          {"path", NonEmptyString(&out->path)},
          {"max_queued_events", Integer(&out->max_queued_events, 1, kMaxInt64)},
          {"retention", Duration(&out->retention, Ms(1), kMaxDuration)},
          {"max_retained_events",
           Integer(&out->max_retained_events, 0, kMaxInt64)},
          {"synchronous", Enum(&out->synchronous, kSynchronous)},
          {"group_commit_max_events",
           Integer(&out->group_commit_max_events, 1, kMaxInt)},
          {"prepare_payload_files", Bool(&out->prepare_payload_files)},
      });
}

void Parser::ParseDispatcher(const Item& at, DispatcherOptions* out) {
  ParseMap(
      at,
      {
          {"max_batch_events", Integer(&out->max_batch_events, 1, 1000)},
          {"max_batch_bytes", Integer(&out->max_batch_bytes, 1, kMaxInt)},
          {"linger", Duration(&out->linger, Ms(0), kMaxDuration)},
          {"max_in_flight_requests",
           Integer(&out->max_in_flight_requests, 1, 1000)},
          {"connect_timeout",
           Duration(&out->connect_timeout, Ms(1), kMaxDuration)},
          {"request_timeout",
           Duration(&out->request_timeout, Ms(1), kMaxDuration)},
          {"initial_backoff",
           Duration(&out->initial_backoff, Ms(1), kMaxDuration)},
          {"max_backoff", Duration(&out->max_backoff, Ms(1), kMaxDuration)},
          {"backoff_multiplier", Double(&out->backoff_multiplier, 1.0, 100.0)},
          {"auth_probe_interval",
           Duration(&out->auth_probe_interval, Ms(1), kMaxDuration)},
      });
  if (out->max_backoff < out->initial_backoff) {
    Error(at, absl::StrCat("max_backoff (", FormatDuration(out->max_backoff),
                           ") is shorter than initial_backoff (",
                           FormatDuration(out->initial_backoff), ")"));
  }
}

void Parser::ReadEnvName(const Item& item, std::string* out) {
  if (auto s = ReadString(item)) {
    if (IsEnvName(*s)) {
      *out = *s;
    } else {
      // The value is not echoed: it may be a key pasted in by mistake.
      Error(item,
            "must be the name of an environment variable "
            "([A-Za-z_][A-Za-z0-9_]*), not the secret itself");
    }
  }
}

std::optional<std::string> Parser::ReadString(const Item& at,
                                              std::string_view what) {
  if (!at.node.IsScalar()) {
    Error(at, absl::StrCat("expected ", Av(what), ", got ", KindOf(at.node)));
    return std::nullopt;
  }
  return at.node.Scalar();
}

std::optional<std::string> Parser::ReadPlain(const Item& at,
                                             std::string_view what) {
  if (!at.node.IsScalar() || at.node.Tag() == "!") {
    Error(at, absl::StrCat("expected ", Av(what), ", got ", KindOf(at.node)));
    return std::nullopt;
  }
  return at.node.Scalar();
}

std::optional<std::int64_t> Parser::ReadInt(const Item& at, std::int64_t min,
                                            std::int64_t max) {
  std::optional<std::string> s = ReadPlain(at, "an integer");
  if (!s) return std::nullopt;
  std::string_view digits = *s;
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  if (digits.empty() || !AllOf(digits, IsDigit)) {
    Error(at, absl::StrCat("expected an integer, got ", Quoted(*s)));
    return std::nullopt;
  }
  std::int64_t value = 0;
  const bool parsed = absl::SimpleAtoi(*s, &value);
  if (!parsed || value < min || value > max) {
    // Beyond 64 bits, a negative number is too small, a positive one too
    // large.
    const bool too_large = parsed ? value > max : s->front() != '-';
    Error(at, absl::StrCat(max != kMaxInt64 ? absl::StrCat("must be between ",
                                                           min, " and ", max)
                           : too_large ? absl::StrCat("must be at most ", max)
                                       : absl::StrCat("must be at least ", min),
                           ", got ", *s));
    return std::nullopt;
  }
  return value;
}

Handler Parser::Duration(Ms* out, Ms min, Ms max) {
  return [this, out, min, max](const Item& at) {
    std::optional<std::string> s = ReadString(at, "a duration such as 30s");
    if (!s) return;
    absl::StatusOr<Ms> d = ParseDuration(*s);
    if (!d.ok()) {
      Error(at, Sv(d.status().message()));
    } else if (*d < min || *d > max) {
      Error(at, absl::StrCat("must be between ", FormatDuration(min), " and ",
                             FormatDuration(max), ", got ", *s));
    } else {
      *out = *d;
    }
  };
}

Handler Parser::Double(double* out, double min, double max) {
  return [this, out, min, max](const Item& at) {
    std::optional<std::string> s = ReadPlain(at, "a number");
    if (!s) return;
    double value = 0;
    bool numeric = !s->empty() && AllOf(*s, [](char c) {
      return IsDigit(c) || c == '.' || c == '-' || c == '+' || c == 'e' ||
             c == 'E';
    });
    if (!numeric || !absl::SimpleAtod(*s, &value) || !std::isfinite(value)) {
      Error(at, absl::StrCat("expected a number, got ", Quoted(*s)));
    } else if (value < min || value > max) {
      Error(at,
            absl::StrCat("must be between ", min, " and ", max, ", got ", *s));
    } else {
      *out = value;
    }
  };
}

Handler Parser::Bool(bool* out) {
  return [this, out](const Item& at) {
    std::optional<std::string> s = ReadPlain(at, "true or false");
    if (!s) return;
    if (*s == "true" || *s == "True" || *s == "TRUE") {
      *out = true;
    } else if (*s == "false" || *s == "False" || *s == "FALSE") {
      *out = false;
    } else {
      Error(at, absl::StrCat("expected true or false, got ", Quoted(*s)));
    }
  };
}

Handler Parser::NonEmptyString(std::string* out) {
  return [this, out](const Item& at) {
    if (auto s = ReadString(at)) {
      if (s->empty()) {
        Error(at, "must not be empty");
      } else {
        *out = *s;
      }
    }
  };
}

Handler Parser::Listen(std::string* out) {
  return [this, out](const Item& at) {
    if (auto s = ReadString(at)) {
      absl::StatusOr<HostPort> hp = ParseHostPort(*s);
      if (hp.ok()) {
        *out = *s;
      } else {
        Error(at, Sv(hp.status().message()));
      }
    }
  };
}

}  // namespace conversions::service::config_internal
