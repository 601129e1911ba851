// Structured, leveled logs: one line of key=value pairs per event, on
// stderr. Cheap when the level is disabled. Never pass a clear-text
// identifier or an API key.
#ifndef CONVERSIONS_SERVICE_LOG_H_
#define CONVERSIONS_SERVICE_LOG_H_

#include <initializer_list>
#include <string_view>
#include <utility>

#include "service/config.h"

namespace conversions::service {

using LogFields =
    std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Sets the lowest level written. The level is process-wide: the one piece
// of global state, as logs go to one stderr anyway.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// Writes `ts=... level=... event=<event> k=v ...` as one write(2).
void Log(LogLevel level, std::string_view event, LogFields fields);

inline void LogDebug(std::string_view event, LogFields fields = {}) {
  if (LogEnabled(LogLevel::kDebug)) Log(LogLevel::kDebug, event, fields);
}
inline void LogInfo(std::string_view event, LogFields fields = {}) {
  if (LogEnabled(LogLevel::kInfo)) Log(LogLevel::kInfo, event, fields);
}
inline void LogWarn(std::string_view event, LogFields fields = {}) {
  if (LogEnabled(LogLevel::kWarn)) Log(LogLevel::kWarn, event, fields);
}
inline void LogError(std::string_view event, LogFields fields = {}) {
  if (LogEnabled(LogLevel::kError)) Log(LogLevel::kError, event, fields);
}

// Sends what gRPC (gpr_log) and protobuf log to Log, as `grpc_log` and
// `protobuf_log` events with `source` (file:line) and `message`, instead
// of their own free-form lines on stderr: gRPC's errors as errors;
// protobuf's errors, which requests that do not parse cause (the caller
// gets INVALID_ARGUMENT), as warnings. Process-wide, like the libraries'
// loggers; call once before serving.
void InstallLibraryLogHandlers();

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_LOG_H_
