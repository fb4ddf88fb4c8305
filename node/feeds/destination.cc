#include "feeds/destination.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace lantoa::node {
namespace {

std::optional<std::string> classify_v4(const unsigned char* a) {
  const uint32_t ip = (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | a[3];
  auto in = [&](uint32_t net, int prefix) { return (ip >> (32 - prefix)) == (net >> (32 - prefix)); };
  if (in(0x00000000, 8)) return "a \"this network\" address (0.0.0.0/8)";
  if (in(0x7f000000, 8)) return "a loopback address (127.0.0.0/8)";
  if (in(0x0a000000, 8) || in(0xac100000, 12) || in(0xc0a80000, 16)) return "a private address (RFC 1918)";
  if (in(0x64400000, 10)) return "a shared (CGNAT) address (100.64.0.0/10)";
  if (in(0xa9fe0000, 16)) return "a link-local address (169.254.0.0/16)";
  if (in(0xc0000000, 24)) return "an IETF protocol address (192.0.0.0/24)";
  if (in(0xc6120000, 15)) return "a benchmarking address (198.18.0.0/15)";
  if (in(0xe0000000, 4)) return "a multicast address (224.0.0.0/4)";
  if (in(0xf0000000, 4)) return "a reserved or broadcast address (240.0.0.0/4)";
  return std::nullopt;
}

std::optional<std::string> classify_v6(const unsigned char* a) {
  static const unsigned char zeros[16] = {0};
  if (std::memcmp(a, zeros, 15) == 0 && (a[15] == 0 || a[15] == 1)) {
    return a[15] == 0 ? "the unspecified address (::)" : "a loopback address (::1)";
  }
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(a, mapped, 12) == 0 || std::memcmp(a, zeros, 12) == 0 || std::memcmp(a, nat64, 12) == 0) {
    return classify_v4(a + 12);  // IPv4-mapped, IPv4-compatible, NAT64: the IPv4 address inside counts
  }
  if (a[0] == 0x20 && a[1] == 0x02) return classify_v4(a + 2);  // 6to4
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return "a link-local address (fe80::/10)";
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return "a site-local address (fec0::/10)";
  if ((a[0] & 0xfe) == 0xfc) return "a unique local address (fc00::/7)";
  if (a[0] == 0xff) return "a multicast address (ff00::/8)";
  return std::nullopt;
}

}  // namespace

Result<Network> Network::parse(const std::string& text) {
  Network n;
  const size_t slash = text.find('/');
  const std::string address = text.substr(0, slash);
  if (inet_pton(AF_INET, address.c_str(), n.bytes.data()) == 1) {
    n.prefix = 32;
  } else if (inet_pton(AF_INET6, address.c_str(), n.bytes.data()) == 1) {
    n.v6 = true;
    n.prefix = 128;
  } else {
    return Status(v1::Error::INVALID_ARGUMENT, "\"" + text + "\" is not an IP address or network (CIDR)");
  }
  if (slash != std::string::npos) {
    const std::string p = text.substr(slash + 1);
    const int max = n.prefix;
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) > max) {
      return Status(v1::Error::INVALID_ARGUMENT, "\"" + text + "\" has a bad prefix length");
    }
    n.prefix = std::stoi(p);
  }
  return n;
}

bool Network::contains(bool address_v6, const unsigned char* address) const {
  if (address_v6 != v6) return false;
  int bits = prefix;
  for (size_t i = 0; bits > 0; ++i, bits -= 8) {
    const unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((address[i] & mask) != (bytes[i] & mask)) return false;
  }
  return true;
}

std::optional<std::string> DestinationPolicy::refuse(const sockaddr* address) const {
  char text[INET6_ADDRSTRLEN] = "?";
  std::optional<std::string> kind;
  bool allowed_here = false;
  if (address->sa_family == AF_INET) {
    const auto* a = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(address)->sin_addr);
    inet_ntop(AF_INET, a, text, sizeof text);
    kind = classify_v4(a);
    for (const Network& n : allowed) allowed_here = allowed_here || n.contains(false, a);
  } else if (address->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr);
    inet_ntop(AF_INET6, a, text, sizeof text);
    kind = classify_v6(a);
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    for (const Network& n : allowed) {
      allowed_here = allowed_here || n.contains(true, a) || (std::memcmp(a, mapped, 12) == 0 && n.contains(false, a + 12));
    }
  } else {
    return "an address of an unknown family";
  }
  if (!kind || allow_private || allowed_here) return std::nullopt;
  return std::string(text) + " is " + *kind;
}

}  // namespace lantoa::node
