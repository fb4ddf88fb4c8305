// The broker's durable state in LMDB: event log, duplicate and replay
// indexes, subscriptions, queues by reference, embargoes, retention.
// The layout is documented in FORMAT.md beside this file.
//
// Threads: only the writer thread writes, through a Store::Batch (one LMDB
// write transaction plus the in-memory state it would change; nothing in
// memory changes unless the commit succeeds). Any thread may read with its
// own read transaction through the static read helpers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "lantoa/access.h"
#include "lantoa/names.h"
#include "lantoa/status.h"
#include "lantoa/internal/store.h"
#include "lantoa/internal/thread_owner.h"
#include "lantoa/trust.h"
#include "lantoa/v1/wire.pb.h"
#include "routing/subject_index.h"
#include "store/faults.h"
#include "store/manifest.h"
#include "store/records.pb.h"

namespace lantoa::broker {

using StoredEvent = lantoa::broker::records::StoredEvent;
using SubscriptionRecord = lantoa::broker::records::SubscriptionRecord;

// Identifies one entry of a subscription's queue.
struct QueueRef {
  uint64_t sub = 0;
  uint32_t urgency = 0;
  uint64_t seq = 0;
  bool operator<(const QueueRef& o) const {
    return std::tie(sub, urgency, seq) < std::tie(o.sub, o.urgency, o.seq);
  }
};
std::string queue_key(const QueueRef& ref);
// An `ids` value for an event retention removed: be64 0, then be64 the time
// until which its id is remembered (FORMAT.md).
std::string forgotten_id_value(int64_t until_ms);
bool is_forgotten_id(std::string_view ids_value);
QueueRef parse_queue_key(std::string_view key);

// A link's subscription (session/link.h): what is owed to a linked broker,
// named "$link-<its tag>" (no client may use '$'). Not bounded by
// max_queue_depth; its filters follow the peer's interest.
inline constexpr std::string_view kLinkSubscriptionPrefix = "$link-";
inline bool is_link_subscription(std::string_view name) { return name.starts_with(kLinkSubscriptionPrefix); }

struct Subscription {
  SubscriptionRecord record;
  std::vector<TopicFilter> filters;
  std::vector<std::string> grants;  // copy of record.read_grants
  bool matches(std::string_view topic) const;
};

// An event that passed verification, ready to be stored.
struct IngestItem {
  uint32_t index = 0;   // position in its publish batch
  StoredEvent record;   // all fields but accepted_ms
  std::string chain;    // serialized CertificateChain of the signer
  // For a CORRECTION or RETRACTION: the id it refers to. Only the origin of
  // an item may correct or retract it: when the log holds that item and its
  // origin is another member, the event is refused (REFERENCE_NOT_ALLOWED).
  std::string corrects;
  // A declaration the event carries (on "$trust.restrictions" or
  // "$trust.revocations"), checked by the verifier and put in force only
  // once the event is committed (Writer::on_declaration). Within the batch
  // that stores it, a restriction already governs routing.
  std::optional<Restriction> restriction;
  std::optional<v1::SignedRevocationList> revocations;
  bool declares() const { return restriction || revocations; }
  // Passed on by a linked broker: the subscription of what is owed to that
  // broker, which the event is not routed to (it came from there); 0: none.
  uint64_t arrived_on = 0;
};

struct IngestResult {
  v1::PublishResult::Status status = v1::PublishResult::STATUS_UNSPECIFIED;
  uint64_t seq = 0;
  Status error;                 // REJECTED only
  std::vector<QueueRef> routed; // ACCEPTED and not embargoed
};

struct SubscribeDefaults {
  uint32_t credit = 100;
  uint32_t ack_timeout_ms = 30'000;
  // Durable subscriptions one member may hold (0: no limit). Each one is
  // routed every matching event and holds what it has not acked: one
  // certificate must not be able to open thousands and abandon them.
  uint32_t max_per_member = 32;
};

struct SubscribeResult {
  Subscription subscription;
  bool resumed = false;
  uint64_t pending = 0;
  bool behind_retention = false;
  uint64_t oldest_retained_seq = 0;
  std::vector<QueueRef> routed;  // entries added by the start position
};

struct RetentionPolicy {
  int64_t max_age_ms = 7LL * 24 * 3600 * 1000;  // 0 = keep forever (while unreferenced? see below)
  uint64_t max_bytes = 0;                        // size of the event log; 0 = no size limit
};

// How a store is opened (see manifest.h for what is checked).
struct StoreOpening {
  std::string member = "lantoa-broker";  // written in the manifest
  // Adopt a store that is missing, emptied, replaced or rolled back rather
  // than refuse it (--accept-store-change); broker sequences then continue
  // after the manifest's highest.
  bool accept_change = false;
};

class Store {
 public:
  // Checks data.mdb against its LMDB header (data_file.h) and against the
  // folder's manifest before using it. `restrictions` (may be null) decides
  // which subscriptions an event on a restricted topic is routed to; it must
  // outlive the store.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& dir, const store::EnvOptions& options,
                                             const Restrictions* restrictions = nullptr,
                                             const StoreOpening& opening = {});

  // Writer thread: records the highest committed broker sequence in the
  // manifest, at most once per `min_interval_ms` (0: now) and only when it
  // changed. A failure is returned (and the old manifest stays, which is
  // safe: it may lag the store, never lead it).
  Status save_manifest(int64_t now_ms, int64_t min_interval_ms);
  const std::string& store_id() const { return manifest_.store_id; }

  // Tests: storage failures to inject (see faults.h); null for none. Set
  // before the writer starts; must outlive the store.
  void set_faults(StorageFaults* faults) { faults_ = faults; }

  store::Env& env() { return env_; }
  const store::Env& env() const { return env_; }

  // Most entries one subscription's queue may hold (0: no limit). Beyond it
  // an event is not queued for that subscription: the subscription is
  // marked (not_queued_from_seq), the operator warned in the log and by
  // lantoa_events_not_queued_total, and the owner told when it resumes.
  // A portal offline for days keeps everything up to the limit.
  void set_max_queue_depth(uint64_t n) { max_queue_depth_ = n; }
  uint64_t not_queued_total() const { return not_queued_total_; }

  // Replay protection (FORMAT.md, "Replays"): how long an event id is
  // remembered after retention removed its event, counted from the event's
  // own created_ms; an event created longer ago than this is refused
  // (EVENT_TOO_OLD). So every event arrives at most once, however late and
  // by whatever path, and a replay is either remembered or too old.
  static constexpr int64_t kDefaultReplayHorizonMs = 30LL * 24 * 3600 * 1000;
  void set_replay_horizon_ms(int64_t ms) { replay_horizon_ms_ = ms; }
  int64_t replay_horizon_ms() const { return replay_horizon_ms_; }

  // Committed state, for the writer thread.
  uint64_t next_seq() const { return next_seq_; }
  const std::map<uint64_t, Subscription>& subscriptions() const { return subs_; }
  const std::map<uint64_t, uint64_t>& depths() const { return depths_; }

  // One write transaction with the in-memory changes it implies.
  class Batch {
   public:
    // Stores an event: DUPLICATE if its id is known (held, or remembered
    // after retention removed it), REJECTED if it was created before the
    // replay horizon (EVENT_TOO_OLD) or reuses a sequence of its origin that
    // another event took (STALE_SEQUENCE: SequenceWindow), else
    // ACCEPTED with a new broker sequence and routed to matching queues (or
    // held for its embargo). A storage failure is returned as the Status;
    // the batch must then be abandoned.
    Result<IngestResult> ingest(const IngestItem& item, int64_t now_ms);

    Result<SubscribeResult> subscribe(const std::string& owner, const std::vector<std::string>& grants,
                                      const lantoa::v1::Subscribe& request, int64_t now_ms,
                                      const SubscribeDefaults& defaults, bool link = false);
    // Deletes a subscription and its queue (when `remove`); NOT_FOUND if absent.
    Result<uint64_t> unsubscribe(const std::string& owner, const std::string& name, bool remove);

    // Removes one queue entry (no-op if already gone) and records, in
    // `spread`, that the subscription acknowledged the event at `acked_ms`
    // (0: records nothing: an expired entry, or a store too full for it).
    Status ack(const QueueRef& ref, int64_t acked_ms);
    // Empties a subscription's queue (the operator's `lantoa queues purge`);
    // the subscription stays. SUBSCRIPTION_NOT_FOUND if absent.
    struct Purged {
      uint64_t sub = 0;
      uint64_t entries = 0;
    };
    Result<Purged> purge(const std::string& owner, const std::string& name);

    // Routes every embargoed event whose time has come.
    Result<std::vector<QueueRef>> release_embargoes(int64_t now_ms);
    // Deletes unreferenced events past the policy, remembering their ids
    // until the replay horizon, and forgets ids past it; returns how many
    // events it deleted.
    Result<uint64_t> apply_retention(int64_t now_ms, const RetentionPolicy& policy);

    // Commits (fsync) and, on success only, applies the in-memory changes.
    Status commit();

   private:
    friend class Store;
    Batch(Store& store, store::Txn txn);
    // `skip`: a subscription not to route to (the link the event came by).
    Status route(uint64_t seq, const StoredEvent& record, std::vector<QueueRef>& routed, uint64_t skip = 0);
    bool may_receive(const Subscription& sub, const std::string& topic) const;
    Status add_ref(const QueueRef& ref);
    Status bump_refs(uint64_t seq, int64_t delta);

    Status mark_not_queued(const Subscription& sub, uint64_t seq);
    // Deletes an event's id, or remembers it (`forgotten`) until the replay horizon.
    Status forget(const StoredEvent& event, int64_t now_ms);
    // Forgets at most `most` remembered ids whose horizon has passed.
    Result<uint64_t> forget_past_horizon(int64_t now_ms, uint64_t most);
    // Deletes every entry of a subscription's queue with its reference; how many.
    Result<uint64_t> clear_queue(uint64_t sub);

    Store& store_;
    store::Txn txn_;
    std::map<uint64_t, uint64_t> not_queued_;  // subscription -> first sequence not queued, marked in this batch
    uint64_t not_queued_events_ = 0;
    uint64_t next_seq_;
    uint64_t next_sub_;
    std::map<uint64_t, Subscription> added_subs_;
    std::set<uint64_t> removed_subs_;
    std::map<uint64_t, int64_t> depth_delta_;
    std::map<uint64_t, int64_t> ref_delta_;  // acks: applied once per event at commit
    std::set<std::string> new_chains_;
    std::vector<uint64_t> matched_;  // scratch for route()
    std::unique_ptr<Restrictions> pending_restrictions_;  // declared in this batch, not yet in force
  };

  Result<Batch> begin();

  // --- reads, from any thread with its own read transaction ---
  struct Dbs {
    store::Dbi meta, events, ids, origins, chains, by_time, subs, sub_names, queue, refs, embargo, spread, forgotten;
  };
  const Dbs& dbs() const { return dbs_; }
  Result<std::optional<StoredEvent>> read_event(const store::Txn& txn, uint64_t seq) const;
  Result<std::optional<std::string>> read_chain(const store::Txn& txn, std::string_view key_id) const;
  Result<uint64_t> last_origin_sequence(const store::Txn& txn, std::string_view origin) const;
  // Oldest retained broker sequence (0 when the log is empty).
  Result<uint64_t> oldest_seq(const store::Txn& txn) const;
  // The lowest broker sequence in a subscription's queue (0 when it is
  // empty): one seek per urgency level present.
  Result<uint64_t> oldest_queued_seq(const store::Txn& txn, uint64_t sub) const;
  // The broker sequence of the event with this id, if the log holds it.
  Result<std::optional<uint64_t>> seq_of_id(const store::Txn& txn, std::string_view id) const;
  // Where one event went: every subscription that holds it in its queue,
  // acknowledged it, or matched it but could not queue it because its queue
  // was full. Subscriptions created after the event, or whose filters it
  // does not match, are not listed. One lookup per subscription.
  struct SpreadEntry {
    enum class State { kQueued, kAcked, kNotQueued };
    uint64_t sub = 0;
    std::string owner, name;
    State state = State::kQueued;
    int64_t acked_ms = 0;  // kAcked: when the ack was committed (wall clock)
  };
  Result<std::vector<SpreadEntry>> read_spread(const store::Txn& txn, uint64_t seq, const StoredEvent& event) const;
  // LMDB's figures: bytes of the pages in use (up to the highest) and the map size.
  std::pair<uint64_t, uint64_t> used_and_map_bytes() const;

 private:
  Store(store::Env env, Dbs dbs) : env_(std::move(env)), dbs_(dbs) {}
  Status load();
  Status reconcile(const std::filesystem::path& dir, std::optional<Manifest> manifest, const StoreOpening& opening);
  // Raises the manifest's reserved_seq (fsynced) when `highest_to_commit` is above it.
  Status reserve(uint64_t highest_to_commit);
  Status write_manifest(Manifest next);

  std::filesystem::path dir_;
  Manifest manifest_;
  int64_t manifest_saved_ms_ = 0;

  store::Env env_;
  Dbs dbs_;
  const Restrictions* restrictions_ = nullptr;
  uint64_t next_seq_ = 1;
  uint64_t next_sub_ = 1;
  std::map<uint64_t, Subscription> subs_;
  SubjectIndex index_;  // the filters of subs_: who an event is routed to
  std::map<uint64_t, uint64_t> depths_;
  std::set<std::string> known_chains_;
  uint64_t max_queue_depth_ = 0;
  uint64_t not_queued_total_ = 0;
  int64_t replay_horizon_ms_ = kDefaultReplayHorizonMs;
  StorageFaults* faults_ = nullptr;
  internal::ThreadOwner writer_thread_;  // begin() and save_manifest(): the writer thread only
};

}  // namespace lantoa::broker
