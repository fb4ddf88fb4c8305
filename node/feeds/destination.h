// Where the feed adapter may connect. A feed URL, or a redirect, that points
// at the node's own host or its private network would make the node fetch
// internal content, sign it and federate it (SSRF). Every address libcurl is
// about to connect to, for the feed URL and for every redirect, after DNS
// resolution, is judged here; private destinations are refused unless the
// feed's configuration allows them:
//
//   0.0.0.0/8, 127.0.0.0/8 (loopback), 10.0.0.0/8, 172.16.0.0/12,
//   192.168.0.0/16 (RFC 1918), 100.64.0.0/10 (CGNAT), 169.254.0.0/16
//   (link-local), 192.0.0.0/24, 198.18.0.0/15, 224.0.0.0/4 (multicast),
//   240.0.0.0/4 and 255.255.255.255; ::, ::1, fe80::/10 (link-local),
//   fc00::/7 (unique local), ff00::/8 (multicast), and IPv4-mapped,
//   IPv4-compatible, NAT64 (64:ff9b::/96) and 6to4 forms of the IPv4 ranges.
#pragma once

#include <sys/socket.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "lantoa/status.h"

namespace lantoa::node {

// An IPv4 or IPv6 network ("10.20.0.0/16", "127.0.0.1", "fd00::/8").
struct Network {
  bool v6 = false;
  std::array<unsigned char, 16> bytes{};  // IPv4 in the first 4
  int prefix = 0;
  static Result<Network> parse(const std::string& text);
  bool contains(bool v6, const unsigned char* address) const;
};

struct DestinationPolicy {
  bool allow_private = false;      // every private destination allowed
  std::vector<Network> allowed;    // these allowed, even when private

  // nullopt: may connect. Else why not ("127.0.0.2 is a loopback address").
  std::optional<std::string> refuse(const sockaddr* address) const;
};

}  // namespace lantoa::node
