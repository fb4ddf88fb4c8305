#include "monitor/http.h"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "lantoa/internal/listen_socket.h"

namespace lantoa::broker {
namespace {

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string render_prometheus(Metrics& m) {
  std::ostringstream o;
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n" << name << ' ' << v << '\n';
  };
  counter("lantoa_events_accepted_total", "Events committed to the log.", m.accepted);
  counter("lantoa_events_duplicate_total", "Publishes answered as duplicates.", m.duplicates);
  o << "# HELP lantoa_events_rejected_total Publishes rejected, by reason.\n"
       "# TYPE lantoa_events_rejected_total counter\n";
  for (size_t code = 0; code < Metrics::kCodes; ++code) {
    uint64_t v = m.rejected[code];
    if (v) o << "lantoa_events_rejected_total{reason=\"" << code_name(static_cast<Code>(code)) << "\"} " << v << '\n';
  }
  o << "# HELP lantoa_sessions_refused_total Connections refused before a session (transport admission or "
       "Hello), by reason.\n"
       "# TYPE lantoa_sessions_refused_total counter\n";
  for (size_t code = 0; code < Metrics::kCodes; ++code) {
    uint64_t v = m.sessions_refused[code];
    if (v) o << "lantoa_sessions_refused_total{reason=\"" << code_name(static_cast<Code>(code)) << "\"} " << v << '\n';
  }
  counter("lantoa_deliveries_total", "Events delivered (first attempts).", m.deliveries);
  counter("lantoa_redeliveries_total", "Events delivered again after a nack, timeout or reconnect.", m.redeliveries);
  counter("lantoa_acks_total", "Deliveries acknowledged.", m.acks);
  counter("lantoa_nacks_total", "Deliveries refused by subscribers.", m.nacks);
  counter("lantoa_expired_total", "Queue entries dropped because the event expired.", m.expired);
  counter("lantoa_frames_total", "Frames received.", m.frames_in);
  counter("lantoa_frame_errors_total", "Frames refused as malformed or too large.", m.frame_errors);
  counter("lantoa_events_not_queued_total",
          "Events not queued for a subscription because its queue was full (max_queue_depth).", m.not_queued);
  counter("lantoa_storage_errors_total",
          "Storage operations that failed (a commit, a read for delivery, a manifest write); each is logged.",
          m.storage_errors);
  counter("lantoa_transport_closes_total",
          "Connections closed below the protocol (by the client, the network, or ZeroMQ's hard frame cap).",
          m.transport_closes);
  counter("lantoa_commits_total", "LMDB write transactions committed (fsync).", m.commits);
  counter("lantoa_committed_events_total", "Events in those commits.", m.committed_events);
  o << "# HELP lantoa_commit_seconds_total Time spent committing, fsync included.\n"
       "# TYPE lantoa_commit_seconds_total counter\n"
    << "lantoa_commit_seconds_total " << (m.commit_micros / 1e6) << '\n';
  o << "# HELP lantoa_commit_seconds_max Longest commit so far.\n# TYPE lantoa_commit_seconds_max gauge\n"
    << "lantoa_commit_seconds_max " << (m.commit_micros_max / 1e6) << '\n';
  counter("lantoa_retention_removed_total", "Events removed by retention.", m.retained_removed);
  o << "# HELP lantoa_connections Authenticated sessions.\n# TYPE lantoa_connections gauge\n"
    << "lantoa_connections " << m.connections << '\n';
  auto snap = m.snapshot();
  o << "# HELP lantoa_origin_accepted_total Events accepted, by origin.\n"
       "# TYPE lantoa_origin_accepted_total counter\n";
  for (const auto& [origin, v] : snap.by_origin) {
    o << "lantoa_origin_accepted_total{origin=\"" << escape_label(origin) << "\"} " << v << '\n';
  }
  o << "# HELP lantoa_topic_accepted_total Events accepted, by topic.\n"
       "# TYPE lantoa_topic_accepted_total counter\n";
  for (const auto& [topic, v] : snap.by_topic) {
    o << "lantoa_topic_accepted_total{topic=\"" << escape_label(topic) << "\"} " << v << '\n';
  }
  o << "# HELP lantoa_queue_depth Queue entries per subscription.\n# TYPE lantoa_queue_depth gauge\n";
  for (const auto& [id, f] : snap.subscriptions) {
    o << "lantoa_queue_depth{owner=\"" << escape_label(f.owner) << "\",subscription=\"" << escape_label(f.name)
      << "\"} " << f.depth << '\n';
  }
  o << "# HELP lantoa_in_flight Deliveries awaiting ack per subscription.\n# TYPE lantoa_in_flight gauge\n";
  for (const auto& [id, f] : snap.subscriptions) {
    o << "lantoa_in_flight{owner=\"" << escape_label(f.owner) << "\",subscription=\"" << escape_label(f.name)
      << "\"} " << f.in_flight << '\n';
  }
  return o.str();
}

std::string render_stats_json(Metrics& m) {
  using nlohmann::json;
  json j;
  j["events"] = {{"accepted", m.accepted.load()}, {"duplicates", m.duplicates.load()}};
  json rejected = json::object();
  for (size_t code = 0; code < Metrics::kCodes; ++code) {
    if (uint64_t v = m.rejected[code]) rejected[std::string(code_name(static_cast<Code>(code)))] = v;
  }
  j["events"]["rejected"] = rejected;
  j["delivery"] = {{"deliveries", m.deliveries.load()}, {"redeliveries", m.redeliveries.load()},
                   {"acks", m.acks.load()},             {"nacks", m.nacks.load()},
                   {"expired", m.expired.load()}};
  const uint64_t commits = m.commits;
  j["commits"] = {{"count", commits},
                  {"events", m.committed_events.load()},
                  {"mean_batch", commits ? static_cast<double>(m.committed_events) / commits : 0.0},
                  {"mean_ms", commits ? m.commit_micros / 1000.0 / commits : 0.0},
                  {"max_ms", m.commit_micros_max / 1000.0}};
  j["connections"] = m.connections.load();
  json refused = json::object();
  for (size_t code = 0; code < Metrics::kCodes; ++code) {
    if (uint64_t v = m.sessions_refused[code]) refused[std::string(code_name(static_cast<Code>(code)))] = v;
  }
  j["sessions_refused"] = refused;
  j["frames"] = {{"received", m.frames_in.load()}, {"errors", m.frame_errors.load()},
                 {"transport_closes", m.transport_closes.load()},
                         {"storage_errors", m.storage_errors.load()}};
  auto snap = m.snapshot();
  j["origins"] = snap.by_origin;
  json topics = json::object();
  for (const auto& [topic, v] : snap.by_topic) {
    topics[topic] = {{"accepted", v}, {"per_second", snap.topic_rates[topic]}};
  }
  j["topics"] = topics;
  json subs = json::array();
  for (const auto& [id, f] : snap.subscriptions) {
    subs.push_back({{"id", id},
                    {"owner", f.owner},
                    {"name", f.name},
                    {"depth", f.depth},
                    {"in_flight", f.in_flight},
                    {"delivered", f.delivered},
                    {"acked", f.acked},
                    {"redelivered", f.redelivered},
                    {"connected", f.connected}});
  }
  j["subscriptions"] = subs;
  return j.dump(2);
}

Result<std::unique_ptr<MonitorServer>> MonitorServer::start(Metrics& metrics, const std::string& host, int port) {
  std::unique_ptr<MonitorServer> m(new MonitorServer());
  m->http_ = std::make_unique<httplib::Server>();
  m->http_->Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_prometheus(metrics), "text/plain; version=0.0.4");
  });
  m->http_->Get("/api/v1/stats", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_stats_json(metrics), "application/json");
  });
  m->http_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  m->http_->set_socket_options(internal::exclusive_listen_socket);  // a second broker on the port is refused
  errno = 0;
  m->port_ = port == 0 ? m->http_->bind_to_any_port(host) : (m->http_->bind_to_port(host, port) ? port : -1);
  if (m->port_ <= 0) {
    return Status(lantoa::v1::Error::UNAVAILABLE, "cannot listen for monitoring on " + host + ":" + std::to_string(port) +
                                                      ": " + internal::bind_failure_reason());
  }
  m->thread_ = std::thread([srv = m->http_.get()] { srv->listen_after_bind(); });
  return m;
}

MonitorServer::~MonitorServer() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace lantoa::broker
