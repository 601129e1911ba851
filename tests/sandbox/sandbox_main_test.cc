// Runs the conversions-sandbox binary as scripts do: read the listen line,
// talk to it over HTTP, stop it with SIGTERM.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

extern char** environ;

namespace conversions::sandbox {
namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

// A running conversions-sandbox with its stdout on a pipe.
class SandboxProcess {
 public:
  explicit SandboxProcess(std::vector<std::string> args) {
    args.insert(args.begin(), CONVERSIONS_SANDBOX_BINARY);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) !=
        0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    stdout_fd_ = fds[0];
  }

  ~SandboxProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }

  bool started() const { return pid_ > 0; }

  // The next stdout line without its newline; nullopt on EOF or if nothing
  // arrives within 10 s (a guard against a hang, not a timing assumption).
  std::optional<std::string> ReadLine() {
    while (true) {
      if (size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      pollfd pfd{stdout_fd_, POLLIN, 0};
      if (poll(&pfd, 1, 10'000) <= 0) return std::nullopt;
      char chunk[4096];
      ssize_t n = read(stdout_fd_, chunk, sizeof(chunk));
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // Sends `signal` and returns the exit status (-1 unless it exited).
  int StopWith(int signal) {
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Waits for exit and returns the exit status.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Everything left on stdout until EOF.
  std::string Rest() {
    std::string rest = buffer_;
    char chunk[4096];
    ssize_t n;
    while ((n = read(stdout_fd_, chunk, sizeof(chunk))) > 0) {
      rest.append(chunk, static_cast<size_t>(n));
    }
    return rest;
  }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
};

int PortOf(const std::string& listen_line) {
  return std::stoi(listen_line.substr(listen_line.rfind(':') + 1));
}

json PageView(const std::string& id) {
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return {{"id", id},
          {"type", "page_viewed"},
          {"timestamp_ms", now_ms},
          {"source_url", "https://example.com/"},
          {"action_source", "web"},
          {"data", {{"type", "contents"}}}};
}

TEST(SandboxMainTest, PrintsListenLineServesPrintsEventsAndStopsOnSigterm) {
  SandboxProcess process({"--listen", "127.0.0.1:0", "--api-key",
                          "secret-key-42", "--pixel-id", "px-a,px-b",
                          "--pixel-id=px-c", "--print"});
  ASSERT_TRUE(process.started());
  std::optional<std::string> listen = process.ReadLine();
  ASSERT_TRUE(listen.has_value());
  EXPECT_THAT(*listen, MatchesRegex("sandbox_listen=127\\.0\\.0\\.1:[0-9]+"));

  httplib::Client client("127.0.0.1", PortOf(*listen));
  httplib::Headers headers = {{"Authorization", "Bearer secret-key-42"}};
  for (const char* pixel : {"px-b", "px-c"}) {
    json event = PageView(std::string("view-") + pixel);
    httplib::Result res =
        client.Post(std::string("/v1/events?pid=") + pixel, headers,
                    json({{"events", {event}}}).dump(), "application/json");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200) << res->body;
    std::optional<std::string> printed = process.ReadLine();
    ASSERT_TRUE(printed.has_value());
    EXPECT_EQ(json::parse(*printed), event);
  }

  EXPECT_EQ(process.StopWith(SIGTERM), 0);
  EXPECT_THAT(*listen + process.Rest(), Not(HasSubstr("secret-key-42")));
}

TEST(SandboxMainTest, DefaultsAndSigint) {
  SandboxProcess process({});
  ASSERT_TRUE(process.started());
  std::optional<std::string> listen = process.ReadLine();
  ASSERT_TRUE(listen.has_value());
  httplib::Client client("127.0.0.1", PortOf(*listen));
  httplib::Result res = client.Post(
      "/v1/events?pid=sandbox-pixel",
      httplib::Headers{{"Authorization", "Bearer sandbox-key"}},
      json({{"events", {PageView("v")}}}).dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(process.StopWith(SIGINT), 0);
  // Without --print nothing follows the listen line.
  EXPECT_EQ(process.Rest(), "");
}

TEST(SandboxMainTest, BadFlagsExitWithUsageError) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"--bogus"},
        std::vector<std::string>{"--listen", "no-port"},
        std::vector<std::string>{"--listen", "127.0.0.1:70000"},
        std::vector<std::string>{"--api-key"}}) {
    SandboxProcess process(args);
    ASSERT_TRUE(process.started());
    EXPECT_EQ(process.Wait(), 2) << args[0];
  }
}

}  // namespace
}  // namespace conversions::sandbox
