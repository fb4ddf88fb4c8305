// Per-member rate limits: token buckets for events and bytes, refilled
// continuously, with a burst allowance. Used by the I/O thread only.
#pragma once

#include <algorithm>
#include <cstdint>
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

  // 0 when the member may publish an event of `bytes` now; otherwise the ms
  // to wait before retrying.
  int64_t admit(const std::string& member, size_t bytes, int64_t now_ms) {
    if (limits_.events_per_s <= 0 && limits_.bytes_per_s <= 0) return 0;
    auto [it, fresh] = buckets_.try_emplace(member);
    if (fresh) {
      it->second.events = TokenBucket(limits_.events_per_s, limits_.burst_events, now_ms);
      it->second.bytes = TokenBucket(limits_.bytes_per_s, limits_.burst_bytes, now_ms);
    }
    // Check both before taking from either, so a refusal costs nothing.
    Buckets& b = it->second;
    TokenBucket events = b.events, size = b.bytes;
    const int64_t wait_events = events.take(1, now_ms);
    const int64_t wait_bytes = size.take(static_cast<double>(bytes), now_ms);
    if (wait_events || wait_bytes) return std::max(wait_events, wait_bytes);
    b.events = events;
    b.bytes = size;
    return 0;
  }

 private:
  struct Buckets {
    TokenBucket events, bytes;
  };
  RateLimits limits_;
  std::unordered_map<std::string, Buckets> buckets_;
};

}  // namespace lantoa::broker
