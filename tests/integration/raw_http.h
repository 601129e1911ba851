// Plain TCP connections to the gateway's HTTP port, for tests of clients
// that misbehave: idle connections, half-sent requests, bodies never sent.
#ifndef CONVERSIONS_TESTS_INTEGRATION_RAW_HTTP_H_
#define CONVERSIONS_TESTS_INTEGRATION_RAW_HTTP_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace conversions::testing {

// The port of a "host:port" address.
inline int PortOf(const std::string& address) {
  return std::stoi(address.substr(address.rfind(':') + 1));
}

// A connection to 127.0.0.1:port, closed with the object.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 &&
        connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }

  bool Send(const std::string& bytes) {
    return fd_ >= 0 && send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                           static_cast<ssize_t>(bytes.size());
  }

  // The status line of the response ("HTTP/1.1 411 Length Required"), or
  // "" if none came within `seconds`.
  std::string StatusLine(int seconds = 10) {
    return ReadUntil("\r\n", seconds);
  }

  // The status line and headers of the response, up to the blank line
  // (excluded), or "" if they did not come within `seconds`.
  std::string ResponseHead(int seconds = 10) {
    return ReadUntil("\r\n\r\n", seconds);
  }

  // Everything the peer sends until it closes the connection, or what came
  // within `seconds` if it does not.
  std::string ReadToEnd(int seconds = 10) {
    timeval tv{seconds, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string got;
    char buf[512];
    ssize_t n;
    while ((n = recv(fd_, buf, sizeof(buf), 0)) > 0) {
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }

 private:
  std::string ReadUntil(const std::string& end, int seconds) {
    timeval tv{seconds, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string got;
    char buf[512];
    while (got.find(end) == std::string::npos) {
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return "";
      got.append(buf, static_cast<size_t>(n));
    }
    return got.substr(0, got.find(end));
  }

 public:
 private:
  int fd_;
};

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_INTEGRATION_RAW_HTTP_H_
