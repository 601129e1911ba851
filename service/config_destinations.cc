// The Parser's `destinations:` section (service/config_parser.h): each
// destination's name, endpoint, tag mapping and consent settings, and where
// its pixel id and API key come from, then resolving those secrets.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/event_types.h"
#include "mapping/request_encoder.h"
#include "mapping/tag_mapper.h"
#include "service/address.h"
#include "service/config_parser.h"

namespace conversions::service::config_internal {

// kFieldMappingSlots is sized by hand; an entry left out would be empty.
constexpr bool AllSlotsNamed() {
  for (std::string_view slot : kFieldMappingSlots) {
    if (slot.empty()) return false;
  }
  return true;
}
static_assert(AllSlotsNamed(), "kFieldMappingSlots has an empty entry");

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
  std::optional<Item> event_mapping, field_mapping;
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
               // As the API does: trimmed and lowercased, then checked.
               auto source = mapping::NormalizeIntegrationSource(*s);
               if (source.ok() && IsIntegrationSource(*source)) {
                 d.integration_source = *source;
               } else {
                 Error(item, absl::StrCat("must match "
                                          "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ "
                                          "once trimmed and lowercased, got ",
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
             event_mapping = item;
             ParseEventMapping(item, &d.event_mapping);
           }},
          {"field_mapping",
           [&](const Item& item) {
             field_mapping = item;
             ParseFieldMapping(item, &d.field_mapping);
           }},
          {"consent_categories",
           [&](const Item& item) {
             ParseConsentCategories(item, &d.consent_categories);
           }},
          {"dispatcher",
           [&](const Item& item) { ParseDispatcher(item, &d.dispatcher); }},
      });

  // The tag mapping as a whole: what each key's own checks cannot see
  // (an items.X. path must lie under the items slot's own path). Checked
  // also after other errors, entries that failed their own checks left
  // out, so that one run reports every problem.
  {
    absl::StatusOr<mapping::CompiledTagMapping> compiled =
        mapping::CompileTagMapping(TagMappingOf(d));
    if (!compiled.ok()) {
      Error(field_mapping   ? *field_mapping
            : event_mapping ? *event_mapping
                            : at,
            std::string(compiled.status().message()));
    }
  }

  // Where the pixel id and the API key come from.
  auto where = [this](const Item& item, const std::string& suffix) {
    return absl::StrCat(source_, ":", item.line, ": ", item.path, suffix);
  };
  const std::string own =
      d.name.empty() ? std::string() : absl::StrCat(" (", d.name, ")");
  d.pixel_id_where = pixel_id_env ? where(*pixel_id_env, "") : where(at, own);
  d.api_key_where = api_key_file  ? where(*api_key_file, "")
                    : api_key_env ? where(*api_key_env, "")
                                  : where(at, own);
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
      if (*s == "skip") {
        (*out)[key] = mapping::kSkipTagEvent;
      } else if (type) {
        (*out)[key] = *type;
      } else {
        Error(item, absl::StrCat("unknown API event type ", Quoted(*s),
                                 "; expected one of ", EventTypeNames(),
                                 ", or skip (send none)"));
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

void Parser::ResolveSecrets(size_t index, DestinationConfig* d) {
  // Each problem starts with its place: the key that names the source, or
  // without a config file the destination.
  const std::string fallback =
      absl::StrCat("destinations[", index, "] (", d->name, ")");
  const std::string pixel_where = absl::StrCat(
      d->pixel_id_where.empty() ? fallback : d->pixel_id_where, ": ");
  const std::string key_where = absl::StrCat(
      d->api_key_where.empty() ? fallback : d->api_key_where, ": ");
  if (!d->pixel_id_env.empty()) {
    std::optional<std::string> value = env_.GetEnv(d->pixel_id_env);
    if (!value || value->empty()) {
      d->secret_problems.push_back(absl::StrCat(
          pixel_where, "no pixel id: ", EnvVarInMessage(d->pixel_id_env),
          " is not set"));
    } else if (!IsPixelId(*value)) {
      d->secret_problems.push_back(absl::StrCat(
          pixel_where, "no pixel id: ", EnvVarInMessage(d->pixel_id_env),
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
      d->secret_problems.push_back(absl::StrCat(
          key_where, "no API key: ",
          SecretFileReadProblem(d->api_key_file, content.status())));
      return;
    }
    key = *std::move(content);
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) {
      key.pop_back();
    }
  } else if (!d->api_key_env.empty()) {
    origin = EnvVarInMessage(d->api_key_env);
    key = env_.GetEnv(d->api_key_env).value_or("");
  } else {
    return;  // an error was reported already
  }
  if (key.empty()) {
    d->secret_problems.push_back(absl::StrCat(
        key_where, "no API key: ", origin,
        d->api_key_file.empty() ? " is not set or empty" : " is empty"));
  } else if (!IsApiKey(key)) {
    d->secret_problems.push_back(absl::StrCat(
        key_where, "no API key: ", origin, " does not hold 1 to ",
        kMaxApiKeyBytes, " printable ASCII characters without spaces"));
  } else {
    d->api_key = std::move(key);
    d->has_api_key = true;
  }
}

}  // namespace conversions::service::config_internal
