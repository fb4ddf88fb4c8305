// The monitoring HTTP endpoints, served on their own thread:
//   GET /metrics        Prometheus text format
//   GET /api/v1/stats   the same figures as JSON, with per-topic rates
//   GET /healthz        "ok"
#pragma once

#include <memory>
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
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace lantoa::broker
