#include "session/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/names.h"

namespace lantoa::broker {
namespace {

using lantoa::v1::BrokerFrame;
using lantoa::v1::ClientFrame;
using E = lantoa::v1::Error;

constexpr size_t kMaxSubscriptionName = 64;
constexpr int kMaxFiltersPerSubscription = 64;
constexpr size_t kMaxFramesPerPoll = 512;

bool valid_subscription_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxSubscriptionName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

std::string peer_label(const std::string& peer) { return to_hex(peer); }

}  // namespace

Server::Server(zmq::socket_t& frontend, Store& store, const TrustStore& trust, const Restrictions& restrictions,
               Admission& admission, Verifier& verifier, Writer& writer, Completions& completions, Metrics& metrics,
               ServerOptions options)
    : frontend_(frontend),
      store_(store),
      trust_(trust),
      restrictions_(restrictions),
      admission_(admission),
      verifier_(verifier),
      writer_(writer),
      completions_(completions),
      metrics_(metrics),
      options_(options),
      rate_(options.rate) {}

void Server::run(const std::atomic<bool>& stop) {
  zmq::pollitem_t items[] = {{frontend_.handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, completions_.fd(), ZMQ_POLLIN, 0},
                             {closes_ ? closes_->handle() : nullptr, 0, ZMQ_POLLIN, 0}};
  while (!stop) {
    try {
      zmq::poll(items, closes_ ? 3 : 2, std::chrono::milliseconds(20));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      continue;  // a signal arrived; look at `stop`
    }
    if (items[0].revents & ZMQ_POLLIN) receive_frames();
    if (items[1].revents & ZMQ_POLLIN) drain_completions();
    if (closes_ && (items[2].revents & ZMQ_POLLIN)) note_closes();
    const int64_t now = unix_now_ms();
    timers(now);
    deliver_all(now);
  }
}

// --- receiving ---

void Server::note_closes() {
  while (true) {
    zmq::message_t event, address;
    try {
      if (!closes_->recv(event, zmq::recv_flags::dontwait)) return;
      if (!closes_->get(zmq::sockopt::rcvmore) || !closes_->recv(address, zmq::recv_flags::dontwait)) continue;
    } catch (const zmq::error_t&) {
      return;
    }
    metrics_.transport_closes++;
    spdlog::info("a connection from {} was closed below the protocol: by the client, by the network, or by "
                 "ZeroMQ for a frame over the hard cap of {} bytes (4 x max_frame_bytes)",
                 address.to_string(), static_cast<uint64_t>(options_.max_frame_bytes) * 4);
  }
}

void Server::receive_frames() {
  for (size_t n = 0; n < kMaxFramesPerPoll; ++n) {
    std::vector<zmq::message_t> parts;
    zmq::message_t part;
    try {
      if (!frontend_.recv(part, zmq::recv_flags::dontwait)) return;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) return;
      throw;
    }
    parts.push_back(std::move(part));
    while (frontend_.get(zmq::sockopt::rcvmore)) {
      zmq::message_t more;
      (void)frontend_.recv(more);
      parts.push_back(std::move(more));
    }
    metrics_.frames_in++;
    const std::string peer = parts[0].to_string();
    const int64_t now = unix_now_ms();
    // Every frame is bound to the Curve key that authenticated its
    // connection, not only to the routing id: a new connection that reuses
    // a routing id (a client may choose its own) while the old session is
    // still remembered gets a fresh session, never the old identity.
    std::string curve_key;
    if (parts.size() > 1) {
      const char* user = parts[1].gets("User-Id");
      curve_key = user ? user : "";
    }
    if (auto old = sessions_.find(peer); old != sessions_.end() && old->second.curve_key != curve_key) {
      spdlog::warn("session {}: a connection with another transport key reuses its routing id; the old session "
                   "is closed and the new one starts without identity",
                   peer_label(peer).substr(0, 10));
      metrics_.frame_errors++;
      drop_session(peer);
    }
    auto [it, created] = sessions_.try_emplace(peer);
    Session& s = it->second;
    if (created) {
      s.peer = peer;
      s.curve_key = curve_key;
    }
    s.last_seen_ms = now;
    if (parts.size() != 2) {
      metrics_.frame_errors++;
      send_error(s, 0, Status(E::FRAME_MALFORMED, "a message must have exactly one part (got " +
                                                     std::to_string(parts.size() - 1) + ")"));
      continue;
    }
    if (parts[1].size() > options_.max_frame_bytes) {
      metrics_.frame_errors++;
      send_error(s, 0, Status(E::FRAME_TOO_LARGE, "frame of " + std::to_string(parts[1].size()) +
                                                      " bytes exceeds the limit of " +
                                                      std::to_string(options_.max_frame_bytes)));
      continue;
    }
    handle(s, parts[1].to_string_view());
  }
}

void Server::handle(Session& s, std::string_view bytes) {
  ClientFrame frame;
  if (!frame.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    metrics_.frame_errors++;
    send_error(s, 0, Status(E::FRAME_MALFORMED, "frame is not a valid ClientFrame"));
    return;
  }
  if (frame.body_case() == ClientFrame::BODY_NOT_SET) {
    metrics_.frame_errors++;
    send_error(s, 0, Status(E::FRAME_MALFORMED, "frame has no body (unknown frame type?)"));
    return;
  }
  if (frame.has_hello()) return on_hello(s, frame.hello());
  if (!s.identity) {
    send_error(s, 0, Status(E::HELLO_REQUIRED, "the first frame must be Hello"));
    return;
  }
  switch (frame.body_case()) {
    case ClientFrame::kPublish:
      return on_publish(s, *frame.mutable_publish());
    case ClientFrame::kSubscribe:
      return on_subscribe(s, frame.subscribe());
    case ClientFrame::kUnsubscribe:
      return on_unsubscribe(s, frame.unsubscribe());
    case ClientFrame::kAck:
      return on_ack(s, frame.ack());
    case ClientFrame::kNack:
      return on_nack(s, frame.nack());
    case ClientFrame::kCredit:
      return on_credit(s, frame.credit());
    case ClientFrame::kHeartbeat:
      return;
    default:
      send_error(s, 0, Status(E::FRAME_MALFORMED, "unexpected frame"));
  }
}

void Server::on_hello(Session& s, const lantoa::v1::Hello& hello) {
  if (s.identity) {
    send_error(s, 0, Status(E::INVALID_ARGUMENT, "Hello was already accepted on this connection"));
    return;
  }
  if (hello.protocol_version() != lantoa::v1::PROTOCOL_V1) {
    send_error(s, 0, Status(E::UNSUPPORTED_VERSION, "protocol version " + std::to_string(hello.protocol_version()) +
                                                        " is not supported; this broker speaks version 1"),
               true);
    return;
  }
  const int64_t now = unix_now_ms();
  auto member = trust_.verify_chain(hello.chain(), now);
  if (!member) {
    send_error(s, 0, member.status(), true);
    return;
  }
  if (to_hex(member->certificate.transport_key()) != s.curve_key) {
    send_error(s, 0, Status(E::PERMISSION_DENIED, "the certificate of " + member->member() +
                                                      " is for another transport key than this connection uses"),
               true);
    return;
  }
  auto identity = std::make_shared<Identity>();
  identity->member = std::move(*member);
  hello.chain().SerializeToString(&identity->chain);
  identity->chain_id = event_id(identity->chain);  // SHA-256: the chain's key in the store
  s.identity = identity;
  admission_.learn(identity->member);
  metrics_.connections++;

  uint64_t last = 0;
  if (auto txn = store::Txn::begin(store_.env(), store::Access::kRead); txn.ok()) {
    auto r = store_.last_origin_sequence(*txn, identity->member.member());
    if (r.ok()) last = *r;
  }
  BrokerFrame reply;
  auto* w = reply.mutable_welcome();
  w->set_protocol_version(lantoa::v1::PROTOCOL_V1);
  w->set_member(identity->member.member());
  w->set_last_sequence(last);
  w->set_max_frame_bytes(options_.max_frame_bytes);
  w->set_max_batch_events(options_.max_batch_events);
  w->set_heartbeat_ms(options_.heartbeat_ms);
  w->set_broker(options_.member);
  send(s, reply);
  spdlog::info("session {} is {} (key {})", peer_label(s.peer).substr(0, 10), identity->member.member(),
               fingerprint(identity->member.certificate.sign_key()));
}

void Server::on_publish(Session& s, lantoa::v1::PublishBatch& batch) {
  const int n = batch.events_size();
  if (static_cast<uint32_t>(n) > options_.max_batch_events) {
    send_error(s, batch.request_id(), Status(E::INVALID_ARGUMENT, "batch of " + std::to_string(n) +
                                                                      " events exceeds the limit of " +
                                                                      std::to_string(options_.max_batch_events)));
    return;
  }
  if (n == 0) {
    BrokerFrame reply;
    reply.mutable_results()->set_request_id(batch.request_id());
    send(s, reply);
    return;
  }
  const uint64_t id = next_publish_id_++;
  PendingPublish& p = publishes_[id];
  p.peer = s.peer;
  p.results.set_request_id(batch.request_id());
  // Rate limits first: what is over the member's limit is refused now, with
  // the time to wait, and never reaches verification or storage.
  const int64_t now = unix_now_ms();
  std::vector<std::pair<uint32_t, v1::SignedEvent>> admitted;
  for (int i = 0; i < n; ++i) {
    v1::SignedEvent& e = *batch.mutable_events(i);
    auto sequence = [&e] {  // parsed only when the order rule needs it (see RateLimiter::admit)
      v1::Event ev;
      return ev.ParseFromString(e.event()) ? ev.sequence() : uint64_t{0};
    };
    const int64_t wait = rate_.admit(s.identity->member.member(), e.event().size(), sequence, now);
    if (wait == 0) {
      admitted.emplace_back(static_cast<uint32_t>(i), std::move(e));
      continue;
    }
    auto* r = p.results.add_results();
    r->set_index(static_cast<uint32_t>(i));
    r->set_status(v1::PublishResult::REJECTED);
    r->set_retry_after_ms(static_cast<uint32_t>(std::min<int64_t>(wait, UINT32_MAX)));
    *r->mutable_error() = Status(E::RATE_LIMITED, "over the publish rate limit of " + s.identity->member.member() +
                                                      "; retry after " + std::to_string(wait) + " ms")
                              .to_proto();
    metrics_.reject(E::RATE_LIMITED);
  }
  // Back-pressure: when verification is behind, what would overflow its
  // queue is refused now, with a delay, and nothing of it is kept.
  uint64_t admitted_bytes = 0;
  for (const auto& [i, e] : admitted) admitted_bytes += e.event().size();
  if (!admitted.empty() && !verifier_.has_room(admitted_bytes)) {
    constexpr uint32_t kRetryMs = 100;
    for (const auto& [i, e] : admitted) {
      auto* r = p.results.add_results();
      r->set_index(i);
      r->set_status(v1::PublishResult::REJECTED);
      r->set_retry_after_ms(kRetryMs);
      *r->mutable_error() = Status(E::OVERLOADED, "the broker is verifying " +
                                                      std::to_string(verifier_.queued_bytes() >> 10) +
                                                      " KB of events already; retry after " +
                                                      std::to_string(kRetryMs) + " ms")
                                .to_proto();
      metrics_.reject(E::OVERLOADED);
    }
    admitted.clear();
  }
  const uint32_t chunk = std::max(1u, options_.chunk_events);
  p.chunks_left = (static_cast<uint32_t>(admitted.size()) + chunk - 1) / chunk;
  if (p.chunks_left == 0) {
    PublishDone done{s.peer, id, {}, {}};
    on_done(done);  // nothing to verify: answer at once
    return;
  }
  for (size_t first = 0; first < admitted.size(); first += chunk) {
    PublishJob job;
    job.ticket = next_ticket();
    job.peer = s.peer;
    job.publish_id = id;
    job.request_id = batch.request_id();
    job.identity = s.identity;
    const size_t last = std::min(admitted.size(), first + chunk);
    for (size_t i = first; i < last; ++i) {
      job.indexes.push_back(admitted[i].first);
      job.events.push_back(std::move(admitted[i].second));
    }
    verifier_.submit(std::move(job));
  }
}

void Server::on_subscribe(Session& s, const lantoa::v1::Subscribe& sub) {
  auto reject = [&](Status status) { send_error(s, sub.request_id(), status); };
  if (!s.identity->member.has_role(lantoa::v1::SUBSCRIBER)) {
    return reject(Status(E::ROLE_MISSING, "\"" + s.identity->member.member() + "\" is not certified as a subscriber"));
  }
  if (!valid_subscription_name(sub.name())) {
    return reject(Status(E::INVALID_ARGUMENT, "subscription name must be 1..64 characters of a-z, 0-9, '-', '_'"));
  }
  if (sub.filters_size() > kMaxFiltersPerSubscription) {
    return reject(Status(E::INVALID_FILTER, "at most 64 filters per subscription"));
  }
  const auto& cert = s.identity->member.certificate;
  std::vector<std::string> grants(cert.read_grants().begin(), cert.read_grants().end());
  for (const auto& f : sub.filters()) {
    if (Status st = validate_filter(f); !st.ok()) return reject(st);
    if (Status st = restrictions_.check_filter(s.identity->member.member(), grants, f); !st.ok()) return reject(st);
  }
  if (sub.credit() > options_.max_credit) {
    return reject(Status(E::INVALID_ARGUMENT, "credit " + std::to_string(sub.credit()) + " exceeds the limit of " +
                                                  std::to_string(options_.max_credit)));
  }
  if (sub.ack_timeout_ms() != 0 &&
      (sub.ack_timeout_ms() < options_.min_ack_timeout_ms || sub.ack_timeout_ms() > options_.max_ack_timeout_ms)) {
    return reject(Status(E::INVALID_ARGUMENT, "ack_timeout_ms must be between 100 and 3600000"));
  }
  writer_.submit(next_ticket(), SubscribeOp{s.peer, s.identity->member.member(), std::move(grants), sub});
}

void Server::on_unsubscribe(Session& s, const lantoa::v1::Unsubscribe& unsub) {
  auto it = s.subs.find(unsub.name());
  if (it != s.subs.end()) {
    auto sub = subs_.find(it->second);
    if (sub != subs_.end()) detach(sub->second);
    s.subs.erase(it);
  }
  writer_.submit(next_ticket(), UnsubscribeOp{s.peer, s.identity->member.member(), unsub});
}

ActiveSubscription* Server::attached(Session& s, const std::string& name, E::Code* why) {
  auto it = s.subs.find(name);
  if (it == s.subs.end()) {
    *why = E::SUBSCRIPTION_NOT_FOUND;
    return nullptr;
  }
  auto sub = subs_.find(it->second);
  if (sub == subs_.end() || sub->second.peer != s.peer) {
    *why = E::SUBSCRIPTION_NOT_FOUND;
    return nullptr;
  }
  return &sub->second;
}

void Server::on_ack(Session& s, const lantoa::v1::Ack& ack) {
  E::Code why;
  ActiveSubscription* sub = attached(s, ack.subscription(), &why);
  if (!sub) {
    send_error(s, 0, Status(why, "ack for subscription \"" + ack.subscription() + "\" which is not open here"));
    return;
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
      s.release(p->second);
    }
    op.refs.push_back({sub->record.id(), p->second.urgency, seq});
    sub->pending.erase(p);
    sub->attempts.erase(seq);
    sub->acked.insert(seq);
    sub->acks++;
    metrics_.acks++;
  }
  if (!op.refs.empty()) {
    sub->dirty = true;
    writer_.submit(next_ticket(), std::move(op));
  }
}

void Server::on_nack(Session& s, const lantoa::v1::Nack& nack) {
  E::Code why;
  ActiveSubscription* sub = attached(s, nack.subscription(), &why);
  if (!sub) {
    send_error(s, 0, Status(why, "nack for subscription \"" + nack.subscription() + "\" which is not open here"));
    return;
  }
  const int64_t now = unix_now_ms();
  for (uint64_t did : nack.delivery_ids()) {
    auto d = sub->by_delivery.find(did);
    if (d == sub->by_delivery.end()) continue;
    auto p = sub->pending.find(d->second);
    sub->by_delivery.erase(d);
    if (p == sub->pending.end() || p->second.waiting) continue;
    p->second.waiting = true;
    p->second.deadline_ms = now + redelivery_delay_ms(p->second.attempt, options_.max_redelivery_delay_ms);
    sub->in_flight--;
    s.release(p->second);
    metrics_.nacks++;
  }
  sub->dirty = true;
}

void Server::on_credit(Session& s, const lantoa::v1::Credit& credit) {
  E::Code why;
  ActiveSubscription* sub = attached(s, credit.subscription(), &why);
  if (!sub) {
    send_error(s, 0, Status(why, "credit for subscription \"" + credit.subscription() + "\" which is not open here"));
    return;
  }
  if (credit.max_in_flight() > options_.max_credit) {
    send_error(s, 0, Status(E::INVALID_ARGUMENT, "credit exceeds the limit of " + std::to_string(options_.max_credit)));
    return;
  }
  sub->credit = credit.max_in_flight();
  sub->dirty = true;
}

// --- completions ---

void Server::drain_completions() {
  for (auto& c : completions_.take_all()) {
    std::visit([this](auto& done) { on_done(done); }, c);
  }
}

void Server::note_routed(const std::vector<QueueRef>& routed) {
  for (const auto& ref : routed) {
    auto it = subs_.find(ref.sub);
    if (it != subs_.end()) it->second.note_routed(ref);
  }
}

void Server::on_done(PublishDone& d) {
  note_routed(d.routed);
  auto it = publishes_.find(d.publish_id);
  if (it == publishes_.end()) return;
  PendingPublish& p = it->second;
  for (auto& r : *d.results.mutable_results()) *p.results.add_results() = std::move(r);
  if (p.chunks_left > 0 && --p.chunks_left > 0) return;
  auto* results = p.results.mutable_results();
  std::sort(results->begin(), results->end(), [](auto& a, auto& b) { return a.index() < b.index(); });
  auto s = sessions_.find(p.peer);
  if (s != sessions_.end()) {
    BrokerFrame reply;
    *reply.mutable_results() = std::move(p.results);
    send(s->second, reply);
  }
  publishes_.erase(it);
}

void Server::on_done(SubscribeDone& d) {
  auto s = sessions_.find(d.peer);
  if (!d.status.ok()) {
    if (s != sessions_.end()) send_error(s->second, d.request_id, d.status);
    return;
  }
  note_routed(d.result.routed);
  if (s == sessions_.end()) return;  // the subscriber left meanwhile; the queue is durable anyway
  const uint64_t id = d.result.subscription.record.id();
  ActiveSubscription& sub = subs_[id];
  if (!sub.peer.empty() && sub.peer != d.peer) {
    // Taken over by a new connection: the old one's deliveries return.
    auto old = sessions_.find(sub.peer);
    if (old != sessions_.end()) old->second.subs.erase(sub.record.name());
  }
  detach(sub);
  sub.record = d.result.subscription.record;
  sub.peer = d.peer;
  sub.credit = sub.record.credit();
  s->second.subs[sub.record.name()] = id;
  metrics_.update_subscription(id, [&](SubscriptionFigures& f) {
    f.owner = sub.record.owner();
    f.name = sub.record.name();
    f.connected = true;
  });

  BrokerFrame reply;
  auto* r = reply.mutable_subscribed();
  r->set_request_id(d.request_id);
  r->set_name(sub.record.name());
  r->set_resumed(d.result.resumed);
  r->set_pending(d.result.pending);
  r->set_behind_retention(d.result.behind_retention);
  r->set_oldest_retained_seq(d.result.oldest_retained_seq);
  r->set_not_queued_from_seq(sub.record.not_queued_from_seq());
  send(s->second, reply);
}

void Server::on_done(UnsubscribeDone& d) {
  auto s = sessions_.find(d.peer);
  if (d.status.ok() && d.request.remove()) {
    subs_.erase(d.sub);
    metrics_.forget_subscription(d.sub);
  }
  if (s == sessions_.end()) return;
  if (!d.status.ok()) return send_error(s->second, d.request.request_id(), d.status);
  BrokerFrame reply;
  auto* r = reply.mutable_unsubscribed();
  r->set_request_id(d.request.request_id());
  r->set_name(d.request.name());
  r->set_removed(d.request.remove());
  send(s->second, reply);
}

void Server::on_done(AckDone& d) {
  for (const auto& ref : d.refs) {
    auto it = subs_.find(ref.sub);
    if (it != subs_.end()) it->second.acked.erase(ref.seq);
  }
}

void Server::on_done(Released& d) { note_routed(d.routed); }

// --- timers and delivery ---

// Sessions whose key was revoked, or whose certificate expired, since their
// Hello are told so and forgotten (checked four times a second, so a
// revocation takes effect within a second of reaching the broker).
void Server::sweep_identities(int64_t now) {
  if (now - last_sweep_ms_ < 250) return;
  last_sweep_ms_ = now;
  std::vector<std::pair<std::string, Status>> out;
  for (auto& [peer, s] : sessions_) {
    if (!s.identity) continue;
    // The whole chain counts: revoking an authority ends the sessions of
    // every member it certified.
    if (Status st = trust_.check_current(s.identity->member, now); !st.ok()) {
      out.emplace_back(peer, Status(st.code(), st.message() + "; closing"));
    }
  }
  for (auto& [peer, status] : out) {
    auto it = sessions_.find(peer);
    if (it == sessions_.end()) continue;
    metrics_.connections--;
    send_error(it->second, 0, status, /*fatal=*/true);
  }
}

void Server::timers(int64_t now) {
  sweep_identities(now);
  std::vector<std::string> gone;
  for (auto& [peer, s] : sessions_) {
    if (now - s.last_seen_ms > 3 * static_cast<int64_t>(options_.heartbeat_ms)) {
      gone.push_back(peer);
      continue;
    }
    if (s.identity && now - s.last_sent_ms >= options_.heartbeat_ms) {
      BrokerFrame hb;
      hb.mutable_heartbeat()->set_time_ms(now);
      send(s, hb);
    }
  }
  for (const auto& peer : gone) drop_session(peer);

  for (auto& [id, sub] : subs_) {
    if (sub.peer.empty()) continue;
    for (auto& [seq, p] : sub.pending) {
      if (p.waiting) {
        if (p.deadline_ms <= now) sub.dirty = true;  // a redelivery is due
        continue;
      }
      if (p.deadline_ms <= now) {  // ack timeout
        release_window(sub.peer, p);
        sub.by_delivery.erase(p.delivery_id);
        p.waiting = true;
        p.deadline_ms = now + redelivery_delay_ms(p.attempt, options_.max_redelivery_delay_ms);
        sub.in_flight--;
        sub.dirty = true;
      }
    }
  }
}

void Server::release_window(const std::string& peer, const InFlight& p) {
  auto s = sessions_.find(peer);
  if (s != sessions_.end()) s->second.release(p);
}

void Server::detach(ActiveSubscription& sub) {
  for (const auto& [seq, p] : sub.pending) {
    if (!p.waiting) release_window(sub.peer, p);
  }
  sub.detach();
}

void Server::drop_session(const std::string& peer) {
  auto it = sessions_.find(peer);
  if (it == sessions_.end()) return;
  if (it->second.identity) {
    metrics_.connections--;
    spdlog::info("session {} ({}) timed out", peer_label(peer).substr(0, 10), it->second.identity->member.member());
  }
  detach_session_subs(it->second);
  sessions_.erase(it);
}

void Server::detach_session_subs(Session& s) {
  for (const auto& [name, id] : s.subs) {
    auto sub = subs_.find(id);
    if (sub == subs_.end() || sub->second.peer != s.peer) continue;
    sub->second.detach();
    metrics_.update_subscription(id, [](SubscriptionFigures& f) {
      f.connected = false;
      f.in_flight = 0;
    });
  }
  s.subs.clear();
}

void Server::deliver_all(int64_t now) {
  bool any = false;
  for (auto& [id, sub] : subs_) {
    if (sub.dirty && !sub.peer.empty() && sub.in_flight < sub.credit) {
      any = true;
      break;
    }
  }
  if (!any) return;
  auto txn = store::Txn::begin(store_.env(), store::Access::kRead);
  if (!txn) {
    metrics_.storage_errors++;
    spdlog::error("cannot read the store for delivery: {}", txn.status().to_string());
    return;
  }
  ReadyEvents events(store_, *txn);  // each event read once in this pass, whatever the number of subscribers
  // Each pass starts just after the subscription served last, so that when a
  // connection's window fills, its subscriptions take turns (round robin)
  // rather than the same ones always going first.
  auto it = subs_.find(last_served_);
  if (it != subs_.end()) ++it;
  for (size_t n = 0; n < subs_.size(); ++n, ++it) {
    if (it == subs_.end()) it = subs_.begin();
    ActiveSubscription& sub = it->second;
    if (!sub.dirty || sub.peer.empty() || sub.in_flight >= sub.credit) continue;
    auto s = sessions_.find(sub.peer);
    if (s == sessions_.end()) {
      sub.detach();
      continue;
    }
    if (window_full(s->second)) continue;  // stays dirty: resumes when acks open the window
    const uint64_t before = sub.delivered + sub.redelivered;
    deliver(sub, s->second, now, events);
    if (sub.delivered + sub.redelivered != before) last_served_ = it->first;
  }
}

void Server::deliver(ActiveSubscription& sub, Session& s, int64_t now, ReadyEvents& events) {
  views::DeliveriesFrameView frame;  // encodes as a lantoa.v1.BrokerFrame with deliveries
  auto* batch = frame.mutable_deliveries();
  size_t batch_bytes = 0;
  std::vector<QueueRef> expired;
  auto flush = [&] {
    if (batch->items_size() == 0) return;
    send(s, frame);
    batch->clear_items();
    batch_bytes = 0;
  };
  auto emit = [&](uint64_t seq, uint32_t urgency, uint32_t attempt) -> bool {
    const ReadyEvent* ev = events.get(seq);
    if (!ev) return false;  // gone (removed subscription or retention race)
    if (ev->expires_ms != 0 && now >= ev->expires_ms) {
      expired.push_back({sub.record.id(), urgency, seq});
      return false;
    }
    auto* d = batch->add_items();
    d->set_subscription(sub.record.name());
    const uint64_t did = next_delivery_id_++;
    d->set_delivery_id(did);
    d->set_broker_seq(seq);
    d->set_attempt(attempt);
    d->set_event(ev->bytes);
    d->set_accepted_ms(ev->accepted_ms);
    batch_bytes += ev->bytes.size();
    s.unacked_bytes += ev->bytes.size();
    InFlight& p = sub.pending[seq];
    p.bytes = static_cast<uint32_t>(ev->bytes.size());
    p.urgency = urgency;
    p.delivery_id = did;
    p.attempt = attempt;
    p.deadline_ms = now + sub.record.ack_timeout_ms();
    p.waiting = false;
    sub.by_delivery[did] = seq;
    sub.attempts[seq] = attempt;
    sub.in_flight++;
    if (static_cast<size_t>(batch->items_size()) >= options_.max_deliveries_per_frame || batch_bytes > (256u << 10)) {
      flush();
    }
    return true;
  };

  // 1. Redeliveries that are due, most urgent first.
  std::vector<std::pair<uint32_t, uint64_t>> due;
  for (const auto& [seq, p] : sub.pending) {
    if (p.waiting && p.deadline_ms <= now) due.emplace_back(p.urgency, seq);
  }
  std::sort(due.begin(), due.end());
  for (const auto& [urgency, seq] : due) {
    if (sub.in_flight >= sub.credit || window_full(s)) break;
    InFlight& p = sub.pending[seq];
    const uint32_t attempt = p.attempt + 1;
    if (emit(seq, urgency, attempt)) {
      sub.redelivered++;
      metrics_.redeliveries++;
    } else {
      sub.pending.erase(seq);
    }
  }

  // 2. The queue, from the scan position.
  bool reached_end = false;
  if (sub.in_flight < sub.credit && !window_full(s)) {
    const std::string prefix = store::be64(sub.record.id());
    auto cursor = store::Cursor::open(events.txn(), store_.dbs().queue);
    if (cursor) {
      auto e = cursor->seek(sub.position.empty() ? prefix : sub.position);
      while (true) {
        if (!e || !e->has_value() || !(*e)->first.starts_with(prefix)) {
          reached_end = true;
          break;
        }
        if (sub.in_flight >= sub.credit || window_full(s)) break;
        const std::string key((*e)->first);
        QueueRef ref = parse_queue_key(key);
        if (!sub.pending.count(ref.seq) && !sub.acked.count(ref.seq)) {
          auto a = sub.attempts.find(ref.seq);
          const uint32_t attempt = a == sub.attempts.end() ? 1 : a->second + 1;
          if (emit(ref.seq, ref.urgency, attempt)) {
            sub.delivered++;
            metrics_.deliveries++;
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
  // Nothing more to do until an ack, nack, credit change, due redelivery or
  // new queue entry marks the subscription dirty again. A scan cut short by
  // the per-pass read limit continues on the next pass.
  sub.dirty = !reached_end && sub.in_flight < sub.credit;
  if (!expired.empty()) {
    for (const auto& ref : expired) sub.acked.insert(ref.seq);
    metrics_.expired += expired.size();
    writer_.submit(next_ticket(), AckOp{std::move(expired)});
  }
  metrics_.update_subscription(sub.record.id(), [&](SubscriptionFigures& f) {
    f.in_flight = sub.in_flight;
    f.delivered = sub.delivered;
    f.acked = sub.acks;
    f.redelivered = sub.redelivered;
    f.connected = true;
  });
}

// --- sending ---

void Server::send(Session& s, const google::protobuf::MessageLite& frame) {
  // Encoded straight into the message ZeroMQ sends: no intermediate copy.
  zmq::message_t body(frame.ByteSizeLong());
  frame.SerializeWithCachedSizesToArray(static_cast<uint8_t*>(body.data()));
  try {
    frontend_.send(zmq::buffer(s.peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    frontend_.send(body, zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    spdlog::debug("send to {} failed: {}", peer_label(s.peer).substr(0, 10), e.what());
  }
  s.last_sent_ms = unix_now_ms();
}

void Server::send_error(Session& s, uint64_t request_id, const Status& status, bool fatal) {
  BrokerFrame frame;
  auto* e = frame.mutable_error();
  e->set_request_id(request_id);
  *e->mutable_error() = status.to_proto();
  e->set_fatal(fatal);
  send(s, frame);
  if (fatal) {
    spdlog::info("session {} refused: {}", peer_label(s.peer).substr(0, 10), status.to_string());
    // Forget the session: its next frame starts over and needs a new Hello.
    const std::string peer = s.peer;
    detach_session_subs(s);
    sessions_.erase(peer);
  }
}

}  // namespace lantoa::broker
