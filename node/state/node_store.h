// NodeStore: everything lantoa-node remembers, in one LMDB environment under
// its data directory (fsync on every commit):
//
//   published   event id -> what happened to an event the CMS handed us
//               (queued / accepted / rejected with the broker's reason),
//               the item it is a version of, and the event (Lantoa's JSON
//               form), so that a correction can start from it
//   items       an item's uri -> id of its latest version: Lantoa's own
//               urn:lantoa:<member>:<first id> for every item, and the
//               CMS's (ninjs uri, feed item) when it gave one
//   inbox       inbox sequence -> a received event as the CMS sees it:
//               {"lantoa": metadata, "ninjs": document, "inbox": state}
//   inbox_ids   event id -> inbox sequence (duplicates removed by id)
//   refused     event id -> why a received event was not applied (a
//               correction or retraction of another origin's item)
//   cursors     delivery target -> its base: every inbox sequence up to it
//               is handled; "lanes:" + target -> {"topic": inbox sequence}
//               for the topics delivered beyond the base (delivery.h);
//               "subscription:" + name -> what a filter change still needs
//               (receiver.h); and "meta:sanitized_from": the first inbox
//               sequence stored sanitised (older records are sanitised when
//               read)
//   feeds       feed source -> {etag, last_modified} of its last fetch
//   review      what other members address to this portal, and the answers
//               to what it published (review/review_desk.h):
//               "p:" + item id -> a proposal to review (JSON: state,
//               proposer, latest version, history...);
//               "e:" + event id -> the signed envelope (with its chain) of
//               each proposal version: what an endorsement carries;
//               "r:" + id of an event this node published + the answer's
//               id -> an answer to it (REPLY: code, text, from, when)
//   inbox_ids   also "endorsed:" + id of an endorsed original -> the inbox
//               sequence of the endorsement carrying it (an endorsement of
//               the original's correction is that endorsement's next version)
//
// Keys made from what others chose (a feed item's guid, a CMS's item uri) may
// exceed what LMDB takes (511 bytes): those longer than 511 bytes are stored
// under "\0sha256:" + the SHA-256 of the key instead, everywhere they are
// written and read (NodeStore::key_for).
//
// The Publisher's outbox lives beside it (SDK, <data>/outbox). All methods are
// thread-safe (LMDB serialises writers; readers never block).
#pragma once

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lantoa/publisher.h"
#include "lantoa/status.h"
#include "lantoa/internal/store.h"
#include "lantoa/subscriber.h"

namespace lantoa::node {

struct InboxEntry {
  uint64_t seq = 0;
  nlohmann::json record;  // {"lantoa": {...}, "ninjs": {...}, "inbox": {...}}
};

// What add_received did with an event.
// A delivery target's durable position (delivery/delivery.h): every inbox
// entry up to `base` is handled, and so is every entry of topic T up to
// lanes[T] (only topics beyond the base are kept).
struct TargetProgress {
  uint64_t base = 0;
  std::map<std::string, uint64_t> lanes;
};

struct Added {
  std::optional<uint64_t> seq;     // its inbox sequence; nullopt: a duplicate
  std::vector<std::string> removed;  // what the HTML sanitiser took out of its content
  std::string refused;               // non-empty: not applied, and why (seq is then nullopt)
  bool follow_up = false;            // a new version of a proposal this portal endorsed: endorse it too
};

class NodeStore {
 public:
  // `member`: the portal's id; what arrives in its inbox (<member>.$inbox.*)
  // is also kept in "review" (none when empty).
  static Result<std::unique_ptr<NodeStore>> open(const std::filesystem::path& dir, const std::string& member = "");

  // --- publishing side ---
  // Remembers an event handed to the publisher as "queued" (unless its
  // outcome already arrived), with its item, as the latest version of that
  // item (and of the CMS's item uri when given).
  Status record_queued(const std::string& id, const v1::Event& event, const std::string& item_uri);
  // The broker's answer for an event.
  Status record_outcome(const PublishOutcome& outcome);
  // {"id", "status": queued|accepted|rejected, "topic", "kind", "sequence",
  //  "item", "event": {Lantoa's JSON form}, "broker_seq", "error": {"code",
  //  "message"}}; nullopt if unknown.
  Result<std::optional<nlohmann::json>> published(const std::string& id);
  // The latest event id published for a CMS item uri ("" if none).
  Result<std::string> latest_for_item(const std::string& item_uri);

  // --- receiving side ---
  // Adds a verified event, its content sanitised for the CMS (seq nullopt:
  // already there, a duplicate). A correction or retraction marks the item it
  // refers to as corrected / withdrawn, but only when it comes from the same
  // origin as that item: one from another origin is refused (`refused` says
  // why; remembered in "refused", kept out of the inbox, the item unchanged).
  Result<Added> add_received(const ReceivedEvent& event);
  // How many received events were refused so far (all time).
  Result<uint64_t> refused_count();
  // Entries after `after` in order (at most `max`), that `keep` accepts.
  Result<std::vector<InboxEntry>> inbox_after(uint64_t after, size_t max,
                                              const std::function<bool(const nlohmann::json&)>& keep = {});
  // Newest entries first (at most `max`), that `keep` accepts.
  Result<std::vector<InboxEntry>> inbox_newest(size_t max, const std::function<bool(const nlohmann::json&)>& keep);
  // Marks an inbox entry (by hex event id) as acknowledged: NOT_FOUND if absent.
  Status ack(const std::string& id_hex);
  // Waits until an entry after `after` exists or `timeout` passes.
  void wait_for_inbox(uint64_t after, std::chrono::milliseconds timeout);
  void wake_all();

  // --- review (proposals to this portal, answers to what it published) ---
  // Proposals, newest first; `state` empty: all.
  Result<std::vector<nlohmann::json>> proposals(const std::string& state);
  // One proposal by its item id (the id of its first version); nullopt if none.
  Result<std::optional<nlohmann::json>> proposal(const std::string& item_id);
  // Changes a proposal in one write transaction (NOT_FOUND if none); what
  // `change` returns other than OK is returned and nothing is written.
  Status update_proposal(const std::string& item_id, const std::function<Status(nlohmann::json&)>& change);
  // The signed envelope of a proposal version as it arrived ("" if unknown).
  Result<std::string> proposal_envelope(const std::string& event_id);
  // Item ids of proposals with versions still to endorse (follow-ups).
  Result<std::vector<std::string>> follow_ups();
  // The answers (REPLY events) received to any version of an item this node
  // published (`item_id`: its first version's id), oldest first.
  Result<std::vector<nlohmann::json>> replies_to(const std::string& item_id);
  // A received event's inbox record by id (nullopt if not in the inbox).
  Result<std::optional<nlohmann::json>> received(const std::string& event_id);

  // --- progress ---
  Result<uint64_t> cursor(const std::string& target);
  Status set_cursor(const std::string& target, uint64_t seq);
  // A target's base cursor and topic positions, read and written together.
  Result<TargetProgress> progress(const std::string& target);
  Status set_progress(const std::string& target, const TargetProgress& p);
  // What the node keeps about one of its subscriptions (receiver.h); an
  // empty object when nothing; a null `state` erases it.
  Result<nlohmann::json> subscription_state(const std::string& name);
  Status set_subscription_state(const std::string& name, const nlohmann::json& state);
  // The newest inbox sequence (0: empty).
  uint64_t last_inbox_seq();
  // Free-form JSON state by key (feed sources' HTTP validators).
  Result<nlohmann::json> feed_state(const std::string& source);
  Status set_feed_state(const std::string& source, const nlohmann::json& state);

  // What the store holds now, read in one read transaction (LMDB's own
  // counts: nothing is scanned), for /metrics.
  struct Figures {
    uint64_t inbox_entries = 0;  // received events kept (acknowledged ones too)
    uint64_t inbox_bytes = 0;    // the LMDB pages of the inbox table (branch, leaf, overflow), in bytes
    uint64_t refused = 0;        // received events refused (all time)
    uint64_t used_bytes = 0;     // LMDB pages in use up to the highest used one, in bytes
    uint64_t map_bytes = 0;      // the map size: the most the store can hold
  };
  Result<Figures> figures();

  // The LMDB key for `key`: itself, or its SHA-256 form when longer than
  // LMDB allows (or when it starts with the NUL that marks that form).
  static std::string key_for(std::string_view key);

 private:
  NodeStore() = default;
  // The inbox record (its LMDB key and JSON) that `id_key` in inbox_ids
  // names (an event id, or an "endorsed:" key); nullopt if none.
  Result<std::optional<std::pair<std::string, nlohmann::json>>> inbox_record(store::Txn& txn, std::string_view id_key);
  // Keeps what arrived in this portal's inbox in "review" (in `txn`, with the event).
  Status keep_addressed(store::Txn& txn, const ReceivedEvent& e, const std::string& first_id, uint32_t version,
                        Added& added);
  Result<std::vector<InboxEntry>> scan_inbox(std::optional<uint64_t> after, size_t max,
                                             const std::function<bool(const nlohmann::json&)>& keep);
  std::optional<store::Env> env_;
  store::Dbi published_, items_, inbox_, inbox_ids_, cursors_, feeds_, refused_, review_;
  std::string member_;
  std::mutex mu_;  // guards last_seq_ (the newest inbox sequence, for waiters) and wakes them
  std::condition_variable grew_;
  uint64_t last_seq_ = 0;
  uint64_t sanitized_from_ = 0;  // records below this inbox sequence predate the sanitiser
};

// The CMS-facing record of a received event (see NodeStore): `first_id` is the
// id of the item's first version, `version` counts versions from 1. Its ninjs
// document is sanitised (sanitize/html_sanitizer.h); `removed` collects what
// was taken out.
nlohmann::json received_record(const ReceivedEvent& e, const std::string& first_id, uint32_t version,
                               std::vector<std::string>* removed = nullptr);

}  // namespace lantoa::node
