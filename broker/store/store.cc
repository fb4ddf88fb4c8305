#include "store/store.h"

#include <spdlog/spdlog.h>

#include <sodium.h>

#include <cstring>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/v1/cert.pb.h"
#include "store/data_file.h"
#include "store/sequence_window.h"

namespace lantoa::broker {
namespace {

using store::be64;
using store::read_be64;
using E = lantoa::v1::Error;

constexpr std::string_view kFormat = "1";

std::string name_key(const std::string& owner, const std::string& name) { return owner + '\0' + name; }

std::string sub_prefix(uint64_t sub) { return be64(sub); }

std::string spread_key(uint64_t seq, uint64_t sub) { return be64(seq) + be64(sub); }

std::string time_key(int64_t ms, uint64_t seq) { return be64(static_cast<uint64_t>(ms)) + be64(seq); }

Status bad_record(std::string_view what) { return Status(E::STORAGE_ERROR, "corrupt record in " + std::string(what)); }

}  // namespace

std::string queue_key(const QueueRef& ref) {
  std::string key = be64(ref.sub);
  key.push_back(static_cast<char>(ref.urgency));
  key += be64(ref.seq);
  return key;
}

QueueRef parse_queue_key(std::string_view key) {
  if (key.size() != 17) return {};
  return {read_be64(key.substr(0, 8)), static_cast<unsigned char>(key[8]), read_be64(key.substr(9, 8))};
}

bool Subscription::matches(std::string_view topic) const {
  for (const auto& f : filters) {
    if (f.matches(topic)) return true;
  }
  return false;
}

static Result<Subscription> make_subscription(SubscriptionRecord record) {
  Subscription sub;
  for (const auto& text : record.filters()) {
    auto f = TopicFilter::parse(text);
    if (!f) return f.status();
    sub.filters.push_back(std::move(*f));
  }
  sub.grants.assign(record.read_grants().begin(), record.read_grants().end());
  sub.record = std::move(record);
  return sub;
}

// --- Store ---

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& dir, const store::EnvOptions& options,
                                          const Restrictions* restrictions, const StoreOpening& opening) {
  // Before LMDB maps the file: a file cut short would crash the process.
  auto file = inspect_data_file(dir / "data.mdb");
  if (!file) return file.status();
  auto manifest = Manifest::load(dir);
  if (!manifest) return manifest.status();
  auto env = store::Env::open(dir, options);
  if (!env) return env.status();
  Dbs d;
  for (auto [dbi, name] : std::initializer_list<std::pair<store::Dbi*, const char*>>{
           {&d.meta, "meta"}, {&d.events, "events"}, {&d.ids, "ids"}, {&d.origins, "origins"},
           {&d.chains, "chains"}, {&d.by_time, "by_time"}, {&d.subs, "subs"}, {&d.sub_names, "sub_names"},
           {&d.queue, "queue"}, {&d.refs, "refs"}, {&d.embargo, "embargo"}, {&d.spread, "spread"},
           {&d.forgotten, "forgotten"}}) {
    auto opened = env->open_db(name);
    if (!opened) return opened.status();
    *dbi = *opened;
  }
  std::unique_ptr<Store> s(new Store(std::move(*env), d));
  s->restrictions_ = restrictions;
  LANTOA_RETURN_IF_ERROR(s->load());
  LANTOA_RETURN_IF_ERROR(s->reconcile(dir, std::move(*manifest), opening));
  return s;
}

Status Store::reconcile(const std::filesystem::path& dir, std::optional<Manifest> manifest,
                        const StoreOpening& opening) {
  dir_ = dir;
  auto txn = store::Txn::begin(env_, store::Access::kWrite);
  if (!txn) return txn.status();
  auto id = txn->get(dbs_.meta, "store_id");
  if (!id) return id.status();
  StoreFound found;
  found.highest_seq = next_seq_ - 1;
  found.empty = !id->has_value() && next_seq_ == 1;
  if (id->has_value()) found.store_id = std::string(**id);
  else if (!found.empty) found.store_id = "(an older store without an id)";
  bool adopting = false;
  if (manifest) {
    auto decided = check_store_against_manifest(*manifest, found, dir, opening.accept_change);
    if (!decided) return decided.status();
    adopting = *decided;
  }
  std::string store_id = id->has_value() ? std::string(**id) : std::string();
  if (store_id.empty()) {
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    store_id = to_hex(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
    LANTOA_RETURN_IF_ERROR(txn->put(dbs_.meta, "store_id", store_id));
  }
  if (adopting) {
    // An adopted store continues above every sequence the folder may have
    // handed out (acknowledged, perhaps delivered): one sequence, one event.
    const uint64_t next = std::max(next_seq_, manifest->reserved_seq + 1);
    spdlog::warn("adopting store {} in {} in place of store {} (committed up to broker sequence {}, reserved up to "
                 "{}); new broker sequences start at {}",
                 store_id, dir.string(), manifest->store_id, manifest->highest_seq, manifest->reserved_seq, next);
    next_seq_ = next;
    LANTOA_RETURN_IF_ERROR(txn->put(dbs_.meta, "next_seq", be64(next_seq_)));
  }
  LANTOA_RETURN_IF_ERROR(txn->commit());
  if (!manifest) spdlog::info("wrote {} for store {}", (dir / Manifest::kFileName).string(), store_id);
  manifest_.store_id = store_id;
  manifest_.member = opening.member;
  manifest_.highest_seq = next_seq_ - 1;
  if (manifest && !adopting) manifest_.highest_seq = std::max(manifest->highest_seq, manifest_.highest_seq);
  manifest_.reserved_seq = std::max(manifest ? manifest->reserved_seq : 0, next_seq_ - 1);
  manifest_.updated_ms = unix_now_ms();
  LANTOA_RETURN_IF_ERROR(manifest_.save(dir));
  manifest_saved_ms_ = manifest_.updated_ms;
  return Status::Ok();
}

Status Store::write_manifest(Manifest next) {
  if (int err = faults_ ? faults_->before_manifest_write() : 0; err != 0) {
    return Status(lantoa::v1::Error::IO_ERROR, "writing " + (dir_ / Manifest::kFileName).string() + ": " +
                                                   std::strerror(err));
  }
  LANTOA_RETURN_IF_ERROR(next.save(dir_));
  manifest_ = std::move(next);
  return Status::Ok();
}

Status Store::reserve(uint64_t highest_to_commit) {
  if (highest_to_commit <= manifest_.reserved_seq) return Status::Ok();
  Manifest next = manifest_;
  next.highest_seq = std::max(next.highest_seq, next_seq_ - 1);  // committed so far
  next.reserved_seq = highest_to_commit + Manifest::kReserveBlock;
  next.updated_ms = unix_now_ms();
  if (Status s = write_manifest(std::move(next)); !s.ok()) {
    return Status(s.code(), "cannot reserve broker sequences in the manifest, so nothing is committed: " +
                                s.message());
  }
  manifest_saved_ms_ = manifest_.updated_ms;
  return Status::Ok();
}

Status Store::save_manifest(int64_t now_ms, int64_t min_interval_ms) {
  writer_thread_.check("Store::save_manifest");
  if (next_seq_ - 1 <= manifest_.highest_seq) return Status::Ok();
  if (now_ms - manifest_saved_ms_ < min_interval_ms) return Status::Ok();
  Manifest next = manifest_;
  next.highest_seq = next_seq_ - 1;
  next.updated_ms = now_ms;
  manifest_saved_ms_ = now_ms;  // a failure is retried at the next interval, not on every commit
  return write_manifest(std::move(next));
}

Status Store::load() {
  {
    auto txn = store::Txn::begin(env_, store::Access::kWrite);
    if (!txn) return txn.status();
    auto format = txn->get(dbs_.meta, "format");
    if (!format) return format.status();
    if (!format->has_value()) {
      LANTOA_RETURN_IF_ERROR(txn->put(dbs_.meta, "format", kFormat));
      LANTOA_RETURN_IF_ERROR(txn->commit());
    } else if (**format != kFormat) {
      return Status(E::STORAGE_ERROR, "data folder has layout format " + std::string(**format) +
                                          "; this broker understands format " + std::string(kFormat));
    }
  }
  auto txn = store::Txn::begin(env_, store::Access::kRead);
  if (!txn) return txn.status();
  for (auto [name, target] : {std::pair{"next_seq", &next_seq_}, std::pair{"next_sub", &next_sub_}}) {
    auto v = txn->get(dbs_.meta, name);
    if (!v) return v.status();
    if (v->has_value()) *target = read_be64(**v);
  }
  auto cursor = store::Cursor::open(*txn, dbs_.subs);
  if (!cursor) return cursor.status();
  for (auto e = cursor->first(); ; e = cursor->next()) {
    if (!e) return e.status();
    if (!e->has_value()) break;
    SubscriptionRecord record;
    if (!record.ParseFromArray((*e)->second.data(), static_cast<int>((*e)->second.size()))) return bad_record("subs");
    auto sub = make_subscription(std::move(record));
    if (!sub) return sub.status();
    uint64_t id = sub->record.id();
    for (const auto& f : sub->filters) index_.add(id, f.text());
    subs_.emplace(id, std::move(*sub));
    depths_[id] = 0;
  }
  auto queue = store::Cursor::open(*txn, dbs_.queue);
  if (!queue) return queue.status();
  for (auto e = queue->first(); ; e = queue->next()) {
    if (!e) return e.status();
    if (!e->has_value()) break;
    ++depths_[parse_queue_key((*e)->first).sub];
  }
  auto chains = store::Cursor::open(*txn, dbs_.chains);
  if (!chains) return chains.status();
  for (auto e = chains->first(); ; e = chains->next()) {
    if (!e) return e.status();
    if (!e->has_value()) break;
    known_chains_.emplace((*e)->first);
  }
  return Status::Ok();
}

Result<Store::Batch> Store::begin() {
  writer_thread_.check("Store::begin (the write batch)");
  auto txn = store::Txn::begin(env_, store::Access::kWrite);
  if (!txn) return txn.status();
  return Batch(*this, std::move(*txn));
}

Result<std::optional<StoredEvent>> Store::read_event(const store::Txn& txn, uint64_t seq) const {
  auto v = txn.get(dbs_.events, be64(seq));
  if (!v) return v.status();
  if (!v->has_value()) return std::optional<StoredEvent>();
  StoredEvent record;
  if (!record.ParseFromArray((*v)->data(), static_cast<int>((*v)->size()))) return bad_record("events");
  return std::optional<StoredEvent>(std::move(record));
}

Result<std::optional<std::string>> Store::read_chain(const store::Txn& txn, std::string_view key_id) const {
  auto v = txn.get(dbs_.chains, key_id);
  if (!v) return v.status();
  if (!v->has_value()) return std::optional<std::string>();
  return std::optional<std::string>(std::string(**v));
}

Result<uint64_t> Store::last_origin_sequence(const store::Txn& txn, std::string_view origin) const {
  auto v = txn.get(dbs_.origins, origin);
  if (!v) return v.status();
  return v->has_value() ? SequenceWindow::decode(**v).highest() : uint64_t{0};
}

Result<uint64_t> Store::oldest_seq(const store::Txn& txn) const {
  auto cursor = store::Cursor::open(txn, dbs_.events);
  if (!cursor) return cursor.status();
  auto first = cursor->first();
  if (!first) return first.status();
  return first->has_value() ? read_be64((*first)->first) : uint64_t{0};
}

Result<uint64_t> Store::oldest_queued_seq(const store::Txn& txn, uint64_t sub) const {
  // Queue keys sort by (subscription, urgency, sequence): the first key of
  // each urgency is its oldest; the lowest of those is the queue's oldest.
  auto cursor = store::Cursor::open(txn, dbs_.queue);
  if (!cursor) return cursor.status();
  const std::string prefix = sub_prefix(sub);
  uint64_t oldest = 0;
  auto e = cursor->seek(prefix);
  while (true) {
    if (!e) return e.status();
    if (!e->has_value() || !(*e)->first.starts_with(prefix)) break;
    const QueueRef ref = parse_queue_key((*e)->first);
    if (oldest == 0 || ref.seq < oldest) oldest = ref.seq;
    if (ref.urgency == 0xff) break;
    std::string next = prefix;
    next.push_back(static_cast<char>(ref.urgency + 1));
    e = cursor->seek(next);
  }
  return oldest;
}

Result<std::optional<uint64_t>> Store::seq_of_id(const store::Txn& txn, std::string_view id) const {
  auto v = txn.get(dbs_.ids, id);
  if (!v) return v.status();
  if (!v->has_value() || is_forgotten_id(**v)) return std::optional<uint64_t>();
  return std::optional<uint64_t>(read_be64(**v));
}

Result<std::vector<Store::SpreadEntry>> Store::read_spread(const store::Txn& txn, uint64_t seq,
                                                           const StoredEvent& event) const {
  std::vector<SpreadEntry> out;
  auto cursor = store::Cursor::open(txn, dbs_.subs);
  if (!cursor) return cursor.status();
  for (auto e = cursor->first();; e = cursor->next()) {
    if (!e) return e.status();
    if (!e->has_value()) break;
    SubscriptionRecord record;
    if (!record.ParseFromArray((*e)->second.data(), static_cast<int>((*e)->second.size()))) return bad_record("subs");
    SpreadEntry entry;
    entry.sub = record.id();
    entry.owner = record.owner();
    entry.name = record.name();
    auto queued = txn.get(dbs_.queue, queue_key({record.id(), event.urgency(), seq}));
    if (!queued) return queued.status();
    if (queued->has_value()) {
      out.push_back(std::move(entry));
      continue;
    }
    auto acked = txn.get(dbs_.spread, spread_key(seq, record.id()));
    if (!acked) return acked.status();
    if (acked->has_value()) {
      entry.state = SpreadEntry::State::kAcked;
      entry.acked_ms = static_cast<int64_t>(read_be64(**acked));
      out.push_back(std::move(entry));
      continue;
    }
    // Not queued because the queue was full (an embargoed event is not
    // routed yet, so it is not "not queued").
    if (record.not_queued_from_seq() != 0 && seq >= record.not_queued_from_seq() && event.embargo_until_ms() == 0) {
      auto sub = make_subscription(record);
      if (sub && sub->matches(event.topic())) {
        entry.state = SpreadEntry::State::kNotQueued;
        out.push_back(std::move(entry));
      }
    }
  }
  return out;
}

std::pair<uint64_t, uint64_t> Store::used_and_map_bytes() const {
  MDB_envinfo info{};
  MDB_stat stat{};
  MDB_env* env = env_.raw();
  if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &stat) != 0) return {0, 0};
  return {static_cast<uint64_t>(info.me_last_pgno + 1) * stat.ms_psize, static_cast<uint64_t>(info.me_mapsize)};
}

// --- Batch ---

Store::Batch::Batch(Store& store, store::Txn txn)
    : store_(store), txn_(std::move(txn)), next_seq_(store.next_seq_), next_sub_(store.next_sub_) {}

Status Store::Batch::bump_refs(uint64_t seq, int64_t delta) {
  const std::string key = be64(seq);
  auto v = txn_.get(store_.dbs_.refs, key);
  if (!v) return v.status();
  int64_t count = v->has_value() ? static_cast<int64_t>(read_be64(**v)) : 0;
  count += delta;
  if (count <= 0) {
    auto erased = txn_.erase(store_.dbs_.refs, key);
    return erased.status();
  }
  return txn_.put(store_.dbs_.refs, key, be64(static_cast<uint64_t>(count)));
}

Status Store::Batch::add_ref(const QueueRef& ref) {
  LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.queue, queue_key(ref), {}));
  ++depth_delta_[ref.sub];
  return Status::Ok();
}

bool Store::Batch::may_receive(const Subscription& sub, const std::string& topic) const {
  if (!sub.matches(topic)) return false;
  if (auto inbox = inbox_address(topic)) {
    // Only its two ends read it, and the brokers between them, within what
    // restrictions let a broker read (restricted mail stays with its readers).
    if (!is_link_subscription(sub.record.name())) return may_read_inbox(*inbox, sub.record.owner());
    const auto allowed = [&](const Restrictions* r) {
      return !r || r->allowed_by_declarations(sub.record.owner(), sub.grants, topic);
    };
    return may_carry_inbox(*inbox, broker_namespace(sub.record.owner())) && allowed(store_.restrictions_) &&
           allowed(pending_restrictions_.get());
  }
  return
         (!store_.restrictions_ || store_.restrictions_->may_read(sub.record.owner(), sub.grants, topic)) &&
         (!pending_restrictions_ || pending_restrictions_->may_read(sub.record.owner(), sub.grants, topic));
}

Status Store::Batch::route(uint64_t seq, const StoredEvent& record, std::vector<QueueRef>& routed, uint64_t skip) {
  int64_t added = 0;
  auto consider = [&](const Subscription& sub) -> Status {
    if (sub.record.id() == skip) return Status::Ok();  // the link it came by
    if (!may_receive(sub, record.topic())) return Status::Ok();
    // What a link owes is bounded by storage, not by a queue limit: a link
    // down for days loses nothing.
    if (store_.max_queue_depth_ != 0 && !is_link_subscription(sub.record.name())) {
      auto d = store_.depths_.find(sub.record.id());
      const int64_t depth = (d == store_.depths_.end() ? 0 : static_cast<int64_t>(d->second)) +
                            depth_delta_[sub.record.id()];
      if (depth >= static_cast<int64_t>(store_.max_queue_depth_)) return mark_not_queued(sub, seq);
    }
    QueueRef ref{sub.record.id(), record.urgency(), seq};
    LANTOA_RETURN_IF_ERROR(add_ref(ref));
    routed.push_back(ref);
    ++added;
    return Status::Ok();
  };
  // The committed subscriptions whose filters match, from the index; then
  // those this batch added or changed (few), tested one by one.
  store_.index_.match(record.topic(), matched_);
  for (uint64_t id : matched_) {
    if (removed_subs_.count(id)) continue;
    LANTOA_RETURN_IF_ERROR(consider(store_.subs_.at(id)));
  }
  for (const auto& [id, sub] : added_subs_) LANTOA_RETURN_IF_ERROR(consider(sub));
  return added ? bump_refs(seq, added) : Status::Ok();
}

Status Store::Batch::mark_not_queued(const Subscription& sub, uint64_t seq) {
  ++not_queued_events_;
  const uint64_t id = sub.record.id();
  if (sub.record.not_queued_from_seq() != 0 || not_queued_.count(id)) return Status::Ok();
  SubscriptionRecord rec = sub.record;
  rec.set_not_queued_from_seq(seq);
  LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.subs, be64(id), rec.SerializeAsString()));
  not_queued_[id] = seq;
  return Status::Ok();
}

Result<IngestResult> Store::Batch::ingest(const IngestItem& item, int64_t now_ms) {
  IngestResult result;
  StoredEvent rec = item.record;
  auto existing = txn_.get(store_.dbs_.ids, rec.id());
  if (!existing) return existing.status();
  if (existing->has_value()) {
    // Held (its broker sequence), or remembered after retention removed it (0).
    result.status = v1::PublishResult::DUPLICATE;
    result.seq = is_forgotten_id(**existing) ? 0 : read_be64(**existing);
    return result;
  }
  if (store_.replay_horizon_ms_ > 0 && rec.created_ms() < now_ms - store_.replay_horizon_ms_) {
    result.status = v1::PublishResult::REJECTED;
    result.error = Status(E::EVENT_TOO_OLD,
                          "event " + to_hex(rec.id()) + " of " + rec.origin() + " was created " +
                              std::to_string((now_ms - rec.created_ms()) / 86'400'000) +
                              " days ago, before this broker's replay horizon of " +
                              std::to_string(store_.replay_horizon_ms_ / 86'400'000) +
                              " days ([storage] replay_horizon_days): a replay could not be told from a new event");
    return result;
  }
  if (!item.corrects.empty()) {
    auto ref = txn_.get(store_.dbs_.ids, item.corrects);
    if (!ref) return ref.status();
    if (ref->has_value()) {
      auto original = store_.read_event(txn_, read_be64(**ref));
      if (!original) return original.status();
      if (original->has_value() && (*original)->origin() != rec.origin()) {
        result.status = v1::PublishResult::REJECTED;
        result.error = Status(E::REFERENCE_NOT_ALLOWED,
                              rec.origin() + " may not correct or retract an item of " + (*original)->origin() +
                                  ": only the origin of an item may (refers_to " + to_hex(item.corrects) + ")");
        return result;
      }
    }
  }
  auto last = txn_.get(store_.dbs_.origins, rec.origin());
  if (!last) return last.status();
  SequenceWindow window = SequenceWindow::decode(last->has_value() ? **last : std::string_view());
  if (Status s = window.check(rec.origin_sequence(), rec.origin(), now_ms); !s.ok()) {
    result.status = v1::PublishResult::REJECTED;
    result.error = std::move(s);
    return result;
  }
  window.accept(rec.origin_sequence());
  const uint64_t seq = next_seq_++;
  rec.set_accepted_ms(now_ms);
  std::string bytes;
  rec.SerializeToString(&bytes);
  LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.events, be64(seq), bytes));
  LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.ids, rec.id(), be64(seq)));
  LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.origins, rec.origin(), window.encode()));
  LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.by_time, time_key(now_ms, seq), {}));
  // Chains are kept once per certificate chain (a renewed certificate for
  // the same key is another chain), so each event is delivered with the
  // chain its signer presented when it was accepted.
  const std::string& chain_key = rec.chain_id().empty() ? rec.signer_key_id() : rec.chain_id();
  if (!item.chain.empty() && !store_.known_chains_.count(chain_key) && !new_chains_.count(chain_key)) {
    LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.chains, chain_key, item.chain));
    new_chains_.insert(chain_key);
  }
  if (rec.embargo_until_ms() > now_ms) {
    LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.embargo, time_key(rec.embargo_until_ms(), seq), {}));
  } else {
    LANTOA_RETURN_IF_ERROR(route(seq, rec, result.routed, item.arrived_on));
  }
  if (item.restriction) {
    // In force for the routing of what follows in this batch; for everything
    // else once committed (the writer applies it then).
    if (!pending_restrictions_) pending_restrictions_ = std::make_unique<Restrictions>();
    pending_restrictions_->set(*item.restriction);
  }
  result.status = v1::PublishResult::ACCEPTED;
  result.seq = seq;
  return result;
}

Result<SubscribeResult> Store::Batch::subscribe(const std::string& owner, const std::vector<std::string>& grants,
                                                const lantoa::v1::Subscribe& req, int64_t now_ms,
                                                const SubscribeDefaults& defaults, bool link) {
  SubscribeResult out;
  const std::string nk = name_key(owner, req.name());
  auto found = txn_.get(store_.dbs_.sub_names, nk);
  if (!found) return found.status();
  if (found->has_value()) {
    const uint64_t id = read_be64(**found);
    auto rec_bytes = txn_.get(store_.dbs_.subs, be64(id));
    if (!rec_bytes) return rec_bytes.status();
    if (!rec_bytes->has_value()) return bad_record("subs");
    SubscriptionRecord rec;
    if (!rec.ParseFromArray((*rec_bytes)->data(), static_cast<int>((*rec_bytes)->size()))) return bad_record("subs");
    bool changed = false;
    if (link) {
      // A link's filters follow its peer's interest: replaced; what is
      // queued stays owed.
      std::vector<std::string> a(req.filters().begin(), req.filters().end());
      std::vector<std::string> b(rec.filters().begin(), rec.filters().end());
      if (a != b) {
        rec.clear_filters();
        for (const auto& f : a) rec.add_filters(f);
        changed = true;
      }
    } else if (req.filters_size() > 0) {
      std::vector<std::string> a(req.filters().begin(), req.filters().end());
      std::vector<std::string> b(rec.filters().begin(), rec.filters().end());
      if (a != b) {
        return Status(E::INVALID_ARGUMENT, "subscription \"" + req.name() +
                                               "\" exists with other filters; resume it with the same filters (or "
                                               "none), or remove it first");
      }
    }
    // Credit, ack timeout and the owner's grants (a new certificate) may change on resume.
    if (std::vector<std::string>(rec.read_grants().begin(), rec.read_grants().end()) != grants) {
      rec.clear_read_grants();
      for (const auto& g : grants) rec.add_read_grants(g);
      changed = true;
    }
    if (req.credit() && req.credit() != rec.credit()) rec.set_credit(req.credit()), changed = true;
    if (req.ack_timeout_ms() && req.ack_timeout_ms() != rec.ack_timeout_ms()) {
      rec.set_ack_timeout_ms(req.ack_timeout_ms());
      changed = true;
    }
    if (changed) LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.subs, be64(id), rec.SerializeAsString()));
    auto sub = make_subscription(std::move(rec));
    if (!sub) return sub.status();
    if (changed) added_subs_[id] = *sub, removed_subs_.insert(id);
    out.subscription = std::move(*sub);
    out.resumed = true;
    auto depth = store_.depths_.find(id);
    out.pending = (depth == store_.depths_.end() ? 0 : depth->second) + static_cast<uint64_t>(depth_delta_[id]);
    return out;
  }

  if (req.filters_size() == 0 && !link) {
    return Status(E::INVALID_FILTER, "a new subscription needs at least one filter");
  }
  if (defaults.max_per_member != 0 && !link) {
    uint32_t held = 0;
    for (const auto& [id, sub] : store_.subs_) held += !removed_subs_.count(id) && sub.record.owner() == owner;
    for (const auto& [id, sub] : added_subs_) held += sub.record.owner() == owner;
    if (held >= defaults.max_per_member) {
      return Status(E::QUOTA_EXCEEDED, owner + " holds " + std::to_string(held) +
                                           " durable subscriptions, the most one member may ([limits] "
                                           "max_subscriptions_per_member = " +
                                           std::to_string(defaults.max_per_member) +
                                           "); remove one it no longer uses (Unsubscribe with remove)");
    }
  }
  SubscriptionRecord rec;
  rec.set_id(next_sub_++);
  rec.set_owner(owner);
  rec.set_name(req.name());
  for (const auto& f : req.filters()) rec.add_filters(f);
  rec.set_created_ms(now_ms);
  rec.set_credit(req.credit() ? req.credit() : defaults.credit);
  rec.set_ack_timeout_ms(req.ack_timeout_ms() ? req.ack_timeout_ms() : defaults.ack_timeout_ms);
  for (const auto& g : grants) rec.add_read_grants(g);
  auto sub = make_subscription(rec);
  if (!sub) return sub.status();
  LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.subs, be64(rec.id()), rec.SerializeAsString()));
  LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.sub_names, nk, be64(rec.id())));
  LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.meta, "next_sub", be64(next_sub_)));

  // Start position: fill the queue from the retained log.
  const auto& start = req.start();
  uint64_t from_seq = 0;  // 0: new events only
  auto oldest = store_.oldest_seq(txn_);
  if (!oldest) return oldest.status();
  out.oldest_retained_seq = *oldest;
  switch (start.position_case()) {
    case lantoa::v1::StartPosition::kEarliest:
      from_seq = 1;
      break;
    case lantoa::v1::StartPosition::kFromBrokerSeq:
      from_seq = std::max<uint64_t>(start.from_broker_seq(), 1);
      break;
    case lantoa::v1::StartPosition::kFromTimeMs: {
      auto cursor = store::Cursor::open(txn_, store_.dbs_.by_time);
      if (!cursor) return cursor.status();
      auto at = cursor->seek(be64(static_cast<uint64_t>(std::max<int64_t>(start.from_time_ms(), 0))));
      if (!at) return at.status();
      from_seq = at->has_value() ? read_be64((*at)->first.substr(8)) : next_seq_;
      break;
    }
    default:
      break;
  }
  if (from_seq) {
    auto cursor = store::Cursor::open(txn_, store_.dbs_.events);
    if (!cursor) return cursor.status();
    uint64_t present = 0;
    for (auto e = cursor->seek(be64(from_seq));; e = cursor->next()) {
      if (!e) return e.status();
      if (!e->has_value()) break;
      ++present;
      StoredEvent ev;
      if (!ev.ParseFromArray((*e)->second.data(), static_cast<int>((*e)->second.size()))) return bad_record("events");
      if (!may_receive(*sub, ev.topic())) continue;
      if (ev.embargo_until_ms() > now_ms) continue;  // routed when released
      QueueRef ref{rec.id(), ev.urgency(), read_be64((*e)->first)};
      LANTOA_RETURN_IF_ERROR(add_ref(ref));
      LANTOA_RETURN_IF_ERROR(bump_refs(ref.seq, 1));
      out.routed.push_back(ref);
    }
    // Every sequence from `from_seq` up was accepted once; any missing one was
    // removed by retention, and the subscriber is told so.
    if (start.position_case() == lantoa::v1::StartPosition::kFromBrokerSeq && from_seq < next_seq_) {
      out.behind_retention = present < next_seq_ - from_seq;
    }
  }
  out.pending = out.routed.size();
  added_subs_[rec.id()] = *sub;
  out.subscription = std::move(*sub);
  return out;
}

Result<uint64_t> Store::Batch::unsubscribe(const std::string& owner, const std::string& name, bool remove) {
  const std::string nk = name_key(owner, name);
  auto found = txn_.get(store_.dbs_.sub_names, nk);
  if (!found) return found.status();
  if (!found->has_value()) {
    return Status(E::SUBSCRIPTION_NOT_FOUND, "no subscription \"" + name + "\" owned by " + owner);
  }
  const uint64_t id = read_be64(**found);
  if (!remove) return id;
  auto cleared = clear_queue(id);
  if (!cleared) return cleared.status();
  LANTOA_RETURN_IF_ERROR(txn_.erase(store_.dbs_.subs, be64(id)).status());
  LANTOA_RETURN_IF_ERROR(txn_.erase(store_.dbs_.sub_names, nk).status());
  removed_subs_.insert(id);
  added_subs_.erase(id);
  return id;
}

Result<uint64_t> Store::Batch::clear_queue(uint64_t sub) {
  auto cursor = store::Cursor::open(txn_, store_.dbs_.queue);
  if (!cursor) return cursor.status();
  const std::string prefix = sub_prefix(sub);
  uint64_t n = 0;
  for (auto e = cursor->seek(prefix);; e = cursor->seek(prefix)) {
    if (!e) return e.status();
    if (!e->has_value() || !(*e)->first.starts_with(prefix)) break;
    QueueRef ref = parse_queue_key((*e)->first);
    LANTOA_RETURN_IF_ERROR(cursor->erase_current());
    LANTOA_RETURN_IF_ERROR(bump_refs(ref.seq, -1));
    ++n;
  }
  return n;
}

Result<Store::Batch::Purged> Store::Batch::purge(const std::string& owner, const std::string& name) {
  auto found = txn_.get(store_.dbs_.sub_names, name_key(owner, name));
  if (!found) return found.status();
  if (!found->has_value()) {
    return Status(E::SUBSCRIPTION_NOT_FOUND, "no subscription \"" + name + "\" owned by " + owner);
  }
  Purged out;
  out.sub = read_be64(**found);
  auto cleared = clear_queue(out.sub);
  if (!cleared) return cleared.status();
  out.entries = *cleared;
  depth_delta_[out.sub] -= static_cast<int64_t>(out.entries);
  return out;
}

Status Store::Batch::ack(const QueueRef& ref, int64_t acked_ms) {
  const std::string key = queue_key(ref);
  auto erased = txn_.erase(store_.dbs_.queue, key);
  if (!erased) return erased.status();
  if (!*erased) return Status::Ok();  // acked twice, or the subscription was removed
  --depth_delta_[ref.sub];
  --ref_delta_[ref.seq];  // one read-modify-write per event at commit, not per ack
  if (acked_ms <= 0) return Status::Ok();
  return txn_.put(store_.dbs_.spread, spread_key(ref.seq, ref.sub), be64(static_cast<uint64_t>(acked_ms)));
}

Result<std::vector<QueueRef>> Store::Batch::release_embargoes(int64_t now_ms) {
  std::vector<QueueRef> routed;
  auto cursor = store::Cursor::open(txn_, store_.dbs_.embargo);
  if (!cursor) return cursor.status();
  for (auto e = cursor->first();; e = cursor->first()) {
    if (!e) return e.status();
    if (!e->has_value()) break;
    const int64_t release = static_cast<int64_t>(read_be64((*e)->first.substr(0, 8)));
    if (release > now_ms) break;
    const uint64_t seq = read_be64((*e)->first.substr(8));
    LANTOA_RETURN_IF_ERROR(cursor->erase_current());
    auto ev = store_.read_event(txn_, seq);
    if (!ev) return ev.status();
    if (ev->has_value()) LANTOA_RETURN_IF_ERROR(route(seq, **ev, routed));
  }
  return routed;
}

std::string forgotten_id_value(int64_t until_ms) {
  return be64(0) + be64(static_cast<uint64_t>(std::max<int64_t>(until_ms, 0)));
}

bool is_forgotten_id(std::string_view ids_value) { return ids_value.size() == 16 && read_be64(ids_value) == 0; }

Status Store::Batch::forget(const StoredEvent& event, int64_t now_ms) {
  // Until its author's created_ms + the horizon: after that the event itself
  // would be refused as too old. Records of older brokers have no
  // created_ms; it is at most accepted_ms + the clock skew a broker allows.
  const int64_t created = event.created_ms() != 0 ? event.created_ms() : event.accepted_ms() + 24LL * 3600 * 1000;
  const int64_t until = created + store_.replay_horizon_ms_;
  if (store_.replay_horizon_ms_ <= 0 || until <= now_ms) return txn_.erase(store_.dbs_.ids, event.id()).status();
  LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.ids, event.id(), forgotten_id_value(until)));
  return txn_.put(store_.dbs_.forgotten, be64(static_cast<uint64_t>(until)) + event.id(), {});
}

Result<uint64_t> Store::Batch::forget_past_horizon(int64_t now_ms, uint64_t most) {
  uint64_t n = 0;
  auto cursor = store::Cursor::open(txn_, store_.dbs_.forgotten);
  if (!cursor) return cursor.status();
  for (auto e = cursor->first(); n < most; e = cursor->first()) {
    if (!e) return e.status();
    if (!e->has_value()) break;
    const std::string_view key = (*e)->first;
    if (key.size() != 8 + 32) return bad_record("forgotten");
    if (static_cast<int64_t>(read_be64(key.substr(0, 8))) > now_ms) break;
    const std::string id(key.substr(8));
    LANTOA_RETURN_IF_ERROR(cursor->erase_current());
    auto v = txn_.get(store_.dbs_.ids, id);
    if (!v) return v.status();
    if (v->has_value() && is_forgotten_id(**v)) LANTOA_RETURN_IF_ERROR(txn_.erase(store_.dbs_.ids, id).status());
    ++n;
  }
  return n;
}

Result<uint64_t> Store::Batch::apply_retention(int64_t now_ms, const RetentionPolicy& policy) {
  uint64_t removed = 0;
  auto forgot = forget_past_horizon(now_ms, 10'000);
  if (!forgot) return forgot.status();
  // The log's size: its events and what is kept with them (the acks of
  // their spread), in LMDB pages.
  uint64_t bytes = 0;
  for (const store::Dbi& db : {store_.dbs_.events, store_.dbs_.spread}) {
    MDB_stat st{};
    if (int rc = mdb_stat(txn_.raw(), db.handle, &st); rc != 0) return store::from_mdb(rc, "stat");
    bytes += (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * uint64_t{st.ms_psize};
  }
  uint64_t spread_keys_removed = 0;
  auto cursor = store::Cursor::open(txn_, store_.dbs_.by_time);
  if (!cursor) return cursor.status();
  constexpr uint64_t kMaxPerPass = 10'000;  // keep one transaction small: events and ack records
  for (auto e = cursor->first(); removed + spread_keys_removed / 16 < kMaxPerPass; e = cursor->next()) {
    if (!e) return e.status();
    if (!e->has_value()) break;
    const int64_t accepted = static_cast<int64_t>(read_be64((*e)->first.substr(0, 8)));
    const bool too_old = policy.max_age_ms > 0 && accepted < now_ms - policy.max_age_ms;
    const bool too_big = policy.max_bytes > 0 && bytes > policy.max_bytes;
    if (!too_old && !too_big) break;  // the rest is younger, and size is within bounds
    const uint64_t seq = read_be64((*e)->first.substr(8));
    auto refs = txn_.get(store_.dbs_.refs, be64(seq));
    if (!refs) return refs.status();
    if (refs->has_value()) continue;  // a queue still needs it
    auto ev = store_.read_event(txn_, seq);
    if (!ev) return ev.status();
    if (ev->has_value()) {
      if ((*ev)->embargo_until_ms() > now_ms) continue;  // still waiting for its embargo
      if ((*ev)->topic().starts_with("$trust.")) continue;  // trust lists stay for every future subscriber
      bytes -= std::min<uint64_t>(bytes, (*ev)->ByteSizeLong());
      LANTOA_RETURN_IF_ERROR(forget(**ev, now_ms));
      LANTOA_RETURN_IF_ERROR(txn_.erase(store_.dbs_.events, be64(seq)).status());
      auto acks = store::Cursor::open(txn_, store_.dbs_.spread);
      if (!acks) return acks.status();
      const std::string prefix = be64(seq);
      for (auto a = acks->seek(prefix);; a = acks->seek(prefix)) {
        if (!a) return a.status();
        if (!a->has_value() || !(*a)->first.starts_with(prefix)) break;
        LANTOA_RETURN_IF_ERROR(acks->erase_current());
        ++spread_keys_removed;
        bytes -= std::min<uint64_t>(bytes, 40);  // about what one ack record takes in its page
      }
    }
    LANTOA_RETURN_IF_ERROR(cursor->erase_current());
    ++removed;
  }
  return removed;
}

Status Store::Batch::commit() {
  for (const auto& [seq, delta] : ref_delta_) LANTOA_RETURN_IF_ERROR(bump_refs(seq, delta));
  LANTOA_RETURN_IF_ERROR(txn_.put(store_.dbs_.meta, "next_seq", be64(next_seq_)));
  // No sequence is committed (and acknowledged) above what the manifest
  // has reserved.
  LANTOA_RETURN_IF_ERROR(store_.reserve(next_seq_ - 1));
  if (int err = store_.faults_ ? store_.faults_->before_commit() : 0; err != 0) {
    txn_.abort();  // as LMDB does when a write or fsync of the commit fails
    return store::from_mdb(err, "committing a transaction");
  }
  LANTOA_RETURN_IF_ERROR(txn_.commit());
  store_.next_seq_ = next_seq_;
  store_.next_sub_ = next_sub_;
  for (uint64_t id : removed_subs_) {
    auto it = store_.subs_.find(id);
    if (it == store_.subs_.end()) continue;  // added and removed in this batch
    for (const auto& f : it->second.filters) store_.index_.remove(id, f.text());
    store_.subs_.erase(it);
    if (!added_subs_.count(id)) store_.depths_.erase(id);  // a changed record keeps its depth
  }
  for (auto& [id, sub] : added_subs_) {
    for (const auto& f : sub.filters) store_.index_.add(id, f.text());
    store_.subs_[id] = std::move(sub);
    store_.depths_.try_emplace(id, 0);
  }
  for (const auto& [id, delta] : depth_delta_) {
    auto it = store_.depths_.find(id);
    if (it == store_.depths_.end()) continue;
    // Kept on in release builds: cheap, and a broken count means a queue
    // and its bookkeeping disagree (lantoa-broker check tells where).
    const int64_t depth = static_cast<int64_t>(it->second) + delta;
    if (depth < 0) {
      spdlog::error("invariant broken: the queue of subscription {} would hold {} entries; counted as 0 (run "
                    "lantoa-broker check)",
                    id, depth);
    }
    it->second = static_cast<uint64_t>(std::max<int64_t>(depth, 0));
  }
  store_.known_chains_.insert(new_chains_.begin(), new_chains_.end());
  for (const auto& [id, seq] : not_queued_) {
    auto it = store_.subs_.find(id);
    if (it == store_.subs_.end()) continue;
    it->second.record.set_not_queued_from_seq(seq);
    spdlog::warn("the queue of subscription \"{}\" of {} is full ({} events): events from broker sequence {} on are "
                 "not queued for it; its owner is told when it comes back",
                 it->second.record.name(), it->second.record.owner(), store_.max_queue_depth_, seq);
  }
  store_.not_queued_total_ += not_queued_events_;
  return Status::Ok();
}

}  // namespace lantoa::broker
