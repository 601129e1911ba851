// A loopback TCP port nothing listens on, for tests of refused connections.
#ifndef CONVERSIONS_TESTS_CLOSED_PORT_H_
#define CONVERSIONS_TESTS_CLOSED_PORT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace conversions::testing {

// Binds a port on 127.0.0.1 without listening, then closes it: a
// connection there is refused (unless another process takes the port
// meanwhile). Returns -1 if no port could be bound.
inline int ClosedLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_CLOSED_PORT_H_
