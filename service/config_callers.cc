// The Parser's `callers:` section (service/config_parser.h): the internal
// services allowed to call the gateway, each with its own bearer token.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/config_parser.h"

namespace conversions::service::config_internal {

std::vector<CallerConfig> Parser::ParseCallers(
    const Item& at, const std::vector<DestinationConfig>& destinations) {
  std::vector<CallerConfig> out;
  if (!at.node.IsSequence()) {
    Error(at,
          absl::StrCat("expected a list of callers, got ", KindOf(at.node)));
    return out;
  }
  if (at.node.size() == 0) {
    // An empty list from a template would turn authentication off quietly.
    Error(at,
          "is empty; list at least one caller, or leave the key out to run "
          "without caller authentication");
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
      Error(*token_file, SecretFileReadProblem(*s, content.status()));
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
    origin = EnvVarInMessage(c->token_env);
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

}  // namespace conversions::service::config_internal
