// A light multi-connection Lantoa client for the national press release:
// one ZeroMQ context per client process, many DEALER sockets with CurveZMQ,
// each saying Hello, subscribing one durable subscription and acking every
// delivery, read with zmq::poll over many sockets per thread. (A
// lantoa::Connection per portal would start a context and an I/O thread each.)
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "swarm.h"

namespace lantoa::bench {

struct PortalsConfig {
  std::string endpoint;
  std::string server_key;              // the broker's Curve public key, 32 bytes
  std::string public_key, secret_key;  // the member's transport key pair
  std::string hello;                   // an encoded ClientFrame holding Hello
  std::string filter = "vn.bench.>";
  std::string prefix = "portal";       // subscription names: prefix-N, N global
  uint32_t credit = 2000;
  uint64_t events = 100;               // deliveries expected per subscription
  size_t threads = 2;                  // polling threads per process
  size_t handshakes_in_flight = 64;    // per thread: connections not yet subscribed
  double idle_s = 20;                  // "done" after this long without a delivery
};

// The body of one client process (see swarm.h for the protocol).
int run_portals(const PortalsConfig& config, size_t first, size_t count,
                std::chrono::steady_clock::time_point deadline, ParentLink& link);

}  // namespace lantoa::bench
