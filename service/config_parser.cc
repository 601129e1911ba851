#include "service/config_parser.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "mapping/event_types.h"
#include "service/address.h"

namespace conversions::service::config_internal {

// kFieldMappingSlots is sized by hand; an entry left out would be empty.
constexpr bool AllSlotsNamed() {
  for (std::string_view slot : kFieldMappingSlots) {
    if (slot.empty()) return false;
  }
  return true;
}
static_assert(AllSlotsNamed(), "kFieldMappingSlots has an empty entry");

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

GatewayConfig Parser::Parse(const YAML::Node& root) {
  GatewayConfig config;
  Item top{root, "", LineOf(root)};
  std::optional<Item> destinations, callers;
  ParseMap(
      top,
      {
          {"grpc_listen", Listen(&config.grpc_listen)},
          {"http_listen", Listen(&config.http_listen)},
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
  for (DestinationConfig& d : config.destinations) ResolveSecrets(&d);
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
        std::vector<std::string_view> keys;
        for (const Field& field : fields) keys.push_back(field.key);
        Error(key_line, at.path,
              absl::StrCat("unknown key ", Quoted(key), Suggestion(key, keys)));
      });
}

void Parser::ParseTls(const Item& at, TlsOptions* out) {
  std::optional<Item> cert, key;
  ParseMap(at, {{"cert_file", [&](const Item& i) { cert = i; }},
                {"key_file", [&](const Item& i) { key = i; }}});
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

std::vector<DestinationConfig> Parser::ParseDestinations(
    const Item& at, const DispatcherOptions& dispatcher) {
  std::vector<DestinationConfig> out;
  if (!at.node.IsSequence()) {
    Error(at, absl::StrCat("expected a list of destinations, got ",
                           KindOf(at.node)));
    return out;
  }
  if (at.node.size() == 0) {
    Error(at, "must list at least one destination");
    return out;
  }
  std::map<std::string, size_t> names;
  std::optional<size_t> marked_default;
  for (size_t i = 0; i < at.node.size(); ++i) {
    YAML::Node node = at.node[i];
    Item item{node, absl::StrCat(at.path, "[", i, "]"), LineOf(node)};
    int name_line = item.line;
    int default_line = item.line;
    DestinationConfig d =
        ParseDestination(item, dispatcher, &name_line, &default_line);
    auto [it, inserted] = names.emplace(d.name, i);
    if (!inserted) {
      Error(name_line, item.path + ".name",
            absl::StrCat("duplicate destination name ", Quoted(d.name),
                         " (also destinations[", it->second, "])"));
    }
    if (d.is_default) {
      if (marked_default) {
        Error(default_line, item.path + ".default",
              absl::StrCat("only one destination may be the default; "
                           "destinations[",
                           *marked_default, "] already is"));
        d.is_default = false;
      } else {
        marked_default = i;
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

DestinationConfig Parser::ParseDestination(const Item& at,
                                           const DispatcherOptions& dispatcher,
                                           int* name_line, int* default_line) {
  DestinationConfig d;
  d.dispatcher = dispatcher;
  std::optional<Item> pixel_id, pixel_id_env, api_key_env, api_key_file;
  if (!at.node.IsMap()) {
    Error(at, absl::StrCat("expected a map, got ", KindOf(at.node)));
    return d;
  }
  auto keep = [](std::optional<Item>* slot) {
    return [slot](const Item& item) { *slot = item; };
  };
  ParseMap(
      at,
      {
          {"name",
           [&](const Item& item) {
             *name_line = item.line;
             if (auto s = ReadString(item)) {
               if (IsDestinationName(*s)) {
                 d.name = *s;
               } else {
                 Error(item, absl::StrCat("must match [a-z0-9_-]{1,64}, got ",
                                          Quoted(*s)));
               }
             }
           }},
          {"pixel_id", keep(&pixel_id)},
          {"pixel_id_env", keep(&pixel_id_env)},
          {"api_key_env", keep(&api_key_env)},
          {"api_key_file", keep(&api_key_file)},
          {"endpoint",
           [&](const Item& item) {
             if (auto s = ReadString(item)) {
               auto url = ParseHttpUrl(*s);
               if (url.ok()) {
                 d.endpoint = *s;
               } else {
                 Error(item, Sv(url.status().message()));
               }
             }
           }},
          {"integration_source",
           [&](const Item& item) {
             if (auto s = ReadString(item)) {
               if (IsIntegrationSource(*s)) {
                 d.integration_source = *s;
               } else {
                 Error(item, absl::StrCat("must match "
                                          "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$,"
                                          " got ",
                                          Quoted(*s)));
               }
             }
           }},
          {"default",
           [&](const Item& item) {
             *default_line = item.line;
             Bool (&d.is_default)(item);
           }},
          {"default_action_source",
           [&](const Item& item) {
             if (auto s = ReadString(item)) {
               auto source = mapping::ActionSourceFromName(*s);
               if (source) {
                 d.default_action_source = *source;
               } else {
                 Error(item, absl::StrCat("expected one of web, mobile_app, "
                                          "offline, physical_store, "
                                          "phone_call, email, other; got ",
                                          Quoted(*s)));
               }
             }
           }},
          {"event_mapping",
           [&](const Item& item) {
             ParseEventMapping(item, &d.event_mapping);
           }},
          {"field_mapping",
           [&](const Item& item) {
             ParseFieldMapping(item, &d.field_mapping);
           }},
          {"consent_categories",
           [&](const Item& item) {
             ParseConsentCategories(item, &d.consent_categories);
           }},
          {"dispatcher",
           [&](const Item& item) { ParseDispatcher(item, &d.dispatcher); }},
      });

  // Where the pixel id and the API key come from.
  if (pixel_id && pixel_id_env) {
    Error(*pixel_id_env, "give either pixel_id or pixel_id_env, not both");
  }
  if (pixel_id) {
    d.pixel_id_env.clear();
    if (auto s = ReadString(*pixel_id)) {
      if (IsPixelId(*s)) {
        d.pixel_id = *s;
        d.has_pixel_id = true;
      } else {
        Error(*pixel_id, absl::StrCat("must be ", kPixelIdRule));
      }
    }
  } else if (pixel_id_env) {
    ReadEnvName(*pixel_id_env, &d.pixel_id_env);
  }
  if (api_key_env && api_key_file) {
    Error(*api_key_file, "give either api_key_env or api_key_file, not both");
  }
  if (api_key_file) {
    d.api_key_env.clear();
    if (auto s = ReadString(*api_key_file)) {
      if (s->empty() || HasControl(*s)) {
        Error(*api_key_file, "must be a file path");
      } else {
        d.api_key_file = *s;
      }
    }
  } else if (api_key_env) {
    ReadEnvName(*api_key_env, &d.api_key_env);
  }
  return d;
}

std::vector<CallerConfig> Parser::ParseCallers(
    const Item& at, const std::vector<DestinationConfig>& destinations) {
  std::vector<CallerConfig> out;
  if (!at.node.IsSequence()) {
    Error(at,
          absl::StrCat("expected a list of callers, got ", KindOf(at.node)));
    return out;
  }
  std::map<std::string, size_t> names;
  std::map<std::string, size_t> tokens;  // token -> index; never printed
  for (size_t i = 0; i < at.node.size(); ++i) {
    YAML::Node node = at.node[i];
    Item item{node, absl::StrCat(at.path, "[", i, "]"), LineOf(node)};
    if (!node.IsMap()) {
      Error(item, absl::StrCat("expected a map, got ", KindOf(node)));
      continue;
    }
    CallerConfig c;
    std::optional<Item> name, token_env, token_file, allowed;
    auto keep = [](std::optional<Item>* slot) {
      return [slot](const Item& value) { *slot = value; };
    };
    ParseMap(item, {{"name", keep(&name)},
                    {"token_env", keep(&token_env)},
                    {"token_file", keep(&token_file)},
                    {"destinations", keep(&allowed)}});
    if (!name) {
      Error(item, "needs a name");
    } else if (auto s = ReadString(*name)) {
      if (!IsDestinationName(*s)) {
        Error(*name,
              absl::StrCat("must match [a-z0-9_-]{1,64}, got ", Quoted(*s)));
      } else if (auto [it, inserted] = names.emplace(*s, i); !inserted) {
        Error(*name, absl::StrCat("duplicate caller name ", Quoted(*s),
                                  " (also callers[", it->second, "])"));
      } else {
        c.name = *s;
      }
    }
    ReadCallerToken(item, token_env, token_file, &c);
    if (!c.token.empty()) {
      auto [it, inserted] = tokens.emplace(c.token, i);
      if (!inserted) {
        Error(item, absl::StrCat("has the same token as callers[", it->second,
                                 "]; tokens must differ"));
      }
    }
    if (!allowed) {
      Error(item, "needs destinations: the names it may use, or \"*\"");
    } else if (!allowed->node.IsSequence() || allowed->node.size() == 0) {
      Error(*allowed, "expected a non-empty list of destination names");
    } else {
      for (size_t j = 0; j < allowed->node.size(); ++j) {
        Item entry{allowed->node[j], absl::StrCat(allowed->path, "[", j, "]"),
                   LineOf(allowed->node[j])};
        auto s = ReadString(entry);
        if (!s) continue;
        if (*s != "*" && std::none_of(destinations.begin(), destinations.end(),
                                      [&](const DestinationConfig& d) {
                                        return d.name == *s;
                                      })) {
          Error(entry, absl::StrCat("unknown destination ", Quoted(*s)));
          continue;
        }
        c.destinations.push_back(*s);
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

void Parser::ReadCallerToken(const Item& at,
                             const std::optional<Item>& token_env,
                             const std::optional<Item>& token_file,
                             CallerConfig* c) {
  if (token_env && token_file) {
    Error(*token_file, "give either token_env or token_file, not both");
    return;
  }
  std::string origin;
  if (token_file) {
    auto s = ReadString(*token_file);
    if (!s) return;
    if (s->empty() || HasControl(*s)) {
      Error(*token_file, "must be a file path");
      return;
    }
    c->token_file = *s;
    origin = absl::StrCat("file ", *s);
    absl::StatusOr<std::string> content = env_.ReadFile(*s);
    if (!content.ok()) {
      Error(*token_file, absl::StrCat("cannot read ", origin, ": ",
                                      content.status().message()));
      return;
    }
    c->token = *std::move(content);
    while (!c->token.empty() &&
           (c->token.back() == '\n' || c->token.back() == '\r')) {
      c->token.pop_back();
    }
  } else if (token_env) {
    ReadEnvName(*token_env, &c->token_env);
    if (c->token_env.empty()) return;
    origin = absl::StrCat("environment variable ", c->token_env);
    c->token = env_.GetEnv(c->token_env).value_or("");
  } else {
    Error(at, "needs token_env or token_file");
    return;
  }
  const Item& where = token_file ? *token_file : *token_env;
  if (c->token.empty()) {
    Error(where, absl::StrCat(origin, " is not set or empty"));
  } else if (c->token.size() < kMinCallerTokenBytes || !IsApiKey(c->token)) {
    // The value is not echoed.
    Error(where, absl::StrCat(origin, " must hold ", kMinCallerTokenBytes,
                              " to ", kMaxApiKeyBytes,
                              " printable ASCII characters without spaces"));
    c->token.clear();
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

void Parser::ParseEventMapping(const Item& at,
                               std::map<std::string, v1::EventType>* out) {
  ForEachEntry(at, true, [&](const std::string& key, int, const Item& item) {
    if (key.empty() || key.size() > kMaxEventNameBytes || HasControl(key)) {
      Error(item,
            absl::StrCat("tag event names must be 1 to ", kMaxEventNameBytes,
                         " bytes without control characters"));
      return;
    }
    if (auto s = ReadString(item)) {
      auto type = mapping::EventTypeFromName(*s);
      if (type) {
        (*out)[key] = *type;
      } else {
        Error(item, absl::StrCat("unknown API event type ", Quoted(*s),
                                 "; expected one of ", EventTypeNames()));
      }
    }
  });
}

void Parser::ParseFieldMapping(
    const Item& at, std::map<std::string, std::vector<std::string>>* out) {
  ForEachEntry(
      at, true, [&](const std::string& slot, int key_line, const Item& item) {
        if (std::find(kFieldMappingSlots.begin(), kFieldMappingSlots.end(),
                      slot) == kFieldMappingSlots.end()) {
          Error(key_line, at.path,
                absl::StrCat(
                    "unknown field mapping slot ", Quoted(slot),
                    Suggestion(slot, kFieldMappingSlots),
                    "; slots are named by their default source path: ",
                    absl::StrJoin(kFieldMappingSlots, ", ",
                                  [](std::string* o, std::string_view s) {
                                    o->append(s);
                                  })));
          return;
        }
        bool item_slot = slot.compare(0, 8, "items.X.") == 0;
        std::vector<std::string> paths;
        auto add = [&](const Item& path_item) {
          if (!path_item.node.IsScalar()) {
            Error(path_item, absl::StrCat("expected a source path, got ",
                                          KindOf(path_item.node)));
            return;
          }
          const std::string& path = path_item.node.Scalar();
          std::string problem = SourcePathProblem(path, item_slot);
          if (problem.empty()) {
            paths.push_back(path);
          } else {
            Error(path_item, absl::StrCat("invalid source path ", Quoted(path),
                                          ": ", problem));
          }
        };
        if (item.node.IsSequence()) {
          if (item.node.size() == 0) {
            Error(item, "must list at least one source path");
          }
          for (size_t i = 0; i < item.node.size(); ++i) {
            YAML::Node node = item.node[i];
            add(Item{node, absl::StrCat(item.path, "[", i, "]"), LineOf(node)});
          }
        } else if (item.node.IsScalar()) {
          add(item);
        } else {
          Error(item, absl::StrCat("expected a source path or a list of them, "
                                   "got ",
                                   KindOf(item.node)));
        }
        if (!paths.empty()) (*out)[slot] = std::move(paths);
      });
}

void Parser::ParseConsentCategories(const Item& at,
                                    std::vector<std::string>* out) {
  if (!at.node.IsSequence()) {
    Error(at,
          absl::StrCat("expected a list of strings, got ", KindOf(at.node)));
    return;
  }
  for (size_t i = 0; i < at.node.size(); ++i) {
    YAML::Node node = at.node[i];
    Item item{node, absl::StrCat(at.path, "[", i, "]"), LineOf(node)};
    if (auto s = ReadString(item)) {
      if (s->empty() || HasControl(*s)) {
        Error(item, "must be a non-empty string without control characters");
      } else if (std::find(out->begin(), out->end(), *s) != out->end()) {
        Error(item, absl::StrCat("duplicate consent category ", Quoted(*s)));
      } else {
        out->push_back(*s);
      }
    }
  }
}

void Parser::ResolveSecrets(DestinationConfig* d) {
  if (!d->pixel_id_env.empty()) {
    std::optional<std::string> value = env_.GetEnv(d->pixel_id_env);
    if (!value || value->empty()) {
      d->secret_problems.push_back(
          absl::StrCat("no pixel id: environment variable ", d->pixel_id_env,
                       " is not set"));
    } else if (!IsPixelId(*value)) {
      d->secret_problems.push_back(
          absl::StrCat("no pixel id: environment variable ", d->pixel_id_env,
                       " does not hold ", kPixelIdRule));
    } else {
      d->pixel_id = *std::move(value);
      d->has_pixel_id = true;
    }
  }

  std::string key;
  std::string origin;
  if (!d->api_key_file.empty()) {
    origin = absl::StrCat("file ", d->api_key_file);
    absl::StatusOr<std::string> content = env_.ReadFile(d->api_key_file);
    if (!content.ok()) {
      d->secret_problems.push_back(absl::StrCat("no API key: cannot read ",
                                                origin, ": ",
                                                content.status().message()));
      return;
    }
    key = *std::move(content);
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) {
      key.pop_back();
    }
  } else if (!d->api_key_env.empty()) {
    origin = absl::StrCat("environment variable ", d->api_key_env);
    key = env_.GetEnv(d->api_key_env).value_or("");
  } else {
    return;  // an error was reported already
  }
  if (key.empty()) {
    d->secret_problems.push_back(absl::StrCat(
        "no API key: ", origin,
        d->api_key_file.empty() ? " is not set or empty" : " is empty"));
  } else if (!IsApiKey(key)) {
    d->secret_problems.push_back(absl::StrCat(
        "no API key: ", origin, " does not hold 1 to ", kMaxApiKeyBytes,
        " printable ASCII characters without spaces"));
  } else {
    d->api_key = std::move(key);
    d->has_api_key = true;
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
  if (!absl::SimpleAtoi(*s, &value) || value < min || value > max) {
    Error(at, absl::StrCat(
                  max == kMaxInt64
                      ? absl::StrCat("must be at least ", min)
                      : absl::StrCat("must be between ", min, " and ", max),
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
