// Runs the conversions-gateway binary as a child process, for tests of
// signals and crashes.
#ifndef CONVERSIONS_TESTS_INTEGRATION_GATEWAY_PROCESS_H_
#define CONVERSIONS_TESTS_INTEGRATION_GATEWAY_PROCESS_H_

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

extern char** environ;

namespace conversions::testing {

class GatewayProcess {
 public:
  // Starts `binary --config config_path` with `extra_env` added to the
  // environment, and reads the bound addresses from its stdout.
  GatewayProcess(const std::string& binary, const std::string& config_path,
                 const std::vector<std::string>& extra_env) {
    int out[2];
    if (pipe(out) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<std::string> env_strings(extra_env);
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
    std::vector<char*> envp;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string config_flag = "--config";
    std::string path = config_path;
    std::string bin = binary;
    char* argv[] = {bin.data(), config_flag.data(), path.data(), nullptr};
    if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv,
                    envp.data()) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    stdout_fd_ = out[0];
    ReadAddresses();
  }

  ~GatewayProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      Wait();
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }

  bool started() const { return pid_ > 0 && !grpc_address_.empty(); }
  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& http_address() const { return http_address_; }

  void Signal(int signal) { kill(pid_, signal); }

  // Whether the process has ended, without waiting; sets `*status` to its
  // wait status when it has.
  bool Exited(int* status) {
    if (exited_) return true;
    if (waitpid(pid_, status, WNOHANG) != pid_) return false;
    exited_ = true;
    return true;
  }

  // Waits for the process to end; returns its wait status.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return status;
  }

 private:
  void ReadAddresses() {
    std::string buffer;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline &&
           (grpc_address_.empty() || http_address_.empty())) {
      pollfd p{stdout_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char chunk[512];
      ssize_t n = read(stdout_fd_, chunk, sizeof(chunk));
      if (n <= 0) break;
      buffer.append(chunk, n);
      size_t line_end;
      while ((line_end = buffer.find('\n')) != std::string::npos) {
        std::string line = buffer.substr(0, line_end);
        buffer.erase(0, line_end + 1);
        if (line.rfind("grpc_listen=", 0) == 0) grpc_address_ = line.substr(12);
        if (line.rfind("http_listen=", 0) == 0) http_address_ = line.substr(12);
      }
    }
  }

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool exited_ = false;
  std::string grpc_address_;
  std::string http_address_;
};

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_INTEGRATION_GATEWAY_PROCESS_H_
