#include "monitor/metrics.h"

#include "lantoa/event.h"

namespace lantoa::broker {

void Metrics::commit_took(uint64_t micros, uint64_t events) {
  commits++;
  committed_events += events;
  commit_micros += micros;
  uint64_t prev = commit_micros_max.load();
  while (micros > prev && !commit_micros_max.compare_exchange_weak(prev, micros)) {
  }
}

void Metrics::count_accepted(const std::string& origin, const std::string& topic) {
  std::lock_guard lock(mu_);
  by_origin_[origin]++;
  by_topic_[topic]++;
}

void Metrics::set_depth(uint64_t sub, const std::string& owner, const std::string& name, uint64_t depth) {
  std::lock_guard lock(mu_);
  auto& f = subs_[sub];
  f.owner = owner;
  f.name = name;
  f.depth = depth;
}

void Metrics::forget_subscription(uint64_t sub) {
  std::lock_guard lock(mu_);
  subs_.erase(sub);
}

Metrics::Snapshot Metrics::snapshot() {
  std::lock_guard lock(mu_);
  const int64_t now = unix_now_ms();
  // Rates are recomputed at most once a second, over the time since the
  // previous sample (at most 10 s old).
  if (now - prev_sample_ms_ >= 1000) {
    const double seconds = prev_sample_ms_ ? (now - prev_sample_ms_) / 1000.0 : 0;
    rates_.clear();
    for (const auto& [topic, count] : by_topic_) {
      auto prev = prev_topics_.find(topic);
      uint64_t before = prev == prev_topics_.end() ? 0 : prev->second;
      rates_[topic] = seconds > 0 && seconds <= 10 ? (count - before) / seconds : 0.0;
    }
    prev_topics_ = by_topic_;
    prev_sample_ms_ = now;
  }
  return {by_origin_, by_topic_, rates_, subs_};
}

}  // namespace lantoa::broker
