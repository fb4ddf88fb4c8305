#include "monitor/http.h"

#include <httplib.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <array>
#include <charconv>
#include <sstream>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/keys.h"
#include "lantoa/names.h"
#include "lantoa/internal/clock.h"
#include "lantoa/internal/listen_socket.h"
#include "lantoa/internal/prometheus.h"
#include "monitor/dashboard.h"

namespace lantoa::broker {
namespace {

using prometheus::Family;

void histogram(std::ostringstream& o, const char* name, const char* help, const Histogram& h) {
  Family f(o, name, "histogram", help);
  const auto s = h.snapshot();
  for (size_t i = 0; i < s.bounds_s.size(); ++i) {
    std::ostringstream le;
    le << s.bounds_s[i];
    f.add({{"le", le.str()}}, s.cumulative[i], "_bucket");
  }
  f.add({{"le", "+Inf"}}, s.count, "_bucket");
  f.add({}, s.sum_s, "_sum");
  f.add({}, s.count, "_count");
}

template <typename Array>
void by_code(Family& f, const Array& counts) {
  for (size_t code = 0; code < counts.size(); ++code) {
    if (uint64_t v = counts[code]) f.add({{"reason", code_name(static_cast<Code>(code))}}, v);
  }
}

nlohmann::json rates_json(const Metrics::Rates& r) { return {{"10s", r.per_s_10s}, {"1m", r.per_s_1m}}; }

}  // namespace

std::string render_prometheus(Metrics& m) {
  std::ostringstream o;
  o.precision(10);
  auto counter = [&](const char* name, const char* help, uint64_t v) { Family(o, name, "counter", help).add(v); };
  auto gauge = [&](const char* name, const char* help, auto v) { Family(o, name, "gauge", help).add(v); };
  Family(o, "lantoa_build_info", "gauge", "The broker's version; always 1.").add({{"version", LANTOA_VERSION}}, 1);

  counter("lantoa_events_accepted_total", "Events committed to the log.", m.accepted);
  counter("lantoa_events_duplicate_total", "Publishes answered as duplicates.", m.duplicates);
  {
    Family f(o, "lantoa_events_rejected_total", "counter", "Publishes rejected, by reason.");
    by_code(f, m.rejected);
  }
  {
    Family f(o, "lantoa_sessions_refused_total", "counter",
             "Connections refused before a session (transport admission or Hello), by reason.");
    by_code(f, m.sessions_refused);
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
  gauge("lantoa_commit_seconds_max", "Longest commit since the broker started.", m.commit_micros_max / 1e6);
  histogram(o, "lantoa_commit_duration_seconds", "LMDB write transactions, fsync included.", m.commit_seconds);
  histogram(o, "lantoa_verify_duration_seconds", "Checks of one published event (signature, chain, rules).",
            m.verify_seconds);
  histogram(o, "lantoa_delivery_latency_seconds",
            "From an event's acceptance (its commit) to its first delivery to a subscription, per subscription.",
            m.deliver_seconds);
  counter("lantoa_retention_removed_total", "Events removed by retention.", m.retained_removed);
  gauge("lantoa_connections", "Authenticated sessions.", m.connections.load());

  const auto snap = m.snapshot(unix_now_ms());
  {
    Family f(o, "lantoa_origin_rejected_total", "counter",
             "Publishes rejected, by the publishing member's namespace (first two labels) and reason.");
    for (const auto& [key, v] : snap.rejected_by_origin) f.add({{"origin", key.first}, {"reason", key.second}}, v);
  }
  {
    Family f(o, "lantoa_admin_actions_total", "counter",
             "Admin verbs asked on the monitoring port, by action and outcome (done; refused: not authorised; "
             "failed: not found or an error).");
    for (const auto& [key, v] : snap.admin_actions) f.add({{"action", key.first}, {"outcome", key.second}}, v);
  }
  auto flows = [&](const char* name, const char* help, const char* label, const auto& map, bool delivered) {
    Family f(o, name, "counter", help);
    for (const auto& [k, v] : map) f.add({{label, k}}, delivered ? v.delivered : v.accepted);
  };
  flows("lantoa_origin_accepted_total", "Events accepted, by origin namespace (first two labels).", "origin",
        snap.origins, false);
  flows("lantoa_origin_delivered_total",
        "Deliveries (first attempts) of events, by origin namespace (first two labels).", "origin", snap.origins, true);
  flows("lantoa_topic_accepted_total", "Events accepted, by topic.", "topic", snap.topics, false);
  flows("lantoa_topic_delivered_total", "Deliveries (first attempts) of events, by topic.", "topic", snap.topics, true);

  auto per_sub = [&](const char* name, const char* type, const char* help, auto value) {
    Family f(o, name, type, help);
    for (const auto& s : snap.subscriptions) f.add({{"owner", s.owner}, {"subscription", s.name}}, value(s));
  };
  using SF = Metrics::SubscriptionFigures;
  per_sub("lantoa_queue_depth", "gauge", "Queue entries per subscription (delivered but unacknowledged included).",
          [](const SF& s) { return s.depth; });
  per_sub("lantoa_in_flight", "gauge", "Deliveries awaiting ack per subscription.",
          [](const SF& s) { return s.in_flight; });
  per_sub("lantoa_subscription_delivered_total", "counter", "Deliveries (first attempts) per subscription.",
          [](const SF& s) { return s.delivered; });
  per_sub("lantoa_subscription_acked_total", "counter", "Deliveries acknowledged per subscription.",
          [](const SF& s) { return s.acked; });
  per_sub("lantoa_subscription_redelivered_total", "counter", "Redeliveries per subscription.",
          [](const SF& s) { return s.redelivered; });
  per_sub("lantoa_subscription_oldest_unacked_age_seconds", "gauge",
          "Age of the oldest event in the subscription's queue (delivered or not); 0 when the queue is empty.",
          [](const SF& s) { return s.oldest_unacked_age_s; });
  per_sub("lantoa_subscription_last_ack_age_seconds", "gauge",
          "Seconds since the subscription's last ack (since the broker started, when none yet).",
          [](const SF& s) { return s.last_ack_age_s; });
  per_sub("lantoa_subscription_connected", "gauge", "1 while a live session holds the subscription, else 0.",
          [](const SF& s) { return s.connected ? 1 : 0; });

  auto per_link = [&](const char* name, const char* type, const char* help, auto value) {
    Family f(o, name, type, help);
    for (const auto& l : snap.links) f.add({{"link", l.name}}, value(l));
  };
  using LF = Metrics::LinkFigures;
  per_link("lantoa_link_connected", "gauge", "1 while the link to the other broker is up, else 0.",
           [](const LF& l) { return l.connected ? 1 : 0; });
  per_link("lantoa_link_owed_events", "gauge",
           "Events the link owes the other broker (to send, or sent and not yet confirmed).",
           [](const LF& l) { return l.owed_events; });
  per_link("lantoa_link_oldest_owed_age_seconds", "gauge",
           "Age of the oldest event the link owes; 0 when it owes none.", [](const LF& l) { return l.oldest_owed_age_s; });
  per_link("lantoa_link_bytes_sent_total", "counter", "Bytes sent over the link (links this broker dials).",
           [](const LF& l) { return l.bytes_sent; });
  per_link("lantoa_link_bytes_received_total", "counter", "Bytes received over the link (links this broker dials).",
           [](const LF& l) { return l.bytes_received; });
  per_link("lantoa_link_events_sent_total", "counter",
           "Events passed on over the link and confirmed by the other broker (stored, or held already).",
           [](const LF& l) { return l.events_sent; });
  per_link("lantoa_link_events_received_total", "counter", "Events received over the link and stored here.",
           [](const LF& l) { return l.events_received; });

  gauge("lantoa_store_used_bytes", "LMDB pages in use (up to the highest used page), in bytes.", snap.store_used_bytes);
  gauge("lantoa_store_map_size_bytes", "The LMDB map size (map_size_mb): the most the store can hold.",
        snap.store_map_bytes);

  prometheus::write_process_metrics(o);
  return o.str();
}

std::string render_stats_json(Metrics& m, const std::string& transport_key) {
  using nlohmann::json;
  json j;
  const auto snap = m.snapshot(unix_now_ms());
  j["version"] = LANTOA_VERSION;
  if (!transport_key.empty()) j["transport_key"] = transport_key;  // signed admin requests name it
  j["events"] = {{"accepted", m.accepted.load()}, {"duplicates", m.duplicates.load()}};
  json rejected = json::object();
  for (size_t code = 0; code < Metrics::kCodes; ++code) {
    if (uint64_t v = m.rejected[code]) rejected[std::string(code_name(static_cast<Code>(code)))] = v;
  }
  j["events"]["rejected"] = rejected;
  json by_origin = json::object();
  for (const auto& [key, v] : snap.rejected_by_origin) by_origin[key.first][key.second] = v;
  j["events"]["rejected_by_origin"] = by_origin;
  j["delivery"] = {{"deliveries", m.deliveries.load()}, {"redeliveries", m.redeliveries.load()},
                   {"acks", m.acks.load()},             {"nacks", m.nacks.load()},
                   {"expired", m.expired.load()}};
  j["rates"] = {{"accepted", rates_json(snap.accepted)},   {"delivered", rates_json(snap.delivered)},
                {"acked", rates_json(snap.acked)},         {"rejected", rates_json(snap.rejected)},
                {"redelivered", rates_json(snap.redelivered)}};
  const uint64_t commits = m.commits;
  const auto commit_hist = m.commit_seconds.snapshot();
  j["commits"] = {{"count", commits},
                  {"events", m.committed_events.load()},
                  {"mean_batch", commits ? static_cast<double>(m.committed_events) / commits : 0.0},
                  {"mean_ms", commit_hist.count ? commit_hist.sum_s * 1000 / commit_hist.count : 0.0},
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
  j["store"] = {{"used_bytes", snap.store_used_bytes}, {"map_size_bytes", snap.store_map_bytes}};
  auto flows = [](const std::map<std::string, Metrics::FlowFigures>& map) {
    json out = json::object();
    for (const auto& [label, f] : map) {
      out[label] = {{"accepted", f.accepted},
                    {"delivered", f.delivered},
                    {"accepted_per_s", rates_json(f.accepted_rate)},
                    {"delivered_per_s", rates_json(f.delivered_rate)}};
    }
    return out;
  };
  j["origins"] = flows(snap.origins);
  j["topics"] = flows(snap.topics);
  json subs = json::array();
  for (const auto& f : snap.subscriptions) {
    subs.push_back({{"id", f.id},
                    {"owner", f.owner},
                    {"name", f.name},
                    {"depth", f.depth},
                    {"in_flight", f.in_flight},
                    {"delivered", f.delivered},
                    {"acked", f.acked},
                    {"redelivered", f.redelivered},
                    {"oldest_unacked_age_s", f.oldest_unacked_age_s},
                    {"last_ack_age_s", f.last_ack_age_s},
                    {"connected", f.connected},
                    {"filters", f.filters},
                    {"delivered_per_s", rates_json(f.delivered_rate)}});
  }
  j["subscriptions"] = subs;
  json admin = json::object();
  for (const auto& [key, v] : snap.admin_actions) admin[key.first][key.second] = v;
  j["admin_actions"] = admin;
  json links = json::array();
  for (const auto& l : snap.links) {
    links.push_back({{"name", l.name},
                     {"dials", l.dials},
                     {"peer", l.peer},
                     {"endpoint", l.endpoint},
                     {"connected", l.connected},
                     {"down_reason", l.down_reason},
                     {"up_since_ms", l.up_since_ms},
                     {"connects", l.connects},
                     {"owed_events", l.owed_events},
                     {"oldest_owed_age_s", l.oldest_owed_age_s},
                     {"bytes_sent", l.bytes_sent},
                     {"bytes_received", l.bytes_received},
                     {"events_sent", l.events_sent},
                     {"events_received", l.events_received},
                     {"duplicates_received", l.duplicates_received},
                     {"refused_by_peer", l.refused_by_peer},
                     {"refused_here", l.refused_here},
                     {"sent_per_s", rates_json(l.sent_rate)},
                     {"received_per_s", rates_json(l.received_rate)},
                     {"exports", l.exports},
                     {"imports", l.imports},
                     {"interest_in", l.interest_in},
                     {"interest_out", l.interest_out}});
  }
  j["links"] = links;
  return j.dump(2);
}

Result<std::unique_ptr<MonitorServer>> MonitorServer::start(Metrics& metrics, const std::string& host, int port,
                                                            MonitorActions actions) {
  std::unique_ptr<MonitorServer> m(new MonitorServer());
  m->actions_ = std::move(actions);
  m->http_ = std::make_unique<httplib::Server>();
  m->serve_actions(metrics);
  m->http_->Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_prometheus(metrics), "text/plain; version=0.0.4");
  });
  m->http_->Get("/api/v1/stats", [&metrics, srv = m.get()](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_stats_json(metrics, srv->actions_.transport_key), "application/json");
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
  m->sampler_ = std::thread([&metrics, srv = m.get()] { srv->sample_every_second(metrics); });
  return m;
}

namespace {

int http_status_of(Code code) {
  switch (code) {
    case lantoa::v1::Error::NOT_FOUND:
    case lantoa::v1::Error::SUBSCRIPTION_NOT_FOUND: return 404;
    case lantoa::v1::Error::INVALID_ARGUMENT: return 400;
    case lantoa::v1::Error::PERMISSION_DENIED: return 403;
    case lantoa::v1::Error::TIMEOUT:
    case lantoa::v1::Error::UNAVAILABLE: return 503;
    default: return 500;
  }
}

void reply_error(httplib::Response& res, int http, Code code, const std::string& message) {
  res.status = http;
  nlohmann::json body = {{"error", {{"code", std::string(code_name(code))}, {"message", message}}}};
  res.set_content(body.dump() + "\n", "application/json");
}

void reply(httplib::Response& res, const Result<std::string>& r) {
  if (!r) return reply_error(res, http_status_of(r.status().code()), r.status().code(), r.status().message());
  res.set_content(*r, "application/json");
}

constexpr int64_t kSignedRequestSkewMs = 60'000;

// Compares digests, in time independent of where they differ (and of the
// secret's length).
bool same_secret(std::string_view a, std::string_view b) {
  auto digest = [](std::string_view s) {
    std::array<unsigned char, 32> d{};
    crypto_generichash(d.data(), d.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(), nullptr, 0);
    return d;
  };
  const auto da = digest(a), db = digest(b);
  return sodium_memcmp(da.data(), db.data(), da.size()) == 0;
}

}  // namespace

Result<std::string> MonitorServer::authorise(const httplib::Request& req, const std::string& target, int* http) {
  using E = lantoa::v1::Error;
  *http = 401;
  const std::string auth = req.get_header_value("Authorization");
  const std::string chain_text = req.get_header_value("X-Lantoa-Chain");
  if (auth.starts_with("Bearer ")) {
    if (actions_.admin_token.empty()) {
      *http = 403;
      return Status(E::PERMISSION_DENIED,
                    "admin verbs by token are off on this broker: its operator sets monitor_admin_token_file");
    }
    if (!same_secret(std::string_view(auth).substr(7), actions_.admin_token)) {
      return Status(E::PERMISSION_DENIED, "wrong admin token");
    }
    return std::string("admin token");
  }
  if (chain_text.empty()) {
    return Status(E::PERMISSION_DENIED,
                  "admin verbs need \"Authorization: Bearer <admin token>\", or a request signed by an operator "
                  "or authority certificate (X-Lantoa-Chain, X-Lantoa-Time, X-Lantoa-Signature)");
  }
  // A signed request: "METHOD PATH\nTIME_MS", by the leaf of the chain.
  if (!actions_.trust) return Status(E::UNAVAILABLE, "this broker does not take signed admin requests");
  auto chain_bytes = from_base64url(chain_text);
  v1::CertificateChain chain;
  if (!chain_bytes || !chain.ParseFromString(*chain_bytes)) {
    *http = 403;
    return Status(E::CERT_MALFORMED, "X-Lantoa-Chain is not a base64url CertificateChain");
  }
  const int64_t now = unix_now_ms();
  auto member = actions_.trust->verify_chain(chain, now);
  if (!member) {
    *http = 403;
    return member.status();
  }
  if (!member->has_role(v1::OPERATOR) && !member->has_role(v1::AUTHORITY)) {
    *http = 403;
    return Status(E::ROLE_MISSING, member->member() + "'s certificate has neither the operator nor the authority role");
  }
  if (target != member->member() && !target.starts_with(member->member() + ".")) {
    *http = 403;
    return Status(E::PERMISSION_DENIED, member->member() + " may act only on members at or below it, not on " + target);
  }
  const std::string time_text = req.get_header_value("X-Lantoa-Time");
  int64_t at = 0;
  auto [end, ec] = std::from_chars(time_text.data(), time_text.data() + time_text.size(), at);
  if (ec != std::errc() || end != time_text.data() + time_text.size() || at < now - kSignedRequestSkewMs ||
      at > now + kSignedRequestSkewMs) {
    return Status(E::INVALID_TIME, "X-Lantoa-Time must be the signing time in Unix ms, within 60 s of the broker's "
                                   "clock (got \"" + time_text.substr(0, 32) + "\")");
  }
  auto signature = from_base64url(req.get_header_value("X-Lantoa-Signature"));
  const std::string signed_text = req.method + " " + req.path + "\n" + time_text + "\n" + actions_.transport_key;
  if (!signature ||
      !verify_signature(SignDomain::kAdminRequest, member->certificate.sign_key(), signed_text, *signature).ok()) {
    return Status(E::BAD_SIGNATURE, "X-Lantoa-Signature does not verify with " + member->member() +
                                        "'s key over \"METHOD PATH\\nTIME\\nBROKER_KEY\" (this broker's key: " +
                                        actions_.transport_key + ")");
  }
  std::lock_guard lock(seen_mu_);
  std::erase_if(seen_signatures_, [now](const auto& e) { return e.second < now; });
  if (!seen_signatures_.emplace(*signature, at + 2 * kSignedRequestSkewMs).second) {
    return Status(E::PERMISSION_DENIED, "this signed request was used already (sign each request anew)");
  }
  return member->member();
}

void MonitorServer::serve_actions(Metrics& metrics) {
  http_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
                   "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    res.set_content(std::string(dashboard_html()), "text/html; charset=utf-8");
  });
  http_->Get(R"(/api/v1/events/([^/]+)/spread)", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string hex = req.matches[1];
    auto id = from_hex(hex);
    if (!id || id->size() != 32) {
      return reply_error(res, 400, lantoa::v1::Error::INVALID_ARGUMENT,
                         "an event id is 64 hexadecimal digits (as lantoa publish and the node's API print it), "
                         "got \"" + hex.substr(0, 80) + "\"");
    }
    if (!actions_.spread) return reply_error(res, 503, lantoa::v1::Error::UNAVAILABLE, "spread is not available");
    // One at a time: each asks the I/O thread to look at every subscription.
    std::lock_guard one(spread_mu_);
    reply(res, actions_.spread(*id));
  });
  // Every admin verb: authorised by the admin token, logged and counted.
  auto admin = [this, &metrics](const char* action, MonitorActions::Admin verb, auto target) {
    return [this, &metrics, action, verb, target](const httplib::Request& req, httplib::Response& res) {
      const auto [a, b] = target(req);
      // Checked before anything is logged: a name is what the protocol allows, nothing else.
      if (Status valid = validate_member_id(a); !valid.ok()) {
        return reply_error(res, 400, lantoa::v1::Error::INVALID_ARGUMENT, "not a member id (" + valid.message() + ")");
      }
      // A link's subscription (docs/federation.md) is "$link-" and 16 hex digits.
      const bool link_sub = b.size() == 22 && b.starts_with("$link-") &&
                            b.find_first_not_of("0123456789abcdef", 6) == std::string::npos;
      if (!b.empty() && !is_subscription_name(b) && !link_sub) {
        return reply_error(res, 400, lantoa::v1::Error::INVALID_ARGUMENT,
                           "not a subscription name (1 to 64 of a-z, 0-9, - and _; or a link's $link-TAG)");
      }
      const std::string what = std::string(action) + " " + a + (b.empty() ? "" : "/" + b);
      const std::string who = req.remote_addr;
      int http = 401;
      auto by = authorise(req, a, &http);
      if (!by) {
        metrics.admin_action(action, "refused");
        spdlog::warn("admin: {} from {} refused: {}", what, who, by.status().message());
        if (http == 401) res.set_header("WWW-Authenticate", "Bearer");
        return reply_error(res, http, by.status().code(), by.status().message());
      }
      if (!actions_.admin) return reply_error(res, 503, lantoa::v1::Error::UNAVAILABLE, "admin verbs are not available");
      auto r = actions_.admin(verb, a, b);
      metrics.admin_action(action, r.ok() ? "done" : "failed");
      if (r.ok()) {
        spdlog::warn("admin: {} from {} by {} done: {}", what, who, *by, *r);
      } else {
        spdlog::warn("admin: {} from {} by {} failed: {}", what, who, *by, r.status().to_string());
      }
      reply(res, r);
    };
  };
  using Admin = MonitorActions::Admin;
  auto owner_name = [](const httplib::Request& req) { return std::pair{req.matches[1].str(), req.matches[2].str()}; };
  http_->Delete(R"(/api/v1/subscriptions/([^/]+)/([^/]+))",
                admin("subscription_remove", Admin::kRemoveSubscription, owner_name));
  http_->Post(R"(/api/v1/subscriptions/([^/]+)/([^/]+)/purge)", admin("queue_purge", Admin::kPurgeQueue, owner_name));
  http_->Delete(R"(/api/v1/sessions/([^/]+))",
                admin("sessions_close", Admin::kCloseSessions,
                      [](const httplib::Request& req) { return std::pair{req.matches[1].str(), std::string()}; }));
}

void MonitorServer::sample_every_second(Metrics& metrics) {
  // On whole seconds of the steady clock from the first sample, so the
  // windows stay 10 and 60 samples wide however long a sample takes.
  auto next = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    metrics.sample(internal::mono_now_ms());
    next += std::chrono::seconds(1);
    cv_.wait_until(lock, next, [this] { return stopping_; });
  }
}

MonitorServer::~MonitorServer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace lantoa::broker
