// Metrics: the counters every part of the broker updates, and the snapshot
// the HTTP endpoints render. Counters are atomics (updated from any thread);
// per-origin, per-topic and per-subscription figures are maps behind one
// mutex, updated in batches by the writer and I/O threads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "lantoa/status.h"

namespace lantoa::broker {

struct SubscriptionFigures {
  std::string owner;
  std::string name;
  uint64_t depth = 0;       // queue entries (delivered-but-unacked included)
  uint64_t in_flight = 0;   // delivered, not acked
  uint64_t delivered = 0;
  uint64_t acked = 0;
  uint64_t redelivered = 0;
  bool connected = false;
};

class Metrics {
 public:
  static constexpr size_t kCodes = 128;

  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> duplicates{0};
  std::array<std::atomic<uint64_t>, kCodes> rejected{};  // by error code
  std::atomic<uint64_t> deliveries{0};
  std::atomic<uint64_t> redeliveries{0};
  std::atomic<uint64_t> acks{0};
  std::atomic<uint64_t> nacks{0};
  std::atomic<uint64_t> expired{0};
  std::atomic<uint64_t> connections{0};        // current authenticated sessions
  // Connections refused before they became a session, by error code: at the
  // transport handshake (admission by Curve key: PERMISSION_DENIED for an
  // unknown key, CERT_REVOKED, CERT_EXPIRED) or at Hello (the chain's reason).
  std::array<std::atomic<uint64_t>, kCodes> sessions_refused{};
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> frame_errors{0};
  std::atomic<uint64_t> transport_closes{0};  // connections closed below the protocol
  std::atomic<uint64_t> not_queued{0};        // events not queued for a subscription whose queue was full
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> committed_events{0};   // events in those commits
  std::atomic<uint64_t> commit_micros{0};      // total commit time (fsync included)
  std::atomic<uint64_t> commit_micros_max{0};
  std::atomic<uint64_t> retained_removed{0};
  std::atomic<uint64_t> storage_errors{0};     // failed LMDB transactions and manifest writes

  void reject(Code code) { rejected[static_cast<size_t>(code) % kCodes]++; }
  void refuse_session(Code code) { sessions_refused[static_cast<size_t>(code) % kCodes]++; }
  void commit_took(uint64_t micros, uint64_t events);

  // Writer thread: per-origin and per-topic accepted counts.
  void count_accepted(const std::string& origin, const std::string& topic);
  // Writer thread: queue depths; I/O thread: delivery figures.
  void set_depth(uint64_t sub, const std::string& owner, const std::string& name, uint64_t depth);
  void forget_subscription(uint64_t sub);
  template <typename F>
  void update_subscription(uint64_t sub, F change) {
    std::lock_guard lock(mu_);
    change(subs_[sub]);
  }

  struct Snapshot {
    std::map<std::string, uint64_t> by_origin;
    std::map<std::string, uint64_t> by_topic;
    std::map<std::string, double> topic_rates;  // events/s over the last sampling window
    std::map<uint64_t, SubscriptionFigures> subscriptions;
  };
  Snapshot snapshot();

 private:
  std::mutex mu_;
  std::map<std::string, uint64_t> by_origin_;
  std::map<std::string, uint64_t> by_topic_;
  std::map<uint64_t, SubscriptionFigures> subs_;
  // For rates: the previous sample of by_topic_ and when it was taken.
  std::map<std::string, uint64_t> prev_topics_;
  std::map<std::string, double> rates_;
  int64_t prev_sample_ms_ = 0;
};

}  // namespace lantoa::broker
