#include "lantoa/subscriber.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <thread>
#include <unordered_map>

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
  std::optional<Connection> conn;
  uint64_t next_request = 1;
  Clock::time_point last_heard{};
  Clock::time_point next_connect{};
  milliseconds backoff{100};
  uint64_t pending_at_open = 0;
  uint64_t trust_pending = 0;

  Impl(MemberKey k, v1::CertificateChain c, RootKey root, SubscriberOptions opts)
      : key(std::move(k)), chain(std::move(c)), trust(std::move(root)), o(std::move(opts)) {}

  std::string trust_name() const { return o.name + "-trust"; }
  Status connect_and_subscribe();
  Status restore_trust();
  Status drain_trust(uint64_t pending);
  void keep_list(const v1::SignedRevocationList& list);
  // The origin recorded for an event id (seen, or tombstone), if any.
  std::optional<std::string> lookup(store::Dbi db, std::unordered_map<std::string, std::string>& mem,
                                    const std::string& id, bool has_seq);
  Status record(store::Dbi db, std::unordered_map<std::string, std::string>& mem, std::deque<std::string>& order,
                const std::string& id, const std::string& value_prefix, const std::string& origin);
  Result<v1::BrokerFrame> await(uint64_t request, std::vector<v1::Deliver>& early);
  Status handle(const v1::Deliver& d, const Handler& handler, size_t& handled);
  void ack(const v1::Deliver& d);
  void nack(const v1::Deliver& d, const std::string& why);
  std::vector<v1::Deliver> backlog;  // deliveries that arrived while waiting for an answer
};

Result<v1::BrokerFrame> Subscriber::Impl::await(uint64_t request, std::vector<v1::Deliver>& early) {
  const auto until = Clock::now() + o.connect_timeout;
  while (Clock::now() < until) {
    auto frame = conn->receive(milliseconds(50));
    if (!frame) return frame.status();
    if (!frame->has_value()) continue;
    v1::BrokerFrame& f = **frame;
    if (f.has_deliveries()) {
      for (auto& d : *f.mutable_deliveries()->mutable_items()) early.push_back(std::move(d));
      continue;
    }
    if (f.has_subscribed() && f.subscribed().request_id() == request) return f;
    if (f.has_error() && (f.error().request_id() == request || f.error().fatal())) {
      return Status::from_proto(f.error().error());
    }
  }
  return Status(E::TIMEOUT, "no answer to Subscribe from " + o.broker.endpoint);
}

Status Subscriber::Impl::connect_and_subscribe() {
  ConnectOptions co;
  co.timeout = o.connect_timeout;
  co.agent = o.agent;
  auto c = Connection::open(o.broker, key, chain, co);
  if (!c) return c.status();
  conn.emplace(std::move(*c));
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
    LANTOA_RETURN_IF_ERROR(conn->send(f));
    auto answer = await(request, backlog);
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
    LANTOA_RETURN_IF_ERROR(drain_trust(trust_pending));
  }
  LANTOA_RETURN_IF_ERROR(subscribe(o.name, o.filters, o.start));
  last_heard = Clock::now();
  backoff = milliseconds(100);
  return Status::Ok();
}

Status Subscriber::Impl::drain_trust(uint64_t pending) {
  size_t none = 0;
  const Handler ignore = [](const ReceivedEvent&) {};
  uint64_t done = 0;
  auto take = [&](const v1::Deliver& d) -> Status {
    if (d.subscription() != trust_name()) {
      backlog.push_back(d);
      return Status::Ok();
    }
    ++done;
    return handle(d, ignore, none);
  };
  std::vector<v1::Deliver> early;
  early.swap(backlog);
  for (const auto& d : early) LANTOA_RETURN_IF_ERROR(take(d));
  const auto until = Clock::now() + o.connect_timeout;
  while (done < pending && Clock::now() < until) {
    auto frame = conn->receive(milliseconds(50));
    if (!frame) return frame.status();
    if (!frame->has_value()) continue;
    v1::BrokerFrame& f = **frame;
    if (f.has_error() && f.error().fatal()) return Status::from_proto(f.error().error());
    if (f.has_deliver()) LANTOA_RETURN_IF_ERROR(take(f.deliver()));
    if (f.has_deliveries()) {
      for (const auto& d : f.deliveries().items()) LANTOA_RETURN_IF_ERROR(take(d));
    }
  }
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

void Subscriber::Impl::ack(const v1::Deliver& d) {
  v1::ClientFrame f;
  f.mutable_ack()->set_subscription(d.subscription());
  f.mutable_ack()->add_delivery_ids(d.delivery_id());
  (void)conn->send(f);
}

void Subscriber::Impl::nack(const v1::Deliver& d, const std::string& why) {
  v1::ClientFrame f;
  f.mutable_nack()->set_subscription(d.subscription());
  f.mutable_nack()->add_delivery_ids(d.delivery_id());
  f.mutable_nack()->set_reason(why.substr(0, 256));
  (void)conn->send(f);
}

Status Subscriber::Impl::handle(const v1::Deliver& d, const Handler& handler, size_t& handled) {
  ReceivedEvent r;
  r.envelope = d.event();
  r.broker_seq = d.broker_seq();
  r.attempt = d.attempt();
  r.subscription = d.subscription();
  auto refuse = [&](const Status& why) {
    ++stats.rejected;
    if (o.on_rejected) o.on_rejected(why, d);
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
  if (d.subscription() == trust_name()) {
    auto applied = trust.apply_revocation_event(r.verified, unix_now_ms());
    if (applied) {
      ++stats.revocations;
      keep_list(*applied);
    } else if (applied.status().code() != E::REVOCATION_LIST_STALE && o.on_rejected) {
      o.on_rejected(applied.status(), d);  // a stale list is one this subscriber already holds
    }
    ack(d);
    return Status::Ok();
  }
  const v1::Event& e = r.verified.event;
  const int64_t now = unix_now_ms();
  if (e.embargo_until_ms() > now) {
    // Released early (a broker's clock, or a broker that does not keep
    // embargoes): not shown before its time; the broker offers it again.
    ++stats.held;
    nack(d, "embargoed until " + format_time_ms(e.embargo_until_ms()));
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
  try {
    handler(r);
  } catch (const std::exception& ex) {
    ++stats.failed;
    nack(d, ex.what());
    return Status::Ok();
  } catch (...) {
    ++stats.failed;
    nack(d, "handler threw");
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
  if (!m.conn) return;
  for (const std::string& name : {m.o.name, m.trust_name()}) {
    v1::ClientFrame f;
    f.mutable_unsubscribe()->set_request_id(m.next_request++);
    f.mutable_unsubscribe()->set_name(name);
    (void)m.conn->send(f);
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
  LANTOA_RETURN_IF_ERROR(impl->connect_and_subscribe());
  return std::unique_ptr<Subscriber>(new Subscriber(std::move(impl)));
}

uint64_t Subscriber::pending_at_open() const { return impl_->pending_at_open; }

Status Subscriber::remove() {
  Impl& m = *impl_;
  if (!m.conn) return Status(E::UNAVAILABLE, "not connected");
  v1::ClientFrame f;
  const uint64_t request = m.next_request++;
  f.mutable_unsubscribe()->set_request_id(request);
  f.mutable_unsubscribe()->set_name(m.o.name);
  f.mutable_unsubscribe()->set_remove(true);
  LANTOA_RETURN_IF_ERROR(m.conn->send(f));
  const auto until = Clock::now() + m.o.connect_timeout;
  while (Clock::now() < until) {
    auto frame = m.conn->receive(milliseconds(50));
    if (!frame) return frame.status();
    if (!frame->has_value()) continue;
    if ((*frame)->has_unsubscribed() && (*frame)->unsubscribed().request_id() == request) return Status::Ok();
    if ((*frame)->has_error() && (*frame)->error().request_id() == request) {
      return Status::from_proto((*frame)->error().error());
    }
  }
  return Status(E::TIMEOUT, "no answer to Unsubscribe");
}

TrustStore& Subscriber::trust() { return impl_->trust; }
const SubscriberStats& Subscriber::stats() const { return impl_->stats; }

Result<size_t> Subscriber::poll(const Handler& handler, std::chrono::milliseconds timeout, size_t max_events) {
  Impl& m = *impl_;
  size_t handled = 0;
  const auto until = Clock::now() + timeout;
  while (handled < max_events) {
    if (!m.conn) {
      if (Clock::now() >= m.next_connect) {
        if (m.connect_and_subscribe().ok()) {
          ++m.stats.reconnects;
        } else {
          m.conn.reset();
          m.next_connect = Clock::now() + m.backoff;
          m.backoff = std::min(milliseconds(5000), m.backoff * 2);
        }
      }
      if (!m.conn) {
        if (Clock::now() >= until) break;
        std::this_thread::sleep_for(milliseconds(20));
        continue;
      }
    }
    while (!m.backlog.empty() && handled < max_events) {
      v1::Deliver d = std::move(m.backlog.front());
      m.backlog.erase(m.backlog.begin());
      LANTOA_RETURN_IF_ERROR(m.handle(d, handler, handled));
    }
    if (handled >= max_events) break;
    const auto now = Clock::now();
    if (now >= until) break;
    auto frame = m.conn->receive(std::min(std::chrono::duration_cast<milliseconds>(until - now), milliseconds(50)));
    if (!frame) {
      m.conn.reset();
      continue;
    }
    const auto heartbeat = milliseconds(std::max<uint32_t>(m.conn->welcome().heartbeat_ms(), 100));
    if (!frame->has_value()) {
      if (Clock::now() - m.last_heard > 3 * heartbeat) m.conn.reset();  // the broker went silent
      continue;
    }
    m.last_heard = Clock::now();
    v1::BrokerFrame& f = **frame;
    if (f.has_error()) {
      if (f.error().error().code() == E::HELLO_REQUIRED || f.error().fatal()) m.conn.reset();  // reconnect
      continue;
    }
    if (f.has_deliver()) m.backlog.push_back(f.deliver());
    if (f.has_deliveries()) {
      for (auto& d : *f.mutable_deliveries()->mutable_items()) m.backlog.push_back(std::move(d));
    }
  }
  return handled;
}

}  // namespace lantoa
