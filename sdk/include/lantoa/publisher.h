// Publisher: publishes signed events to a broker and reports each one's fate.
//
// The publisher gives each event its member's next per-origin sequence,
// validates and signs it (once), and sends it in batches from a background
// thread that owns the connection. Every publish() gets an outcome through a
// future (and the optional callback): ACCEPTED (durably stored), DUPLICATE
// (already stored: a retry) or REJECTED with the broker's reason.
//
// Reliability: when the connection is lost (no heartbeat for three of the
// broker's intervals, broker restart), the publisher reconnects with a
// back-off growing from `min_backoff` to `max_backoff` and resends every
// event not yet confirmed; the broker's duplicate detection makes that safe.
// Events the broker refuses for a passing reason (RATE_LIMITED, OVERLOADED,
// STORAGE_FULL, STORAGE_ERROR, SHUTTING_DOWN, UNAVAILABLE, TIMEOUT) are sent
// again after the delay it names, or with the same back-off; only a
// permanent refusal settles an event as REJECTED. Sequences continue
// above both the local state and the broker's Welcome, so a reinstalled
// publisher carries on where the broker stands.
//
// Outbox (optional): with `outbox` set, publish() returns only after the
// signed event is committed to a local LMDB store, and the publisher delivers
// it whenever the broker is reachable, across restarts of the program
// (store-and-forward for portals with unreliable links). Outcomes of events
// restored from the outbox come through `on_outcome`.
//
// Threads: publish(), flush() and the accessors may be called from any
// thread. publish() wakes the publisher's thread: the event leaves at once. Callbacks run on the publisher's thread and must not block. The
// destructor stops the thread after at most `close_timeout` of flushing.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lantoa/connection.h"
#include "lantoa/event.h"
#include "lantoa/keys.h"
#include "lantoa/status.h"
#include "lantoa/v1/cert.pb.h"
#include "lantoa/v1/wire.pb.h"

namespace lantoa {

struct PublishOutcome {
  v1::PublishResult::Status status = v1::PublishResult::STATUS_UNSPECIFIED;
  std::string event_id;     // 32 bytes
  uint64_t sequence = 0;    // the per-origin sequence the publisher gave it
  uint64_t broker_seq = 0;  // ACCEPTED / DUPLICATE
  Status error;             // REJECTED: the broker's reason

  // Stored by the broker (now or before).
  bool ok() const { return status == v1::PublishResult::ACCEPTED || status == v1::PublishResult::DUPLICATE; }
};

// What publish() returns at once: the event's id and sequence (known as soon
// as it is signed, before the broker answers) and its outcome to come.
struct Publication {
  std::string event_id;  // 32 bytes
  uint64_t sequence = 0;
  std::future<PublishOutcome> outcome;  // not valid() when `repeated`
  // The idempotency key was used before: this is that earlier event, not a
  // new one (its outcome went to the earlier caller and to on_outcome).
  bool repeated = false;
  v1::Kind kind = v1::NEWS;
  std::string refers_to;
};

// Makes publish() safe to repeat: a caller that cannot tell whether an
// earlier publish() happened (an HTTP request whose answer was lost, a CMS
// restarted mid-way) gives the same key again and gets the earlier event
// back instead of a second one. The key is stored with the event in the
// outbox, in the same commit, so a crash cannot separate them; it is kept for
// PublisherOptions::idempotency_keep. `fingerprint` (optional, at most 64
// bytes) stands for what was asked: the same key with another fingerprint is
// refused (ALREADY_EXISTS), because it is another request.
struct Idempotency {
  std::string key;          // 1..255 bytes
  std::string fingerprint;  // optional
};

// What a publisher holds now and what it has done since it started
// (Publisher::stats()). The counters start from 0 with each Publisher; the
// events restored from an outbox are among the unconfirmed ones.
struct PublisherStats {
  size_t unconfirmed = 0;  // events without an outcome yet (with an outbox: the events in it)
  // When the oldest unconfirmed event was queued, milliseconds since the Unix
  // epoch (0: none waits). For an event restored from the outbox after a
  // restart: its created_ms.
  int64_t oldest_unconfirmed_ms = 0;
  uint64_t sent = 0;        // events sent to the broker; each resend (reconnect, passing refusal) counts again
  uint64_t accepted = 0;    // outcomes ACCEPTED
  uint64_t duplicates = 0;  // outcomes DUPLICATE (stored before: a resend)
  // Refusals by the broker's reason: permanent ones settled the event as
  // REJECTED; passing ones (RATE_LIMITED, OVERLOADED, ...: see above) held it
  // back to be sent again, and count once per refusal.
  std::map<Code, uint64_t> rejected;
  std::map<Code, uint64_t> held_back;
};

struct PublisherOptions {
  BrokerAddress broker;
  // Mirrors of `broker` (docs/high-availability.md): when the broker is
  // lost or cannot be reached, the next one is tried at once.
  std::vector<BrokerAddress> failover;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds close_timeout{2000};
  size_t max_batch = 100;          // events per PublishBatch
  size_t max_in_flight = 8;        // batches awaiting results
  std::filesystem::path outbox;    // empty: unconfirmed events live in memory only
  std::chrono::hours idempotency_keep{24};  // how long an idempotency key is remembered
  EventLimits limits;
  std::string agent = "lantoa-sdk/0.1";
  std::function<void(const PublishOutcome&)> on_outcome;  // every outcome, also of restored events
  // The link to the broker came up (true, "") or went down, or cannot be
  // made for a new reason (false, why): once per change, not per retry.
  std::function<void(bool connected, const std::string& why)> on_connection;
};

class Publisher {
 public:
  // Starts the publisher. Without an outbox it needs the broker now (to learn
  // where the member's sequence stands): the connection's error otherwise
  // (UNAVAILABLE saying why, or the broker's refusal). With an outbox it
  // returns at once and connects in the background; an event published
  // before the broker was ever reached, with nothing in the outbox, takes
  // its sequence from the clock (ms x 1000), above anything an earlier
  // installation used.
  static Result<std::unique_ptr<Publisher>> start(MemberKey key, v1::CertificateChain chain,
                                                  PublisherOptions options);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Sets origin (the member) and the next sequence on `event`, validates and
  // signs it, and queues it (with an outbox: stores it durably first).
  Result<Publication> publish(v1::Event event);
  // The same, once per idempotency key (see Idempotency; needs an outbox:
  // INVALID_ARGUMENT otherwise).
  Result<Publication> publish(v1::Event event, const Idempotency& idempotency);
  // The event published earlier with this key, if any (ALREADY_EXISTS when
  // the key was used with another fingerprint).
  Result<std::optional<Publication>> published_with(const Idempotency& idempotency) const;

  // Waits until every queued event has an outcome; TIMEOUT otherwise.
  Status flush(std::chrono::milliseconds timeout);

  uint64_t last_sequence() const;
  bool connected() const;
  // Why the publisher is not connected (unreachable, refused with the
  // broker's reason, silent); empty while it is.
  std::string down_reason() const;
  size_t unconfirmed() const;
  PublisherStats stats() const;

 private:
  struct Impl;
  explicit Publisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lantoa
