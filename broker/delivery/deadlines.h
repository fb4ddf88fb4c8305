// Deadlines: when the deliveries of a pass time out (one entry per pass to
// a subscription, which then looks at what it has in flight) and when each
// waiting entry is due again, kept in a min-heap so that the I/O thread
// looks only at what is due instead of scanning every pending entry of
// every subscription on each loop pass.
//
// Entries are never removed early (an ack does not touch the heap): when one
// comes up, the caller checks it against the subscription's current state
// and drops it if stale. To bound memory the heap is rebuilt from the live
// entries when stale ones outnumber them.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

namespace lantoa::broker {

struct Deadline {
  int64_t at_ms = 0;  // monotonic
  uint64_t sub = 0;
  uint64_t seq = 0;
  bool operator>(const Deadline& o) const { return at_ms > o.at_ms; }
};

class Deadlines {
 public:
  void push(const Deadline& d) { heap_.push(d); }
  size_t size() const { return heap_.size(); }

  // Hands every entry due at `now_ms` to `f`, earliest first.
  template <class F>
  void pop_due(int64_t now_ms, F f) {
    while (!heap_.empty() && heap_.top().at_ms <= now_ms) {
      const Deadline d = heap_.top();
      heap_.pop();
      f(d);
    }
  }
  // Rebuilds from `live` when the heap holds more than four times as many
  // entries (and at least a few thousand): stale entries of acked deliveries.
  bool should_compact(size_t live) const { return heap_.size() > 4096 && heap_.size() > 4 * live; }
  void rebuild(std::vector<Deadline> live) {
    heap_ = std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>>(std::greater<>(), std::move(live));
  }

 private:
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> heap_;
};

}  // namespace lantoa::broker
