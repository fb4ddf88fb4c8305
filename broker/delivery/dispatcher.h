// Dispatcher: the deliver step. Owns the delivery state of every attached
// subscription (subscription_state.h), each connection's window of bytes in
// flight, and the deadlines of what is in flight (deadlines.h). It takes
// acks, nacks and credit from subscribers, learns from the writer what was
// routed and what acks were committed, and on each tick times out what is
// overdue and hands out what may go, reading each event once per pass
// (ReadyEvents) and encoding it into frames without re-encoding
// (wire_views.proto).
//
// Thread: the I/O thread only. Time: `mono_ms` (steady clock) for
// deadlines, `wall_ms` for events' expiry.
#pragma once

#include <google/protobuf/message_lite.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "delivery/deadlines.h"
#include "delivery/ready_events.h"
#include "delivery/subscription_state.h"
#include "lantoa/event.h"
#include "lantoa/internal/thread_owner.h"
#include "lantoa/v1/wire.pb.h"
#include "monitor/metrics.h"
#include "store/store.h"
#include "store/writer.h"

namespace lantoa::broker {

struct DeliveryOptions {
  int64_t max_redelivery_delay_ms = 60'000;
  size_t max_deliveries_per_frame = 64;
  // Bytes of deliveries sent to one connection and not yet acknowledged.
  // Beyond it the connection's subscriptions wait for acks, however much
  // credit they have: the broker does not encode (and hold in ZeroMQ's send
  // queue) faster than a subscriber takes, so memory stays near
  // connections x window rather than every queued event once per subscriber.
  uint64_t session_window_bytes = 1u << 20;
  uint32_t max_credit = 100'000;
};

class Dispatcher {
 public:
  using Send = std::function<void(const std::string& peer, const google::protobuf::MessageLite& frame)>;
  using Submit = std::function<void(WriterOp op)>;  // to the writer, in ticket order

  Dispatcher(const Store& store, Metrics& metrics, DeliveryOptions options, Send send, Submit submit);

  // A Subscribe committed for `peer`: the subscription is attached to it
  // (taken over from another connection, whose deliveries return to the queue).
  void attach(const std::string& peer, const SubscriptionRecord& record);
  // `peer` closed the subscription it holds under `name` (Unsubscribe).
  void close(const std::string& peer, const std::string& name);
  // The subscription was removed from the store.
  void forget(uint64_t sub);
  // The connection is gone: its subscriptions' deliveries return to their queues.
  void drop_peer(const std::string& peer);
  // A window of its own for one connection (a link to another broker, whose
  // acks and heartbeats travel behind the data: a small window keeps them
  // close, and leaves room for urgent events to overtake a backlog). Until
  // the connection is dropped.
  void set_window(const std::string& peer, uint64_t bytes) { window_limit_[peer] = bytes; }
  // The subscription's queue was emptied (the operator purged it): what was
  // in flight is forgotten (late acks of it are harmless) and scanning starts over.
  void purged(uint64_t sub);

  // For the spread of an event (session/control.cc): the session holding a
  // subscription (empty: none), and how far one entry's delivery got.
  std::string holder(uint64_t sub) const;
  struct DeliveryState {
    bool in_flight = false;  // sent, awaiting its ack
    bool waiting = false;    // nacked or timed out, waiting for its redelivery
    uint32_t attempts = 0;   // deliveries so far (while the subscriber stays attached)
  };
  DeliveryState delivery_state(uint64_t sub, uint64_t seq) const;

  // From subscribers. SUBSCRIPTION_NOT_FOUND when `peer` does not hold the
  // subscription named; INVALID_ARGUMENT for credit over the limit.
  Status ack(const std::string& peer, const v1::Ack& ack, int64_t wall_ms = unix_now_ms());
  Status nack(const std::string& peer, const v1::Nack& nack, int64_t mono_ms);
  Status credit(const std::string& peer, const v1::Credit& credit);

  // From the writer: entries added to queues; acks now durable.
  void routed(const std::vector<QueueRef>& refs);
  void ack_committed(const std::vector<QueueRef>& refs);

  // Times out what is overdue, marks what is due again, then delivers.
  void tick(int64_t mono_ms, int64_t wall_ms);

 private:
  ActiveSubscription* held(const std::string& peer, const std::string& name);
  void mark(uint64_t id, ActiveSubscription& sub);
  void detach(ActiveSubscription& sub);
  void release(const std::string& peer, const InFlight& p);
  // Everything of `sub` in flight leaves its connection's window and the live deadlines.
  void release_pending(ActiveSubscription& sub);
  bool window_full(const std::string& peer) const;
  void expire_deadlines(int64_t mono_ms);
  void deliver(ActiveSubscription& sub, int64_t mono_ms, int64_t wall_ms, ReadyEvents& events);
  void publish_figures(const ActiveSubscription& sub);  // into its probe: atomics, no lock

  const Store& store_;
  Metrics& metrics_;
  FlowCache flows_;  // topic and origin counters, found without the Metrics lock
  DeliveryOptions options_;
  Send send_;
  Submit submit_;

  std::unordered_map<uint64_t, ActiveSubscription> subs_;
  std::unordered_map<std::string, std::map<std::string, uint64_t>> held_;  // peer -> name -> subscription
  std::unordered_map<std::string, uint64_t> window_;                       // peer -> bytes in flight
  std::unordered_map<std::string, uint64_t> window_limit_;                 // peer -> its own window
  uint64_t window_limit(const std::string& peer) const {
    auto it = window_limit_.find(peer);
    return it == window_limit_.end() ? options_.session_window_bytes : it->second;
  }
  std::vector<uint64_t> ready_;      // subscriptions marked as maybe having something to deliver, in turn
  uint64_t next_delivery_id_ = 1;
  Deadlines deadlines_;
  size_t live_deadlines_ = 0;        // entries of `pending` (the heap's live part)
  internal::ThreadOwner io_thread_;  // every method: the I/O thread only
};

}  // namespace lantoa::broker
