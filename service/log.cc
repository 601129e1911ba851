#include "service/log.h"

#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <string>

#include "absl/strings/str_cat.h"
#include "service/parse_error_interceptor.h"

namespace conversions::service {
namespace {

std::atomic<int>& Level() {
  static std::atomic<int> level{static_cast<int>(LogLevel::kInfo)};
  return level;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void AppendValue(std::string_view v, std::string* out) {
  bool quote = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' ||
        static_cast<unsigned char>(c) < 0x20) {
      quote = true;
      break;
    }
  }
  if (!quote) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

void ProtobufLog(google::protobuf::LogLevel level, const char* filename,
                 int line, const std::string& message) {
  // Whatever the log level: the answer to the request names the field.
  NoteProtobufParseMessage(message);
  LogLevel ours = LogLevel::kError;
  if (level == google::protobuf::LOGLEVEL_INFO) {
    ours = LogLevel::kDebug;
  } else if (level == google::protobuf::LOGLEVEL_WARNING ||
             level == google::protobuf::LOGLEVEL_ERROR) {
    ours = LogLevel::kWarn;
  }
  if (!LogEnabled(ours)) return;
  Log(ours, "protobuf_log",
      {{"source", absl::StrCat(filename, ":", line)}, {"message", message}});
}

void GrpcLog(gpr_log_func_args* args) {
  LogLevel ours = args->severity == GPR_LOG_SEVERITY_DEBUG  ? LogLevel::kDebug
                  : args->severity == GPR_LOG_SEVERITY_INFO ? LogLevel::kInfo
                                                            : LogLevel::kError;
  if (!LogEnabled(ours)) return;
  Log(ours, "grpc_log",
      {{"source", absl::StrCat(args->file, ":", args->line)},
       {"message", args->message == nullptr ? "" : args->message}});
}

}  // namespace

void InstallLibraryLogHandlers() {
  google::protobuf::SetLogHandler(&ProtobufLog);
  gpr_set_log_function(&GrpcLog);
  // Reads GRPC_VERBOSITY now: until grpc_init does, gpr_log drops all.
  gpr_log_verbosity_init();
}

void SetLogLevel(LogLevel level) { Level().store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= Level().load(std::memory_order_relaxed);
}

void Log(LogLevel level, std::string_view event, LogFields fields) {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                now.time_since_epoch())
                .count() %
            1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[40];
  std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line = "ts=";
  line.append(ts);
  char frac[8];
  std::snprintf(frac, sizeof(frac), ".%03dZ", static_cast<int>(ms));
  line.append(frac);
  line.append(" level=");
  line.append(LevelName(level));
  line.append(" event=");
  AppendValue(event, &line);
  for (const auto& [key, value] : fields) {
    line.push_back(' ');
    line.append(key);
    line.push_back('=');
    AppendValue(value, &line);
  }
  line.push_back('\n');
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;  // nothing sensible to do when stderr is gone
}

}  // namespace conversions::service
