#include "lantoa/subscriber.h"

#include <optional>
#include <thread>

#include "lantoa/names.h"
#include "lantoa/store.h"

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
  store::Dbi seen_db;
  std::optional<Connection> conn;
  uint64_t next_request = 1;
  Clock::time_point last_heard{};
  Clock::time_point next_connect{};
  milliseconds backoff{100};
  uint64_t pending_at_open = 0;

  Impl(MemberKey k, v1::CertificateChain c, RootKey root, SubscriberOptions opts)
      : key(std::move(k)), chain(std::move(c)), trust(std::move(root)), o(std::move(opts)) {}

  std::string trust_name() const { return o.name + "-trust"; }
  Status connect_and_subscribe();
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
    return answer.status();
  };
  if (o.follow_revocations) {
    v1::StartPosition from_start;
    from_start.set_earliest(true);
    LANTOA_RETURN_IF_ERROR(subscribe(trust_name(), {std::string(kRevocationTopic)}, from_start));
  }
  LANTOA_RETURN_IF_ERROR(subscribe(o.name, o.filters, o.start));
  last_heard = Clock::now();
  backoff = milliseconds(100);
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
  if (o.verify) {
    auto v = trust.verify_event(d.event());
    if (!v) {
      ++stats.rejected;
      if (o.on_rejected) o.on_rejected(v.status(), d);
      ack(d);  // a redelivery cannot repair it
      return Status::Ok();
    }
    r.verified = std::move(*v);
  } else {
    auto decoded = decode_event(d.event());
    if (!decoded) {
      ++stats.rejected;
      if (o.on_rejected) o.on_rejected(decoded.status(), d);
      ack(d);
      return Status::Ok();
    }
    r.verified.id = std::move(decoded->id);
    r.verified.event = std::move(decoded->event);
  }
  if (d.subscription() == trust_name()) {
    auto applied = trust.apply_revocation_event(r.verified, unix_now_ms());
    if (applied) ++stats.revocations;
    else if (o.on_rejected) o.on_rejected(applied.status(), d);
    ack(d);
    return Status::Ok();
  }
  if (inbox) {
    auto txn = store::Txn::begin(*inbox, store::Access::kRead);
    if (!txn) return txn.status();
    auto seen = txn->get(seen_db, r.verified.id);
    if (!seen) return seen.status();
    if (seen->has_value()) {
      ++stats.duplicates;
      ack(d);
      return Status::Ok();
    }
  }
  try {
    handler(r);
  } catch (const std::exception& e) {
    ++stats.failed;
    nack(d, e.what());
    return Status::Ok();
  } catch (...) {
    ++stats.failed;
    nack(d, "handler threw");
    return Status::Ok();
  }
  if (inbox) {
    auto txn = store::Txn::begin(*inbox, store::Access::kWrite);
    if (!txn) return txn.status();
    LANTOA_RETURN_IF_ERROR(txn->put(seen_db, r.verified.id, store::be64(d.broker_seq())));
    LANTOA_RETURN_IF_ERROR(txn->commit());
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
