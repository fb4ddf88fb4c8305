// The monitoring HTTP endpoints, served on their own thread:
//   GET /                  the live dashboard (its assets are built in: dashboard.h)
//   GET /metrics           Prometheus text format
//   GET /api/v1/stats      the same figures as JSON, with rates over 10 s and 1 min
//   GET /api/v1/events/{id}/spread   where one event went (MonitorActions::spread)
//   GET /healthz           "ok"
// the admin verbs, with the admin token (Authorization: Bearer ...):
//   DELETE /api/v1/subscriptions/{owner}/{name}         remove a subscription
//   POST   /api/v1/subscriptions/{owner}/{name}/purge   empty its queue
//   DELETE /api/v1/sessions/{member}                    close a member's sessions
// and a sampler thread that records the counters with rates once a second
// (Metrics::sample), so rates do not depend on who polls.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "lantoa/status.h"
#include "lantoa/trust.h"
#include "monitor/metrics.h"

namespace httplib {
class Server;
struct Request;
}

namespace lantoa::broker {

std::string render_prometheus(Metrics& metrics);
std::string render_stats_json(Metrics& metrics, const std::string& transport_key = "");

// What the monitoring port asks of the rest of the broker (broker.cc
// provides it: the I/O thread answers). Each returns the answer's JSON text,
// or why not (NOT_FOUND, SUBSCRIPTION_NOT_FOUND, INVALID_ARGUMENT, ...).
struct MonitorActions {
  enum class Admin { kRemoveSubscription, kPurgeQueue, kCloseSessions };
  std::function<Result<std::string>(const std::string& event_id)> spread;  // the 32-byte id
  // kCloseSessions: `a` is the member; otherwise `a` the owner, `b` the name.
  std::function<Result<std::string>(Admin verb, const std::string& a, const std::string& b)> admin;
  std::string admin_token;  // empty: admin verbs by token are off
  // Verifies the certificate chains of signed admin requests (an OPERATOR or
  // AUTHORITY certificate, for members at or below its id); null: only the token.
  const TrustStore* trust = nullptr;
  // The broker's transport key (base64url): a signed request names it, so
  // that it is good for this broker only (and /api/v1/stats tells it).
  std::string transport_key;
};

class MonitorServer {
 public:
  // Binds host:port (port 0 picks a free one) and starts serving.
  static Result<std::unique_ptr<MonitorServer>> start(Metrics& metrics, const std::string& host, int port,
                                                      MonitorActions actions = {});
  ~MonitorServer();
  MonitorServer(const MonitorServer&) = delete;
  MonitorServer& operator=(const MonitorServer&) = delete;

  int port() const { return port_; }

 private:
  MonitorServer() = default;
  void sample_every_second(Metrics& metrics);

  void serve_actions(Metrics& metrics);
  // Who asks for an admin verb on `target` (a member, or a subscription's
  // owner): "admin token" or the member of a signed request; why not otherwise
  // (the HTTP status in `http`).
  Result<std::string> authorise(const httplib::Request& req, const std::string& target, int* http);

  std::mutex spread_mu_;  // spread requests, one at a time
  std::mutex seen_mu_;
  std::map<std::string, int64_t> seen_signatures_;  // signed requests already used -> when they expire

  MonitorActions actions_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::thread sampler_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int port_ = 0;
};

}  // namespace lantoa::broker
