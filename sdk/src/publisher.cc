#include "lantoa/publisher.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "client_link.h"
#include "lantoa/encoding.h"
#include "lantoa/internal/store.h"

namespace lantoa {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using E = v1::Error;

struct Pending {
  uint64_t sequence = 0;
  std::string id;
  v1::SignedEvent envelope;
  std::optional<std::promise<PublishOutcome>> promise;  // none for events restored from the outbox
  Clock::time_point not_before{};                       // refused for a passing reason: not before then
  uint32_t passing_refusals = 0;                        // in a row: the back-off grows with them
  bool in_flight = false;
  int64_t queued_ms = 0;  // when it was queued (restored from the outbox: its created_ms)
};


}  // namespace

struct Publisher::Impl {
  MemberKey key;
  v1::CertificateChain chain;
  PublisherOptions o;

  std::optional<store::Env> outbox;
  store::Dbi outbox_db, meta_db, rejected_db, keys_db;
  int64_t keys_pruned_ms = 0;  // when old idempotency keys were last removed

  mutable std::mutex mu;
  std::condition_variable idle;  // signalled when `pending` empties
  std::map<uint64_t, Pending> pending;
  uint64_t last_seq = 0;
  bool heard_broker = false;  // a Welcome has told where the member's sequence stands
  PublisherStats counts;      // its counters (sent, accepted, ...) since start
  std::atomic<bool> stop{false};
  std::thread thread;

  // Used by the thread (and by start() before the thread exists):
  internal::ClientLink link;
  uint64_t next_request = 1;
  std::map<uint64_t, std::pair<Clock::time_point, std::vector<uint64_t>>> in_flight;  // request -> sent, sequences

  Impl(MemberKey k, v1::CertificateChain c, PublisherOptions opts)
      : key(std::move(k)),
        chain(std::move(c)),
        o(std::move(opts)),
        link(key, chain,
             {o.broker, o.connect_timeout, o.min_backoff, o.max_backoff, o.agent, o.on_connection, o.failover},
             [this](Connection& conn) { return on_connect(conn); }) {}

  Status open_outbox();
  Status on_connect(Connection& conn);
  void disconnect(const std::string& why);
  void run();
  // Sends what is waiting, up to `max_in_flight` batches; returns when the
  // first event held back by the broker's advice may go.
  std::optional<Clock::time_point> send_batches();
  void on_frame(const v1::BrokerFrame& f);
  void on_results(const v1::PublishResults& results);
  void hold_back(uint64_t seq, uint32_t retry_after_ms, Code why);
  void settle(PublishOutcome outcome);
  void settle_all(std::vector<PublishOutcome> outcomes);
  // The earlier publication under `idem` in `txn` (nullopt: none), or
  // ALREADY_EXISTS for another fingerprint.
  Result<std::optional<Publication>> earlier(store::Txn& txn, const Idempotency& idem) const;
  Result<Publication> publish(v1::Event event, const Idempotency* idem);
};

namespace {

Status check_idempotency(const Idempotency& idem, bool has_outbox) {
  if (!has_outbox) return Status(E::INVALID_ARGUMENT, "an idempotency key needs a publisher with an outbox");
  if (idem.key.empty() || idem.key.size() > 255) {
    return Status(E::INVALID_ARGUMENT, "an idempotency key is 1..255 bytes");
  }
  if (idem.fingerprint.size() > 64) return Status(E::INVALID_ARGUMENT, "an idempotency fingerprint is at most 64 bytes");
  return Status::Ok();
}

}  // namespace

Result<std::optional<Publication>> Publisher::Impl::earlier(store::Txn& txn, const Idempotency& idem) const {
  auto found = txn.get(keys_db, idem.key);
  if (!found) return found.status();
  if (!*found) return std::optional<Publication>();
  auto rec = nlohmann::json::parse(**found, nullptr, false);
  if (!rec.is_object()) return Status(E::STORAGE_ERROR, "a damaged idempotency record in the outbox");
  if (rec.value("fingerprint", "") != to_hex(idem.fingerprint)) {
    return Status(E::ALREADY_EXISTS, "the idempotency key \"" + idem.key.substr(0, 64) +
                                         "\" was used for another request (event " + rec.value("id", "") + ")");
  }
  Publication p;
  p.event_id = from_hex(rec.value("id", "")).value_or("");
  p.sequence = rec.value("sequence", uint64_t{0});
  p.repeated = true;
  p.kind = static_cast<v1::Kind>(rec.value("kind", 1));
  p.refers_to = from_hex(rec.value("refers_to", "")).value_or("");
  return std::optional<Publication>(std::move(p));
}

Status Publisher::Impl::open_outbox() {
  store::EnvOptions env_options;
  env_options.map_size = size_t{1} << 30;
  auto env = store::Env::open(o.outbox, env_options);
  if (!env) return env.status();
  outbox.emplace(std::move(*env));
  for (auto [dbi, name] : {std::pair{&outbox_db, "outbox"}, std::pair{&meta_db, "meta"}, std::pair{&rejected_db, "rejected"},
                           std::pair{&keys_db, "idempotency"}}) {
    auto opened = outbox->open_db(name);
    if (!opened) return opened.status();
    *dbi = *opened;
  }
  auto txn = store::Txn::begin(*outbox, store::Access::kRead);
  if (!txn) return txn.status();
  auto meta = txn->get(meta_db, "last_sequence");
  if (!meta) return meta.status();
  if (meta->has_value()) last_seq = store::read_be64(**meta);
  auto cursor = store::Cursor::open(*txn, outbox_db);
  if (!cursor) return cursor.status();
  for (auto e = cursor->first();; e = cursor->next()) {
    if (!e) return e.status();
    if (!e->has_value()) break;
    Pending p;
    p.sequence = store::read_be64((*e)->first);
    if (!p.envelope.ParseFromArray((*e)->second.data(), static_cast<int>((*e)->second.size()))) {
      return Status(E::STORAGE_ERROR, "damaged entry in the outbox " + o.outbox.string());
    }
    p.id = event_id(p.envelope.event());
    if (v1::Event restored; restored.ParseFromString(p.envelope.event())) p.queued_ms = restored.created_ms();
    pending.emplace(p.sequence, std::move(p));
  }
  return Status::Ok();
}

// A new connection: everything unconfirmed goes again (the broker's
// duplicate detection makes that safe), and sequences continue above what
// the broker has accepted (a reinstalled publisher).
Status Publisher::Impl::on_connect(Connection& conn) {
  std::lock_guard lock(mu);
  last_seq = std::max(last_seq, conn.welcome().last_sequence());
  heard_broker = true;
  for (auto& [seq, p] : pending) p.in_flight = false;
  in_flight.clear();
  return Status::Ok();
}

void Publisher::Impl::disconnect(const std::string& why) {
  link.drop(why);
  in_flight.clear();
  std::lock_guard lock(mu);
  for (auto& [seq, p] : pending) p.in_flight = false;
}

// Hands an outcome to its future and callback. Takes `mu`: never call it
// while holding an outbox transaction (publish() takes `mu`, then the outbox).
void Publisher::Impl::settle(PublishOutcome outcome) {
  const uint64_t seq = outcome.sequence;
  std::optional<std::promise<PublishOutcome>> promise;
  {
    std::lock_guard lock(mu);
    auto it = pending.find(seq);
    if (it == pending.end()) return;
    promise = std::move(it->second.promise);
  }
  const v1::PublishResult::Status status = outcome.status;
  const Code code = outcome.error.code();
  if (o.on_outcome) o.on_outcome(outcome);
  if (promise) promise->set_value(std::move(outcome));
  // Only now is it settled: flush() returns after the callbacks have run.
  // It is counted as it leaves `pending`, so stats() never shows it twice
  // (unconfirmed and settled) or not at all.
  std::lock_guard lock(mu);
  pending.erase(seq);
  if (status == v1::PublishResult::ACCEPTED) ++counts.accepted;
  if (status == v1::PublishResult::DUPLICATE) ++counts.duplicates;
  if (status == v1::PublishResult::REJECTED) ++counts.rejected[code];
  if (pending.empty()) idle.notify_all();
}

// The broker said "not now" for `seq`: it goes again after the delay the
// broker advised, or else after a back-off that doubles with each refusal in
// a row (min_backoff .. max_backoff). Nothing after it goes first.
void Publisher::Impl::hold_back(uint64_t seq, uint32_t retry_after_ms, Code why) {
  std::lock_guard lock(mu);
  auto p = pending.find(seq);
  if (p == pending.end()) return;
  ++counts.held_back[why];
  Pending& e = p->second;
  e.in_flight = false;
  milliseconds delay(retry_after_ms);
  if (delay.count() == 0) {
    delay = o.min_backoff * (1ll << std::min<uint32_t>(e.passing_refusals, 16));
    delay = std::min(delay, o.max_backoff);
  }
  ++e.passing_refusals;
  e.not_before = Clock::now() + std::max(delay, milliseconds(1));
}

void Publisher::Impl::on_results(const v1::PublishResults& results) {
  auto it = in_flight.find(results.request_id());
  if (it == in_flight.end()) return;
  const std::vector<uint64_t> seqs = std::move(it->second.second);
  in_flight.erase(it);
  std::vector<PublishOutcome> outcomes;
  for (const auto& r : results.results()) {
    if (r.index() >= seqs.size()) continue;
    const uint64_t seq = seqs[r.index()];
    if (r.status() == v1::PublishResult::REJECTED && is_passing_refusal(r.error().code())) {
      hold_back(seq, r.retry_after_ms(), r.error().code());  // sent again later: only permanent refusals end an event
      continue;
    }
    PublishOutcome outcome;
    outcome.status = r.status();
    outcome.event_id = r.event_id();
    outcome.sequence = seq;
    outcome.broker_seq = r.broker_seq();
    if (r.status() == v1::PublishResult::REJECTED) outcome.error = Status::from_proto(r.error());
    outcomes.push_back(std::move(outcome));
  }
  settle_all(std::move(outcomes));
}

void Publisher::Impl::settle_all(std::vector<PublishOutcome> outcomes) {
  // The outbox forgets what is settled (keeping rejections), in one commit,
  // before the callbacks run; no lock is held meanwhile.
  if (outbox && !outcomes.empty()) {
    auto txn = store::Txn::begin(*outbox, store::Access::kWrite);
    if (txn) {
      for (const auto& outcome : outcomes) {
        (void)txn->erase(outbox_db, store::be64(outcome.sequence));
        if (outcome.ok()) continue;
        v1::PublishResult r;
        r.set_status(outcome.status);
        r.set_event_id(outcome.event_id);
        *r.mutable_error() = outcome.error.to_proto();
        (void)txn->put(rejected_db, store::be64(outcome.sequence), r.SerializeAsString());
      }
      (void)txn->commit();
    }
  }
  for (auto& outcome : outcomes) settle(std::move(outcome));
}

std::optional<Clock::time_point> Publisher::Impl::send_batches() {
  while (in_flight.size() < o.max_in_flight) {
    Connection* conn = link.connection();
    if (!conn) return std::nullopt;
    v1::ClientFrame frame;
    auto* batch = frame.mutable_publish();
    std::vector<uint64_t> seqs;
    std::optional<Clock::time_point> held_until;
    {
      std::lock_guard lock(mu);
      const auto now = Clock::now();
      for (auto& [seq, p] : pending) {
        if (p.in_flight) continue;
        // Refused for a passing reason: it goes again at the advised time,
        // and nothing after it goes first (order is kept).
        if (p.not_before > now) {
          held_until = p.not_before;
          break;
        }
        *batch->add_events() = p.envelope;
        p.in_flight = true;
        ++counts.sent;
        seqs.push_back(seq);
        if (seqs.size() >= o.max_batch) break;
      }
    }
    if (seqs.empty()) return held_until;
    const uint64_t request = next_request++;
    batch->set_request_id(request);
    in_flight[request] = {Clock::now(), std::move(seqs)};
    if (Status sent = conn->send(frame); !sent.ok()) {
      disconnect(sent.to_string());
      return std::nullopt;
    }
  }
  return std::nullopt;
}

void Publisher::Impl::on_frame(const v1::BrokerFrame& f) {
  if (f.has_results()) on_results(f.results());
  if (!f.has_error()) return;
  if (f.error().fatal() || f.error().error().code() == E::HELLO_REQUIRED) {
    // The broker restarted or dropped us (the link says Hello again): what
    // was in flight goes again on the new connection.
    disconnect("the broker ended the session: " + Status::from_proto(f.error().error()).to_string());
    return;
  }
  // A whole batch refused: for a passing reason it goes again; otherwise
  // (e.g. too large) its events get the reason.
  auto it = in_flight.find(f.error().request_id());
  if (it == in_flight.end()) return;
  if (is_passing_refusal(f.error().error().code())) {
    for (uint64_t seq : it->second.second) hold_back(seq, 0, f.error().error().code());
    in_flight.erase(it);
    return;
  }
  std::vector<PublishOutcome> outcomes;
  for (uint64_t seq : it->second.second) {
    PublishOutcome outcome;
    outcome.status = v1::PublishResult::REJECTED;
    outcome.sequence = seq;
    outcome.error = Status::from_proto(f.error().error());
    {
      std::lock_guard lock(mu);
      auto p = pending.find(seq);
      if (p != pending.end()) outcome.event_id = p->second.id;
    }
    outcomes.push_back(std::move(outcome));
  }
  in_flight.erase(it);
  settle_all(std::move(outcomes));
}

// The publisher's thread sleeps in the link until a frame arrives, publish()
// or the destructor wakes it, or a timer is due: an event the broker asked
// to hold back, the close deadline, or the periodic check for batches that
// never got an answer.
void Publisher::Impl::run() {
  constexpr milliseconds kCheckEvery{250};
  Clock::time_point close_deadline{};
  while (true) {
    auto now = Clock::now();
    if (stop) {
      if (close_deadline == Clock::time_point{}) close_deadline = now + o.close_timeout;
      std::lock_guard lock(mu);
      if (pending.empty() || now >= close_deadline) break;
    }
    auto until = now + kCheckEvery;
    if (auto held = send_batches()) until = std::min(until, *held);
    if (stop) until = std::min(until, close_deadline);
    if (auto frame = link.next(until)) on_frame(*frame);
    // A batch without an answer for long means a lost connection.
    if (Connection* conn = link.connection()) {
      const auto heartbeat = milliseconds(std::max<uint32_t>(conn->welcome().heartbeat_ms(), 100));
      const auto limit = std::max<milliseconds>(10 * heartbeat, milliseconds(15000));
      now = Clock::now();
      for (const auto& [request, sent] : in_flight) {
        if (now - sent.first > limit) {
          disconnect("no answer to a publish batch within " + std::to_string(limit.count()) + " ms");
          break;
        }
      }
    }
  }
  // What is still unconfirmed stays in the outbox; promises report it.
  std::lock_guard lock(mu);
  for (auto& [seq, p] : pending) {
    if (!p.promise) continue;
    PublishOutcome outcome;
    outcome.status = v1::PublishResult::STATUS_UNSPECIFIED;
    outcome.event_id = p.id;
    outcome.sequence = seq;
    outcome.error = Status(E::UNAVAILABLE, outbox ? "publisher closed before the broker confirmed; kept in the outbox"
                                                  : "publisher closed before the broker confirmed");
    p.promise->set_value(std::move(outcome));
  }
}

// --- Publisher ---

Publisher::Publisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Publisher>> Publisher::start(MemberKey key, v1::CertificateChain chain,
                                                    PublisherOptions options) {
  auto impl = std::make_unique<Impl>(std::move(key), std::move(chain), std::move(options));
  if (!impl->o.outbox.empty()) LANTOA_RETURN_IF_ERROR(impl->open_outbox());
  // With an outbox the publisher starts at once and its thread connects
  // (publish() works offline); without one it needs the broker now.
  if (!impl->outbox) {
    if (Status connected = impl->link.connect(impl->o.connect_timeout); !connected.ok()) {
      // The hint helps only when the broker could not be reached; a refusal
      // (admission, a bad chain) says all there is to say.
      const bool unreachable = connected.code() == E::UNAVAILABLE || connected.code() == E::TIMEOUT;
      if (!unreachable) return connected;
      return Status(connected.code(), connected.message() + " (without an outbox the publisher needs the broker to start)");
    }
  }
  auto* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Publisher>(new Publisher(std::move(impl)));
}

Publisher::~Publisher() {
  impl_->stop = true;
  impl_->link.wake();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Result<Publication> Publisher::publish(v1::Event event) { return impl_->publish(std::move(event), nullptr); }

Result<Publication> Publisher::publish(v1::Event event, const Idempotency& idempotency) {
  LANTOA_RETURN_IF_ERROR(check_idempotency(idempotency, impl_->outbox.has_value()));
  return impl_->publish(std::move(event), &idempotency);
}

Result<std::optional<Publication>> Publisher::published_with(const Idempotency& idempotency) const {
  LANTOA_RETURN_IF_ERROR(check_idempotency(idempotency, impl_->outbox.has_value()));
  auto txn = store::Txn::read(*impl_->outbox);
  if (!txn) return txn.status();
  return impl_->earlier(*txn, idempotency);
}

Result<Publication> Publisher::Impl::publish(v1::Event event, const Idempotency* idem) {
  Impl& m = *this;
  std::lock_guard lock(m.mu);
  if (m.last_seq == 0 && !m.heard_broker) {
    // Nothing known yet (a new outbox, the broker not reached so far): start
    // from the clock, so sequences stay above anything an earlier
    // installation of this member used.
    m.last_seq = static_cast<uint64_t>(unix_now_ms()) * 1000;
  }
  const uint64_t seq = m.last_seq + 1;
  event.set_origin(m.key.member);
  event.set_sequence(seq);
  auto envelope = sign_event(event, m.key.sign, m.o.limits);
  if (!envelope) return envelope.status();
  const std::string id = event_id(envelope->event());
  if (m.outbox) {
    auto txn = store::Txn::begin(*m.outbox, store::Access::kWrite);
    if (!txn) return txn.status();
    if (idem) {
      auto before = m.earlier(*txn, *idem);
      if (!before) return before.status();
      if (*before) return std::move(**before);  // published already: nothing new
      const int64_t now = unix_now_ms();
      const nlohmann::json rec = {{"id", to_hex(id)},       {"sequence", seq},
                                  {"kind", event.kind()},   {"refers_to", to_hex(event.refers_to())},
                                  {"at_ms", now},           {"fingerprint", to_hex(idem->fingerprint)}};
      LANTOA_RETURN_IF_ERROR(txn->put(m.keys_db, idem->key, rec.dump()));
      if (now - m.keys_pruned_ms > 600'000) {  // forget keys older than idempotency_keep, every 10 minutes
        m.keys_pruned_ms = now;
        const int64_t keep_ms = std::chrono::duration_cast<milliseconds>(m.o.idempotency_keep).count();
        std::vector<std::string> expired;
        {
          auto cur = store::Cursor::open(*txn, m.keys_db);
          if (!cur) return cur.status();
          for (auto e = cur->first();; e = cur->next()) {
            if (!e) return e.status();
            if (!*e) break;
            auto old = nlohmann::json::parse((*e)->second, nullptr, false);
            if (old.is_object() && now - old.value("at_ms", now) > keep_ms) expired.emplace_back((*e)->first);
          }
        }
        for (const std::string& old_key : expired) LANTOA_RETURN_IF_ERROR(txn->erase(m.keys_db, old_key).status());
      }
    }
    LANTOA_RETURN_IF_ERROR(txn->put(m.outbox_db, store::be64(seq), envelope->SerializeAsString()));
    LANTOA_RETURN_IF_ERROR(txn->put(m.meta_db, "last_sequence", store::be64(seq)));
    LANTOA_RETURN_IF_ERROR(txn->commit());  // on disk before we return
  }
  m.last_seq = seq;
  Pending p;
  p.sequence = seq;
  p.id = id;
  p.envelope = std::move(*envelope);
  p.queued_ms = unix_now_ms();
  p.promise.emplace();
  Publication out{p.id, seq, p.promise->get_future(), false, event.kind(), event.refers_to()};
  m.pending.emplace(seq, std::move(p));
  m.link.wake();  // the publisher's thread sends it now
  return out;
}

Status Publisher::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  if (impl_->idle.wait_for(lock, timeout, [&] { return impl_->pending.empty(); })) return Status::Ok();
  return Status(E::TIMEOUT, std::to_string(impl_->pending.size()) + " events still unconfirmed after " +
                                std::to_string(timeout.count()) + " ms");
}

uint64_t Publisher::last_sequence() const {
  std::lock_guard lock(impl_->mu);
  return impl_->last_seq;
}

bool Publisher::connected() const { return impl_->link.connected(); }
std::string Publisher::down_reason() const { return impl_->link.down_reason(); }

size_t Publisher::unconfirmed() const {
  std::lock_guard lock(impl_->mu);
  return impl_->pending.size();
}

PublisherStats Publisher::stats() const {
  std::lock_guard lock(impl_->mu);
  PublisherStats s = impl_->counts;
  s.unconfirmed = impl_->pending.size();
  // Sequences are given in the order events are queued: the first waits longest.
  s.oldest_unconfirmed_ms = impl_->pending.empty() ? 0 : impl_->pending.begin()->second.queued_ms;
  return s;
}

}  // namespace lantoa
