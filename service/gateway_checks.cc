// Gateway::CheckConfig: what `--check-config` (and start-up) finds wrong
// with a configuration beyond its syntax: tag mappings that do not compile,
// TLS files that do not load, a spool path that cannot be written.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "service/event_ingestor.h"
#include "service/gateway.h"
#include "service/tls_server.h"

namespace conversions::service {
namespace {

// Why nothing can be made in the folder `dir` ("" when something can): a
// folder made and removed at once. access() says yes for root wherever the
// mode bits do, also on /proc or /sys, where nothing can be made.
std::string CannotMakeIn(const std::string& dir) {
  std::string probe = dir + "/.conversions-check-XXXXXX";
  if (mkdtemp(probe.data()) == nullptr) {
    return absl::StrCat("cannot create it in ", dir, ": ",
                        std::strerror(errno));
  }
  rmdir(probe.c_str());
  return "";
}

// Why `path` cannot be written as the spool wants it ("" when it can): an
// existing file or folder must be writable; a missing one is made with
// the folders above it (as Spool::Open does), so something must be made
// in the nearest folder that exists.
std::string UnwritableReason(const std::string& path, bool folder) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (folder ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
      return absl::StrCat(path, " is not a ", folder ? "folder" : "file");
    }
    const int mode = folder ? (W_OK | X_OK) : (R_OK | W_OK);
    if (access(path.c_str(), mode) != 0) {
      return absl::StrCat(path, ": ", std::strerror(errno));
    }
    if (folder) {
      if (std::string reason = CannotMakeIn(path); !reason.empty()) {
        return absl::StrCat(path, ": ", reason);
      }
    }
    return "";
  }
  if (errno != ENOENT) return absl::StrCat(path, ": ", std::strerror(errno));
  std::filesystem::path ancestor =
      std::filesystem::absolute(path).lexically_normal().parent_path();
  int error = 0;
  while (stat(ancestor.c_str(), &st) != 0) {
    error = errno;
    if (error != ENOENT || !ancestor.has_relative_path()) break;
    ancestor = ancestor.parent_path();
    error = 0;
  }
  if (error != 0) {
    return absl::StrCat(path, ": ", ancestor.string(), ": ",
                        std::strerror(error));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::StrCat(path, ": ", ancestor.string(), " is not a folder");
  }
  if (access(ancestor.c_str(), W_OK | X_OK) != 0) {
    return absl::StrCat(path, ": cannot create it in ", ancestor.string(), ": ",
                        std::strerror(errno));
  }
  if (std::string reason = CannotMakeIn(ancestor.string()); !reason.empty()) {
    return absl::StrCat(path, ": ", reason);
  }
  return "";
}

}  // namespace

absl::Status Gateway::CheckConfig(const GatewayConfig& config) {
  std::vector<std::string> problems;
  for (const DestinationConfig& d : config.destinations) {
    absl::StatusOr<mapping::CompiledTagMapping> compiled =
        CompileDestinationTagMapping(d);
    if (!compiled.ok()) problems.emplace_back(compiled.status().message());
  }
  if (config.tls.enabled()) {
    absl::StatusOr<std::unique_ptr<httplib::Server>> tls =
        MakeTlsServer(config.tls);
    if (!tls.ok()) {
      problems.push_back(absl::StrCat("tls: ", tls.status().message()));
    }
  }
  for (const auto& [path, folder] :
       {std::pair{config.spool.path, false},
        std::pair{config.spool.path + ".payloads", true}}) {
    std::string reason = UnwritableReason(path, folder);
    if (!reason.empty()) problems.push_back("spool.path: " + reason);
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrJoin(problems, "\n"));
}

}  // namespace conversions::service
