// Delivery state of one durable subscription while the broker runs: which
// queue entries are in flight to the attached session, which wait for a
// redelivery, the credit, and where the next scan of the queue starts.
// Owned and used by the I/O thread only (through the Dispatcher). The
// durable truth is the queue in LMDB; this state is rebuilt from it whenever
// a subscriber (re)attaches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "monitor/metrics.h"
#include "store/store.h"

namespace lantoa::broker {

struct InFlight {
  uint32_t urgency = 0;
  uint64_t delivery_id = 0;
  uint32_t attempt = 1;
  uint32_t bytes = 0;       // size of the delivered event, counted in the session's window
  int64_t deadline_ms = 0;  // monotonic: ack timeout (in flight) or redelivery time (waiting)
  bool waiting = false;     // nacked or timed out, waiting for its redelivery
};

struct ActiveSubscription {
  SubscriptionRecord record;
  std::string peer;         // attached session, empty when detached
  uint32_t credit = 0;      // most deliveries in flight at once
  uint32_t in_flight = 0;   // entries of `pending` not waiting
  std::string position;     // queue key to resume scanning from (empty: the start)
  bool dirty = true;        // something may be deliverable
  bool queued = false;      // in the Dispatcher's ready list (at most once)
  std::unordered_map<uint64_t, InFlight> pending;        // seq ->
  std::unordered_map<uint64_t, uint64_t> by_delivery;    // delivery id -> seq
  std::unordered_map<uint64_t, uint32_t> attempts;       // seq -> deliveries so far
  std::unordered_set<uint64_t> acked;                    // acked, commit not yet confirmed
  std::vector<std::pair<uint32_t, uint64_t>> due;        // (urgency, seq) waiting entries whose time came
  uint64_t delivered = 0, acks = 0, redelivered = 0;
  // Its figures for monitoring (atomics, read by the HTTP thread): written
  // here after each pass and ack, and `connected` wherever `peer` changes.
  std::shared_ptr<SubscriptionProbe> probe;

  // A new queue entry exists: scan from it if it sorts before the position.
  // An empty position is the start of the queue, before every entry: it
  // stays (a subscription attached but not yet scanned must still see the
  // entries it began with, which sort before the new one).
  void note_routed(const QueueRef& ref) {
    std::string key = queue_key(ref);
    if (!position.empty() && key < position) position = key;
    dirty = true;
  }
  // The subscriber is gone: everything in flight returns to the queue.
  void detach() {
    peer.clear();
    pending.clear();
    by_delivery.clear();
    due.clear();
    in_flight = 0;
    position.clear();
    dirty = true;
  }
};

// Redelivery delay after `attempt` deliveries: 100 ms doubling, capped.
inline int64_t redelivery_delay_ms(uint32_t attempt, int64_t max_ms) {
  int64_t d = 100;
  for (uint32_t i = 1; i < attempt && d < max_ms; ++i) d *= 2;
  return d < max_ms ? d : max_ms;
}

}  // namespace lantoa::broker
