#include "delivery/dispatcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "delivery/wire_views.pb.h"

namespace lantoa::broker {
namespace {

using E = lantoa::v1::Error;
constexpr size_t kMaxFrameBytes = 256u << 10;  // deliveries per frame stop growing past this
// A deadline that stands for every delivery of one pass to one subscription
// (they share an ack timeout, give or take the pass): when it comes up, the
// subscription's deliveries in flight are looked at. One heap entry per
// pass, not one per delivery.
constexpr uint64_t kSweep = UINT64_MAX;

}  // namespace

Dispatcher::Dispatcher(const Store& store, Metrics& metrics, DeliveryOptions options, Send send, Submit submit)
    : store_(store),
      metrics_(metrics),
      flows_(metrics),
      options_(options),
      send_(std::move(send)),
      submit_(std::move(submit)) {}

// --- subscriptions coming and going ---

void Dispatcher::attach(const std::string& peer, const SubscriptionRecord& record) {
  io_thread_.check("Dispatcher");
  const uint64_t id = record.id();
  ActiveSubscription& sub = subs_[id];
  if (!sub.peer.empty() && sub.peer != peer) {
    auto old = held_.find(sub.peer);  // taken over by a new connection
    if (old != held_.end()) old->second.erase(sub.record.name());
  }
  detach(sub);
  sub.record = record;
  sub.peer = peer;
  sub.credit = record.credit();
  held_[peer][record.name()] = id;
  mark(id, sub);
  if (!sub.probe) sub.probe = metrics_.subscription(id, record.owner(), record.name(), record.filters());
  sub.probe->connected.store(true, std::memory_order_relaxed);
}

void Dispatcher::close(const std::string& peer, const std::string& name) {
  io_thread_.check("Dispatcher");
  auto h = held_.find(peer);
  if (h == held_.end()) return;
  auto it = h->second.find(name);
  if (it == h->second.end()) return;
  auto sub = subs_.find(it->second);
  if (sub != subs_.end()) detach(sub->second);
  h->second.erase(it);
}

void Dispatcher::forget(uint64_t id) {
  io_thread_.check("Dispatcher");
  auto it = subs_.find(id);
  if (it != subs_.end()) {
    detach(it->second);
    subs_.erase(it);
  }
  metrics_.forget_subscription(id);  // (a stale id in ready_ is skipped)
}

void Dispatcher::drop_peer(const std::string& peer) {
  io_thread_.check("Dispatcher");
  auto h = held_.find(peer);
  if (h != held_.end()) {
    for (const auto& [name, id] : h->second) {
      auto sub = subs_.find(id);
      if (sub == subs_.end() || sub->second.peer != peer) continue;
      detach(sub->second);
    }
    held_.erase(h);
  }
  window_.erase(peer);
  window_limit_.erase(peer);
}

void Dispatcher::purged(uint64_t id) {
  io_thread_.check("Dispatcher");
  auto it = subs_.find(id);
  if (it == subs_.end()) return;
  ActiveSubscription& sub = it->second;
  release_pending(sub);
  sub.pending.clear();
  sub.by_delivery.clear();
  sub.attempts.clear();
  sub.due.clear();
  sub.in_flight = 0;
  sub.position.clear();
  if (sub.probe) sub.probe->in_flight.store(0, std::memory_order_relaxed);
  mark(id, sub);
}

std::string Dispatcher::holder(uint64_t id) const {
  io_thread_.check("Dispatcher");
  auto it = subs_.find(id);
  return it == subs_.end() ? std::string() : it->second.peer;
}

Dispatcher::DeliveryState Dispatcher::delivery_state(uint64_t id, uint64_t seq) const {
  io_thread_.check("Dispatcher");
  DeliveryState out;
  auto it = subs_.find(id);
  if (it == subs_.end() || it->second.peer.empty()) return out;
  if (auto p = it->second.pending.find(seq); p != it->second.pending.end()) {
    out.in_flight = !p->second.waiting;
    out.waiting = p->second.waiting;
    out.attempts = p->second.attempt;
  }
  if (auto a = it->second.attempts.find(seq); a != it->second.attempts.end()) out.attempts = std::max(out.attempts, a->second);
  return out;
}

void Dispatcher::release_pending(ActiveSubscription& sub) {
  for (const auto& [seq, p] : sub.pending) {
    if (!p.waiting) release(sub.peer, p);
  }
  live_deadlines_ -= std::min(live_deadlines_, sub.pending.size());
}

void Dispatcher::detach(ActiveSubscription& sub) {
  release_pending(sub);
  sub.detach();
  // Every way a subscription loses its session passes here (Unsubscribe,
  // the session dropped or timed out, taken over by another connection, removed).
  if (sub.probe) {
    sub.probe->connected.store(false, std::memory_order_relaxed);
    sub.probe->in_flight.store(0, std::memory_order_relaxed);
  }
}

void Dispatcher::mark(uint64_t id, ActiveSubscription& sub) {
  sub.dirty = true;
  if (!sub.queued) {
    sub.queued = true;
    ready_.push_back(id);
  }
}

void Dispatcher::release(const std::string& peer, const InFlight& p) {
  auto w = window_.find(peer);
  if (w != window_.end()) w->second -= std::min<uint64_t>(w->second, p.bytes);
}

bool Dispatcher::window_full(const std::string& peer) const {
  auto w = window_.find(peer);
  return w != window_.end() && w->second >= window_limit(peer);
}

ActiveSubscription* Dispatcher::held(const std::string& peer, const std::string& name) {
  auto h = held_.find(peer);
  if (h == held_.end()) return nullptr;
  auto it = h->second.find(name);
  if (it == h->second.end()) return nullptr;
  auto sub = subs_.find(it->second);
  if (sub == subs_.end() || sub->second.peer != peer) return nullptr;
  return &sub->second;
}

// --- from subscribers ---

Status Dispatcher::ack(const std::string& peer, const v1::Ack& ack, int64_t wall_ms) {
  io_thread_.check("Dispatcher");
  ActiveSubscription* sub = held(peer, ack.subscription());
  if (!sub) {
    return Status(E::SUBSCRIPTION_NOT_FOUND, "ack for subscription \"" + ack.subscription() + "\" which is not open here");
  }
  AckOp op;
  for (uint64_t did : ack.delivery_ids()) {
    auto d = sub->by_delivery.find(did);
    if (d == sub->by_delivery.end()) continue;  // late ack of a redelivered or returned entry: harmless
    const uint64_t seq = d->second;
    sub->by_delivery.erase(d);
    auto p = sub->pending.find(seq);
    if (p == sub->pending.end() || p->second.delivery_id != did) continue;
    if (!p->second.waiting) {
      sub->in_flight--;
      release(peer, p->second);
    }
    op.refs.push_back({sub->record.id(), p->second.urgency, seq});
    sub->pending.erase(p);
    --live_deadlines_;
    sub->attempts.erase(seq);
    sub->acked.insert(seq);
    sub->acks++;
    metrics_.acks++;
  }
  if (!op.refs.empty()) {
    if (sub->probe) {
      sub->probe->acked.store(sub->acks, std::memory_order_relaxed);
      sub->probe->last_ack_ms.store(wall_ms, std::memory_order_relaxed);
    }
    mark(sub->record.id(), *sub);
    submit_(std::move(op));
  }
  return Status::Ok();
}

Status Dispatcher::nack(const std::string& peer, const v1::Nack& nack, int64_t mono_ms) {
  io_thread_.check("Dispatcher");
  ActiveSubscription* sub = held(peer, nack.subscription());
  if (!sub) {
    return Status(E::SUBSCRIPTION_NOT_FOUND,
                  "nack for subscription \"" + nack.subscription() + "\" which is not open here");
  }
  for (uint64_t did : nack.delivery_ids()) {
    auto d = sub->by_delivery.find(did);
    if (d == sub->by_delivery.end()) continue;
    auto p = sub->pending.find(d->second);
    sub->by_delivery.erase(d);
    if (p == sub->pending.end() || p->second.waiting) continue;
    p->second.waiting = true;
    p->second.deadline_ms = mono_ms + redelivery_delay_ms(p->second.attempt, options_.max_redelivery_delay_ms);
    deadlines_.push({p->second.deadline_ms, sub->record.id(), p->first});
    sub->in_flight--;
    release(peer, p->second);
    metrics_.nacks++;
  }
  mark(sub->record.id(), *sub);
  return Status::Ok();
}

Status Dispatcher::credit(const std::string& peer, const v1::Credit& credit) {
  io_thread_.check("Dispatcher");
  ActiveSubscription* sub = held(peer, credit.subscription());
  if (!sub) {
    return Status(E::SUBSCRIPTION_NOT_FOUND,
                  "credit for subscription \"" + credit.subscription() + "\" which is not open here");
  }
  if (credit.max_in_flight() > options_.max_credit) {
    return Status(E::INVALID_ARGUMENT, "credit exceeds the limit of " + std::to_string(options_.max_credit));
  }
  sub->credit = credit.max_in_flight();
  mark(sub->record.id(), *sub);
  return Status::Ok();
}

// --- from the writer ---

void Dispatcher::routed(const std::vector<QueueRef>& refs) {
  io_thread_.check("Dispatcher");
  for (const auto& ref : refs) {
    auto it = subs_.find(ref.sub);
    if (it == subs_.end()) continue;
    it->second.note_routed(ref);
    mark(ref.sub, it->second);
  }
}

void Dispatcher::ack_committed(const std::vector<QueueRef>& refs) {
  io_thread_.check("Dispatcher");
  for (const auto& ref : refs) {
    auto it = subs_.find(ref.sub);
    if (it != subs_.end()) it->second.acked.erase(ref.seq);
  }
}

// --- time ---

void Dispatcher::expire_deadlines(int64_t mono_ms) {
  deadlines_.pop_due(mono_ms, [&](const Deadline& d) {
    auto it = subs_.find(d.sub);
    if (it == subs_.end()) return;
    ActiveSubscription& sub = it->second;
    if (sub.peer.empty()) return;
    if (d.seq == kSweep) {  // ack timeouts of what is overdue
      bool any = false;
      for (auto& [seq, f] : sub.pending) {
        if (f.waiting || f.deadline_ms > mono_ms) continue;
        release(sub.peer, f);
        sub.by_delivery.erase(f.delivery_id);
        f.waiting = true;
        f.deadline_ms = mono_ms + redelivery_delay_ms(f.attempt, options_.max_redelivery_delay_ms);
        deadlines_.push({f.deadline_ms, d.sub, seq});
        sub.in_flight--;
        any = true;
      }
      if (any) mark(d.sub, sub);
      return;
    }
    auto p = sub.pending.find(d.seq);
    if (p == sub.pending.end() || p->second.deadline_ms != d.at_ms) return;  // stale: acked, or rescheduled
    if (!p->second.waiting) return;  // in flight again: its pass's sweep entry covers it
    sub.due.emplace_back(p->second.urgency, d.seq);  // its redelivery is due
    mark(d.sub, sub);
  });
  if (deadlines_.should_compact(live_deadlines_)) {
    std::vector<Deadline> live;
    live.reserve(live_deadlines_);
    size_t pending = 0;
    for (const auto& [id, sub] : subs_) {
      int64_t first_in_flight = INT64_MAX;
      pending += sub.pending.size();
      for (const auto& [seq, p] : sub.pending) {
        if (p.waiting) live.push_back({p.deadline_ms, id, seq});
        else first_in_flight = std::min(first_in_flight, p.deadline_ms);
      }
      if (first_in_flight != INT64_MAX) live.push_back({first_in_flight, id, kSweep});
    }
    live_deadlines_ = pending;
    deadlines_.rebuild(std::move(live));
  }
}

void Dispatcher::tick(int64_t mono_ms, int64_t wall_ms) {
  io_thread_.check("Dispatcher");
  expire_deadlines(mono_ms);
  if (ready_.empty()) return;
  auto txn = store::Txn::read(store_.env());
  if (!txn) {
    metrics_.storage_errors++;
    spdlog::error("cannot read the store for delivery: {}", txn.status().to_string());
    return;
  }
  ReadyEvents events(store_, *txn, &flows_);  // each event read once in this pass, whatever the number of subscribers
  // The marked subscriptions in turn: those that waited for their
  // connection's window keep their place ahead of those just served, which
  // go to the back. So when a window fills, the subscriptions behind it take
  // turns (round robin) rather than the first ones always going first.
  std::vector<uint64_t> turn, waited, served;
  turn.swap(ready_);
  for (uint64_t id : turn) {
    auto it = subs_.find(id);
    if (it == subs_.end()) continue;  // forgotten
    ActiveSubscription& sub = it->second;
    sub.queued = false;
    if (sub.peer.empty() || !sub.dirty) continue;  // detached: marked again when attached
    if (sub.in_flight >= sub.credit) {  // an ack, nack, timeout or credit marks it again
      sub.dirty = false;
      continue;
    }
    if (window_full(sub.peer)) {  // resumes when acks open the window
      sub.queued = true;
      waited.push_back(id);
      continue;
    }
    deliver(sub, mono_ms, wall_ms, events);
    if (sub.dirty) {  // more to do: next pass, after those that waited
      sub.queued = true;
      served.push_back(id);
    }
  }
  waited.insert(waited.end(), served.begin(), served.end());
  waited.insert(waited.end(), ready_.begin(), ready_.end());  // marked during the pass
  ready_.swap(waited);
}

void Dispatcher::deliver(ActiveSubscription& sub, int64_t mono_ms, int64_t wall_ms, ReadyEvents& events) {
  const std::string& peer = sub.peer;
  uint64_t& window = window_[peer];
  const uint64_t delivered_before = sub.delivered + sub.redelivered;
  views::DeliveriesFrameView frame;  // encodes as a lantoa.v1.BrokerFrame with deliveries
  auto* batch = frame.mutable_deliveries();
  size_t batch_bytes = 0;
  std::vector<QueueRef> expired;
  const uint64_t limit = window_limit(peer);
  // A connection with its own window (a link) gets frames of an eighth of it:
  // on a slow link a frame must arrive whole well within the heartbeat
  // timeout (8 KB is 1.3 s at 50 kbit/s).
  const size_t frame_cap = window_limit_.count(peer) ? std::min<size_t>(kMaxFrameBytes, limit / 8) : kMaxFrameBytes;
  auto full = [&] { return sub.in_flight >= sub.credit || window >= limit; };
  auto flush = [&] {
    if (batch->items_size() == 0) return;
    send_(peer, frame);
    batch->clear_items();
    batch_bytes = 0;
  };
  const ReadyEvent* last = nullptr;  // the event emit() handed out last
  auto emit = [&](uint64_t seq, uint32_t urgency, uint32_t attempt) -> bool {
    const ReadyEvent* ev = events.get(seq);
    if (!ev) return false;  // gone (removed subscription or retention race)
    if (ev->expires_ms != 0 && wall_ms >= ev->expires_ms) {
      expired.push_back({sub.record.id(), urgency, seq});
      return false;
    }
    last = ev;
    if (attempt == 1) metrics_.deliver_seconds.observe_ms(wall_ms - ev->released_ms);
    auto* d = batch->add_items();
    d->set_subscription(sub.record.name());
    const uint64_t did = next_delivery_id_++;
    d->set_delivery_id(did);
    d->set_broker_seq(seq);
    d->set_attempt(attempt);
    d->set_event(ev->bytes);
    d->set_accepted_ms(ev->accepted_ms);
    batch_bytes += ev->bytes.size();
    window += ev->bytes.size();
    auto [slot, fresh] = sub.pending.try_emplace(seq);
    if (fresh) ++live_deadlines_;
    InFlight& p = slot->second;
    p.bytes = static_cast<uint32_t>(ev->bytes.size());
    p.urgency = urgency;
    p.delivery_id = did;
    p.attempt = attempt;
    p.deadline_ms = mono_ms + sub.record.ack_timeout_ms();
    p.waiting = false;
    sub.by_delivery[did] = seq;
    sub.attempts[seq] = attempt;
    sub.in_flight++;
    if (static_cast<size_t>(batch->items_size()) >= options_.max_deliveries_per_frame ||
        batch_bytes > frame_cap) {
      flush();
    }
    return true;
  };

  // 1. Redeliveries that are due, most urgent first.
  if (!sub.due.empty()) {
    std::sort(sub.due.begin(), sub.due.end());
    size_t taken = 0;
    for (; taken < sub.due.size() && !full(); ++taken) {
      const uint64_t seq = sub.due[taken].second;
      auto p = sub.pending.find(seq);
      if (p == sub.pending.end() || !p->second.waiting) continue;  // acked meanwhile
      if (emit(seq, sub.due[taken].first, p->second.attempt + 1)) {
        sub.redelivered++;
        metrics_.redeliveries++;
      } else {
        sub.pending.erase(p);
        --live_deadlines_;
      }
    }
    sub.due.erase(sub.due.begin(), sub.due.begin() + static_cast<std::ptrdiff_t>(taken));
  }

  // 2. The queue, from the scan position.
  bool reached_end = false;
  if (!full()) {
    const std::string prefix = store::be64(sub.record.id());
    auto cursor = store::Cursor::open(events.txn(), store_.dbs().queue);
    if (cursor) {
      auto e = cursor->seek(sub.position.empty() ? prefix : sub.position);
      while (true) {
        if (!e || !e->has_value() || !(*e)->first.starts_with(prefix)) {
          reached_end = true;
          break;
        }
        if (full()) break;
        const std::string key((*e)->first);
        QueueRef ref = parse_queue_key(key);
        if (!sub.pending.count(ref.seq) && !sub.acked.count(ref.seq)) {
          auto a = sub.attempts.find(ref.seq);
          const uint32_t attempt = a == sub.attempts.end() ? 1 : a->second + 1;
          if (emit(ref.seq, ref.urgency, attempt)) {
            sub.delivered++;
            metrics_.deliveries++;
            if (last->topic_flow) last->topic_flow->delivered.fetch_add(1, std::memory_order_relaxed);
            if (last->origin_flow) last->origin_flow->delivered.fetch_add(1, std::memory_order_relaxed);
            if (attempt > 1) {
              sub.redelivered++;
              metrics_.redeliveries++;
            }
          }
        }
        sub.position = key + '\0';  // just after this entry
        e = cursor->next();
      }
    }
  }
  flush();
  if (sub.delivered + sub.redelivered != delivered_before) {
    deadlines_.push({mono_ms + sub.record.ack_timeout_ms(), sub.record.id(), kSweep});
  }
  // Nothing more to do until an ack, nack, credit change, due redelivery or
  // new queue entry marks the subscription again.
  sub.dirty = (!reached_end || !sub.due.empty()) && sub.in_flight < sub.credit;
  if (!expired.empty()) {
    for (const auto& ref : expired) sub.acked.insert(ref.seq);
    metrics_.expired += expired.size();
    submit_(AckOp{std::move(expired), true});
  }
  publish_figures(sub);
}

void Dispatcher::publish_figures(const ActiveSubscription& sub) {
  if (!sub.probe) return;
  sub.probe->in_flight.store(sub.in_flight, std::memory_order_relaxed);
  sub.probe->delivered.store(sub.delivered, std::memory_order_relaxed);
  sub.probe->acked.store(sub.acks, std::memory_order_relaxed);
  sub.probe->redelivered.store(sub.redelivered, std::memory_order_relaxed);
}

}  // namespace lantoa::broker
