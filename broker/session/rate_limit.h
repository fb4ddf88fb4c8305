// Per-member rate limits: token buckets for events and bytes, refilled
// continuously, with a burst allowance. Used by the I/O thread only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace lantoa::broker {

struct RateLimits {
  double events_per_s = 0;  // 0 = unlimited
  double burst_events = 0;  // bucket size; 0 = one second's worth
  double bytes_per_s = 0;   // 0 = unlimited
  double burst_bytes = 0;
};

class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(double rate, double burst, int64_t now_ms)
      : rate_(rate), burst_(burst > 0 ? burst : rate), tokens_(burst_), last_ms_(now_ms) {}

  bool unlimited() const { return rate_ <= 0; }
  // Takes `n` tokens if there are enough; otherwise returns how many ms until
  // there will be (and takes nothing).
  int64_t take(double n, int64_t now_ms) {
    if (unlimited()) return 0;
    refill(now_ms);
    if (tokens_ >= n) {
      tokens_ -= n;
      return 0;
    }
    const double missing = std::min(n, burst_) - tokens_;
    return std::max<int64_t>(1, static_cast<int64_t>(missing / rate_ * 1000.0 + 0.999));
  }

 private:
  void refill(int64_t now_ms) {
    tokens_ = std::min(burst_, tokens_ + (now_ms - last_ms_) * rate_ / 1000.0);
    last_ms_ = now_ms;
  }
  double rate_ = 0, burst_ = 0, tokens_ = 0;
  int64_t last_ms_ = 0;
};

// The buckets of every member seen.
class RateLimiter {
 public:
  explicit RateLimiter(RateLimits limits) : limits_(limits) {}

  bool enabled() const { return limits_.events_per_s > 0 || limits_.bytes_per_s > 0; }

  // 0 when the member may publish an event of `bytes` with origin sequence
  // `seq` now; otherwise the ms to wait before retrying. A refusal must not
  // cost the publisher its order: once an event is refused, nothing of that
  // member is admitted until the advised time, and then no event numbered
  // above the lowest refused one until that one comes back (a publisher
  // sends again oldest first; batches it had already sent behind the refused
  // one are refused too, and sent again after it). Forgotten after a minute,
  // should the refused event never come back.
  // `sequence()` returns the event's origin sequence; it is called only when
  // the order rule needs it (a member held or awaiting a refused event), so
  // the common case reads nothing of the event.
  template <typename SequenceFn>
  int64_t admit(const std::string& member, size_t bytes, SequenceFn&& sequence, int64_t now_ms) {
    // Without limits, only a member awaiting a refused event is looked at.
    if (!enabled() && !buckets_.contains(member)) return 0;
    Buckets& b = buckets(member, now_ms);
    // Check both before taking from either, so a refusal costs nothing.
    if (b.waiting_seq != 0 && now_ms - b.waiting_since_ms > kMaxOrderWaitMs) b.waiting_seq = 0;
    std::optional<uint64_t> seq_cache;
    auto seq = [&] {
      if (!seq_cache) seq_cache = sequence();
      return *seq_cache;
    };
    auto refuse = [&](int64_t wait) {
      if (b.waiting_seq == 0 || seq() < b.waiting_seq) {
        if (b.waiting_seq == 0) b.waiting_since_ms = now_ms;
        b.waiting_seq = seq();
      }
      return wait;
    };
    if (now_ms < b.held_until_ms) return refuse(b.held_until_ms - now_ms);
    if (b.waiting_seq != 0 && seq() > b.waiting_seq) return refuse(1);
    if (!enabled()) {
      if (b.waiting_seq != 0 && seq() >= b.waiting_seq) b.waiting_seq = 0;  // the one awaited is back
      return 0;
    }
    TokenBucket events = b.events, size = b.bytes;
    const int64_t wait_events = events.take(1, now_ms);
    const int64_t wait_bytes = size.take(static_cast<double>(bytes), now_ms);
    if (wait_events || wait_bytes) {
      const int64_t wait = std::max(wait_events, wait_bytes);
      b.held_until_ms = now_ms + wait;
      return refuse(wait);
    }
    if (b.waiting_seq != 0 && seq() >= b.waiting_seq) b.waiting_seq = 0;  // the one awaited is back
    b.events = events;
    b.bytes = size;
    return 0;
  }


  // The sequence `member` must send again before any later one is taken,
  // when that (not the rate) is why it is refused now; 0 otherwise.
  uint64_t awaited(const std::string& member, int64_t now_ms) const {
    auto it = buckets_.find(member);
    if (it == buckets_.end() || now_ms < it->second.held_until_ms) return 0;
    return it->second.waiting_seq;
  }

  // Events of `member` from `seq` on were refused for another passing reason
  // (the verify queue was full): the same order rule holds, so that a batch
  // sent behind them is not taken before they come back.
  void await(const std::string& member, uint64_t seq, int64_t now_ms) {
    Buckets& b = buckets(member, now_ms);
    if (b.waiting_seq == 0) b.waiting_since_ms = now_ms;
    if (b.waiting_seq == 0 || seq < b.waiting_seq) b.waiting_seq = seq;
  }

 private:
  struct Buckets {
    TokenBucket events, bytes;
    int64_t held_until_ms = 0;  // refusing everything until then (see admit)
    uint64_t waiting_seq = 0;   // the lowest refused sequence, awaited before any later one
    int64_t waiting_since_ms = 0;
  };
  Buckets& buckets(const std::string& member, int64_t now_ms) {
    auto [it, fresh] = buckets_.try_emplace(member);
    if (fresh) {
      it->second.events = TokenBucket(limits_.events_per_s, limits_.burst_events, now_ms);
      it->second.bytes = TokenBucket(limits_.bytes_per_s, limits_.burst_bytes, now_ms);
    }
    return it->second;
  }
  static constexpr int64_t kMaxOrderWaitMs = 60'000;
  RateLimits limits_;
  std::unordered_map<std::string, Buckets> buckets_;
};

}  // namespace lantoa::broker
