// Metrics: the figures every part of the broker reports into, and the
// snapshot the HTTP endpoints render (the list, with meanings and labels, is
// in docs/operating-a-broker.md; keep the two equal).
//
// Cheap where it is hot: counters, histogram buckets and per-subscription
// probes are atomics, updated from any thread without a lock. The maps that
// name things (topics, origin namespaces, subscriptions, rejections by
// origin) sit behind one mutex that is taken only to add a name, to sample
// and to render; the delivery path keeps its own cache of the counters it
// found (FlowCache) and never takes it per event.
//
// Label cardinality is bounded: a topic label is the topic itself for the
// first kMaxTopics topics seen, then "other"; an origin label is the origin's
// namespace cut to its first kOriginDepth labels (vn.qn.halong -> vn.qn), for
// the first kMaxOrigins of those, then "other". Subscriptions are bounded by
// the broker's own limits (max_subscriptions_per_member).
//
// Rates: sample() records every counter with a rate once a second (the
// monitor's sampler thread calls it); rate_10s / rate_1m are the change over
// the last 10 / 60 seconds of those samples. They do not depend on who polls
// or how often.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lantoa/status.h"

namespace lantoa::broker {

// A Prometheus histogram with fixed bucket bounds (seconds). observe() is
// a few relaxed atomic adds: safe and cheap from any thread.
class Histogram {
 public:
  static constexpr size_t kMaxBuckets = 20;
  // `bounds_s`: upper bounds in seconds, ascending (at most kMaxBuckets; +Inf is implied).
  explicit Histogram(std::initializer_list<double> bounds_s);
  void observe_micros(uint64_t micros);
  void observe_ms(int64_t ms) { observe_micros(ms <= 0 ? 0 : static_cast<uint64_t>(ms) * 1000); }

  struct Snapshot {
    std::vector<double> bounds_s;
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum_s = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  size_t n_ = 0;
  std::array<uint64_t, kMaxBuckets> bounds_us_{};
  std::array<std::atomic<uint64_t>, kMaxBuckets + 1> buckets_{};
  std::atomic<uint64_t> sum_us_{0};
};

// Counters of one topic or one origin namespace: events accepted, and
// deliveries (first attempts) of its events to subscribers.
struct Flow {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> delivered{0};
};

// One durable subscription's figures, shared by the writer (depth), the
// dispatcher (delivery figures, connected) and the HTTP thread (reads).
struct SubscriptionProbe {
  SubscriptionProbe(uint64_t id_, std::string owner_, std::string name_)
      : id(id_), owner(std::move(owner_)), name(std::move(name_)) {}
  const uint64_t id;
  const std::string owner;
  const std::string name;
  std::atomic<uint64_t> depth{0};        // queue entries (delivered-but-unacked included)
  std::atomic<uint64_t> in_flight{0};    // delivered, not acked, not timed out
  std::atomic<uint64_t> delivered{0};    // since the broker started
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> redelivered{0};
  std::atomic<int64_t> last_ack_ms{0};   // wall clock; 0: none since the broker started
  std::atomic<bool> connected{false};    // attached to a live session
};

// A link to another broker (session/link.h): set by the I/O thread.
struct LinkProbe {
  LinkProbe(std::string name_, bool dials_) : name(std::move(name_)), dials(dials_) {}
  const std::string name;
  const bool dials;  // this broker dials it ([[links]]); else the peer dialed
  std::atomic<bool> connected{false};
  std::atomic<uint64_t> sub{0};  // the subscription of what is owed to the peer (0: not known yet)
  std::atomic<uint64_t> bytes_sent{0}, bytes_received{0};
  std::atomic<uint64_t> events_sent{0};      // passed on to the peer and confirmed by it (stored or duplicate)
  std::atomic<uint64_t> events_received{0};  // from the peer, stored here
  std::atomic<uint64_t> duplicates_received{0};
  std::atomic<uint64_t> refused_by_peer{0};  // ours, refused by the peer for good
  std::atomic<uint64_t> refused_here{0};     // the peer's, refused here for good (or not imported)
  std::atomic<int64_t> up_since_ms{0};       // wall clock; 0: down
  std::atomic<uint64_t> connects{0};
  // Set and read under Metrics' lock (link_details).
  std::string peer, endpoint, down_reason;
  std::vector<std::string> exports, imports, interest_in, interest_out;
};

// What only the store can tell, read when figures are asked for (the HTTP
// thread, with its own read transaction). broker.cc provides the reader.
struct StoreFigures {
  uint64_t used_bytes = 0;  // LMDB pages in use up to the highest, times the page size
  uint64_t map_bytes = 0;   // the map size (map_size_mb): the most the store may hold
  // Subscription -> when the oldest entry of its queue was accepted (wall ms).
  std::unordered_map<uint64_t, int64_t> oldest_queued_ms;
};
using StoreReader = std::function<StoreFigures(const std::vector<uint64_t>& subs_with_entries)>;

class Metrics {
 public:
  static constexpr size_t kCodes = 128;
  static constexpr size_t kMaxTopics = 1000;
  static constexpr size_t kMaxOrigins = 500;
  static constexpr size_t kOriginDepth = 2;
  static constexpr size_t kMaxRejectionLabels = 1000;  // (origin, reason) pairs
  static constexpr size_t kWindow = 61;                // samples kept: one a second, one minute back

  Metrics();

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
  std::atomic<uint64_t> commit_micros_max{0};
  std::atomic<uint64_t> retained_removed{0};
  std::atomic<uint64_t> storage_errors{0};     // failed LMDB transactions and manifest writes

  Histogram commit_seconds;   // one LMDB write transaction, fsync included
  Histogram verify_seconds;   // one event's checks (signature, chain, rules)
  Histogram deliver_seconds;  // acceptance (commit) to first delivery sent, per subscription

  // A publish refused, by reason and by the publishing member (its namespace
  // is the label). `member` may be empty when it is not known.
  void reject(Code code, std::string_view member);
  void refuse_session(Code code) { sessions_refused[static_cast<size_t>(code) % kCodes]++; }
  // An admin verb on the monitoring port: `action` (a fixed few names) and
  // its outcome ("done", "refused": not authorised, "failed": not found or an error).
  void admin_action(std::string_view action, std::string_view outcome);
  void commit_took(uint64_t micros, uint64_t events);

  // The counters of a topic / an origin's namespace (created on first use,
  // "other" past the cap). Stable for the life of the Metrics. Takes the
  // lock: callers on hot paths keep a FlowCache.
  Flow& topic_flow(std::string_view topic);
  Flow& origin_flow(std::string_view origin);
  // The label an origin is counted under (its first kOriginDepth labels).
  static std::string_view origin_namespace(std::string_view origin);

  // The probe of a subscription (created on first use; `filters` as they
  // are now, for the dashboard's flow graph). The writer and the dispatcher
  // keep the pointer; forget() drops it from the figures.
  // Called often (the writer, ten times a second per subscription): the
  // filters are copied only when they changed.
  template <typename Filters>
  std::shared_ptr<SubscriptionProbe> subscription(uint64_t id, const std::string& owner, const std::string& name,
                                                  const Filters& filters) {
    std::lock_guard lock(mu_);
    auto& e = subs_[id];
    if (!e.probe) e.probe = std::make_shared<SubscriptionProbe>(id, owner, name);
    if (!std::equal(filters.begin(), filters.end(), e.filters.begin(), e.filters.end())) {
      e.filters.assign(filters.begin(), filters.end());
    }
    return e.probe;
  }
  void forget_subscription(uint64_t id);

  // The probe of a link (created on first use, kept while the broker runs).
  std::shared_ptr<LinkProbe> link(const std::string& name, bool dials);
  // Sets the text figures of a link (under the lock).
  void link_details(const LinkProbe& probe, const std::function<void(LinkProbe&)>& set);

  void set_store_reader(StoreReader reader);

  // Records the counters that have rates (once a second; `mono_ms` from the
  // steady clock). Tests call it with their own clock.
  void sample(int64_t mono_ms);

  struct Rates {
    double per_s_10s = 0;
    double per_s_1m = 0;
  };
  struct FlowFigures {
    uint64_t accepted = 0, delivered = 0;
    Rates accepted_rate, delivered_rate;
  };
  struct SubscriptionFigures {
    uint64_t id = 0;
    std::string owner, name;
    uint64_t depth = 0, in_flight = 0, delivered = 0, acked = 0, redelivered = 0;
    bool connected = false;
    std::vector<std::string> filters;
    Rates delivered_rate;
    double oldest_unacked_age_s = 0;  // 0 when the queue is empty
    double last_ack_age_s = 0;        // since the last ack, or since the broker started when none yet
  };
  struct LinkFigures {
    std::string name, peer, endpoint, down_reason;
    bool dials = false, connected = false;
    uint64_t owed_events = 0, bytes_sent = 0, bytes_received = 0, events_sent = 0, events_received = 0,
             duplicates_received = 0, refused_by_peer = 0, refused_here = 0, connects = 0;
    double oldest_owed_age_s = 0;
    int64_t up_since_ms = 0;
    uint64_t sub = 0;
    std::vector<std::string> exports, imports, interest_in, interest_out;
    Rates sent_rate, received_rate;
  };
  struct Snapshot {
    std::map<std::string, FlowFigures> topics;
    std::map<std::string, FlowFigures> origins;
    std::map<std::pair<std::string, std::string>, uint64_t> rejected_by_origin;  // (origin, reason)
    std::map<std::pair<std::string, std::string>, uint64_t> admin_actions;       // (action, outcome)
    std::vector<SubscriptionFigures> subscriptions;  // by id
    std::vector<LinkFigures> links;                  // by name
    Rates accepted, delivered, acked, rejected, redelivered;
    uint64_t store_used_bytes = 0, store_map_bytes = 0;
  };
  // The maps, the rates and the store's figures, now (`wall_ms`: for ages).
  Snapshot snapshot(int64_t wall_ms);

 private:
  // The last kWindow samples of one counter (a ring sharing times_).
  struct Series {
    std::array<uint64_t, kWindow> v{};
  };
  struct FlowEntry {
    Flow flow;
    Series accepted, delivered;
  };
  Flow& flow(std::map<std::string, std::unique_ptr<FlowEntry>, std::less<>>& m, std::string_view label, size_t cap);
  Rates rates(const Series& s) const;
  uint64_t rejected_total() const;
  void record(Series& s, uint64_t value) { s.v[head_] = value; }

  const int64_t started_wall_ms_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<FlowEntry>, std::less<>> topics_, origins_;
  std::map<std::pair<std::string, std::string>, uint64_t> rejected_by_origin_;
  std::map<std::pair<std::string, std::string>, uint64_t> admin_actions_;
  struct SubEntry {
    std::shared_ptr<SubscriptionProbe> probe;
    std::vector<std::string> filters;
    Series delivered;
  };
  std::map<uint64_t, SubEntry> subs_;
  struct LinkEntry {
    std::shared_ptr<LinkProbe> probe;
    Series sent, received;
  };
  std::map<std::string, LinkEntry> links_;
  StoreReader store_reader_;
  // Samples: times and the global series, newest at head_.
  std::array<int64_t, kWindow> times_{};
  size_t head_ = 0, samples_ = 0;
  Series accepted_s_, delivered_s_, acked_s_, rejected_s_, redelivered_s_;
};

// A single thread's cache of Flow counters by topic and by origin, so that a
// hot path finds them without the Metrics lock (a lookup in a hash map it
// owns; the lock only the first time a name is seen).
class FlowCache {
 public:
  explicit FlowCache(Metrics& metrics) : metrics_(metrics) {}
  Flow& topic(const std::string& topic);
  Flow& origin(const std::string& origin);

 private:
  static constexpr size_t kMaxCached = 4 * Metrics::kMaxTopics;  // names past the caps all map to "other"
  Metrics& metrics_;
  std::unordered_map<std::string, Flow*> topics_, origins_;
};

}  // namespace lantoa::broker
