#include "service/json_input.h"

#include <algorithm>
#include <cstddef>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
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
  constexpr std::string_view kInvalidValue = "invalid value";
  // "<name>: Cannot find field.": the name of an unknown request field is
  // the caller's text too; shown only when it looks like a field name.
  constexpr std::string_view kUnknownField = ": Cannot find field.";
  std::string out;
  if (message.size() > kUnknownField.size() &&
      message.substr(message.size() - kUnknownField.size()) == kUnknownField) {
    std::string_view name =
        message.substr(0, message.size() - kUnknownField.size());
    // Nested, protobuf writes "(events[0]) idd": shown as "events[0].idd".
    std::string path;
    if (const size_t close = name.find(") "); !name.empty() &&
                                              name.front() == '(' &&
                                              close != std::string_view::npos) {
      path = absl::StrCat(
          absl::string_view(name.data() + 1, close - 1), ".",
          absl::string_view(name.data() + close + 2, name.size() - close - 2));
      name = path;
    }
    // A path of such names ("events[0].idd") is shown too.
    const bool plain =
        name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                 c == '_' || c == '.' || c == '[' || c == ']';
        });
    out = plain
              ? absl::StrCat("unknown field \"",
                             absl::string_view(name.data(), name.size()), "\"")
              : "an unknown field, whose name is not shown: it is not a "
                "plain field name";
  } else if (size_t value = message.find(kInvalidValue);
             value != std::string_view::npos) {
    size_t type = message.rfind(" for type ");
    out.append(message.substr(0, value + kInvalidValue.size()));
    // The value is shown only when it looks like an enum name
    // ("ORDER_CREATED" for EVENT_TYPE_ORDER_CREATED): no identifier does.
    if (type != std::string_view::npos && type > value) {
      std::string_view quoted = message.substr(
          value + kInvalidValue.size(), type - value - kInvalidValue.size());
      if (quoted.size() >= 3 && quoted.size() <= 66 && quoted[0] == ' ' &&
          quoted[1] == '"' && quoted.back() == '"' &&
          std::all_of(quoted.begin() + 2, quoted.end() - 1, [](char c) {
            return absl::ascii_isupper(static_cast<unsigned char>(c)) ||
                   absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
                   c == '_';
          })) {
        out.append(quoted);
      }
      out.append(message.substr(type));
    }
  } else {
    out = std::string(message);
  }
  constexpr size_t kShown = 200;
  if (out.size() > kShown) out.replace(kShown, std::string::npos, "...");
  return out;
}

}  // namespace conversions::service
