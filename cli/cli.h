// conversions-cli: a command-line client for conversions-gateway, the way a
// person pokes the service (send a file of events, look up one event, list
// and retry dead letters). See UsageText in cli_options.h for the commands.
#ifndef CONVERSIONS_CLI_CLI_H_
#define CONVERSIONS_CLI_CLI_H_

#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace conversions::cli {

// Exit statuses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;         // RPC or usage error
inline constexpr int kExitRejected = 2;      // RPC succeeded, an event REJECTED
inline constexpr int kExitUnknownEvent = 3;  // status: no such event

// Runs the CLI on `argv` (argv[0] is the program name), reading "-" from
// standard input and $CONVERSIONS_TARGET and $CONVERSIONS_TOKEN (the
// caller's bearer token, when the gateway authenticates callers) from the
// environment. Results go to
// `out`, errors (with the gRPC code name) to `err`. Returns the exit status.
int RunCli(int argc, char** argv, std::ostream& out, std::ostream& err);

// The same with every input explicit: `args` excludes the program name and
// `env_target` and `env_token` stand for $CONVERSIONS_TARGET and
// $CONVERSIONS_TOKEN.
int RunCli(const std::vector<std::string>& args,
           std::optional<std::string> env_target, std::istream& in,
           std::ostream& out, std::ostream& err,
           std::optional<std::string> env_token = std::nullopt);

}  // namespace conversions::cli

#endif  // CONVERSIONS_CLI_CLI_H_
