// Writer: the one thread that commits to LMDB.
//
// Operations arrive with a ticket number handed out by the I/O thread in the
// order frames arrived; publish operations pass through the verification
// pool first and may finish out of order, so the writer keeps a reorder
// buffer and applies operations strictly in ticket order (a publisher's
// batches keep their order, and per-origin sequences stay monotonic).
//
// Group commit: every operation ready at the same moment goes into one LMDB
// write transaction, committed with fsync; only then are results handed back
// (through the Completions queue) and "accepted" sent. If a group cannot be
// committed (for example the store is full), its operations are retried one
// by one so that only those that do not fit fail.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "lantoa/internal/waking_queue.h"
#include "monitor/metrics.h"
#include "store/store.h"

namespace lantoa::broker {

// --- operations (I/O thread and verify pool -> writer) ---

struct PublishOp {
  std::string peer;
  uint64_t publish_id = 0;  // the I/O thread's id for the whole batch
  uint64_t request_id = 0;
  std::vector<lantoa::v1::PublishResult> rejected;     // decided before storage
  std::vector<IngestItem> items;                       // verified, to store
};

struct SubscribeOp {
  std::string peer;
  std::string owner;
  std::vector<std::string> grants;  // the owner's certificate read grants
  lantoa::v1::Subscribe request;
  bool link = false;  // a link's subscription (Store::Batch::subscribe): filters replaced, may be none
};

struct UnsubscribeOp {
  std::string peer;
  std::string owner;
  lantoa::v1::Unsubscribe request;
  uint64_t control = 0;  // an operator's request (session/control.h) rather than a client's; 0: a client's
};

// The operator empties a subscription's queue (session/control.h).
struct PurgeOp {
  uint64_t control = 0;
  std::string owner, name;
};

struct AckOp {
  std::vector<QueueRef> refs;
  // Entries dropped because their event expired before it was delivered:
  // removed from the queue, but not recorded as acknowledged (spread).
  bool expired = false;
};

using WriterOp = std::variant<PublishOp, SubscribeOp, UnsubscribeOp, PurgeOp, AckOp>;

// --- completions (writer -> I/O thread) ---

struct PublishDone {
  std::string peer;
  uint64_t publish_id = 0;
  lantoa::v1::PublishResults results;
  std::vector<QueueRef> routed;
};

struct SubscribeDone {
  std::string peer;
  uint64_t request_id = 0;
  Status status;
  SubscribeResult result;
};

struct UnsubscribeDone {
  std::string peer;
  lantoa::v1::Unsubscribe request;
  Status status;
  uint64_t sub = 0;
  uint64_t control = 0;
};

struct PurgeDone {
  uint64_t control = 0;
  Status status;
  Store::Batch::Purged purged;
};

struct AckDone {
  std::vector<QueueRef> refs;  // now durably gone from their queues
};

struct Released {
  std::vector<QueueRef> routed;  // embargoes that came due
};

using Completion = std::variant<PublishDone, SubscribeDone, UnsubscribeDone, PurgeDone, AckDone, Released>;

// Completions for the I/O thread, which polls the queue's eventfd with ZeroMQ.
using Completions = internal::WakingQueue<Completion>;

struct WriterOptions {
  SubscribeDefaults subscribe;
  RetentionPolicy retention;
  int64_t housekeeping_ms = 200;       // embargo release check
  int64_t retention_every_ms = 5000;
  size_t max_group_events = 4096;
};

class Writer {
 public:
  Writer(Store& store, Completions& completions, Metrics& metrics, WriterOptions options);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Hands in the operation with ticket `ticket` (each ticket exactly once).
  void submit(uint64_t ticket, WriterOp op);

  // Called on the writer thread for each accepted event that carries a
  // declaration (IngestItem::declares), once it is committed: that is when a
  // revocation or restriction goes into force, never before (a commit that
  // fails leaves nothing half-applied). A group of operations ends after one
  // that carries a declaration, so that what follows is routed with it in
  // force. Set before the first submit.
  using OnDeclaration = std::function<void(const IngestItem& item)>;
  void on_declaration(OnDeclaration f) { on_declaration_ = std::move(f); }
  // Finishes every operation already handed in, then stops the thread.
  void stop();

 private:
  void run();
  void process(std::vector<WriterOp>& ops);
  // Applies `ops` in one transaction; false when it could not commit.
  bool apply(std::vector<WriterOp*>& ops, Status* failure);
  void fail(WriterOp& op, const Status& status);
  // Logs (at most once a second, with how many were not logged) and counts
  // a storage failure: a full disk must never pass in silence.
  void storage_error(std::string_view what, const Status& status, std::string_view consequence);
  void manifest_error(const Status& s);
  static PublishDone publish_done(const PublishOp& p);
  void housekeeping(int64_t now);
  void publish_depths();

  Store& store_;
  Completions& completions_;
  Metrics& metrics_;
  FlowCache flows_;  // accepted counts by topic and origin, without the Metrics lock
  WriterOptions options_;
  OnDeclaration on_declaration_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, WriterOp> ready_;
  uint64_t next_ticket_ = 1;
  bool stopping_ = false;
  int64_t last_retention_ms_ = 0;
  int64_t last_depths_ms_ = 0;
  int64_t last_storage_log_ms_ = 0;
  uint64_t storage_errors_unlogged_ = 0;
  bool depths_changed_ = false;
  bool spread_paused_ = false;  // acks not recorded for the spread: the store was full (see process)
  std::thread thread_;
};

}  // namespace lantoa::broker
