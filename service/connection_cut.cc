#include "service/connection_cut.h"

#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>

namespace conversions::service {
namespace {

// The local TCP port of a connected (not listening) socket, or -1; its
// peer and whether bytes wait to be read in `connection`, its inode in
// `inode`.
int ConnectedLocalPort(int fd, Connection* connection, ino_t* inode) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return -1;
  *inode = st.st_ino;
  int type = 0;
  socklen_t size = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) != 0 ||
      type != SOCK_STREAM) {
    return -1;
  }
  int listening = 0;
  size = sizeof(listening);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 ||
      listening != 0) {
    return -1;
  }
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return -1;
  }
  int port = -1;
  if (address.ss_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  } else if (address.ss_family == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  }
  // The peer as cpp-httplib names it (getnameinfo, numeric).
  sockaddr_storage remote{};
  length = sizeof(remote);
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &length) == 0 &&
      getnameinfo(reinterpret_cast<sockaddr*>(&remote), length, host,
                  sizeof(host), service, sizeof(service),
                  NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    connection->peer = {host, std::atoi(service)};
  }
  int waiting = 0;
  connection->unread = ioctl(fd, FIONREAD, &waiting) == 0 && waiting > 0;
  return port;
}

}  // namespace

int CutConnectionsOnPort(int port,
                         const std::function<bool(const Connection&)>& spare) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  const int own = dirfd(dir);
  int cut = 0;
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == own) continue;
    Connection connection;
    ino_t inode = 0;
    if (ConnectedLocalPort(static_cast<int>(fd), &connection, &inode) != port) {
      continue;
    }
    if (spare && spare(connection)) continue;
    // The same socket still: its thread may have closed it meanwhile, and
    // the number gone to another. (A window remains between this look and
    // the shutdown; nothing opens sockets while the drain cuts.)
    struct stat st;
    if (fstat(static_cast<int>(fd), &st) != 0 || st.st_ino != inode) continue;
    if (shutdown(static_cast<int>(fd), SHUT_RDWR) == 0) ++cut;
  }
  closedir(dir);
  return cut;
}

}  // namespace conversions::service
