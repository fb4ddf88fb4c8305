#include "monitor/metrics.h"

#include <algorithm>

#include "lantoa/event.h"

namespace lantoa::broker {

// --- Histogram ---

Histogram::Histogram(std::initializer_list<double> bounds_s) {
  for (double b : bounds_s) {
    if (n_ == kMaxBuckets) break;
    bounds_us_[n_++] = static_cast<uint64_t>(b * 1e6 + 0.5);
  }
}

void Histogram::observe_micros(uint64_t micros) {
  size_t i = 0;
  while (i < n_ && micros > bounds_us_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(micros, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  uint64_t running = 0;
  for (size_t i = 0; i <= n_; ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    if (i < n_) s.bounds_s.push_back(bounds_us_[i] / 1e6);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum_s = sum_us_.load(std::memory_order_relaxed) / 1e6;
  return s;
}

// --- Metrics ---

Metrics::Metrics()
    : commit_seconds({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}),
      verify_seconds({0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}),
      deliver_seconds({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
                       3600, 86400}),
      started_wall_ms_(unix_now_ms()) {}

void Metrics::commit_took(uint64_t micros, uint64_t events) {
  commits++;
  committed_events += events;
  commit_seconds.observe_micros(micros);
  uint64_t prev = commit_micros_max.load();
  while (micros > prev && !commit_micros_max.compare_exchange_weak(prev, micros)) {
  }
}

void Metrics::reject(Code code, std::string_view member) {
  rejected[static_cast<size_t>(code) % kCodes]++;
  std::string origin = member.empty() ? std::string("unknown") : std::string(origin_namespace(member));
  std::string reason(code_name(code));
  std::lock_guard lock(mu_);
  auto key = std::make_pair(std::move(origin), std::move(reason));
  auto it = rejected_by_origin_.find(key);
  if (it == rejected_by_origin_.end() && rejected_by_origin_.size() >= kMaxRejectionLabels) {
    key.first = "other";
    it = rejected_by_origin_.find(key);
  }
  if (it == rejected_by_origin_.end()) it = rejected_by_origin_.emplace(std::move(key), 0).first;
  it->second++;
}

void Metrics::admin_action(std::string_view action, std::string_view outcome) {
  std::lock_guard lock(mu_);
  admin_actions_[{std::string(action), std::string(outcome)}]++;
}

std::string_view Metrics::origin_namespace(std::string_view origin) {
  size_t dot = 0;
  for (size_t depth = 0; depth < kOriginDepth; ++depth) {
    dot = origin.find('.', depth == 0 ? 0 : dot + 1);
    if (dot == std::string_view::npos) return origin;
  }
  return origin.substr(0, dot);
}

Flow& Metrics::flow(std::map<std::string, std::unique_ptr<FlowEntry>, std::less<>>& m, std::string_view label,
                    size_t cap) {
  std::lock_guard lock(mu_);
  auto it = m.find(label);
  if (it == m.end()) {
    if (m.size() >= cap) label = "other";  // cap + 1 labels at most: "other" is the one past the cap
    it = m.find(label);
    // A new series counts 0 in every earlier sample (it was 0 then), so
    // zeroed rings give the right rates from its first second.
    if (it == m.end()) it = m.emplace(std::string(label), std::make_unique<FlowEntry>()).first;
  }
  return it->second->flow;
}

Flow& Metrics::topic_flow(std::string_view topic) { return flow(topics_, topic, kMaxTopics); }
Flow& Metrics::origin_flow(std::string_view origin) { return flow(origins_, origin_namespace(origin), kMaxOrigins); }

void Metrics::forget_subscription(uint64_t id) {
  std::lock_guard lock(mu_);
  subs_.erase(id);
}

std::shared_ptr<LinkProbe> Metrics::link(const std::string& name, bool dials) {
  std::lock_guard lock(mu_);
  auto& e = links_[name];
  if (!e.probe) e.probe = std::make_shared<LinkProbe>(name, dials);
  return e.probe;
}

void Metrics::link_details(const LinkProbe& probe, const std::function<void(LinkProbe&)>& set) {
  std::lock_guard lock(mu_);
  auto it = links_.find(probe.name);
  if (it != links_.end()) set(*it->second.probe);
}

void Metrics::set_store_reader(StoreReader reader) {
  std::lock_guard lock(mu_);
  store_reader_ = std::move(reader);
}

uint64_t Metrics::rejected_total() const {
  uint64_t n = 0;
  for (const auto& r : rejected) n += r.load(std::memory_order_relaxed);
  return n;
}

void Metrics::sample(int64_t mono_ms) {
  std::lock_guard lock(mu_);
  if (samples_ > 0) head_ = (head_ + 1) % kWindow;
  samples_ = std::min(samples_ + 1, kWindow);
  times_[head_] = mono_ms;
  record(accepted_s_, accepted.load());
  record(delivered_s_, deliveries.load());
  record(acked_s_, acks.load());
  record(rejected_s_, rejected_total());
  record(redelivered_s_, redeliveries.load());
  for (auto& [name, e] : links_) {
    record(e.sent, e.probe->events_sent.load(std::memory_order_relaxed));
    record(e.received, e.probe->events_received.load(std::memory_order_relaxed));
  }
  for (auto* m : {&topics_, &origins_}) {
    for (auto& [label, e] : *m) {
      record(e->accepted, e->flow.accepted.load(std::memory_order_relaxed));
      record(e->delivered, e->flow.delivered.load(std::memory_order_relaxed));
    }
  }
  for (auto& [id, e] : subs_) record(e.delivered, e.probe->delivered.load(std::memory_order_relaxed));
}

Metrics::Rates Metrics::rates(const Series& s) const {
  Rates r;
  auto over = [&](size_t seconds) {
    const size_t back = std::min(seconds, samples_ - 1);
    if (back == 0) return 0.0;
    const size_t then = (head_ + kWindow - back) % kWindow;
    const double elapsed = (times_[head_] - times_[then]) / 1000.0;
    const uint64_t now_v = s.v[head_], then_v = s.v[then];
    return elapsed > 0 && now_v >= then_v ? (now_v - then_v) / elapsed : 0.0;
  };
  if (samples_ < 2) return r;
  r.per_s_10s = over(10);
  r.per_s_1m = over(60);
  return r;
}

Metrics::Snapshot Metrics::snapshot(int64_t wall_ms) {
  Snapshot snap;
  std::vector<std::shared_ptr<SubscriptionProbe>> subs;
  std::map<uint64_t, std::pair<std::vector<std::string>, Rates>> sub_extras;  // filters, delivered rate
  StoreReader reader;
  {
    std::lock_guard lock(mu_);
    for (auto [m, out] : {std::pair{&topics_, &snap.topics}, std::pair{&origins_, &snap.origins}}) {
      for (const auto& [label, e] : *m) {
        FlowFigures& f = (*out)[label];
        f.accepted = e->flow.accepted.load(std::memory_order_relaxed);
        f.delivered = e->flow.delivered.load(std::memory_order_relaxed);
        f.accepted_rate = rates(e->accepted);
        f.delivered_rate = rates(e->delivered);
      }
    }
    snap.rejected_by_origin = rejected_by_origin_;
    snap.admin_actions = admin_actions_;
    snap.accepted = rates(accepted_s_);
    snap.delivered = rates(delivered_s_);
    snap.acked = rates(acked_s_);
    snap.rejected = rates(rejected_s_);
    snap.redelivered = rates(redelivered_s_);
    for (const auto& [id, e] : subs_) {
      subs.push_back(e.probe);
      sub_extras[id] = {e.filters, rates(e.delivered)};
    }
    for (const auto& [name, e] : links_) {
      const LinkProbe& p = *e.probe;
      LinkFigures f;
      f.name = p.name;
      f.dials = p.dials;
      f.peer = p.peer;
      f.endpoint = p.endpoint;
      f.down_reason = p.down_reason;
      f.exports = p.exports;
      f.imports = p.imports;
      f.interest_in = p.interest_in;
      f.interest_out = p.interest_out;
      f.connected = p.connected.load(std::memory_order_relaxed);
      f.bytes_sent = p.bytes_sent.load(std::memory_order_relaxed);
      f.bytes_received = p.bytes_received.load(std::memory_order_relaxed);
      f.events_sent = p.events_sent.load(std::memory_order_relaxed);
      f.events_received = p.events_received.load(std::memory_order_relaxed);
      f.duplicates_received = p.duplicates_received.load(std::memory_order_relaxed);
      f.refused_by_peer = p.refused_by_peer.load(std::memory_order_relaxed);
      f.refused_here = p.refused_here.load(std::memory_order_relaxed);
      f.connects = p.connects.load(std::memory_order_relaxed);
      f.up_since_ms = p.up_since_ms.load(std::memory_order_relaxed);
      f.sub = p.sub.load(std::memory_order_relaxed);
      f.sent_rate = rates(e.sent);
      f.received_rate = rates(e.received);
      snap.links.push_back(std::move(f));
    }
    reader = store_reader_;
  }
  // The store is read outside the lock: a slow read must not hold up the
  // threads that count.
  std::vector<uint64_t> with_entries;
  for (const auto& p : subs) {
    if (p->depth.load(std::memory_order_relaxed) > 0) with_entries.push_back(p->id);
  }
  StoreFigures store = reader ? reader(with_entries) : StoreFigures{};
  snap.store_used_bytes = store.used_bytes;
  snap.store_map_bytes = store.map_bytes;
  auto age = [&](int64_t since_ms) { return since_ms > 0 && wall_ms > since_ms ? (wall_ms - since_ms) / 1000.0 : 0.0; };
  for (const auto& p : subs) {
    SubscriptionFigures f;
    f.id = p->id;
    f.owner = p->owner;
    f.name = p->name;
    f.depth = p->depth.load(std::memory_order_relaxed);
    f.in_flight = p->in_flight.load(std::memory_order_relaxed);
    f.delivered = p->delivered.load(std::memory_order_relaxed);
    f.acked = p->acked.load(std::memory_order_relaxed);
    f.redelivered = p->redelivered.load(std::memory_order_relaxed);
    f.connected = p->connected.load(std::memory_order_relaxed);
    f.filters = std::move(sub_extras[p->id].first);
    f.delivered_rate = sub_extras[p->id].second;
    if (auto o = store.oldest_queued_ms.find(p->id); o != store.oldest_queued_ms.end() && f.depth > 0) {
      f.oldest_unacked_age_s = age(o->second);
    }
    const int64_t last_ack = p->last_ack_ms.load(std::memory_order_relaxed);
    f.last_ack_age_s = age(last_ack > 0 ? last_ack : started_wall_ms_);
    snap.subscriptions.push_back(std::move(f));
  }
  // What a link owes is its subscription's queue.
  for (auto& l : snap.links) {
    for (const auto& f : snap.subscriptions) {
      if (l.sub != 0 && f.id == l.sub) {
        l.owed_events = f.depth;
        l.oldest_owed_age_s = f.oldest_unacked_age_s;
      }
    }
  }
  return snap;
}

// --- FlowCache ---

Flow& FlowCache::topic(const std::string& topic) {
  if (auto it = topics_.find(topic); it != topics_.end()) return *it->second;
  if (topics_.size() >= kMaxCached) topics_.clear();
  Flow& f = metrics_.topic_flow(topic);
  topics_.emplace(topic, &f);
  return f;
}

Flow& FlowCache::origin(const std::string& origin) {
  if (auto it = origins_.find(origin); it != origins_.end()) return *it->second;
  if (origins_.size() >= kMaxCached) origins_.clear();
  Flow& f = metrics_.origin_flow(origin);
  origins_.emplace(origin, &f);
  return f;
}

}  // namespace lantoa::broker
