#include "service/json_input.h"

#include <algorithm>
#include <cstddef>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace conversions::service {
namespace {

// A SAX handler that takes every value and keeps where the first error
// is and what it is, in nlohmann's own fixed words only.
class SyntaxOnly {
 public:
  using json = nlohmann::json;
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) {
    return true;
  }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool start_object(std::size_t) { return true; }
  bool key(json::string_t&) { return true; }
  bool end_object() { return true; }
  bool start_array(std::size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& e) {
    position_ = position;
    what_ = Describe(e);
    return false;
  }

  size_t position() const { return position_; }
  const std::string& what() const { return what_; }

 private:
  // A syntax error (parse_error.101) reads "[json.exception.parse_error.101]
  // parse error at line 1, column 2: syntax error while parsing object key -
  // <what was wrong>", where a lexer's error goes on "; last read: '<the
  // text>'". Only the fixed words between " - " and "; last read" are kept.
  // Other errors (a number too large for a double: out_of_range.406) quote
  // the text in their message, and get fixed words of our own.
  static std::string Describe(const nlohmann::detail::exception& e) {
    if (e.id != 101) {
      return e.id == 406 ? "a number too large for a double" : "syntax error";
    }
    std::string_view what = e.what();
    const size_t dash = what.find(" - ");
    if (dash == std::string_view::npos) return "syntax error";
    what.remove_prefix(dash + 3);
    return std::string(what.substr(0, what.find("; last read")));
  }

  size_t position_ = 0;
  std::string what_;
};

// "line L, column C" of byte `position` of `text` (columns count bytes,
// from 1).
std::string LineAndColumn(std::string_view text, size_t position) {
  position = std::min(position, text.size());
  const std::string_view before = text.substr(0, position);
  const size_t line =
      1 + static_cast<size_t>(std::count(before.begin(), before.end(), '\n'));
  const size_t line_start = before.rfind('\n');
  const size_t column = line_start == std::string_view::npos
                            ? position + 1
                            : position - line_start;
  return absl::StrCat("line ", line, ", column ", column);
}

constexpr std::string_view kInvalidValue = "invalid value";

// A protobuf field name: a lower-case ASCII letter, then letters, digits
// and underscores; at most 64 characters. What a client writes as a field
// name looks like this; a phone number, an email or an id rarely does.
bool LooksLikeFieldName(std::string_view name) {
  return !name.empty() && name.size() <= 64 &&
         absl::ascii_islower(static_cast<unsigned char>(name.front())) &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                  c == '_';
         });
}

// A path of field names and indexes ("events[0].fields[1].value"), each
// name as LooksLikeFieldName; at most 120 characters.
bool LooksLikePath(std::string_view path) {
  if (path.empty() || path.size() > 120) return false;
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(path.data(), path.size()), '.')) {
    const size_t bracket = part.find('[');
    const absl::string_view field = part.substr(0, bracket);
    if (!LooksLikeFieldName(std::string_view(field.data(), field.size()))) {
      return false;
    }
    if (bracket == absl::string_view::npos) continue;
    const absl::string_view index = part.substr(bracket);
    if (index.size() < 3 || index.back() != ']' ||
        !std::all_of(index.begin() + 1, index.end() - 1, [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      return false;
    }
  }
  return true;
}

// `path` and `name` joined by a dot, either of which may be empty.
std::string JoinPath(const std::string& path, std::string_view name) {
  if (path.empty()) return std::string(name);
  if (name.empty()) return path;
  return absl::StrCat(path, ".", absl::string_view(name.data(), name.size()));
}

// "events[3]" of a protobuf path that starts there, else the path.
std::string EventOf(const std::string& path) {
  if (path.rfind("events[", 0) == 0) {
    const size_t close = path.find(']');
    if (close != std::string::npos) return path.substr(0, close + 1);
  }
  return LooksLikePath(path) ? path : "an event";
}

}  // namespace

absl::Status CheckJsonSyntax(std::string_view body) {
  // nlohmann reads a NUL byte as the end of its input, so a body could hide
  // anything after one; JSON has no place for a raw NUL, in a string or out.
  if (const size_t nul = body.find('\0'); nul != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not valid JSON (RFC 8259): a NUL byte at ", LineAndColumn(body, nul)));
  }
  SyntaxOnly sax;
  if (nlohmann::json::sax_parse(body.begin(), body.end(), &sax)) {
    return absl::OkStatus();
  }
  // nlohmann's position is the count of bytes read, the bad one included.
  const size_t at = sax.position() > 0 ? sax.position() - 1 : 0;
  return absl::InvalidArgumentError(
      absl::StrCat("not valid JSON (RFC 8259): ", sax.what(), " at ",
                   LineAndColumn(body, at)));
}

std::string JsonParseProblem(std::string_view message) {
  message = message.substr(0, message.find('\n'));
  // protobuf starts with "(<path>) <name>: " when the problem sits below the
  // root: <path> is made of field names and indexes ("events[0].fields[1]"),
  // <name> is the field's or the map key's, which is the caller's text.
  // The problem of the field itself reads "(<path>): <problem>".
  std::string_view path;
  std::string_view name;
  std::string_view problem = message;
  const size_t close = message.find(')');
  if (!message.empty() && message.front() == '(' &&
      close != std::string_view::npos && message.substr(close, 3) == "): ") {
    path = message.substr(1, close - 1);
    problem = message.substr(close + 3);
  } else {
    if (!message.empty() && message.front() == '(' &&
        close != std::string_view::npos && message.substr(close, 2) == ") ") {
      path = message.substr(1, close - 1);
      message.remove_prefix(close + 2);
      problem = message;
    }
    if (const size_t colon = message.find(": ");
        colon != std::string_view::npos) {
      name = message.substr(0, colon);
      problem = message.substr(colon + 2);
    }
  }
  const std::string where(path);
  std::string out;
  if (problem == "Cannot find field.") {
    // The name of an unknown request field is shown only when it looks
    // like a field name; a path of such names ("events[0].idd") too.
    const std::string full = JoinPath(where, name);
    out = LooksLikeFieldName(name) && LooksLikePath(full)
              ? absl::StrCat("unknown field \"", full, "\"")
              : "an unknown field, whose name is not shown: it is not a "
                "plain field name";
  } else if (absl::StartsWith(absl::string_view(problem.data(), problem.size()),
                              "Repeated map key")) {
    // A key given twice in one object of an event; the key is not shown.
    out = absl::StrCat(
        "an object holds the same key twice",
        where.empty() ? "" : absl::StrCat(" (in ", EventOf(where), ")"));
  } else if (const size_t value = problem.find(kInvalidValue);
             value != std::string_view::npos) {
    // "invalid value <the value> for type <type>": the value is shown only
    // for an enum type ("ORDER_CREATED" for EVENT_TYPE_ORDER_CREATED), and
    // only when it looks like an enum name, which no identifier does.
    const size_t type = problem.rfind(" for type ");
    const std::string full = JoinPath(where, name);
    if (LooksLikePath(full)) out = absl::StrCat("(", full, "): ");
    out.append(kInvalidValue);
    if (type != std::string_view::npos && type > value) {
      const std::string_view quoted = problem.substr(
          value + kInvalidValue.size(), type - value - kInvalidValue.size());
      const std::string_view type_name =
          problem.substr(type + std::string_view(" for type ").size());
      const bool enum_type = type_name.substr(0, 5) != "TYPE_";
      if (enum_type && quoted.size() >= 3 && quoted.size() <= 66 &&
          quoted[0] == ' ' && quoted[1] == '"' && quoted.back() == '"' &&
          std::all_of(quoted.begin() + 2, quoted.end() - 1, [](char c) {
            return absl::ascii_isupper(static_cast<unsigned char>(c)) ||
                   absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
                   c == '_';
          })) {
        out.append(quoted);
      }
      out.append(problem.substr(type));
    }
  } else {
    // Anything else, without what it quotes (protobuf quotes values and
    // keys in '' or ""), and with the name only when it is a plain one.
    std::string scrubbed;
    char quote = 0;
    for (const char c : problem) {
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
          scrubbed.append("(not shown)");
        }
        continue;
      }
      if (c == '\'' || c == '"') {
        quote = c;
        continue;
      }
      scrubbed.push_back(c);
    }
    if (quote != 0) scrubbed.append("(not shown)");
    const std::string full = JoinPath(where, name);
    const std::string& shown = LooksLikePath(full) ? full : where;
    out = shown.empty() ? scrubbed : absl::StrCat(shown, ": ", scrubbed);
  }
  constexpr size_t kShown = 200;
  if (out.size() > kShown) out.replace(kShown, std::string::npos, "...");
  return out;
}

}  // namespace conversions::service
