#include "session/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/names.h"

namespace lantoa::broker {
namespace {

using lantoa::v1::BrokerFrame;
using lantoa::v1::ClientFrame;
using E = lantoa::v1::Error;

constexpr int kMaxFiltersPerSubscription = 64;
constexpr size_t kMaxFramesPerPoll = 512;

std::string peer_label(const std::string& peer) { return to_hex(peer).substr(0, 10); }

}  // namespace

Server::Server(zmq::socket_t& frontend, Store& store, const TrustStore& trust, const Restrictions& restrictions,
               Admission& admission, Verifier& verifier, Writer& writer, Completions& completions, Metrics& metrics,
               ServerOptions options)
    : frontend_(frontend),
      store_(store),
      trust_(trust),
      restrictions_(restrictions),
      admission_(admission),
      writer_(writer),
      completions_(completions),
      metrics_(metrics),
      options_(options),
      intake_(verifier, metrics, tickets_, options.intake,
              [this](const std::string& peer, const v1::PublishResults& results) {
                BrokerFrame reply;
                *reply.mutable_results() = results;
                send_to(peer, reply);
              }),
      dispatcher_(
          store, metrics, options.delivery,
          [this](const std::string& peer, const google::protobuf::MessageLite& frame) { send_to(peer, frame); },
          [this](WriterOp op) { writer_.submit(tickets_.next(), std::move(op)); }) {
  // This broker's own subscriptions make its interest for linked brokers
  // (read before the I/O loop runs; afterwards the writer's answers keep it).
  for (const auto& [id, sub] : store.subscriptions()) note_subscription(sub.record, false);
}

void Server::run(const std::atomic<bool>& stop) {
  std::vector<zmq::pollitem_t> items;
  while (!stop) {
    items = {{frontend_.handle(), 0, ZMQ_POLLIN, 0},
             {nullptr, completions_.fd(), ZMQ_POLLIN, 0},
             {nullptr, control_.fd(), ZMQ_POLLIN, 0},
             {closes_ ? closes_->handle() : nullptr, 0, ZMQ_POLLIN, 0}};
    if (!closes_) items.pop_back();
    for (auto& d : dialers_) {
      if (d->socket()) items.push_back({d->socket()->handle(), 0, ZMQ_POLLIN, 0});
    }
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(20));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      continue;  // a signal arrived; look at `stop`
    }
    if (items[0].revents & ZMQ_POLLIN) receive_frames();
    if (items[1].revents & ZMQ_POLLIN) drain_completions();
    if (items[2].revents & ZMQ_POLLIN) {
      for (auto& request : control_.take_all()) on_control(request);
    }
    if (closes_ && (items[3].revents & ZMQ_POLLIN)) note_closes();
    const int64_t mono = mono_now_ms(), wall = unix_now_ms();
    if (!dialers_.empty()) poll_links(mono);
    tell_interest(mono);
    sweep_identities(wall, mono);
    heartbeats(mono);
    dispatcher_.tick(mono, wall);
  }
  // Requests from the monitoring port that came too late are answered now
  // (their HTTP threads wait for them); later ones are refused by ask().
  control_closed_ = true;
  for (auto& request : control_.take_all()) {
    request.answer->set_value(ControlAnswer{Status(lantoa::v1::Error::UNAVAILABLE, "the broker is stopping"), {}});
  }
}

// --- frames in ---

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
                   peer_label(peer));
      metrics_.frame_errors++;
      drop_session(peer);
    }
    auto [it, created] = sessions_.try_emplace(peer);
    Session& s = it->second;
    if (created) {
      s.peer = peer;
      s.curve_key = curve_key;
    }
    s.last_seen_ms = mono_now_ms();
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
  Status refused;
  switch (frame.body_case()) {
    case ClientFrame::kPublish:
      if (Status st = intake_.take(s.peer, s.identity, *frame.mutable_publish(), mono_now_ms()); !st.ok()) {
        send_error(s, frame.publish().request_id(), st);
      }
      return;
    case ClientFrame::kSubscribe:
      return on_subscribe(s, frame.subscribe());
    case ClientFrame::kUnsubscribe:
      return on_unsubscribe(s, frame.unsubscribe());
    case ClientFrame::kAck:
      refused = dispatcher_.ack(s.peer, frame.ack());
      break;
    case ClientFrame::kNack:
      refused = dispatcher_.nack(s.peer, frame.nack(), mono_now_ms());
      break;
    case ClientFrame::kCredit:
      refused = dispatcher_.credit(s.peer, frame.credit());
      break;
    case ClientFrame::kHeartbeat:
      return;
    case ClientFrame::kInterest:
      if (!s.link) {
        return send_error(s, 0, Status(E::ROLE_MISSING, "\"" + s.identity->member.member() +
                                                              "\" is not certified as a broker: only linked brokers "
                                                              "tell their interest"));
      }
      return on_interest(s, frame.interest());
    case ClientFrame::kForward:
      return on_forward(s, *frame.mutable_forward());
    default:
      refused = Status(E::FRAME_MALFORMED, "unexpected frame");
  }
  if (!refused.ok()) send_error(s, 0, refused);
}

void Server::on_subscribe(Session& s, const lantoa::v1::Subscribe& sub) {
  auto reject = [&](Status status) { send_error(s, sub.request_id(), status); };
  if (!s.identity->member.has_role(lantoa::v1::SUBSCRIBER)) {
    return reject(Status(E::ROLE_MISSING, "\"" + s.identity->member.member() + "\" is not certified as a subscriber"));
  }
  if (!is_subscription_name(sub.name())) {
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
  if (sub.credit() > options_.delivery.max_credit) {
    return reject(Status(E::INVALID_ARGUMENT, "credit " + std::to_string(sub.credit()) + " exceeds the limit of " +
                                                  std::to_string(options_.delivery.max_credit)));
  }
  if (sub.ack_timeout_ms() != 0 &&
      (sub.ack_timeout_ms() < options_.min_ack_timeout_ms || sub.ack_timeout_ms() > options_.max_ack_timeout_ms)) {
    return reject(Status(E::INVALID_ARGUMENT, "ack_timeout_ms must be between 100 and 3600000"));
  }
  writer_.submit(tickets_.next(), SubscribeOp{s.peer, s.identity->member.member(), std::move(grants), sub});
}

void Server::on_unsubscribe(Session& s, const lantoa::v1::Unsubscribe& unsub) {
  dispatcher_.close(s.peer, unsub.name());
  writer_.submit(tickets_.next(), UnsubscribeOp{s.peer, s.identity->member.member(), unsub});
}

// --- results from the writer ---

void Server::drain_completions() {
  for (auto& c : completions_.take_all()) {
    std::visit([this](auto& done) { on_done(done); }, c);
  }
}

void Server::on_done(PublishDone& d) {
  dispatcher_.routed(d.routed);
  intake_.done(d);
}

void Server::on_done(SubscribeDone& d) {
  auto s = sessions_.find(d.peer);
  if (!d.status.ok()) {
    if (s != sessions_.end()) send_error(s->second, d.request_id, d.status);
    return;
  }
  dispatcher_.routed(d.result.routed);
  const SubscriptionRecord& record = d.result.subscription.record;
  note_subscription(record, false);
  if (s == sessions_.end()) return;  // the subscriber left meanwhile; the queue is durable anyway
  if (s->second.link && is_link_subscription(record.name())) {
    // What we owe a linked broker: taken up by its session (once; a changed
    // interest only changes the filters). No answer: it asked with Interest.
    Session::Link& link = *s->second.link;
    if (link.sub != record.id()) {
      dispatcher_.set_window(d.peer, options_.link_window_bytes);
      dispatcher_.attach(d.peer, record);
    }
    link.sub = record.id();
    link.sub_name = record.name();
    link.probe->sub = record.id();
    return;
  }
  dispatcher_.attach(d.peer, record);
  BrokerFrame reply;
  auto* r = reply.mutable_subscribed();
  r->set_request_id(d.request_id);
  r->set_name(record.name());
  r->set_resumed(d.result.resumed);
  r->set_pending(d.result.pending);
  r->set_behind_retention(d.result.behind_retention);
  r->set_oldest_retained_seq(d.result.oldest_retained_seq);
  r->set_not_queued_from_seq(record.not_queued_from_seq());
  send(s->second, reply);
}

void Server::on_done(UnsubscribeDone& d) {
  if (d.control != 0) return control_done(d);
  if (d.status.ok() && d.request.remove()) {
    dispatcher_.forget(d.sub);
    if (local_filters_.erase(d.sub)) interest_changed_ = true;
  }
  auto s = sessions_.find(d.peer);
  if (s == sessions_.end()) return;
  if (!d.status.ok()) return send_error(s->second, d.request.request_id(), d.status);
  BrokerFrame reply;
  auto* r = reply.mutable_unsubscribed();
  r->set_request_id(d.request.request_id());
  r->set_name(d.request.name());
  r->set_removed(d.request.remove());
  send(s->second, reply);
}

void Server::on_done(AckDone& d) { dispatcher_.ack_committed(d.refs); }

void Server::on_done(Released& d) { dispatcher_.routed(d.routed); }

// --- sessions ---

void Server::heartbeats(int64_t mono_ms) {
  // A walk over every session, so not on every pass of the loop (with
  // 10,000 portals it was 9% of the broker's CPU while delivering): a few
  // times per heartbeat interval, at most every 100 ms. A heartbeat goes out
  // at most that much late; a silent client is dropped after 3 intervals.
  const int64_t every = std::clamp<int64_t>(options_.heartbeat_ms / 4, 1, 100);
  if (mono_ms - last_heartbeat_walk_ms_ < every) return;
  last_heartbeat_walk_ms_ = mono_ms;
  std::vector<std::string> gone;
  for (auto& [peer, s] : sessions_) {
    if (s.link && s.link->dialer) continue;  // its dialer keeps the link's heartbeats
    if (mono_ms - s.last_seen_ms > 3 * static_cast<int64_t>(options_.heartbeat_ms)) {
      gone.push_back(peer);
      continue;
    }
    if (s.identity && mono_ms - s.last_sent_ms >= options_.heartbeat_ms) {
      BrokerFrame hb;
      hb.mutable_heartbeat()->set_time_ms(unix_now_ms());
      send(s, hb);
    }
  }
  for (const auto& peer : gone) drop_session(peer);
}

void Server::drop_session(const std::string& peer) {
  auto it = sessions_.find(peer);
  if (it == sessions_.end()) return;
  if (it->second.identity) {
    metrics_.connections--;
    spdlog::info("session {} ({}) timed out", peer_label(peer), it->second.identity->member.member());
  }
  dispatcher_.drop_peer(peer);
  if (it->second.link) {
    interest_changed_ = true;
    if (it->second.link->probe && !it->second.link->dialer) it->second.link->probe->connected = false;
  }
  sessions_.erase(it);
}

// --- sending ---

void Server::send(Session& s, const google::protobuf::MessageLite& frame) {
  if (s.link && s.link->dialer) return to_dialed_link(s, frame);
  // Encoded straight into the message ZeroMQ sends: no intermediate copy.
  zmq::message_t body(frame.ByteSizeLong());
  frame.SerializeWithCachedSizesToArray(static_cast<uint8_t*>(body.data()));
  try {
    frontend_.send(zmq::buffer(s.peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    frontend_.send(body, zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    spdlog::debug("send to {} failed: {}", peer_label(s.peer), e.what());
  }
  s.last_sent_ms = mono_now_ms();
}

void Server::send_to(const std::string& peer, const google::protobuf::MessageLite& frame) {
  auto it = sessions_.find(peer);
  if (it != sessions_.end()) send(it->second, frame);
}

void Server::send_error(Session& s, uint64_t request_id, const Status& status) {
  BrokerFrame frame;
  auto* e = frame.mutable_error();
  e->set_request_id(request_id);
  *e->mutable_error() = status.to_proto();
  e->set_fatal(false);
  send(s, frame);
}

void Server::end_session(Session& s, const Status& status) {
  BrokerFrame frame;
  auto* e = frame.mutable_error();
  *e->mutable_error() = status.to_proto();
  e->set_fatal(true);
  send(s, frame);
  spdlog::info("session {} refused: {}", peer_label(s.peer), status.to_string());
  if (s.identity) {
    metrics_.connections--;
  } else {
    metrics_.refuse_session(status.code());  // refused at Hello
  }
  const std::string peer = s.peer;
  dispatcher_.drop_peer(peer);
  if (s.link) {
    interest_changed_ = true;
    if (s.link->probe && !s.link->dialer) s.link->probe->connected = false;
  }
  sessions_.erase(peer);
}

}  // namespace lantoa::broker
