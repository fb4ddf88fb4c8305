// Which addresses the feed adapter may connect to (SSRF), and fetch_feed
// refusing before it sends anything.
#include "feeds/destination.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>

#include <atomic>
#include <thread>

#include "feeds/feed_poller.h"

namespace lantoa::node {
namespace {

std::optional<std::string> judge(const DestinationPolicy& p, const std::string& ip) {
  sockaddr_storage ss{};
  if (ip.find(':') == std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, ip.c_str(), &a->sin_addr), 1) << ip;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr), 1) << ip;
  }
  return p.refuse(reinterpret_cast<const sockaddr*>(&ss));
}

TEST(FeedDestinations, PrivateAddressesAreRefusedPublicOnesAllowed) {
  DestinationPolicy p;
  for (const char* ip : {"127.0.0.1", "127.1.2.3", "0.0.0.0", "10.0.0.1", "172.16.5.4", "172.31.255.255",
                         "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.254", "224.0.0.1",
                         "239.255.255.250", "255.255.255.255", "198.18.0.1", "::1", "::", "fe80::1", "fc00::1",
                         "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
                         "64:ff9b::a9fe:a9fe", "2002:0a00:0001::1"}) {
    EXPECT_TRUE(judge(p, ip).has_value()) << ip << " was allowed";
  }
  for (const char* ip : {"8.8.8.8", "203.113.131.1", "172.32.0.1", "100.128.0.1", "2001:4860:4860::8888",
                         "::ffff:8.8.8.8"}) {
    EXPECT_FALSE(judge(p, ip).has_value()) << ip << ": " << judge(p, ip).value_or("");
  }
  EXPECT_EQ(judge(p, "169.254.169.254").value_or(""), "169.254.169.254 is a link-local address (169.254.0.0/16)");
  EXPECT_EQ(judge(p, "127.0.0.1").value_or(""), "127.0.0.1 is a loopback address (127.0.0.0/8)");
}

TEST(FeedDestinations, TheConfigurationCanAllowPrivateNetworks) {
  DestinationPolicy all;
  all.allow_private = true;
  EXPECT_FALSE(judge(all, "10.1.2.3").has_value());
  DestinationPolicy some;
  some.allowed = {Network::parse("10.20.0.0/16").value(), Network::parse("127.0.0.1").value(),
                  Network::parse("fd00::/8").value()};
  EXPECT_FALSE(judge(some, "10.20.3.4").has_value());
  EXPECT_TRUE(judge(some, "10.21.3.4").has_value());
  EXPECT_FALSE(judge(some, "127.0.0.1").has_value());
  EXPECT_FALSE(judge(some, "::ffff:127.0.0.1").has_value());
  EXPECT_TRUE(judge(some, "127.0.0.2").has_value());
  EXPECT_FALSE(judge(some, "fd00::5").has_value());
  EXPECT_TRUE(judge(some, "fc00::5").has_value());
  for (const char* bad : {"10.0.0.0/33", "localhost", "10.0.0.0/", "::1/129", "1.2.3"}) {
    EXPECT_FALSE(Network::parse(bad).ok()) << bad;
  }
}

// The check happens when libcurl opens the socket: nothing reaches the server.
TEST(FeedDestinations, FetchRefusesLoopbackBeforeSendingAnything) {
  httplib::Server server;
  std::atomic<int> requests{0};
  server.Get("/feed.xml", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.set_content("<rss version=\"2.0\"><channel></channel></rss>", "application/rss+xml");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/feed.xml";
  auto refused = fetch_feed(url, "", "", std::chrono::milliseconds(5000), DestinationPolicy{});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), v1::Error::PERMISSION_DENIED);
  EXPECT_NE(refused.status().message().find("127.0.0.1 is a loopback address"), std::string::npos)
      << refused.status().to_string();
  EXPECT_EQ(requests, 0);
  DestinationPolicy allowed;
  allowed.allowed = {Network::parse("127.0.0.1/32").value()};
  auto fetched = fetch_feed(url, "", "", std::chrono::milliseconds(5000), allowed);
  ASSERT_TRUE(fetched.ok()) << fetched.status().to_string();
  EXPECT_EQ(requests, 1);
  server.stop();
  t.join();
}

}  // namespace
}  // namespace lantoa::node
