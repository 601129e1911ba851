// The HTTP port against clients that misbehave: it reads no body it does
// not want (chunked or unbounded bodies, bodies of paths that take none),
// and probes are answered however many connections sit idle or half-sent.
#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/integration/raw_http.h"

namespace conversions::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class HttpPortTest : public GatewayFixture {
 protected:
  int port() { return PortOf(gateway_->http_address()); }
};

// cpp-httplib would read a chunked body into memory whatever its size
// (grpc.max_receive_message_bytes bounds a Content-Length only): the
// request is answered 411 from its headers, before any of the body.
TEST_F(HttpPortTest, AChunkedTrackIsRefusedBeforeItsBodyIsRead) {
  RawConnection c(port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send(
      "POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n"));
  EXPECT_EQ(c.StatusLine(), "HTTP/1.1 411 Length Required");
}

// Without a Content-Length or chunks, a body runs to the end of the
// connection: refused the same way.
TEST_F(HttpPortTest, ATrackWithoutContentLengthIsRefused) {
  RawConnection c(port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      c.Send("POST /v1/track HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\n\r\n{\"events\": ["));
  EXPECT_EQ(c.StatusLine(), "HTTP/1.1 411 Length Required");
}

// A method a path does not take is answered before its body, which is
// never sent here.
TEST_F(HttpPortTest, AMethodAPathDoesNotTakeIs405BeforeAnyBody) {
  for (const char* head :
       {"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
        "PUT /v1/track HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
        "DELETE /healthz HTTP/1.1\r\nHost: x\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"}) {
    RawConnection c(port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.Send(head));
    EXPECT_EQ(c.StatusLine(), "HTTP/1.1 405 Method Not Allowed") << head;
  }
  // Nor does a path that does not exist get as far as reading a body.
  for (const char* head :
       {"POST /v1/track/ HTTP/1.1\r\nHost: x\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        "PUT /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"}) {
    RawConnection c(port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.Send(head));
    EXPECT_EQ(c.StatusLine(), "HTTP/1.1 404 Not Found") << head;
  }
  httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
  auto get = http.Get("/v1/track");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  EXPECT_THAT(get->body, HasSubstr(R"("code":"UNIMPLEMENTED")"));
  auto post = http.Post("/readyz", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
  EXPECT_THAT(post->body, HasSubstr(R"("code":"UNIMPLEMENTED")"));
}

// cpp-httplib's own pool had 8 threads, each held by a connection while it
// stays open: 8 idle keep-alive connections left /healthz unanswered for
// seconds. Here 40 idle and 20 half-sent connections stay open while the
// probes are answered (each within the 3 s a liveness probe might allow).
TEST_F(HttpPortTest, ProbesAreAnsweredWhileManyConnectionsSitIdle) {
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 60; ++i) {
    held.push_back(std::make_unique<RawConnection>(port()));
    ASSERT_TRUE(held.back()->ok());
    if (i >= 40) {
      ASSERT_TRUE(held.back()->Send("GET /healthz HTTP/1.1\r\n"));
    }
  }
  httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
  http.set_connection_timeout(3);
  http.set_read_timeout(3);
  for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
    auto res = http.Get(path);
    ASSERT_TRUE(res) << path << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200) << path;
  }
  // And events still come in.
  auto track = http.Post(
      "/v1/track",
      R"({"events": [{"event_name": "page_view", "context": {"event_id": "p1",
          "page": {"url": "https://shop.example.com/"}}}]})",
      "application/json");
  ASSERT_TRUE(track);
  EXPECT_EQ(track->status, 200) << track->body;
  EXPECT_THAT(track->body, HasSubstr("OUTCOME_ACCEPTED"));
}

// Headers that would make the body unsafe to read are answered before it
// is: a compressed body (cpp-httplib inflates it, and bounds only the bytes
// received), two Content-Lengths (request smuggling behind a proxy), two
// Content-Types or Content-Encodings, and a charset other than UTF-8 (the
// body would be read as UTF-8 anyway).
TEST_F(HttpPortTest, UnsafeBodyHeadersAreRefusedBeforeTheBody) {
  struct Case {
    std::string headers;
    std::string status;
  };
  const std::vector<Case> cases = {
      {"Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
       "Content-Length: 1000000\r\n",
       "HTTP/1.1 415 Unsupported Media Type"},
      {"Content-Type: application/json\r\nContent-Encoding: br\r\n"
       "Content-Length: 1000000\r\n",
       "HTTP/1.1 415 Unsupported Media Type"},
      {"Content-Type: application/json\r\nContent-Length: 5\r\n"
       "Content-Length: 1000000\r\n",
       "HTTP/1.1 400 Bad Request"},
      // Two media types or codings: which counts would depend on who reads
      // the request (the first was taken).
      {"Content-Type: application/json\r\nContent-Type: text/plain\r\n"
       "Content-Length: 1000000\r\n",
       "HTTP/1.1 400 Bad Request"},
      {"Content-Type: application/json\r\nContent-Encoding: identity\r\n"
       "Content-Encoding: gzip\r\nContent-Length: 1000000\r\n",
       "HTTP/1.1 400 Bad Request"},
      {"Content-Type: application/json; charset=latin1\r\n"
       "Content-Length: 1000000\r\n",
       "HTTP/1.1 415 Unsupported Media Type"},
      {"Content-Type: text/plain\r\nContent-Length: 1000000\r\n",
       "HTTP/1.1 415 Unsupported Media Type"},
      // Larger than grpc.max_receive_message_bytes: said from the header,
      // where cpp-httplib would read the whole body first.
      {"Content-Type: application/json\r\nContent-Length: 300000000\r\n",
       "HTTP/1.1 413 Payload Too Large"},
      {"Content-Type: application/json\r\nContent-Length: -1\r\n",
       "HTTP/1.1 400 Bad Request"},
      {"Content-Type: application/json\r\nContent-Length: 12abc\r\n",
       "HTTP/1.1 400 Bad Request"},
  };
  for (const Case& c : cases) {
    RawConnection raw(port());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.Send("POST /v1/track HTTP/1.1\r\nHost: x\r\n" + c.headers +
                         "\r\n"));
    EXPECT_EQ(raw.StatusLine(), c.status) << c.headers;
  }
  // A client that asks first (Expect: 100-continue, as curl does for large
  // bodies) hears the refusal instead of 100, with the length of its body
  // (else it would read to the end of the connection); a body it may send
  // gets 100.
  for (const auto& [length, status] :
       std::vector<std::pair<std::string, std::string>>{
           {"300000000", "HTTP/1.1 413 Payload Too Large"},
           {"100", "HTTP/1.1 100 Continue"}}) {
    RawConnection raw(port());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(
        raw.Send("POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 "application/json\r\nContent-Length: " +
                 length + "\r\nExpect: 100-continue\r\n\r\n"));
    const std::string head = raw.ResponseHead();
    EXPECT_EQ(head.substr(0, head.find("\r\n")), status);
    if (length != "100") {
      EXPECT_THAT(head, HasSubstr("\r\nContent-Length: "));
    }
  }
  // What is taken: identity coding, and charset utf-8 in any spelling.
  httplib::Client http(absl::StrCat("http://", gateway_->http_address()));
  const std::string body =
      R"({"events": [{"event_name": "page_view", "context": {"event_id": "n1",
          "page": {"url": "https://shop.example.com/"}}}]})";
  for (const char* type :
       {"application/json; charset=UTF-8", "application/json;charset=\"utf-8\"",
        "application/json; charset=utf8", "Application/JSON"}) {
    httplib::Headers headers = {{"Content-Encoding", "identity"}};
    auto res = http.Post("/v1/track", headers, body, type);
    ASSERT_TRUE(res) << type;
    EXPECT_EQ(res->status, 200) << type << ": " << res->body;
  }
}

// The gateway's side of its open HTTP connections (sockets of this
// process bound to `port` that are not listening), as descriptors.
std::vector<int> AcceptedSockets(int port) {
  std::vector<int> found;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return found;
  while (const dirent* entry = readdir(dir)) {
    const int fd = std::atoi(entry->d_name);
    sockaddr_storage address{};
    socklen_t size = sizeof address;
    int listening = 0;
    socklen_t int_size = sizeof listening;
    if (fd <= 2 || fd == dirfd(dir) ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &int_size) != 0 ||
        listening != 0) {
      continue;
    }
    int local_port = -1;
    if (address.ss_family == AF_INET) {
      local_port = ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
    } else if (address.ss_family == AF_INET6) {
      local_port = ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
    }
    if (local_port == port) found.push_back(fd);
  }
  closedir(dir);
  return found;
}

// A response goes out in more than one write (headers, then body); with
// Nagle's algorithm on, the second waited for the client's delayed ACK of
// the first, about 40 ms per request on a keep-alive connection (measured:
// 43 ms per POST /v1/track, 26 ms per GET /healthz; 1 ms and 0.13 ms with
// TCP_NODELAY). So every connection the port accepts has TCP_NODELAY.
TEST_F(HttpPortTest, ConnectionsAreServedWithoutNagleDelays) {
  RawConnection c(port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Answered, and the connection stays open (keep-alive).
  EXPECT_EQ(c.StatusLine(), "HTTP/1.1 200 OK");
  const std::vector<int> accepted = AcceptedSockets(port());
  ASSERT_FALSE(accepted.empty());
  for (int fd : accepted) {
    int nodelay = 0;
    socklen_t size = sizeof nodelay;
    ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &size), 0);
    EXPECT_NE(nodelay, 0) << "fd " << fd;
  }
}

}  // namespace
}  // namespace conversions::testing
