// Reading JSON that clients send, shared by the gateway (POST /v1/track)
// and conversions-cli (event files): a strict syntax check, and protobuf's
// JSON parse errors without the text they quote. Neither message ever
// carries text from the input, which may hold an identifier.
#ifndef CONVERSIONS_SERVICE_JSON_INPUT_H_
#define CONVERSIONS_SERVICE_JSON_INPUT_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace google::protobuf {
class Descriptor;
}  // namespace google::protobuf

namespace conversions::service {

// Before protobuf's JSON parser reads `body`: refuses (InvalidArgument) a
// body that is not JSON as RFC 8259 defines it, which protobuf 3.21's
// parser accepts in several forms: single-quoted strings,
// unquoted keys, trailing commas, "\x41" escapes, "1." and raw control
// characters in strings. Stricter than the RFC's grammar in one place, as
// protobuf is too: strings must be valid Unicode (no unpaired surrogate
// escape). The message says what was wrong, in the parser's fixed words,
// and the line and column; never the text read there (it may be an
// identifier). Linear in the body and iterative, whatever the nesting
// (nlohmann::json's SAX parser, the strict one the sandbox uses).
absl::Status CheckJsonSyntax(std::string_view body);

// The keys of the top-level object of `body`, decoded ("\u0065vents" is
// "events", as protobuf reads it), in order; those read before a syntax
// error, and none if `body` is no object.
std::vector<std::string> JsonTopLevelKeys(std::string_view body);

// Refuses (InvalidArgument) a request body in JSON, whose syntax is
// checked already, that protobuf's C++ JSON parser would read otherwise
// than it says: an element of "events" that is not an object (the parser
// skips a null and flattens a nested list, so the results' indexes would
// no longer be the body's), one object for the "events" list, and a flag
// ("validate_only", "dry_run") other than a JSON boolean, null, or the
// strings "true" and "false" (the parser takes "yes", "y", "t" and "1" for
// true and "no", "n", "f" and "0" for false: a typo would turn a send into
// a check, or a check into a send). It refuses a key given twice in one
// object, which protobuf's parser would keep the last of; in the objects
// of `event_type`'s messages (the typed event, its user, data, contents),
// a field's proto name and its lowerCamelCase JSON name count as one key.
// `noun` names an event in the messages ("tag event", "event");
// `event_type` is nullptr for tag events, whose keys are all free-form.
absl::Status CheckEventsRequestShape(
    std::string_view body, const char* noun,
    const google::protobuf::Descriptor* event_type = nullptr);

// protobuf's JSON parse error `message` without the input text it quotes:
// a syntax error ends with the line around it, and a value of the wrong
// type is quoted; either may hold an identifier in clear text. Field names
// are kept when they look like field names; at most 200 characters.
std::string JsonParseProblem(std::string_view message);

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_JSON_INPUT_H_
