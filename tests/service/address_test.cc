#include "service/address.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

namespace conversions::service {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(HostPortTest, ParsesNamesAddressesAndPortZero) {
  absl::StatusOr<HostPort> hp = ParseHostPort("127.0.0.1:0");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 0);
  hp = ParseHostPort("[::1]:50051");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 50051);
  hp = ParseHostPort("gateway.internal:65535");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "gateway.internal");
  EXPECT_TRUE(ParseHostPort("[::]:8080").ok());
  EXPECT_TRUE(ParseHostPort("0.0.0.0:8080").ok());
}

TEST(HostPortTest, RejectsMalformedAddresses) {
  for (std::string_view text :
       {"", "127.0.0.1", "127.0.0.1:", ":8080", "127.0.0.1:65536",
        "127.0.0.1:-1", "127.0.0.1:http", "::1:8080", "[::1]", "[::1]8080",
        "[zz]:80", "bad_host:80", "-host:80", "300.1.1.1:80", "a b:80"}) {
    EXPECT_FALSE(ParseHostPort(text).ok()) << text;
  }
}

TEST(UrlTest, AcceptsHttpsAndLoopbackHttp) {
  absl::StatusOr<HttpUrl> url =
      ParseHttpUrl("https://bzr.openai.com/v1/events");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "bzr.openai.com");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->path, "/v1/events");
  url = ParseHttpUrl("http://127.0.0.5:8099/v1/events");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->port, 8099);
  url = ParseHttpUrl("HTTP://LocalHost");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "localhost");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->path, "/");
  url = ParseHttpUrl("http://[::1]:9000/events");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "::1");
}

TEST(UrlTest, RejectsPlainHttpToNonLoopbackHosts) {
  for (std::string_view text :
       {"http://bzr.openai.com/v1/events", "http://10.0.0.1/v1/events",
        "http://[::2]/v1/events", "http://127.example.com/",
        "http://localhost.evil.com/"}) {
    absl::StatusOr<HttpUrl> url = ParseHttpUrl(text);
    EXPECT_FALSE(url.ok()) << text;
    EXPECT_THAT(url.status().message(), HasSubstr("loopback")) << text;
  }
}

TEST(UrlTest, RejectsMalformedUrls) {
  for (std::string_view text :
       {"", "bzr.openai.com/v1/events", "ftp://bzr.openai.com/",
        "https:///v1/events", "https://user:pw@bzr.openai.com/",
        "https://bzr.openai.com/v1/events?pid=1", "https://bzr.openai.com/#x",
        "https://bzr.openai.com:0/", "https://bzr.openai.com:99999/",
        "https://bzr openai.com/", "https://bzr.openai.com/v1/\tevents"}) {
    EXPECT_FALSE(ParseHttpUrl(text).ok()) << text;
  }
}

// A key can end up in an endpoint (user information, a query parameter, a
// fragment, or the key pasted as the endpoint): the message says what is
// wrong without showing it.
TEST(UrlTest, ErrorsNeverShowWhatMayBeAKey) {
  struct Case {
    std::string_view text;
    std::string_view shown;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"https://user:sk-proj-SECRET1@example.com/v1/events",
            "\"https://***@example.com/v1/events\""},
           {"https://example.com/v1/events?api_key=sk-proj-SECRET2",
            "\"https://example.com/v1/events?***\""},
           {"https://example.com/v1/events#sk-proj-SECRET3",
            "\"https://example.com/v1/events#***\""},
           {"sk-proj-SECRET4", "(not shown: not a URL)"},
           {"SECRET5", "(not shown: not a URL)"},
           {"bzr.openai.com/v1/events", "\"bzr.openai.com/v1/events\""},
       }) {
    absl::StatusOr<HttpUrl> url = ParseHttpUrl(c.text);
    ASSERT_FALSE(url.ok()) << c.shown;
    const std::string message(url.status().message());
    EXPECT_THAT(message, Not(HasSubstr("SECRET"))) << c.shown;
    EXPECT_THAT(message, HasSubstr("invalid endpoint " + std::string(c.shown)))
        << message;
  }
}

}  // namespace
}  // namespace conversions::service
