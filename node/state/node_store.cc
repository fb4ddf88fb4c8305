#include "state/node_store.h"

#include <sodium.h>

#include <algorithm>

#include "lantoa/encoding.h"
#include "lantoa/names.h"
#include "json_form/json_form.h"
#include "ninjs/ninjs.h"
#include "sanitize/html_sanitizer.h"

namespace lantoa::node {
namespace {

using nlohmann::json;
using E = v1::Error;

constexpr std::string_view kSanitizedFromKey = "meta:sanitized_from";

std::string lower_kind(v1::Kind k) {
  std::string name = v1::Kind_Name(k);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

Result<json> parse_stored(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Status(E::STORAGE_ERROR, "a stored node record is not JSON");
  return j;
}

std::string lower_reply_code(v1::ReplyCode c) {
  std::string name = v1::ReplyCode_Name(c);
  for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return name;
}

// The inbox_ids key of the endorsement by `endorser` carrying `original_id`.
std::string endorsed_key(const std::string& endorser, const std::string& original_id) {
  return "endorsed:" + endorser + "\n" + original_id;
}

}  // namespace

json received_record(const ReceivedEvent& e, const std::string& first_id, uint32_t version,
                     std::vector<std::string>* removed) {
  const v1::Event& ev = e.verified.event;
  json meta = {{"event_id", to_hex(e.verified.id)},
               {"origin", ev.origin()},
               {"sequence", ev.sequence()},
               {"topic", ev.topic()},
               {"kind", lower_kind(ev.kind())},
               {"refers_to", ev.refers_to().empty() ? json(nullptr) : json(to_hex(ev.refers_to()))},
               {"item_id", to_hex(first_id)},
               {"version", version},
               {"urgency", ev.urgency()},
               {"created", format_time_ms(ev.created_ms())},
               {"signer", e.verified.signer.member()},
               {"signer_key", fingerprint(e.verified.signer.certificate.sign_key())},
               {"signature", "verified"},
               {"broker_seq", e.broker_seq},
               {"subscription", e.subscription}};
  if (ev.kind() == v1::REPLY) meta["reply_code"] = lower_reply_code(ev.reply_code());
  if (auto inbox = inbox_address(ev.topic())) {
    // Written to one portal (a proposal, an answer): not news to republish.
    meta["addressed"] = {{"to", inbox->recipient}, {"from", inbox->sender}};
  }
  json doc;
  if (e.original) {
    // An endorsement: the content is the original's, as its author wrote it;
    // the item is the endorser's (its uri), and both names are shown.
    const VerifiedEvent& o = *e.original;
    const std::string provenance = e.provenance();
    meta["provenance"] = provenance;
    meta["endorsement"] = {{"endorsed_by", ev.origin()},
                           {"written_by", o.event.origin()},
                           {"original",
                            {{"event_id", to_hex(o.id)},
                             {"origin", o.event.origin()},
                             {"topic", o.event.topic()},
                             {"kind", lower_kind(o.event.kind())},
                             {"refers_to", o.event.refers_to().empty() ? json(nullptr) : json(to_hex(o.event.refers_to()))},
                             {"created", format_time_ms(o.event.created_ms())},
                             {"signer", o.signer.member()},
                             {"signer_key", fingerprint(o.signer.certificate.sign_key())},
                             {"signature", "verified"}}}};
    v1::Event content = o.event;
    if (content.kind() != v1::RETRACTION) content.set_kind(version > 1 ? v1::CORRECTION : v1::NEWS);
    content.set_origin(ev.origin());
    doc = to_ninjs(content, e.verified.id, first_id, version);
    doc["uri"] = ninjs_uri(ev.origin(), first_id);
    // Who wrote and who endorsed is said by the signatures alone: entries with
    // these roles in the author's own document are not kept.
    json sources = json::array();
    if (doc.contains("infoSources") && doc["infoSources"].is_array()) {
      for (const json& src : doc["infoSources"]) {
        const std::string role = src.is_object() && src.contains("role") && src["role"].is_string() ? src["role"].get<std::string>() : "";
        if (role != "author" && role != "endorser") sources.push_back(src);
      }
    }
    sources.push_back({{"literal", o.event.origin()}, {"role", "author"}});
    sources.push_back({{"literal", ev.origin()}, {"role", "endorser"}});
    doc["infoSources"] = std::move(sources);
  } else {
    doc = to_ninjs(ev, e.verified.id, first_id, version);
  }
  std::vector<std::string> notes = sanitize_ninjs(doc);
  if (!doc.contains("uri")) doc["uri"] = ninjs_uri(ev.origin(), first_id);  // none, or an unsafe one removed
  if (removed) *removed = std::move(notes);
  return {{"lantoa", meta}, {"ninjs", std::move(doc)}};
}

std::string NodeStore::key_for(std::string_view key) {
  constexpr size_t kMaxKeyBytes = 511;  // LMDB's default MDB_MAXKEYSIZE
  if (key.size() <= kMaxKeyBytes && (key.empty() || key[0] != '\0')) return std::string(key);
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(hash, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  return std::string("\0sha256:", 8) + to_hex(std::string_view(reinterpret_cast<const char*>(hash), sizeof hash));
}

Result<std::unique_ptr<NodeStore>> NodeStore::open(const std::filesystem::path& dir, const std::string& member) {
  std::unique_ptr<NodeStore> s(new NodeStore());
  s->member_ = member;
  store::EnvOptions o;
  o.map_size = size_t{4} << 30;
  auto env = store::Env::open(dir, o);
  if (!env) return env.status();
  s->env_.emplace(std::move(*env));
  for (auto [dbi, name] : {std::pair{&s->published_, "published"}, {&s->items_, "items"}, {&s->inbox_, "inbox"},
                           {&s->inbox_ids_, "inbox_ids"}, {&s->cursors_, "cursors"}, {&s->feeds_, "feeds"},
                           {&s->refused_, "refused"}, {&s->review_, "review"}}) {
    auto d = s->env_->open_db(name);
    if (!d) return d.status();
    *dbi = *d;
  }
  auto txn = store::Txn::begin(*s->env_, store::Access::kWrite);
  if (!txn) return txn.status();
  {
    auto cur = store::Cursor::open(*txn, s->inbox_);
    if (!cur) return cur.status();
    auto last = cur->last();
    if (!last) return last.status();
    if (*last) s->last_seq_ = store::read_be64((*last)->first);
  }
  auto from = txn->get(s->cursors_, kSanitizedFromKey);
  if (!from) return from.status();
  if (*from) {
    s->sanitized_from_ = store::read_be64(**from);
  } else {  // the first start with the sanitiser: what is already in the inbox is sanitised when read
    s->sanitized_from_ = s->last_seq_ + 1;
    LANTOA_RETURN_IF_ERROR(txn->put(s->cursors_, kSanitizedFromKey, store::be64(s->sanitized_from_)));
  }
  LANTOA_RETURN_IF_ERROR(txn->commit());
  return s;
}

Status NodeStore::record_queued(const std::string& id, const v1::Event& event, const std::string& item_uri) {
  auto txn = store::Txn::begin(*env_, store::Access::kWrite);
  if (!txn) return txn.status();
  // The item this event is a version of: the item of the event it corrects
  // or retracts, else itself (news, and an endorsement or answer: an item of
  // its own, which refers to another portal's).
  std::string item = id;
  const std::string own_uri = "urn:lantoa:" + event.origin() + ":";
  if (event.kind() == v1::ENDORSEMENT && item_uri.starts_with(own_uri)) {
    // A follow-up: the endorsement of the author's change is the next version
    // of the first endorsement's item (as its receivers see it).
    if (auto first = from_hex(item_uri.substr(own_uri.size())); first && first->size() == 32) item = *first;
  }
  if ((event.kind() == v1::CORRECTION || event.kind() == v1::RETRACTION) && !event.refers_to().empty()) {
    item = event.refers_to();
    auto ref = txn->get(published_, event.refers_to());
    if (!ref) return ref.status();
    if (*ref) {
      auto parsed = parse_stored(**ref);
      if (!parsed) return parsed.status();
      if (auto first = from_hex(parsed->value("item", "")); first && first->size() == 32) item = *first;
    }
  }
  json rec = {{"id", to_hex(id)},          {"status", "queued"},
              {"topic", event.topic()},    {"kind", lower_kind(event.kind())},
              {"sequence", event.sequence()}, {"item", to_hex(item)},
              {"event", event_to_json_form(event)}};
  if (!item_uri.empty()) rec["item_uri"] = item_uri;
  auto old = txn->get(published_, id);
  if (!old) return old.status();
  if (*old) {  // the outcome came first: keep it
    auto parsed = parse_stored(**old);
    if (!parsed) return parsed.status();
    for (const char* key : {"status", "broker_seq", "error"}) {
      if (parsed->contains(key)) rec[key] = (*parsed)[key];
    }
  }
  LANTOA_RETURN_IF_ERROR(txn->put(published_, id, rec.dump()));
  if (rec["status"] != "rejected") {  // a refused event is no version of anything
    LANTOA_RETURN_IF_ERROR(txn->put(items_, key_for(ninjs_uri(event.origin(), item)), id));
    if (!item_uri.empty()) LANTOA_RETURN_IF_ERROR(txn->put(items_, key_for(item_uri), id));
  }
  return txn->commit();
}

Status NodeStore::record_outcome(const PublishOutcome& o) {
  auto txn = store::Txn::begin(*env_, store::Access::kWrite);
  if (!txn) return txn.status();
  auto old = txn->get(published_, o.event_id);
  if (!old) return old.status();
  json rec = json::object();
  if (*old) {
    auto parsed = parse_stored(**old);
    if (!parsed) return parsed.status();
    rec = std::move(*parsed);
  }
  rec["id"] = to_hex(o.event_id);
  rec["sequence"] = o.sequence;
  if (o.ok()) {
    rec["status"] = "accepted";
    rec["broker_seq"] = o.broker_seq;
    rec.erase("error");
  } else {
    rec["status"] = "rejected";
    rec["error"] = {{"code", v1::Error::Code_Name(o.error.code())}, {"message", o.error.message()}};
    // A refused event is no version of its item: the item's latest version
    // is again the one it amended (or, for news, there is no item).
    if (rec.contains("item") && rec.contains("event")) {
      auto item = from_hex(rec.value("item", ""));
      auto before = from_hex(rec["event"].value("refers_to", ""));
      std::vector<std::string> keys;
      if (item) keys.push_back(key_for(ninjs_uri(rec["event"].value("origin", ""), *item)));
      if (rec.contains("item_uri")) keys.push_back(key_for(rec.value("item_uri", "")));
      for (const std::string& key : keys) {
        auto now = txn->get(items_, key);
        if (!now) return now.status();
        if (!*now || **now != o.event_id) continue;
        if (before && before->size() == 32) {
          LANTOA_RETURN_IF_ERROR(txn->put(items_, key, *before));
        } else {
          if (auto gone = txn->erase(items_, key); !gone) return gone.status();
        }
      }
    }
  }
  LANTOA_RETURN_IF_ERROR(txn->put(published_, o.event_id, rec.dump()));
  return txn->commit();
}

Result<std::optional<json>> NodeStore::published(const std::string& id) {
  auto txn = store::Txn::begin(*env_, store::Access::kRead);
  if (!txn) return txn.status();
  auto v = txn->get(published_, id);
  if (!v) return v.status();
  if (!*v) return std::optional<json>();
  auto parsed = parse_stored(**v);
  if (!parsed) return parsed.status();
  return std::optional<json>(std::move(*parsed));
}

Result<std::string> NodeStore::latest_for_item(const std::string& item_uri) {
  auto txn = store::Txn::begin(*env_, store::Access::kRead);
  if (!txn) return txn.status();
  auto v = txn->get(items_, key_for(item_uri));
  if (!v) return v.status();
  return *v ? std::string(**v) : std::string();
}

Result<Added> NodeStore::add_received(const ReceivedEvent& e) {
  const std::string& id = e.verified.id;
  const v1::Event& ev = e.verified.event;
  uint64_t seq = 0;
  Added added;
  {
    auto txn = store::Txn::begin(*env_, store::Access::kWrite);
    if (!txn) return txn.status();
    auto seen = txn->get(inbox_ids_, id);
    if (!seen) return seen.status();
    if (*seen) return added;
    auto refused_before = txn->get(refused_, id);
    if (!refused_before) return refused_before.status();
    if (*refused_before) return added;  // refused already: reported once
    // A correction is the next version of the item it refers to.
    std::string first_id = id;
    uint32_t version = 1;
    std::optional<std::pair<std::string, json>> referenced;  // key, record
    // An endorsement carrying a correction or retraction of an original the
    // same endorser endorsed before is that endorsement's next version.
    const v1::Event* carried = e.original ? &e.original->event : nullptr;
    const bool amends_endorsed = carried && !carried->refers_to().empty() &&
                                 (carried->kind() == v1::CORRECTION || carried->kind() == v1::RETRACTION);
    if (amends_endorsed) {
      auto earlier = inbox_record(*txn, endorsed_key(ev.origin(), carried->refers_to()));
      if (!earlier) return earlier.status();
      if (*earlier) {
        const json& before = (*earlier)->second["lantoa"];
        const bool same_author = before.contains("endorsement") &&
                                 before["endorsement"].value("written_by", "") == carried->origin();
        if (before.value("origin", "") == ev.origin() && same_author) {
          if (auto item = from_hex(before.value("item_id", ""))) first_id = *item;
          version = before.value("version", 1u) + 1;
          referenced = std::move(**earlier);
        }
      }
    }
    if (!ev.refers_to().empty() && (ev.kind() == v1::CORRECTION || ev.kind() == v1::RETRACTION)) {
      first_id = ev.refers_to();
      version = 2;
      auto earlier = inbox_record(*txn, ev.refers_to());
      if (!earlier) return earlier.status();
      if (*earlier) {
        const json& before = (*earlier)->second["lantoa"];
        // Only an item's origin may correct or retract it (not even an
        // authority above it): anything else leaves the item as it is.
        const std::string original_origin = before.value("origin", "");
        if (original_origin != ev.origin()) {
          const std::string verb = ev.kind() == v1::RETRACTION ? "retract" : "correct";
          added.refused = ev.origin() + " may not " + verb + " event " + to_hex(ev.refers_to()) + " of " +
                          original_origin + " (only an item's origin may correct or retract it): event " +
                          to_hex(id) + " not applied";
          json refusal = {{"event_id", to_hex(id)},
                          {"origin", ev.origin()},
                          {"kind", lower_kind(ev.kind())},
                          {"topic", ev.topic()},
                          {"refers_to", to_hex(ev.refers_to())},
                          {"original_origin", original_origin},
                          {"received", format_time_ms(unix_now_ms())},
                          {"broker_seq", e.broker_seq},
                          {"error", {{"code", "PERMISSION_DENIED"}, {"message", added.refused}}}};
          LANTOA_RETURN_IF_ERROR(txn->put(refused_, id, refusal.dump()));
          LANTOA_RETURN_IF_ERROR(txn->commit());
          return added;
        }
        if (auto item = from_hex(before.value("item_id", ""))) first_id = *item;
        version = before.value("version", 1u) + 1;
        referenced = std::move(**earlier);
      }
    }
    // The next inbox sequence comes from the inbox itself, inside this write
    // transaction: two receivers (one per subscription) never take the same one.
    {
      auto cur = store::Cursor::open(*txn, inbox_);
      if (!cur) return cur.status();
      auto last = cur->last();
      if (!last) return last.status();
      seq = *last ? store::read_be64((*last)->first) + 1 : 1;
    }
    json rec = received_record(e, first_id, version, &added.removed);
    rec["inbox"] = {{"seq", seq}, {"received", format_time_ms(unix_now_ms())}, {"state", "current"}, {"acked", false}};
    if (referenced) {
      json& old = referenced->second;
      const bool withdraws = ev.kind() == v1::RETRACTION || (carried && carried->kind() == v1::RETRACTION);
      old["inbox"]["state"] = withdraws ? "withdrawn" : "corrected";
      old["inbox"]["superseded_by"] = to_hex(id);
      LANTOA_RETURN_IF_ERROR(txn->put(inbox_, referenced->first, old.dump()));
    }
    if (carried && carried->kind() == v1::RETRACTION) rec["ninjs"]["pubStatus"] = "canceled";
    LANTOA_RETURN_IF_ERROR(txn->put(inbox_, store::be64(seq), rec.dump()));
    LANTOA_RETURN_IF_ERROR(txn->put(inbox_ids_, id, store::be64(seq)));
    if (carried) LANTOA_RETURN_IF_ERROR(txn->put(inbox_ids_, endorsed_key(ev.origin(), e.original->id), store::be64(seq)));
    LANTOA_RETURN_IF_ERROR(keep_addressed(*txn, e, first_id, version, added));
    LANTOA_RETURN_IF_ERROR(txn->commit());
  }
  {
    std::lock_guard lock(mu_);
    last_seq_ = std::max(last_seq_, seq);
  }
  grew_.notify_all();
  added.seq = seq;
  return added;
}

Result<uint64_t> NodeStore::refused_count() {
  auto f = figures();
  if (!f) return f.status();
  return f->refused;
}

Result<NodeStore::Figures> NodeStore::figures() {
  auto txn = store::Txn::read(*env_);
  if (!txn) return txn.status();
  MDB_stat inbox{}, refused{}, env{};
  MDB_envinfo info{};
  if (int rc = mdb_stat(txn->raw(), inbox_.handle, &inbox)) return store::from_mdb(rc, "reading the inbox's size");
  if (int rc = mdb_stat(txn->raw(), refused_.handle, &refused)) return store::from_mdb(rc, "counting refused events");
  if (int rc = mdb_env_stat(env_->raw(), &env)) return store::from_mdb(rc, "reading the store's size");
  if (int rc = mdb_env_info(env_->raw(), &info)) return store::from_mdb(rc, "reading the store's size");
  Figures f;
  f.inbox_entries = inbox.ms_entries;
  f.inbox_bytes = uint64_t{inbox.ms_psize} * (inbox.ms_branch_pages + inbox.ms_leaf_pages + inbox.ms_overflow_pages);
  f.refused = refused.ms_entries;
  f.used_bytes = uint64_t{env.ms_psize} * (info.me_last_pgno + 1);
  f.map_bytes = info.me_mapsize;
  return f;
}

Result<std::vector<InboxEntry>> NodeStore::scan_inbox(std::optional<uint64_t> after, size_t max,
                                                       const std::function<bool(const json&)>& keep) {
  std::vector<InboxEntry> out;
  auto txn = store::Txn::begin(*env_, store::Access::kRead);
  if (!txn) return txn.status();
  auto cur = store::Cursor::open(*txn, inbox_);
  if (!cur) return cur.status();
  // Forwards from after + 1, or backwards from the newest.
  for (auto e = after ? cur->seek(store::be64(*after + 1)) : cur->last(); out.size() < max;
       e = after ? cur->next() : cur->prev()) {
    if (!e) return e.status();
    if (!*e) break;
    auto rec = parse_stored((*e)->second);
    if (!rec) return rec.status();
    if (keep && !keep(*rec)) continue;
    const uint64_t seq = store::read_be64((*e)->first);
    if (seq < sanitized_from_ && rec->contains("ninjs")) (void)sanitize_ninjs((*rec)["ninjs"]);
    out.push_back({seq, std::move(*rec)});
  }
  return out;
}

Result<std::vector<InboxEntry>> NodeStore::inbox_after(uint64_t after, size_t max,
                                                        const std::function<bool(const json&)>& keep) {
  return scan_inbox(after, max, keep);
}

Result<std::vector<InboxEntry>> NodeStore::inbox_newest(size_t max, const std::function<bool(const json&)>& keep) {
  return scan_inbox(std::nullopt, max, keep);
}

Status NodeStore::ack(const std::string& id_hex) {
  auto id = from_hex(id_hex);
  if (!id || id->size() != 32) return Status(E::INVALID_ARGUMENT, "an event id is 64 hexadecimal digits");
  auto txn = store::Txn::begin(*env_, store::Access::kWrite);
  if (!txn) return txn.status();
  auto seq = txn->get(inbox_ids_, *id);
  if (!seq) return seq.status();
  if (!*seq) return Status(E::NOT_FOUND, "no event " + id_hex + " in the inbox");
  const std::string key(**seq);
  auto v = txn->get(inbox_, key);
  if (!v) return v.status();
  if (!*v) return Status(E::NOT_FOUND, "no event " + id_hex + " in the inbox");
  auto rec = parse_stored(**v);
  if (!rec) return rec.status();
  (*rec)["inbox"]["acked"] = true;
  LANTOA_RETURN_IF_ERROR(txn->put(inbox_, key, rec->dump()));
  return txn->commit();
}

void NodeStore::wait_for_inbox(uint64_t after, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  grew_.wait_for(lock, timeout, [&] { return last_seq_ > after; });
}

void NodeStore::wake_all() { grew_.notify_all(); }

Result<uint64_t> NodeStore::cursor(const std::string& target) {
  auto txn = store::Txn::begin(*env_, store::Access::kRead);
  if (!txn) return txn.status();
  auto v = txn->get(cursors_, key_for(target));
  if (!v) return v.status();
  return *v ? store::read_be64(**v) : uint64_t{0};
}

Status NodeStore::set_cursor(const std::string& target, uint64_t seq) {
  auto txn = store::Txn::begin(*env_, store::Access::kWrite);
  if (!txn) return txn.status();
  LANTOA_RETURN_IF_ERROR(txn->put(cursors_, key_for(target), store::be64(seq)));
  return txn->commit();
}

Result<TargetProgress> NodeStore::progress(const std::string& target) {
  auto txn = store::Txn::begin(*env_, store::Access::kRead);
  if (!txn) return txn.status();
  TargetProgress p;
  auto base = txn->get(cursors_, key_for(target));
  if (!base) return base.status();
  if (*base) p.base = store::read_be64(**base);
  auto lanes = txn->get(cursors_, key_for("lanes:" + target));
  if (!lanes) return lanes.status();
  if (*lanes) {
    auto parsed = parse_stored(**lanes);
    if (!parsed) return parsed.status();
    if (!parsed->is_object()) return Status(E::STORAGE_ERROR, "the topic positions of " + target + " are not an object");
    for (const auto& [topic, seq] : parsed->items()) {
      if (seq.is_number_unsigned() && seq.get<uint64_t>() > p.base) p.lanes[topic] = seq.get<uint64_t>();
    }
  }
  return p;
}

Status NodeStore::set_progress(const std::string& target, const TargetProgress& p) {
  auto txn = store::Txn::begin(*env_, store::Access::kWrite);
  if (!txn) return txn.status();
  LANTOA_RETURN_IF_ERROR(txn->put(cursors_, key_for(target), store::be64(p.base)));
  json lanes = json::object();
  for (const auto& [topic, seq] : p.lanes) {
    if (seq > p.base) lanes[topic] = seq;
  }
  const std::string key = key_for("lanes:" + target);
  if (lanes.empty()) {
    auto erased = txn->erase(cursors_, key);
    if (!erased) return erased.status();
  } else {
    LANTOA_RETURN_IF_ERROR(txn->put(cursors_, key, lanes.dump()));
  }
  return txn->commit();
}

Result<json> NodeStore::subscription_state(const std::string& name) {
  auto txn = store::Txn::begin(*env_, store::Access::kRead);
  if (!txn) return txn.status();
  auto v = txn->get(cursors_, key_for("subscription:" + name));
  if (!v) return v.status();
  if (!*v) return json::object();
  return parse_stored(**v);
}

Status NodeStore::set_subscription_state(const std::string& name, const json& state) {
  auto txn = store::Txn::begin(*env_, store::Access::kWrite);
  if (!txn) return txn.status();
  const std::string key = key_for("subscription:" + name);
  if (state.is_null()) {
    auto erased = txn->erase(cursors_, key);
    if (!erased) return erased.status();
  } else {
    LANTOA_RETURN_IF_ERROR(txn->put(cursors_, key, state.dump()));
  }
  return txn->commit();
}

uint64_t NodeStore::last_inbox_seq() {
  std::lock_guard lock(mu_);
  return last_seq_;
}

Result<json> NodeStore::feed_state(const std::string& source) {
  auto txn = store::Txn::begin(*env_, store::Access::kRead);
  if (!txn) return txn.status();
  auto v = txn->get(feeds_, key_for(source));
  if (!v) return v.status();
  if (!*v) return json::object();
  return parse_stored(**v);
}

Status NodeStore::set_feed_state(const std::string& source, const json& state) {
  auto txn = store::Txn::begin(*env_, store::Access::kWrite);
  if (!txn) return txn.status();
  LANTOA_RETURN_IF_ERROR(txn->put(feeds_, key_for(source), state.dump()));
  return txn->commit();
}

Result<std::optional<std::pair<std::string, json>>> NodeStore::inbox_record(store::Txn& txn, std::string_view id_key) {
  using Found = std::optional<std::pair<std::string, json>>;
  auto seq = txn.get(inbox_ids_, id_key);
  if (!seq) return seq.status();
  if (!*seq) return Found();
  const std::string key(**seq);
  auto v = txn.get(inbox_, key);
  if (!v) return v.status();
  if (!*v) return Found();
  auto parsed = parse_stored(**v);
  if (!parsed) return parsed.status();
  return Found(std::pair(key, std::move(*parsed)));
}

Status NodeStore::keep_addressed(store::Txn& txn, const ReceivedEvent& e, const std::string& first_id,
                                 uint32_t version, Added& added) {
  const v1::Event& ev = e.verified.event;
  auto inbox = inbox_address(ev.topic());
  if (member_.empty() || !inbox || inbox->recipient != member_) return Status::Ok();
  const std::string& id = e.verified.id;
  const std::string now = format_time_ms(unix_now_ms());
  if (ev.kind() == v1::REPLY) {  // an answer to something this portal published
    json reply = {{"id", to_hex(id)},
                  {"from", ev.origin()},
                  {"code", lower_reply_code(ev.reply_code())},
                  {"headline", ev.headline()},
                  {"text", ev.body()},
                  {"refers_to", to_hex(ev.refers_to())},
                  {"created", format_time_ms(ev.created_ms())},
                  {"received", now},
                  {"signer", e.verified.signer.member()},
                  {"signer_key", fingerprint(e.verified.signer.certificate.sign_key())},
                  {"signature", "verified"}};
    // Kept under the item answered (the first version's id) when this node
    // published it, so every version's answers are listed together.
    std::string item = ev.refers_to();
    auto mine = txn.get(published_, ev.refers_to());
    if (!mine) return mine.status();
    if (*mine) {
      auto parsed = parse_stored(**mine);
      if (!parsed) return parsed.status();
      if (auto first = from_hex(parsed->value("item", "")); first && first->size() == 32) item = *first;
    }
    return txn.put(review_, "r:" + item + id, reply.dump());
  }
  if (ev.kind() != v1::NEWS && ev.kind() != v1::CORRECTION && ev.kind() != v1::RETRACTION) return Status::Ok();
  // A proposal, or a new version of one.
  if (e.envelope.has_signer_chain()) {
    LANTOA_RETURN_IF_ERROR(txn.put(review_, "e:" + id, e.envelope.SerializeAsString()));
  }
  const std::string key = "p:" + first_id;
  auto old = txn.get(review_, key);
  if (!old) return old.status();
  json p;
  const char* action = ev.kind() == v1::NEWS ? "proposed" : ev.kind() == v1::RETRACTION ? "withdrawn" : "corrected";
  if (*old) {
    auto parsed = parse_stored(**old);
    if (!parsed) return parsed.status();
    p = std::move(*parsed);
    if (p.value("proposer", "") != ev.origin()) {
      // A version by someone else than the proposer (one that arrived before
      // the original, so add_received could not refuse it): the original's
      // own NEWS replaces what it made; anything else is ignored.
      if (ev.kind() != v1::NEWS) return Status::Ok();
      p = nullptr;
    }
  }
  if (p.is_null()) {
    p = {{"id", to_hex(first_id)},
         {"proposer", ev.origin()},
         {"reviewer", member_},
         {"topic", ev.topic()},
         {"state", "pending"},
         {"proposed", format_time_ms(ev.created_ms())},
         {"received", now},
         {"endorsements", json::array()},
         {"versions", json::array()},
         {"follow", json::array()},
         {"history", json::array()}};
  }
  p["versions"].push_back(to_hex(id));
  if (ev.kind() == v1::NEWS) p["proposed"] = format_time_ms(ev.created_ms());
  const bool newer = p.value("version", 0u) < version;
  if (newer) {  // (a version that arrives late changes nothing)
    p["latest"] = to_hex(id);
    p["version"] = version;
    p["kind"] = lower_kind(ev.kind());
    if (!ev.headline().empty()) p["headline"] = ev.headline();
    p["urgency"] = ev.urgency();
    p["updated"] = format_time_ms(ev.created_ms());
  }
  const std::string state = p.value("state", "pending");
  if (ev.kind() == v1::RETRACTION) {
    p["state"] = "withdrawn";
  } else if (newer && ev.kind() == v1::CORRECTION && state == "changes_requested") {
    p["state"] = "pending";  // corrected as asked: to be reviewed again
  }
  if (newer && state == "endorsed") {  // what the endorsement's receivers have must follow the author's change
    p["follow"].push_back(to_hex(id));
    added.follow_up = true;
  }
  p["history"].push_back({{"action", action},
                          {"by", ev.origin()},
                          {"at", format_time_ms(ev.created_ms())},
                          {"event_id", to_hex(id)},
                          {"signature", "verified"}});
  return txn.put(review_, key, p.dump());
}

Result<std::vector<json>> NodeStore::proposals(const std::string& state) {
  std::vector<json> out;
  auto txn = store::Txn::begin(*env_, store::Access::kRead);
  if (!txn) return txn.status();
  auto cur = store::Cursor::open(*txn, review_);
  if (!cur) return cur.status();
  for (auto e = cur->seek("p:"); ; e = cur->next()) {
    if (!e) return e.status();
    if (!*e || !(*e)->first.starts_with("p:")) break;
    auto p = parse_stored((*e)->second);
    if (!p) return p.status();
    if (state.empty() || p->value("state", "") == state) out.push_back(std::move(*p));
  }
  const auto key = [](const json& p) {  // newest first; one order always
    return std::pair(parse_time_ms(p.value("received", "")).value_or(0), p.value("id", ""));
  };
  std::sort(out.begin(), out.end(), [&](const json& a, const json& b) { return key(a) > key(b); });
  return out;
}

Result<std::optional<json>> NodeStore::proposal(const std::string& item_id) {
  auto txn = store::Txn::begin(*env_, store::Access::kRead);
  if (!txn) return txn.status();
  auto v = txn->get(review_, "p:" + item_id);
  if (!v) return v.status();
  if (!*v) return std::optional<json>();
  auto p = parse_stored(**v);
  if (!p) return p.status();
  return std::optional<json>(std::move(*p));
}

Status NodeStore::update_proposal(const std::string& item_id, const std::function<Status(json&)>& change) {
  auto txn = store::Txn::begin(*env_, store::Access::kWrite);
  if (!txn) return txn.status();
  auto v = txn->get(review_, "p:" + item_id);
  if (!v) return v.status();
  if (!*v) return Status(E::NOT_FOUND, "no proposal " + to_hex(item_id) + " was made to this portal");
  auto p = parse_stored(**v);
  if (!p) return p.status();
  LANTOA_RETURN_IF_ERROR(change(*p));
  LANTOA_RETURN_IF_ERROR(txn->put(review_, "p:" + item_id, p->dump()));
  return txn->commit();
}

Result<std::string> NodeStore::proposal_envelope(const std::string& event_id) {
  auto txn = store::Txn::begin(*env_, store::Access::kRead);
  if (!txn) return txn.status();
  auto v = txn->get(review_, "e:" + event_id);
  if (!v) return v.status();
  return *v ? std::string(**v) : std::string();
}

Result<std::vector<std::string>> NodeStore::follow_ups() {
  auto all = proposals("");
  if (!all) return all.status();
  std::vector<std::string> out;
  for (const json& p : *all) {
    if (p.contains("follow") && !p["follow"].empty()) {
      if (auto id = from_hex(p.value("id", ""))) out.push_back(*id);
    }
  }
  return out;
}

Result<std::vector<json>> NodeStore::replies_to(const std::string& event_id) {
  std::vector<json> out;
  auto txn = store::Txn::begin(*env_, store::Access::kRead);
  if (!txn) return txn.status();
  auto cur = store::Cursor::open(*txn, review_);
  if (!cur) return cur.status();
  const std::string prefix = "r:" + event_id;
  for (auto e = cur->seek(prefix);; e = cur->next()) {
    if (!e) return e.status();
    if (!*e || !(*e)->first.starts_with(prefix)) break;
    auto r = parse_stored((*e)->second);
    if (!r) return r.status();
    out.push_back(std::move(*r));
  }
  const auto key = [](const json& r) {  // oldest first; one order always
    return std::pair(parse_time_ms(r.value("created", "")).value_or(0), r.value("id", ""));
  };
  std::sort(out.begin(), out.end(), [&](const json& a, const json& b) { return key(a) < key(b); });
  return out;
}

Result<std::optional<json>> NodeStore::received(const std::string& event_id) {
  auto txn = store::Txn::begin(*env_, store::Access::kRead);
  if (!txn) return txn.status();
  auto found = inbox_record(*txn, event_id);
  if (!found) return found.status();
  if (!*found) return std::optional<json>();
  return std::optional<json>(std::move((*found)->second));
}

}  // namespace lantoa::node
