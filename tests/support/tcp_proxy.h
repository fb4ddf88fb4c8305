// A TCP proxy on loopback for tests of links between brokers: it passes
// bytes between its clients and one target, and can throttle them (bytes per
// second, each direction of each connection), black-hole them (connections
// stay open, nothing passes: a network partition that no one notices at the
// TCP level) or cut every connection. Listens on 127.0.0.1, port picked by
// the kernel; one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace lantoa::testing {

class TcpProxy {
 public:
  // `target_port` on 127.0.0.1.
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

  // 0: as fast as it goes.
  void throttle(uint64_t bytes_per_s) { rate_ = bytes_per_s; }
  void black_hole(bool on) { black_hole_ = on; }
  // Closes every open connection (new ones are accepted as the mode says).
  void cut() { cut_ = true; }

  uint64_t bytes_passed() const { return passed_; }
  uint64_t connections() const { return accepted_; }

 private:
  void run();

  int listen_fd_ = -1;
  int port_ = 0;
  int target_port_ = 0;
  std::atomic<uint64_t> rate_{0};
  std::atomic<bool> black_hole_{false};
  std::atomic<bool> cut_{false};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> passed_{0};
  std::atomic<uint64_t> accepted_{0};
  std::thread thread_;
};

}  // namespace lantoa::testing
