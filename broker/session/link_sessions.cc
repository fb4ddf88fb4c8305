// The Server's part of links between brokers (link.h, docs/federation.md):
// the sessions of linked brokers on both sides, their interest, what they
// forward, and the dialers of the links this broker opens.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/names.h"
#include "session/server.h"

namespace lantoa::broker {
namespace {

using lantoa::v1::BrokerFrame;
using lantoa::v1::ClientFrame;
using E = lantoa::v1::Error;

std::vector<std::string> filters_of(const std::vector<InterestEntry>& entries) { return interest_filters(entries); }

}  // namespace

void Server::add_link(std::unique_ptr<LinkDialer> dialer) {
  dialer->set_probe(metrics_.link(dialer->config().name, true));
  metrics_.link_details(*dialer->probe(), [&](LinkProbe& p) {
    p.endpoint = dialer->endpoint();
    p.exports = dialer->config().exports;
    p.imports = dialer->config().imports;
    p.down_reason = dialer->down_reason();
  });
  dialers_.push_back(std::move(dialer));
}

// --- the dialing side ---

void Server::poll_links(int64_t mono_ms) {
  for (auto& d : dialers_) {
    const bool had_socket = d->socket() != nullptr;
    d->tick(mono_ms, options_.heartbeat_ms);
    if (had_socket && !d->socket()) link_down(*d, d->down_reason(), mono_ms);
    while (auto frame = d->receive(mono_ms)) on_link_frame(*d, *frame, mono_ms);
    if (!d->socket() && sessions_.count(dialed_peer(*d))) link_down(*d, d->down_reason(), mono_ms);
    LinkProbe& probe = *d->probe();
    if (d->state() != LinkDialer::State::kUp) {
      metrics_.link_details(probe, [&](LinkProbe& p) {
        if (p.down_reason != d->down_reason()) p.down_reason = d->down_reason();
      });
    }
    probe.bytes_sent.store(d->bytes_sent(), std::memory_order_relaxed);
    probe.bytes_received.store(d->bytes_received(), std::memory_order_relaxed);
  }
}

void Server::on_link_frame(LinkDialer& dialer, BrokerFrame& frame, int64_t mono_ms) {
  if (frame.has_welcome()) return on_welcome(dialer, frame.welcome(), mono_ms);
  auto it = sessions_.find(dialed_peer(dialer));
  if (it == sessions_.end()) {
    if (frame.has_error()) {
      return dialer.down("refused by the peer: " + Status::from_proto(frame.error().error()).to_string(), mono_ms);
    }
    return;  // before Welcome: nothing else is expected
  }
  Session& s = it->second;
  s.last_seen_ms = mono_ms;
  switch (frame.body_case()) {
    case BrokerFrame::kHeartbeat:
      return;
    case BrokerFrame::kInterest:
      return on_interest(s, frame.interest());
    case BrokerFrame::kDeliver:
    case BrokerFrame::kDeliveries:
      return store_from_link(s, frame);
    case BrokerFrame::kResults: {
      // The peer's answers to what we forwarded: confirmed (stored or held
      // already) or refused for good is acknowledged in our queue; a passing
      // refusal goes back to it, to be sent again later.
      auto f = s.link->forwarded.find(frame.results().request_id());
      if (f == s.link->forwarded.end()) return;
      v1::Ack ack;
      v1::Nack nack;
      ack.set_subscription(s.link->sub_name);
      nack.set_subscription(s.link->sub_name);
      for (const auto& r : frame.results().results()) {
        if (r.index() >= f->second.size()) continue;
        const uint64_t delivery = f->second[r.index()];
        if (r.status() == v1::PublishResult::REJECTED && is_passing_refusal(r.error().code())) {
          nack.add_delivery_ids(delivery);
          nack.set_reason(r.error().message());
          continue;
        }
        ack.add_delivery_ids(delivery);
        if (r.status() == v1::PublishResult::REJECTED) {
          s.link->probe->refused_by_peer++;
          spdlog::warn("link {}: the peer refused event {} for good: {}", s.link->name, to_hex(r.event_id()),
                       Status::from_proto(r.error()).to_string());
        } else {
          s.link->probe->events_sent++;
        }
      }
      s.link->forwarded.erase(f);
      if (ack.delivery_ids_size() > 0) (void)dispatcher_.ack(s.peer, ack);
      if (nack.delivery_ids_size() > 0) (void)dispatcher_.nack(s.peer, nack, mono_ms);
      return;
    }
    case BrokerFrame::kError: {
      const Status st = Status::from_proto(frame.error().error());
      if (frame.error().fatal()) return dialer.down("the peer ended the link: " + st.to_string(), mono_ms);
      spdlog::warn("link {}: the peer answered: {}", s.link->name, st.to_string());
      return;
    }
    default:
      return;
  }
}

void Server::on_welcome(LinkDialer& dialer, const v1::Welcome& welcome, int64_t mono_ms) {
  // The peer must be a certified broker, with the key the link names.
  if (welcome.broker_chain().certificates_size() == 0) {
    return dialer.down("the peer presents no broker certificate (set `certificate` in its configuration)", mono_ms);
  }
  auto member = trust_.verify_chain(welcome.broker_chain(), unix_now_ms());
  if (!member) return dialer.down("the peer's certificate: " + member.status().to_string(), mono_ms);
  if (!member->has_role(v1::BROKER)) {
    return dialer.down("the peer's certificate (" + member->member() + ") lacks the broker role", mono_ms);
  }
  if (member->certificate.transport_key() != dialer.peer_key()) {
    return dialer.down("the peer's certificate is for another transport key than the link names", mono_ms);
  }
  dialer.up(mono_ms, unix_now_ms());
  const std::string peer = dialed_peer(dialer);
  drop_session(peer);
  Session& s = sessions_[peer];
  s.peer = peer;
  s.last_seen_ms = s.last_sent_ms = mono_ms;
  auto identity = std::make_shared<Identity>();
  identity->member = std::move(*member);
  welcome.broker_chain().SerializeToString(&identity->chain);
  identity->chain_id = event_id(identity->chain);
  s.identity = identity;
  s.link = std::make_unique<Session::Link>();
  s.link->dialer = &dialer;
  s.link->name = dialer.config().name;
  s.link->tag = dialer.peer_tag();
  s.link->exports = dialer.config().exports;
  s.link->imports = dialer.config().imports;
  s.link->mirror = dialer.config().mirror;
  s.link->probe = dialer.probe();
  s.link->probe->connected = true;
  s.link->probe->connects = dialer.connects();
  s.link->probe->up_since_ms = unix_now_ms();
  metrics_.link_details(*s.link->probe, [&](LinkProbe& p) {
    p.peer = s.identity->member.member();
    p.down_reason.clear();
  });
  // Our queue for it is taken up when its interest arrives (it sends it at once).
  interest_changed_ = true;
  spdlog::info("link {} to {} is up: {} (broker tag {})", s.link->name, dialer.endpoint(),
               s.identity->member.member(), s.link->tag);
}

void Server::link_down(LinkDialer& dialer, const std::string& why, int64_t mono_ms) {
  (void)mono_ms;
  const std::string peer = dialed_peer(dialer);
  LinkProbe& probe = *dialer.probe();
  probe.connected = false;
  probe.up_since_ms = 0;
  metrics_.link_details(probe, [&](LinkProbe& p) { p.down_reason = why; });
  auto it = sessions_.find(peer);
  if (it != sessions_.end()) {
    dispatcher_.drop_peer(peer);  // what was in flight goes back to the queue
    sessions_.erase(it);
    interest_changed_ = true;  // the other links no longer need what this one asked for
  }
}

// Frames the broker sends to the session of a link it dials: deliveries of
// what it owes the peer become a Forward; results of the peer's events it
// stored become Acks and Nacks to the peer.
void Server::to_dialed_link(Session& s, const google::protobuf::MessageLite& message) {
  BrokerFrame frame;
  if (!frame.ParseFromString(message.SerializeAsString())) return;
  Session::Link& link = *s.link;
  LinkDialer& dialer = *link.dialer;
  const int64_t mono = mono_now_ms();
  auto forward = [&](const std::vector<const v1::Deliver*>& items) {
    if (items.empty()) return;
    ClientFrame out;
    auto* batch = out.mutable_forward();
    const uint64_t request = link.next_request++;
    batch->set_request_id(request);
    auto& ids = link.forwarded[request];
    for (const v1::Deliver* d : items) {
      *batch->add_events() = d->event();
      ids.push_back(d->delivery_id());
    }
    if (Status st = dialer.send(out, mono); !st.ok()) {
      link.forwarded.erase(request);  // not acked: sent again after the ack timeout
      spdlog::debug("link {}: {}", link.name, st.to_string());
    }
  };
  switch (frame.body_case()) {
    case BrokerFrame::kDeliver:
      return forward({&frame.deliver()});
    case BrokerFrame::kDeliveries: {
      std::vector<const v1::Deliver*> items;
      for (const auto& d : frame.deliveries().items()) items.push_back(&d);
      return forward(items);
    }
    case BrokerFrame::kResults: {
      auto it = link.storing.find(frame.results().request_id());
      if (it == link.storing.end()) return;
      ClientFrame ack, nack;
      ack.mutable_ack()->set_subscription(it->second.first);
      nack.mutable_nack()->set_subscription(it->second.first);
      for (const auto& r : frame.results().results()) {
        if (r.index() >= it->second.second.size()) continue;
        const uint64_t delivery = it->second.second[r.index()];
        if (r.status() == v1::PublishResult::REJECTED && is_passing_refusal(r.error().code())) {
          nack.mutable_nack()->add_delivery_ids(delivery);
          nack.mutable_nack()->set_reason(r.error().message());
          continue;
        }
        ack.mutable_ack()->add_delivery_ids(delivery);
        if (r.status() == v1::PublishResult::ACCEPTED) link.probe->events_received++;
        if (r.status() == v1::PublishResult::DUPLICATE) link.probe->duplicates_received++;
        if (r.status() == v1::PublishResult::REJECTED) {
          link.probe->refused_here++;
          spdlog::warn("link {}: refused event {} from the peer: {}", link.name, to_hex(r.event_id()),
                       Status::from_proto(r.error()).to_string());
        }
      }
      link.storing.erase(it);
      if (ack.ack().delivery_ids_size() > 0) (void)dialer.send(ack, mono);
      if (nack.nack().delivery_ids_size() > 0) (void)dialer.send(nack, mono);
      return;
    }
    case BrokerFrame::kError:
      spdlog::warn("link {}: {}", link.name, Status::from_proto(frame.error().error()).to_string());
      return;
    default:
      return;  // heartbeats and the like: the dialer keeps its own
  }
}

// The peer's deliveries, on a link we dial: stored like events forwarded to us.
void Server::store_from_link(Session& s, BrokerFrame& frame) {
  Session::Link& link = *s.link;
  std::vector<v1::Deliver*> items;
  if (frame.has_deliver()) items.push_back(frame.mutable_deliver());
  for (auto& d : *frame.mutable_deliveries()->mutable_items()) items.push_back(&d);
  if (items.empty()) return;
  v1::PublishBatch batch;
  const uint64_t request = link.next_request++;
  batch.set_request_id(request);
  auto& [sub_name, ids] = link.storing[request];
  sub_name = items[0]->subscription();
  std::vector<uint64_t> not_imported;
  for (v1::Deliver* d : items) {
    if (!link.imports.empty()) {
      v1::Event ev;
      if (!ev.ParseFromString(d->event().event()) || !allowed_by(link.imports, ev.topic())) {
        not_imported.push_back(d->delivery_id());  // more than we asked for: refused, acknowledged
        continue;
      }
    }
    *batch.add_events() = std::move(*d->mutable_event());
    ids.push_back(d->delivery_id());
  }
  const int64_t mono = mono_now_ms();
  if (!not_imported.empty()) {
    link.probe->refused_here += not_imported.size();
    spdlog::warn("link {}: the peer sent {} events outside this link's import filters; refused", link.name,
                 not_imported.size());
    ClientFrame ack;
    ack.mutable_ack()->set_subscription(sub_name);
    for (uint64_t id : not_imported) ack.mutable_ack()->add_delivery_ids(id);
    (void)link.dialer->send(ack, mono);
  }
  if (batch.events_size() == 0) {
    link.storing.erase(request);
    return;
  }
  if (Status st = intake_.forward(s.peer, s.identity, batch, link.sub); !st.ok()) {
    link.storing.erase(request);
    spdlog::warn("link {}: {}", link.name, st.to_string());
  }
}

// --- both sides ---

void Server::on_interest(Session& s, const v1::Interest& interest) {
  if (!s.identity->member.has_role(v1::BROKER)) {
    return send_error(s, 0, Status(E::ROLE_MISSING, "\"" + s.identity->member.member() +
                                                         "\" is not certified as a broker: only linked brokers "
                                                         "tell their interest"));
  }
  auto entries = read_interest(interest);
  if (!entries) return send_error(s, 0, entries.status());
  Session::Link& link = *s.link;
  link.received = std::move(*entries);
  if (interest.mirror() && !link.mirror) {
    link.mirror = true;  // the peer made it a mirror: we tell it everything too
    interest_changed_ = true;
    spdlog::info("link {}: a mirror (everything both ways)", link.name);
  }
  // What we owe the peer: its interest (a mirror: everything), within our export filters.
  const auto owed = link.mirror ? restrict_interest(mirror_interest(), link.exports)
                                : restrict_interest(link.received, link.exports);
  v1::Subscribe request;
  request.set_name(link_subscription_name(link.tag));
  for (const auto& f : filters_of(owed)) request.add_filters(f);
  request.mutable_start()->set_earliest(true);
  request.set_credit(options_.link_credit);
  const auto& cert = s.identity->member.certificate;
  std::vector<std::string> grants(cert.read_grants().begin(), cert.read_grants().end());
  SubscribeOp op{s.peer, s.identity->member.member(), std::move(grants), std::move(request)};
  op.link = true;
  writer_.submit(tickets_.next(), std::move(op));
  metrics_.link_details(*link.probe, [&](LinkProbe& p) { p.interest_in = filters_of(owed); });
  interest_changed_ = true;
}

void Server::on_forward(Session& s, v1::PublishBatch& batch) {
  if (!s.identity->member.has_role(v1::BROKER) || !s.link) {
    return send_error(s, batch.request_id(),
                      Status(E::ROLE_MISSING, "\"" + s.identity->member.member() +
                                                  "\" is not certified as a broker: only linked brokers forward"));
  }
  if (Status st = intake_.forward(s.peer, s.identity, batch, s.link->sub); !st.ok()) {
    send_error(s, batch.request_id(), st);
  }
}

// What this broker needs from `target`: the filters of its own
// subscriptions, and what its other linked brokers need, each entry with the
// path it took; nothing that came through `target` or through us.
std::vector<InterestEntry> Server::interest_for(const Session& target) const {
  const std::string me = broker_tag(options_.transport_key);
  std::vector<InterestEntry> entries;
  for (const auto& [id, filters] : local_filters_) {
    for (const auto& f : filters) entries.push_back(InterestEntry{f, {me}});
  }
  for (const auto& [peer, s] : sessions_) {
    if (!s.link || &s == &target) continue;
    for (const auto& e : s.link->received) {
      if (std::find(e.path.begin(), e.path.end(), me) != e.path.end()) continue;
      if (std::find(e.path.begin(), e.path.end(), target.link->tag) != e.path.end()) continue;
      if (e.path.size() >= kMaxInterestPath) continue;
      InterestEntry out = e;
      out.path.push_back(me);
      entries.push_back(std::move(out));
    }
  }
  return restrict_interest(compact_interest(std::move(entries)), target.link->imports);
}

void Server::tell_interest(int64_t mono_ms) {
  if (!interest_changed_ || mono_ms - last_interest_ms_ < 100) return;
  interest_changed_ = false;
  last_interest_ms_ = mono_ms;
  for (auto& [peer, s] : sessions_) {
    if (!s.link) continue;
    auto entries = interest_for(s);
    const bool same = s.link->told && s.link->told_mirror == s.link->mirror && entries.size() == s.link->sent.size() &&
                      std::equal(entries.begin(), entries.end(), s.link->sent.begin(), [](const auto& a, const auto& b) {
                        return a.filter == b.filter && a.path == b.path;
                      });
    if (same) continue;
    v1::Interest interest;
    interest.set_mirror(s.link->mirror);
    for (const auto& e : entries) {
      auto* out = interest.add_entries();
      out->set_filter(e.filter);
      for (const auto& t : e.path) out->add_path(t);
    }
    if (s.link->dialer) {
      ClientFrame frame;
      *frame.mutable_interest() = interest;
      if (!s.link->dialer->send(frame, mono_ms).ok()) {
        interest_changed_ = true;  // try again
        continue;
      }
    } else {
      BrokerFrame frame;
      *frame.mutable_interest() = interest;
      send(s, frame);
    }
    s.link->told = true;
    s.link->told_mirror = s.link->mirror;
    s.link->sent = entries;
    metrics_.link_details(*s.link->probe, [&](LinkProbe& p) { p.interest_out = filters_of(entries); });
  }
}

void Server::note_subscription(const SubscriptionRecord& record, bool removed) {
  if (is_link_subscription(record.name())) return;
  if (removed) {
    if (local_filters_.erase(record.id())) interest_changed_ = true;
    return;
  }
  std::vector<std::string> filters(record.filters().begin(), record.filters().end());
  auto& held = local_filters_[record.id()];
  if (held != filters) {
    held = std::move(filters);
    interest_changed_ = true;
  }
}

}  // namespace lantoa::broker
