#include "service/json_input.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
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

// As SyntaxOnly, collecting the keys of the top-level object (nlohmann
// calls the derived type's members, so these hide the base's).
class TopLevelKeys : public SyntaxOnly {
 public:
  bool start_object(std::size_t) { return ++depth_, true; }
  bool key(json::string_t& key) {
    if (depth_ == 1) keys_.push_back(key);
    return true;
  }
  bool end_object() { return --depth_, true; }
  bool start_array(std::size_t) { return ++depth_, true; }
  bool end_array() { return --depth_, true; }

  std::vector<std::string>& keys() { return keys_; }

 private:
  int depth_ = 0;
  std::vector<std::string> keys_;
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

// A protobuf field name: a lower-case ASCII letter, then letters, digits
// and underscores; at most 64 characters, fewer than five digits, and not
// a run of hex digits (a digest). What a client writes as a field name
// looks like this; a phone number, an email, an id or a hash rarely does.
bool LooksLikeFieldName(std::string_view name) {
  if (name.empty() || name.size() > 64 ||
      !absl::ascii_islower(static_cast<unsigned char>(name.front()))) {
    return false;
  }
  int digits = 0;
  bool all_hex = true;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (!absl::ascii_isalnum(u) && c != '_') return false;
    if (absl::ascii_isdigit(u)) ++digits;
    if (!absl::ascii_isxdigit(u)) all_hex = false;
  }
  return digits < 5 && !(all_hex && name.size() >= 16);
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
std::string JoinPath(std::string_view path, std::string_view name) {
  if (path.empty()) return std::string(name);
  if (name.empty()) return std::string(path);
  return absl::StrCat(absl::string_view(path.data(), path.size()), ".",
                      absl::string_view(name.data(), name.size()));
}

// "events[3]" of a protobuf path that starts there, else the path if it
// looks like one.
std::string EventOf(std::string_view path) {
  if (path.substr(0, 7) == "events[") {
    const size_t close = path.find(']');
    if (close != std::string_view::npos) {
      const std::string event(path.substr(0, close + 1));
      if (LooksLikePath(event)) return event;
    }
  }
  return LooksLikePath(path) ? std::string(path) : "";
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.substr(text.size() - suffix.size()) == suffix;
}

// Whether `quoted` ("\"ORDER_CREATED\"") names a value of the enum
// `type_url` ("type.googleapis.com/conversions.v1.EventType") by its full
// name or by the part after the prefix its values share
// (EVENT_TYPE_ORDER_CREATED): the one case where a refused value is shown,
// since it is the enum's own text, not the caller's.
bool IsEnumValueName(std::string_view quoted, std::string_view type_url) {
  constexpr std::string_view kTypePrefix = "type.googleapis.com/";
  if (quoted.size() < 3 || quoted.front() != '"' || quoted.back() != '"' ||
      type_url.substr(0, kTypePrefix.size()) != kTypePrefix) {
    return false;
  }
  const std::string_view value = quoted.substr(1, quoted.size() - 2);
  const google::protobuf::EnumDescriptor* type =
      google::protobuf::DescriptorPool::generated_pool()->FindEnumTypeByName(
          std::string(type_url.substr(kTypePrefix.size())));
  if (type == nullptr) return false;
  for (int i = 0; i < type->value_count(); ++i) {
    const std::string& name = type->value(i)->name();
    if (name == value || (name.size() > value.size() && EndsWith(name, value) &&
                          name[name.size() - value.size() - 1] == '_')) {
      return true;
    }
  }
  return false;
}

// protobuf's wording of problems that quote nothing of the input.
constexpr std::string_view kFixedProblems[] = {
    "Root element must be a message.",
    "Proto field is not repeating, cannot start list.",
    "JSON transcoder produced invalid protobuf output.",
};
// What protobuf writes as the "value" of an invalid value when the JSON
// has another shape than the field.
constexpr std::string_view kFixedValues[] = {
    "Starting an object on a scalar field",
    "Starting an array on a scalar field",
};

// Finds the first element of the request's "events" list that is not an
// object. protobuf's JSON parser skips a null element and flattens a
// nested list into the outer one, so the results' indexes would no longer
// be the request's; anything else not an object it refuses, but without
// saying what it is. The body's syntax is checked already.
// It also refuses what protobuf's C++ parser takes for the request's own
// members beyond the proto3 JSON mapping: "yes", "y", "t" or "1" for a
// flag (a typo would silently turn a send into a check) and one object for
// the "events" list. A flag is a JSON boolean, null, or "true" or "false"
// as a string (which other protobuf parsers take too).
class EventElementCheck {
 public:
  using json = nlohmann::json;
  EventElementCheck(const char* noun,
                    const google::protobuf::Descriptor* event_type)
      : noun_(noun), event_type_(event_type) {}
  // "" when every element is an object; else what the first one is not.
  const std::string& problem() const { return problem_; }

  bool null() { return Scalar("null"); }
  bool boolean(bool) { return Scalar("a boolean"); }
  bool number_integer(json::number_integer_t) { return Scalar("a number"); }
  bool number_unsigned(json::number_unsigned_t) { return Scalar("a number"); }
  bool number_float(json::number_float_t, const json::string_t&) {
    return Scalar("a number");
  }
  bool string(json::string_t& value) {
    if ((depth_ == 1 && member_ == Member::kFlag) || InEventFlag()) {
      if (value == "true" || value == "false") return true;
    }
    return Scalar("a string");
  }
  bool binary(json::binary_t&) { return Scalar("binary data"); }
  bool start_object(std::size_t) {
    if (InEventList()) ++elements_;
    if (depth_ == 1 && !MemberMayBe("an object")) return false;
    ++depth_;
    levels_.push_back({Child(), /*list=*/false});
    keys_.emplace_back();
    return true;
  }
  bool key(json::string_t& key) {
    // The same key twice in one object: protobuf's parser keeps the last
    // value of a field (or joins two lists) where another reader keeps the
    // first, and every field has two names ("dry_run" and "dryRun",
    // "action_source" and "actionSource"): a check could turn into a send.
    // A typed event's messages compare their keys by field name; free-form
    // objects (a Struct, a map) and tag events keep theirs as written.
    const google::protobuf::Descriptor* message = levels_.back().message;
    pending_field_ = nullptr;
    if (message != nullptr) {
      pending_field_ = FieldOf(*message, key);
    }
    const std::string member(depth_ == 1      ? std::string(RequestMember(key))
                             : pending_field_ ? pending_field_->name()
                                              : key);
    const bool renamed = member != key;
    if (const auto [first, inserted] = keys_.back().emplace(member, renamed);
        !inserted) {
      problem_ =
          depth_ == 1 && IsRequestMember(member)
              ? absl::StrCat("the request gives ", member, " twice",
                             FlagSpellings(member), ": send each member once")
          : event_list_depth_ != -1 && depth_ > event_list_depth_
              ? absl::StrCat(
                    first->second != renamed
                        ? "an object gives a field twice, as its proto name "
                          "and as its lowerCamelCase JSON name"
                        : "an object holds the same key twice",
                    " (in events[", elements_ - 1, "])")
          : depth_ == 1 ? std::string("the request holds the same key twice")
                        : std::string("an object holds the same key twice");
      return false;
    }
    if (event_list_depth_ != -1 && depth_ == event_list_depth_ + 1) {
      event_flag_ = std::string_view(noun_) == "event" &&
                    (key == "opt_out" || key == "optOut");
      if (event_flag_) event_key_ = key;
    }
    if (depth_ == 1) {
      member_key_ = key;
      member_ = member == "events" ? Member::kEvents
                : member == "validate_only" || member == "dry_run"
                    ? Member::kFlag
                    : Member::kOther;
    }
    return true;
  }
  bool end_object() {
    --depth_;
    levels_.pop_back();
    keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    if (InEventList()) return Refuse("a list");
    if (depth_ == 1 && member_ != Member::kEvents && !MemberMayBe("a list")) {
      return false;
    }
    ++depth_;
    if (depth_ == 2 && member_ == Member::kEvents) {
      event_list_depth_ = depth_;
      levels_.push_back({event_type_, /*list=*/true});
    } else {
      levels_.push_back({Child(), /*list=*/true});
    }
    return true;
  }
  bool end_array() {
    if (depth_ == event_list_depth_) event_list_depth_ = -1;
    --depth_;
    levels_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception&) {
    return false;
  }

 private:
  enum class Member { kOther, kEvents, kFlag };
  // An object or list being read: the typed event message it is, or holds
  // a list of; nullptr for anything else (the request itself, a Struct or
  // a map's free-form keys, tag events).
  struct Level {
    const google::protobuf::Descriptor* message;
    bool list;
  };

  // The field `key` names, by its name or its JSON name, as protobuf's
  // parser takes it; nullptr for an unknown key.
  static const google::protobuf::FieldDescriptor* FieldOf(
      const google::protobuf::Descriptor& message, std::string_view key) {
    const std::string name(key);
    if (const auto* f = message.FindFieldByName(name)) return f;
    for (int i = 0; i < message.field_count(); ++i) {
      if (message.field(i)->json_name() == name) return message.field(i);
    }
    return nullptr;
  }

  // The message of the object or list starting now: a list's element, or
  // the value of the field whose key was read last.
  const google::protobuf::Descriptor* Child() const {
    if (levels_.empty()) return nullptr;  // the request
    if (levels_.back().list) return levels_.back().message;
    const google::protobuf::FieldDescriptor* f = pending_field_;
    if (f == nullptr ||
        f->type() != google::protobuf::FieldDescriptor::TYPE_MESSAGE ||
        f->is_map() ||
        f->message_type()->file()->name() == "google/protobuf/struct.proto") {
      return nullptr;
    }
    return f->message_type();
  }

  // A request member's field name for its JSON name ("dryRun": "dry_run").
  static std::string_view RequestMember(std::string_view key) {
    if (key == "validateOnly") return "validate_only";
    if (key == "dryRun") return "dry_run";
    return key;
  }
  static std::string FlagSpellings(std::string_view member) {
    if (member == "validate_only") return " (as validate_only or validateOnly)";
    if (member == "dry_run") return " (as dry_run or dryRun)";
    return "";
  }
  static bool IsRequestMember(std::string_view key) {
    return key == "destination" || key == "events" || key == "validate_only" ||
           key == "dry_run";
  }

  bool InEventList() const { return depth_ == event_list_depth_; }
  bool Scalar(const char* what) {
    if (InEventList()) return Refuse(what);
    if (InEventFlag() && std::string_view(what) != "null" &&
        std::string_view(what) != "a boolean") {
      // protobuf's parser takes "yes", "no", "1" and "0" for a boolean
      // field too, beyond the proto3 JSON mapping.
      problem_ =
          absl::StrCat("events[", elements_ - 1, "].", event_key_,
                       " must be true or false (a JSON boolean), not ", what);
      return false;
    }
    return depth_ != 1 || MemberMayBe(what);
  }
  // Whether the value coming is a typed event's own boolean (opt_out).
  bool InEventFlag() const {
    return event_flag_ && event_list_depth_ != -1 &&
           depth_ == event_list_depth_ + 1;
  }
  // Whether the request's member being read may be `what` (null always
  // may: it stands for the default).
  bool MemberMayBe(const char* what) {
    const std::string_view kind = what;
    if (kind == "null" || member_ == Member::kOther) return true;
    if (member_ == Member::kFlag) {
      if (kind == "a boolean") return true;
      problem_ = absl::StrCat(
          member_key_, " must be true or false (a JSON boolean), not ", what);
      return false;
    }
    problem_ =
        absl::StrCat(member_key_, " must be a list of ", noun_, "s, not ", what,
                     kind == "an object" ? " (send one event as a list "
                                           "of one)"
                                         : "");
    return false;
  }
  bool Refuse(const char* what) {
    problem_ = absl::StrCat("events[", elements_, "] is ", what,
                            ": each element of events must be an object (a",
                            std::string_view(noun_).front() == 'e' ? "n " : " ",
                            noun_, ")");
    return false;
  }

  int depth_ = 0;  // 1 inside the request object
  // The keys of each object being read, the request's and a typed event's
  // by field name, each with whether its first spelling was another.
  std::vector<absl::flat_hash_map<std::string, bool>> keys_;
  std::vector<Level> levels_;  // each object or list being read
  // The field of the key read last, in a typed event's message.
  const google::protobuf::FieldDescriptor* pending_field_ = nullptr;
  Member member_ = Member::kOther;  // whose value comes, at depth 1
  std::string member_key_;
  int event_list_depth_ = -1;  // depth inside the events list, when in it
  bool event_flag_ = false;    // a typed event's boolean member comes
  std::string event_key_;      // its name
  int elements_ = 0;           // elements of the list seen
  std::string problem_;
  const char* noun_;
  const google::protobuf::Descriptor* event_type_;  // nullptr: tag events
};

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

std::vector<std::string> JsonTopLevelKeys(std::string_view body) {
  TopLevelKeys sax;
  nlohmann::json::sax_parse(body.begin(), body.end(), &sax);
  return std::move(sax.keys());
}

std::string JsonParseProblem(std::string_view message) {
  message = message.substr(0, message.find('\n'));
  // protobuf starts with "(<path>): " or "(<path>) <name>: " when the
  // problem sits below the root: <path> is made of field names and indexes
  // ("events[0].fields[1]"); <name> is a field's or a map key's, which is
  // the caller's text and may hold anything, ": " included. So the problem
  // is recognized by its fixed words, from the end; what lies between the
  // path and those words is the name, shown only if it looks like a field
  // name; and nothing else of the message is ever shown.
  std::string_view path;
  std::string_view rest = message;
  if (!rest.empty() && rest.front() == '(') {
    const size_t close = rest.find(')');
    if (close != std::string_view::npos &&
        LooksLikePath(rest.substr(1, close - 1))) {
      path = rest.substr(1, close - 1);
      rest.remove_prefix(close + 1);
      if (rest.substr(0, 2) == ": ") {
        rest.remove_prefix(2);
      } else if (rest.substr(0, 1) == " ") {
        rest.remove_prefix(1);
      }
    }
  } else if (rest.substr(0, 2) == ": ") {
    rest.remove_prefix(2);
  }
  // `where`: the path, and the name when it looks like a field name.
  auto where = [&](std::string_view name) {
    const std::string full = JoinPath(path, name);
    if (!name.empty() && LooksLikeFieldName(name) && LooksLikePath(full)) {
      return full;
    }
    return std::string(path);
  };
  auto prefixed = [](const std::string& at, std::string_view text) {
    return at.empty()
               ? std::string(text)
               : absl::StrCat(at, ": ",
                              absl::string_view(text.data(), text.size()));
  };
  std::string out;
  constexpr std::string_view kUnknown = "Cannot find field.";
  constexpr std::string_view kRepeatedKey = "Repeated map key: '";
  constexpr std::string_view kInvalid = "invalid value ";
  constexpr std::string_view kForType = " for type ";
  if (EndsWith(rest, kUnknown)) {
    std::string_view name = rest.substr(0, rest.size() - kUnknown.size());
    if (EndsWith(name, ": ")) name.remove_suffix(2);
    const std::string full = JoinPath(path, name);
    out = LooksLikeFieldName(name) && LooksLikePath(full)
              ? absl::StrCat("unknown field \"", full, "\"")
              : "an unknown field, whose name is not shown: it is not a "
                "plain field name";
  } else if (EndsWith(rest, "' is already set.") &&
             rest.find(kRepeatedKey) != std::string_view::npos) {
    // A key given twice in one object of an event; the key is not shown.
    const std::string event = EventOf(path);
    out = absl::StrCat("an object holds the same key twice",
                       event.empty() ? "" : absl::StrCat(" (in ", event, ")"));
  } else if (const size_t type = rest.rfind(kForType),
             invalid = rest.find(kInvalid);
             type != std::string_view::npos &&
             invalid != std::string_view::npos && invalid < type) {
    // "[<name>: ]invalid value <value> for type <type>": the type is a
    // type name or, for a value of another shape, the field's name.
    const std::string_view type_name = rest.substr(type + kForType.size());
    const std::string_view value = rest.substr(
        invalid + kInvalid.size(), type - invalid - kInvalid.size());
    std::string_view name = rest.substr(0, invalid);
    if (EndsWith(name, ": ")) name.remove_suffix(2);
    const bool plain_type =
        !type_name.empty() && type_name.size() <= 100 &&
        std::all_of(type_name.begin(), type_name.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                 c == '_' || c == '.' || c == '/';
        });
    if (std::find(std::begin(kFixedValues), std::end(kFixedValues), value) !=
        std::end(kFixedValues)) {
      // The field's name is the "type": "destination: Starting an object
      // on a scalar field".
      out = prefixed(where(plain_type && LooksLikeFieldName(type_name)
                               ? type_name
                               : std::string_view()),
                     value);
    } else {
      const std::string at = where(name);
      out = absl::StrCat(
          at.empty() ? "" : absl::StrCat("(", at, "): "), "invalid value",
          IsEnumValueName(value, type_name)
              ? absl::StrCat(" ", absl::string_view(value.data(), value.size()))
              : "",
          plain_type
              ? absl::StrCat(" for type ", absl::string_view(type_name.data(),
                                                             type_name.size()))
              : "");
    }
  } else if (const auto* fixed = std::find_if(
                 std::begin(kFixedProblems), std::end(kFixedProblems),
                 [&](std::string_view p) { return EndsWith(rest, p); });
             fixed != std::end(kFixedProblems)) {
    std::string_view name = rest.substr(0, rest.size() - fixed->size());
    if (EndsWith(name, ": ")) name.remove_suffix(2);
    out = prefixed(where(name), *fixed);
  } else {
    // Wording this function does not know: it may quote the input.
    out = prefixed(std::string(path),
                   "protobuf's JSON parser refused it (its message is not "
                   "shown: it may quote the input)");
  }
  constexpr size_t kShown = 200;
  if (out.size() > kShown) out.replace(kShown, std::string::npos, "...");
  return out;
}

absl::Status CheckEventsRequestShape(
    std::string_view body, const char* noun,
    const google::protobuf::Descriptor* event_type) {
  EventElementCheck elements(noun, event_type);
  nlohmann::json::sax_parse(body.begin(), body.end(), &elements);
  if (elements.problem().empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(elements.problem());
}

}  // namespace conversions::service
