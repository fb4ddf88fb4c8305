// The I/O thread's side of the monitoring port's requests (control.h): the
// spread of an event, and the operator's admin verbs.
#include "session/control.h"

#include <spdlog/spdlog.h>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "session/server.h"

namespace lantoa::broker {
namespace {

using E = lantoa::v1::Error;

void answer(ControlRequest& r, Status status, nlohmann::json body = nlohmann::json::object()) {
  r.answer->set_value(ControlAnswer{std::move(status), std::move(body)});
}

std::string headline_of(const StoredEvent& record) {
  v1::SignedEvent envelope;
  v1::Event event;
  if (!envelope.ParseFromString(record.envelope()) || !event.ParseFromString(envelope.event())) return {};
  return event.headline();
}

}  // namespace

const char* verb_name(ControlRequest::Verb verb) {
  switch (verb) {
    case ControlRequest::Verb::kSpread: return "spread";
    case ControlRequest::Verb::kRemoveSubscription: return "subscription_remove";
    case ControlRequest::Verb::kPurgeQueue: return "queue_purge";
    case ControlRequest::Verb::kCloseSessions: return "sessions_close";
  }
  return "unknown";
}

void Server::on_control(ControlRequest& request) {
  using Verb = ControlRequest::Verb;
  switch (request.verb) {
    case Verb::kSpread: {
      Status status;
      nlohmann::json body = spread(request.event_id, &status);
      return answer(request, status, std::move(body));
    }
    case Verb::kCloseSessions: {
      std::vector<Session*> closing;
      for (auto& [peer, s] : sessions_) {
        if (s.identity && s.identity->member.member() == request.member) closing.push_back(&s);
      }
      for (Session* s : closing) {
        end_session(*s, Status(E::CLOSED_BY_OPERATOR, "the broker's operator closed this session"));
      }
      if (closing.empty()) {
        return answer(request, Status(E::NOT_FOUND, request.member + " has no session open"));
      }
      return answer(request, Status::Ok(), {{"member", request.member}, {"sessions_closed", closing.size()}});
    }
    case Verb::kRemoveSubscription: {
      const uint64_t id = next_control_++;
      UnsubscribeOp op;
      op.owner = request.owner;
      op.request.set_name(request.name);
      op.request.set_remove(true);
      op.control = id;
      controls_.emplace(id, std::move(request));
      return writer_.submit(tickets_.next(), std::move(op));
    }
    case Verb::kPurgeQueue: {
      const uint64_t id = next_control_++;
      controls_.emplace(id, std::move(request));
      return writer_.submit(tickets_.next(), PurgeOp{id, controls_[id].owner, controls_[id].name});
    }
  }
}

std::optional<ControlRequest> Server::take_control(uint64_t id) {
  auto it = controls_.find(id);
  if (it == controls_.end()) return std::nullopt;
  ControlRequest request = std::move(it->second);
  controls_.erase(it);
  return request;
}

void Server::control_done(UnsubscribeDone& d) {
  auto taken = take_control(d.control);
  if (!taken) return;
  ControlRequest& request = *taken;
  if (!d.status.ok()) return answer(request, d.status);
  // Its holder, if any, is told and its session ends: it may connect and
  // subscribe again, which makes a new, empty subscription.
  bool was_held = false;
  if (const std::string peer = dispatcher_.holder(d.sub); !peer.empty()) {
    if (auto s = sessions_.find(peer); s != sessions_.end()) {
      was_held = true;
      end_session(s->second, Status(E::CLOSED_BY_OPERATOR, "the broker's operator removed subscription \"" +
                                                               request.name + "\" held by this session"));
    }
  }
  dispatcher_.forget(d.sub);
  if (local_filters_.erase(d.sub)) interest_changed_ = true;
  answer(request, Status::Ok(),
         {{"owner", request.owner}, {"subscription", request.name}, {"removed", true}, {"session_closed", was_held}});
}

void Server::on_done(PurgeDone& d) {
  auto taken = take_control(d.control);
  if (!taken) return;
  ControlRequest& request = *taken;
  if (!d.status.ok()) return answer(request, d.status);
  dispatcher_.purged(d.purged.sub);
  answer(request, Status::Ok(),
         {{"owner", request.owner}, {"subscription", request.name}, {"entries_purged", d.purged.entries}});
}

nlohmann::json Server::spread(const std::string& event_id, Status* status) {
  auto txn = store::Txn::read(store_.env());
  if (!txn) return *status = txn.status(), nlohmann::json();
  auto seq = store_.seq_of_id(*txn, event_id);
  if (!seq) return *status = seq.status(), nlohmann::json();
  if (!seq->has_value()) {
    *status = Status(E::NOT_FOUND, "no event " + to_hex(event_id) + " in this broker's log (never accepted here, "
                                   "or removed by retention)");
    return {};
  }
  auto record = store_.read_event(*txn, **seq);
  if (!record) return *status = record.status(), nlohmann::json();
  if (!record->has_value()) {
    *status = Status(E::NOT_FOUND, "event " + to_hex(event_id) + " was removed by retention");
    return {};
  }
  const StoredEvent& ev = **record;
  auto entries = store_.read_spread(*txn, **seq, ev);
  if (!entries) return *status = entries.status(), nlohmann::json();
  nlohmann::json out;
  // The monitoring port answers anyone who reaches it: an embargoed item's
  // headline is not told before its time, nor a restricted topic's at all.
  const bool embargoed = ev.embargo_until_ms() > unix_now_ms();
  const bool restricted = !restrictions_.may_read("", {}, ev.topic());
  const std::string headline = embargoed ? "(embargoed)" : restricted ? "(restricted)" : headline_of(ev);
  out["event"] = {{"id", to_hex(event_id)},   {"broker_seq", **seq},         {"origin", ev.origin()},
                  {"topic", ev.topic()},       {"headline", headline},
                  {"urgency", ev.urgency()},
                  {"accepted_ms", ev.accepted_ms()}, {"embargo_until_ms", ev.embargo_until_ms()}};
  uint64_t acked = 0, in_flight = 0, waiting = 0, queued = 0, not_queued = 0;
  nlohmann::json deliveries = nlohmann::json::array();
  nlohmann::json links = nlohmann::json::array();  // the linked brokers it was owed to (also in deliveries)
  using State = Store::SpreadEntry::State;
  for (const auto& e : *entries) {
    nlohmann::json d = {{"owner", e.owner}, {"subscription", e.name}, {"connected", !dispatcher_.holder(e.sub).empty()}};
    switch (e.state) {
      case State::kAcked:
        d["state"] = "acked";
        d["acked_ms"] = e.acked_ms;
        ++acked;
        break;
      case State::kNotQueued:
        d["state"] = "not_queued";  // its queue was full
        ++not_queued;
        break;
      case State::kQueued: {
        const auto ds = dispatcher_.delivery_state(e.sub, **seq);
        d["state"] = ds.in_flight ? "in_flight" : ds.waiting ? "redelivery_due" : "queued";
        d["attempts"] = ds.attempts;
        (ds.in_flight ? in_flight : ds.waiting ? waiting : queued)++;
        break;
      }
    }
    if (is_link_subscription(e.name)) {
      // What this broker owed a linked broker: its state there is the link's.
      nlohmann::json l = d;
      l["peer"] = e.owner;
      for (const auto& [peer, s] : sessions_) {
        if (s.link && s.link->sub == e.sub) l["link"] = s.link->name;
      }
      links.push_back(std::move(l));
    }
    deliveries.push_back(std::move(d));
  }
  out["summary"] = {{"subscriptions", entries->size()},
                    {"acked", acked},
                    {"in_flight", in_flight},
                    {"redelivery_due", waiting},
                    {"queued", queued},
                    {"not_queued", not_queued}};
  out["deliveries"] = std::move(deliveries);
  out["links"] = std::move(links);
  *status = Status::Ok();
  return out;
}

}  // namespace lantoa::broker
