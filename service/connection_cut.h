// Cuts the connections a server accepted on a port, for a shutdown that
// must not wait for its clients.
//
// cpp-httplib's Server::stop() closes the listening socket and then waits
// for every connection's thread: an idle keep-alive connection's for up to
// its keep-alive timeout (5 s), and one reading a request for as long as
// its client keeps sending, since the read timeout is per read (a client
// that trickled a body a byte every few seconds kept the gateway from
// exiting well past its drain deadline). cpp-httplib does not expose the
// sockets it accepted, so they are found as the process's sockets whose
// local port is the server's and that do not listen; shut down (not
// closed: their threads still own and close them), each one's read
// returns at once.
#ifndef CONVERSIONS_SERVICE_CONNECTION_CUT_H_
#define CONVERSIONS_SERVICE_CONNECTION_CUT_H_

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace conversions::service {

// A connection's other end: its numeric address, as cpp-httplib's
// Request::remote_addr gives it ("127.0.0.1", "::1"), and its port.
using Peer = std::pair<std::string, int>;

// A connection CutConnectionsOnPort found.
struct Connection {
  Peer peer;
  bool unread = false;  // bytes arrived that the server has not read yet
};

// Shuts down (SHUT_RDWR) every connected TCP socket of this process whose
// local port is `port`, except those `spare` (if set) returns true for;
// returns how many. Linux only (/proc/self/fd); returns 0 where that cannot
// be read.
int CutConnectionsOnPort(
    int port, const std::function<bool(const Connection&)>& spare = {});

// The requests a server is serving (from the moment their headers were
// read until their response is written), by peer, so that a shutdown can
// cut idle connections at once and give these time. Thread-safe.
class RequestsInProgress {
 public:
  void Begin(const Peer& peer) {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_[peer];
  }
  // A request ended (also one Begin did not see: nothing happens).
  void End(const Peer& peer) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = count_.find(peer);
    if (it != count_.end() && --it->second == 0) count_.erase(it);
  }
  bool Serving(const Peer& peer) {
    std::lock_guard<std::mutex> lock(mu_);
    return count_.count(peer) > 0;
  }

 private:
  std::mutex mu_;
  std::map<Peer, int> count_;  // guarded by mu_
};

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_CONNECTION_CUT_H_
