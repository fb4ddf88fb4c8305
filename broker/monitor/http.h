// The monitoring HTTP endpoints, served on their own thread:
//   GET /metrics        Prometheus text format
//   GET /api/v1/stats   the same figures as JSON, with rates over 10 s and 1 min
//   GET /healthz        "ok"
// and a sampler thread that records the counters with rates once a second
// (Metrics::sample), so rates do not depend on who polls.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "lantoa/status.h"
#include "monitor/metrics.h"

namespace httplib {
class Server;
}

namespace lantoa::broker {

std::string render_prometheus(Metrics& metrics);
std::string render_stats_json(Metrics& metrics);

class MonitorServer {
 public:
  // Binds host:port (port 0 picks a free one) and starts serving.
  static Result<std::unique_ptr<MonitorServer>> start(Metrics& metrics, const std::string& host, int port);
  ~MonitorServer();
  MonitorServer(const MonitorServer&) = delete;
  MonitorServer& operator=(const MonitorServer&) = delete;

  int port() const { return port_; }

 private:
  MonitorServer() = default;
  void sample_every_second(Metrics& metrics);

  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::thread sampler_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int port_ = 0;
};

}  // namespace lantoa::broker
