#include "lantoa/subscriber.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <map>
#include <unordered_map>

#include "client_link.h"
#include "lantoa/encoding.h"
#include "lantoa/names.h"
#include "lantoa/internal/store.h"

namespace lantoa {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using E = v1::Error;

}  // namespace

struct Subscriber::Impl {
  MemberKey key;
  v1::CertificateChain chain;
  TrustStore trust;
  SubscriberOptions o;
  SubscriberStats stats;
  std::optional<store::Env> inbox;
  store::Dbi seen_db;    // event id -> be64 broker seq + origin
  store::Dbi trust_db;   // issuer key id + be64 number -> SignedRevocationList
  store::Dbi graves_db;  // retracted event id -> origin of the retraction
  // Without an inbox (and in front of it): bounded memory of ids seen and
  // tombstones, oldest forgotten first.
  std::unordered_map<std::string, std::string> seen_mem, graves_mem;
  std::deque<std::string> seen_order, graves_order;
  internal::ClientLink link;
  uint64_t next_request = 1;
  uint64_t pending_at_open = 0;
  uint64_t trust_pending = 0;
  std::deque<v1::Deliver> backlog;  // received, not handled yet (all from the current connection)
  // Acks waiting to go, by subscription: sent together, once per pass.
  std::map<std::string, std::vector<uint64_t>> acks;
  // Failover (docs/high-availability.md): the broker of the last session and
  // when the last event it delivered was accepted there.
  size_t last_broker = 0;
  int64_t last_accepted_ms = 0;

  Impl(MemberKey k, v1::CertificateChain c, RootKey root, SubscriberOptions opts)
      : key(std::move(k)),
        chain(std::move(c)),
        trust(std::move(root)),
        o(std::move(opts)),
        link(key, chain,
             {o.broker, o.connect_timeout, milliseconds(100), milliseconds(5000), o.agent, {}, o.failover},
             [this](Connection& conn) { return subscribe_all(conn); }) {}

  std::string trust_name() const { return o.name + "-trust"; }
  // On every new connection: the trust subscription (drained), then the news.
  Status subscribe_all(Connection& conn);
  Status restore_trust();
  Status drain_trust(Connection& conn, uint64_t pending);
  void keep_list(const v1::SignedRevocationList& list);
  // The origin recorded for an event id (seen, or tombstone), if any.
  std::optional<std::string> lookup(store::Dbi db, std::unordered_map<std::string, std::string>& mem,
                                    const std::string& id, bool has_seq);
  Status record(store::Dbi db, std::unordered_map<std::string, std::string>& mem, std::deque<std::string>& order,
                const std::string& id, const std::string& value_prefix, const std::string& origin);
  Result<v1::BrokerFrame> await(Connection& conn, uint64_t request);
  void take(v1::BrokerFrame& f);
  Status handle(Connection& conn, const v1::Deliver& d, const Handler& handler, size_t& handled);
  void ack(const v1::Deliver& d) { acks[d.subscription()].push_back(d.delivery_id()); }
  void nack(Connection& conn, const v1::Deliver& d, const std::string& why);
  void send_acks(Connection& conn);
};

void Subscriber::Impl::take(v1::BrokerFrame& f) {
  if (f.has_deliver()) backlog.push_back(std::move(*f.mutable_deliver()));
  if (f.has_deliveries()) {
    for (auto& d : *f.mutable_deliveries()->mutable_items()) backlog.push_back(std::move(d));
  }
}

Result<v1::BrokerFrame> Subscriber::Impl::await(Connection& conn, uint64_t request) {
  const auto until = Clock::now() + o.connect_timeout;
  while (Clock::now() < until) {
    auto frame = conn.receive(std::chrono::duration_cast<milliseconds>(until - Clock::now()));
    if (!frame) return frame.status();
    if (!frame->has_value()) continue;
    v1::BrokerFrame& f = **frame;
    if (f.has_subscribed() && f.subscribed().request_id() == request) return f;
    if (f.has_unsubscribed() && f.unsubscribed().request_id() == request) return f;
    if (f.has_error() && (f.error().request_id() == request || f.error().fatal())) {
      return Status::from_proto(f.error().error());
    }
    take(f);  // deliveries that came first
  }
  return Status(E::TIMEOUT, "no answer from the broker at " + link.broker().endpoint + " within " +
                                std::to_string(o.connect_timeout.count()) + " ms");
}

Status Subscriber::Impl::subscribe_all(Connection& conn) {
  // What came over an earlier connection is void there: the broker offers
  // every unacked delivery again.
  backlog.clear();
  acks.clear();
  auto subscribe = [&](const std::string& name, const std::vector<std::string>& filters,
                       const v1::StartPosition& start) -> Status {
    v1::ClientFrame f;
    auto* s = f.mutable_subscribe();
    const uint64_t request = next_request++;
    s->set_request_id(request);
    s->set_name(name);
    for (const auto& x : filters) s->add_filters(x);
    *s->mutable_start() = start;
    s->set_credit(o.credit);
    s->set_ack_timeout_ms(o.ack_timeout_ms);
    LANTOA_RETURN_IF_ERROR(conn.send(f));
    auto answer = await(conn, request);
    if (answer.ok() && name == o.name) pending_at_open = answer->subscribed().pending();
    if (answer.ok() && name == trust_name()) trust_pending = answer->subscribed().pending();
    return answer.status();
  };
  if (o.follow_revocations) {
    v1::StartPosition from_start;
    from_start.set_earliest(true);
    LANTOA_RETURN_IF_ERROR(subscribe(trust_name(), {std::string(kRevocationTopic)}, from_start));
    // Revocations first: what waits on the trust topic is applied before the
    // news subscription is even opened, so no event is judged by a stale
    // view of who is revoked (a portal back after days offline).
    LANTOA_RETURN_IF_ERROR(drain_trust(conn, trust_pending));
  }
  // On a mirror it was not on before, a subscription made there starts a
  // while before the last event seen (mirrors accept an event later than
  // the broker it came from; clocks differ a little): what is seen again is
  // handed over once (remove_duplicates, the inbox).
  v1::StartPosition start = o.start;
  if (link.broker_index() != last_broker && last_accepted_ms > 0) {
    start.set_from_time_ms(std::max<int64_t>(0, last_accepted_ms - 10 * 60 * 1000));
  }
  last_broker = link.broker_index();
  LANTOA_RETURN_IF_ERROR(subscribe(o.name, o.filters, start));
  return Status::Ok();
}

Status Subscriber::Impl::drain_trust(Connection& conn, uint64_t pending) {
  size_t none = 0;
  const Handler ignore = [](const ReceivedEvent&) { return Status::Ok(); };
  uint64_t done = 0;
  std::deque<v1::Deliver> news;  // for the news subscription: kept for poll()
  auto handle_waiting = [&]() -> Status {
    while (!backlog.empty()) {
      v1::Deliver d = std::move(backlog.front());
      backlog.pop_front();
      if (d.subscription() != trust_name()) {
        news.push_back(std::move(d));
        continue;
      }
      ++done;
      LANTOA_RETURN_IF_ERROR(handle(conn, d, ignore, none));
    }
    send_acks(conn);
    return Status::Ok();
  };
  LANTOA_RETURN_IF_ERROR(handle_waiting());
  const auto until = Clock::now() + o.connect_timeout;
  while (done < pending && Clock::now() < until) {
    auto frame = conn.receive(std::chrono::duration_cast<milliseconds>(until - Clock::now()));
    if (!frame) return frame.status();
    if (!frame->has_value()) continue;
    v1::BrokerFrame& f = **frame;
    if (f.has_error() && f.error().fatal()) return Status::from_proto(f.error().error());
    take(f);
    LANTOA_RETURN_IF_ERROR(handle_waiting());
  }
  backlog = std::move(news);
  if (done < pending) return Status(E::TIMEOUT, "the revocations waiting on the bus did not all arrive");
  return Status::Ok();
}

Status Subscriber::Impl::restore_trust() {
  auto txn = store::Txn::begin(*inbox, store::Access::kRead);
  if (!txn) return txn.status();
  auto cursor = store::Cursor::open(*txn, trust_db);
  if (!cursor) return cursor.status();
  std::vector<std::pair<int64_t, v1::SignedRevocationList>> lists;
  for (auto e = cursor->first();; e = cursor->next()) {
    if (!e) return e.status();
    if (!e->has_value()) break;
    v1::SignedRevocationList list;
    if (!list.ParseFromArray((*e)->second.data(), static_cast<int>((*e)->second.size()))) continue;
    auto decoded = decode_revocation_list(list);
    if (decoded) lists.emplace_back(decoded->issued_ms(), std::move(list));
  }
  std::sort(lists.begin(), lists.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  // Each list was verified when it arrived; it is judged again at the time
  // it was issued, so a list stays in force after its issuer is revoked.
  for (const auto& [issued, list] : lists) (void)trust.add_revocation_list(list, issued);
  return Status::Ok();
}

void Subscriber::Impl::keep_list(const v1::SignedRevocationList& list) {
  if (!inbox) return;
  auto decoded = decode_revocation_list(list);
  if (!decoded) return;
  auto txn = store::Txn::begin(*inbox, store::Access::kWrite);
  if (!txn) return;
  if (txn->put(trust_db, decoded->issuer_key_id() + store::be64(decoded->number()), list.SerializeAsString()).ok()) {
    (void)txn->commit();
  }
}

std::optional<std::string> Subscriber::Impl::lookup(store::Dbi db, std::unordered_map<std::string, std::string>& mem,
                                                    const std::string& id, bool has_seq) {
  if (auto it = mem.find(id); it != mem.end()) return it->second;
  if (!inbox) return std::nullopt;
  auto txn = store::Txn::begin(*inbox, store::Access::kRead);
  if (!txn) return std::nullopt;
  auto v = txn->get(db, id);
  if (!v || !v->has_value()) return std::nullopt;
  std::string_view value = **v;
  return std::string(has_seq && value.size() >= 8 ? value.substr(8) : value);
}

Status Subscriber::Impl::record(store::Dbi db, std::unordered_map<std::string, std::string>& mem,
                                std::deque<std::string>& order, const std::string& id, const std::string& value_prefix,
                                const std::string& origin) {
  if (inbox) {
    auto txn = store::Txn::begin(*inbox, store::Access::kWrite);
    if (!txn) return txn.status();
    LANTOA_RETURN_IF_ERROR(txn->put(db, id, value_prefix + origin));
    LANTOA_RETURN_IF_ERROR(txn->commit());
  }
  if (mem.emplace(id, origin).second) {
    order.push_back(id);
    while (order.size() > std::max<size_t>(1, o.remembered_ids)) {
      mem.erase(order.front());
      order.pop_front();
    }
  }
  return Status::Ok();
}

void Subscriber::Impl::nack(Connection& conn, const v1::Deliver& d, const std::string& why) {
  v1::ClientFrame f;
  f.mutable_nack()->set_subscription(d.subscription());
  f.mutable_nack()->add_delivery_ids(d.delivery_id());
  f.mutable_nack()->set_reason(why.substr(0, 256));
  (void)conn.send(f);
}

void Subscriber::Impl::send_acks(Connection& conn) {
  for (auto& [subscription, ids] : acks) {
    if (ids.empty()) continue;
    v1::ClientFrame f;
    f.mutable_ack()->set_subscription(subscription);
    for (uint64_t id : ids) f.mutable_ack()->add_delivery_ids(id);
    // A lost ack costs a redelivery, which the duplicate check absorbs.
    (void)conn.send(f);
    ids.clear();
  }
}

std::string ReceivedEvent::provenance() const {
  if (!original) return {};
  return "endorsed by " + verified.event.origin() + ", written by " + original->event.origin();
}

Status Subscriber::Impl::handle(Connection& conn, const v1::Deliver& d, const Handler& handler, size_t& handled) {
  ReceivedEvent r;
  r.envelope = d.event();
  r.broker_seq = d.broker_seq();
  r.attempt = d.attempt();
  r.subscription = d.subscription();
  auto refuse = [&](const Status& why) {
    ++stats.rejected;
    if (o.on_rejected) o.on_rejected(why, RejectedDelivery{d.subscription(), d.broker_seq(), d.attempt(), d.event()});
    ack(d);  // a redelivery cannot repair it
    return Status::Ok();
  };
  if (o.verify) {
    auto v = trust.verify_event(d.event(), EventLimits{}, EventTimes{d.accepted_ms()});
    if (!v) return refuse(v.status());
    r.verified = std::move(*v);
  } else {
    auto decoded = decode_event(d.event());
    if (!decoded) return refuse(decoded.status());
    r.verified.id = std::move(decoded->id);
    r.verified.event = std::move(decoded->event);
  }
  if (r.verified.event.kind() == v1::ENDORSEMENT) {
    // The carried original (verified above with the endorsement when
    // verifying): who wrote what the endorser vouches for.
    auto carried = parse_signed_event(r.verified.event.carried_event());
    if (!carried) return refuse(carried.status());
    auto original = o.verify ? trust.verify_event(*carried) : [&]() -> Result<VerifiedEvent> {
      auto dec = decode_event(*carried);
      if (!dec) return dec.status();
      return VerifiedEvent{std::move(dec->id), std::move(dec->event), {}};
    }();
    if (!original) return refuse(original.status());
    r.original = std::move(*original);
  }
  if (d.subscription() == trust_name()) {
    auto applied = trust.apply_revocation_event(r.verified, unix_now_ms());
    if (applied) {
      ++stats.revocations;
      keep_list(*applied);
    } else if (applied.status().code() != E::REVOCATION_LIST_STALE && o.on_rejected) {
      // (A stale list is one this subscriber already holds.)
      o.on_rejected(applied.status(), RejectedDelivery{d.subscription(), d.broker_seq(), d.attempt(), d.event()});
    }
    ack(d);
    return Status::Ok();
  }
  last_accepted_ms = std::max(last_accepted_ms, d.accepted_ms());
  const v1::Event& e = r.verified.event;
  const int64_t now = unix_now_ms();
  if (e.embargo_until_ms() > now) {
    // Released early (a broker's clock, or a broker that does not keep
    // embargoes): not shown before its time; the broker offers it again.
    ++stats.held;
    nack(conn, d, "embargoed until " + format_time_ms(e.embargo_until_ms()));
    return Status::Ok();
  }
  if (e.expires_ms() != 0 && e.expires_ms() <= now) {
    ++stats.expired;
    ack(d);
    return Status::Ok();
  }
  const std::string& id = r.verified.id;
  if ((o.remove_duplicates || inbox) && lookup(seen_db, seen_mem, id, true)) {
    ++stats.duplicates;
    ack(d);
    return Status::Ok();
  }
  if (e.kind() == v1::CORRECTION || e.kind() == v1::RETRACTION) {
    auto original = lookup(seen_db, seen_mem, e.refers_to(), true);
    if (original && *original != e.origin()) {
      return refuse(Status(E::REFERENCE_NOT_ALLOWED, e.origin() + " may not correct or retract an item of " +
                                                         *original + ": only the origin of an item may"));
    }
  }
  if (auto grave = lookup(graves_db, graves_mem, id, false); grave && *grave == e.origin()) {
    ++stats.withdrawn;  // its origin retracted it before it reached us
    LANTOA_RETURN_IF_ERROR(record(seen_db, seen_mem, seen_order, id, store::be64(d.broker_seq()), e.origin()));
    ack(d);
    return Status::Ok();
  }
  Status outcome;
  try {
    outcome = handler(r);
  } catch (const std::exception& ex) {
    outcome = Status(E::INTERNAL, std::string("the handler threw: ") + ex.what());
  } catch (...) {
    outcome = Status(E::INTERNAL, "the handler threw");
  }
  if (!outcome.ok()) {
    ++stats.failed;
    nack(conn, d, outcome.message());
    return Status::Ok();
  }
  LANTOA_RETURN_IF_ERROR(record(seen_db, seen_mem, seen_order, id, store::be64(d.broker_seq()), e.origin()));
  if (e.kind() == v1::RETRACTION && !lookup(seen_db, seen_mem, e.refers_to(), true)) {
    LANTOA_RETURN_IF_ERROR(record(graves_db, graves_mem, graves_order, e.refers_to(), "", e.origin()));
  }
  ++stats.handled;
  ++handled;
  ack(d);
  return Status::Ok();
}

// --- Subscriber ---

Subscriber::Subscriber(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Subscriber::~Subscriber() {
  // Tell the broker we are leaving, so what is in flight to us returns to the
  // queue at once rather than after a heartbeat timeout. Best effort.
  Impl& m = *impl_;
  Connection* conn = m.link.connection();
  if (!conn) return;
  m.send_acks(*conn);
  for (const std::string& name : {m.o.name, m.trust_name()}) {
    v1::ClientFrame f;
    f.mutable_unsubscribe()->set_request_id(m.next_request++);
    f.mutable_unsubscribe()->set_name(name);
    (void)conn->send(f);
  }
}

Result<std::unique_ptr<Subscriber>> Subscriber::open(MemberKey key, v1::CertificateChain chain, RootKey root,
                                                     SubscriberOptions options) {
  if (options.name.empty() || options.name.size() > 58) {
    return Status(E::INVALID_ARGUMENT, "subscription name must have 1..58 characters");
  }
  auto impl = std::make_unique<Impl>(std::move(key), std::move(chain), std::move(root), std::move(options));
  if (!impl->o.inbox.empty()) {
    auto env = store::Env::open(impl->o.inbox);
    if (!env) return env.status();
    impl->inbox.emplace(std::move(*env));
    auto db = impl->inbox->open_db("seen");
    if (!db) return db.status();
    impl->seen_db = *db;
    auto trust_db = impl->inbox->open_db("trust");
    if (!trust_db) return trust_db.status();
    impl->trust_db = *trust_db;
    auto graves = impl->inbox->open_db("graves");
    if (!graves) return graves.status();
    impl->graves_db = *graves;
    LANTOA_RETURN_IF_ERROR(impl->restore_trust());
  }
  LANTOA_RETURN_IF_ERROR(impl->link.connect(impl->o.connect_timeout));
  return std::unique_ptr<Subscriber>(new Subscriber(std::move(impl)));
}

uint64_t Subscriber::pending_at_open() const { return impl_->pending_at_open; }

Status Subscriber::remove() {
  Impl& m = *impl_;
  Connection* conn = m.link.connection();
  if (!conn) return Status(E::UNAVAILABLE, "not connected: " + m.link.down_reason());
  m.send_acks(*conn);
  v1::ClientFrame f;
  const uint64_t request = m.next_request++;
  f.mutable_unsubscribe()->set_request_id(request);
  f.mutable_unsubscribe()->set_name(m.o.name);
  f.mutable_unsubscribe()->set_remove(true);
  LANTOA_RETURN_IF_ERROR(conn->send(f));
  return m.await(*conn, request).status();
}

TrustStore& Subscriber::trust() { return impl_->trust; }
const SubscriberStats& Subscriber::stats() const { return impl_->stats; }
bool Subscriber::connected() const { return impl_->link.connected(); }
std::string Subscriber::down_reason() const { return impl_->link.down_reason(); }

Result<size_t> Subscriber::poll(const Handler& handler, std::chrono::milliseconds timeout, size_t max_events) {
  Impl& m = *impl_;
  size_t handled = 0;
  const auto until = Clock::now() + timeout;
  while (handled < max_events) {
    if (Connection* conn = m.link.connection()) {
      while (!m.backlog.empty() && handled < max_events) {
        v1::Deliver d = std::move(m.backlog.front());
        m.backlog.pop_front();
        LANTOA_RETURN_IF_ERROR(m.handle(*conn, d, handler, handled));
      }
      m.send_acks(*conn);  // before waiting: the broker's credit returns
    }
    if (handled >= max_events) break;
    auto frame = m.link.next(until);
    m.stats.reconnects = m.link.reconnects();
    if (!frame) {
      if (Clock::now() >= until) break;
      continue;
    }
    if (frame->has_error()) continue;  // the link has dropped a session the broker ended
    m.take(*frame);
  }
  return handled;
}

}  // namespace lantoa
