// Subscriber: receives events from a named durable subscription, verifies
// each one itself, and hands it to the application.
//
// The application calls poll() on a thread it controls; poll() calls the
// handler once per event, acks the event when the handler returns OK and
// nacks it with the handler's reason (the broker redelivers later) when it
// returns an error. (A handler that throws is treated as one that returned
// an error.) The acks of the events handled in one poll() pass travel
// together, in one frame per subscription.
//
// Verification is on by default: every event's signature and certificate
// chain are checked against the pinned root before the handler sees it, so
// a broker can delay news but never forge it. Events that fail are not
// handed over; they are acked (redelivery cannot fix them) and reported to
// `on_rejected`. The subscriber also follows "$trust.revocations" (its own
// companion subscription "<name>-trust", from the earliest retained) and
// applies what authorities publish there, so it stops accepting events signed
// by a revoked key after the revocation time.
//
// Receivers do not take the broker's word for anything (DESIGN.md principle
// 8). Besides signatures and chains, the subscriber itself:
//  - judges revocation at the event's creation time and at the time the
//    broker says it accepted it (Deliver.accepted_ms), so a revoked key's
//    new event is refused however it is dated;
//  - holds back an event whose embargo has not ended (nacked, so the broker
//    offers it again later) and drops one that has expired (acked, counted);
//  - hands each event id over once: duplicates are removed by default (in
//    memory, the last `remembered_ids`; with an inbox, across restarts);
//  - refuses a correction or retraction whose origin is not the origin of
//    the item it refers to (REFERENCE_NOT_ALLOWED, to `on_rejected`), and
//    keeps a tombstone for a retraction that arrives before its item, so a
//    broker cannot revive a withdrawn item by reordering;
//  - verifies the event an ENDORSEMENT carries, and refuses
//    countersignatures (they cannot be verified end to end yet).
//
// Inbox (optional): with `inbox` set, the ids of handled events (with their
// origins, tombstones, and the revocation lists applied) are kept in a local
// LMDB store, across restarts of the program: an event seen before is acked
// without calling the handler again, and a revocation learned before a
// restart still holds after it. (The id is recorded after the handler
// returns: a crash in between means the handler may see that one event
// again, never that an event is lost.) On every (re)connection the
// revocations waiting on the bus are applied before any news is handed over.
//
// The subscriber reconnects by itself (lost heartbeat, broker restart), with
// a back-off that doubles up to 5 s, and resumes its subscription where it
// stood; poll() sleeps until a delivery arrives (no polling interval).
// connected() and down_reason() tell how the link stands. Not thread-safe:
// use one Subscriber from one thread at a time.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lantoa/connection.h"
#include "lantoa/keys.h"
#include "lantoa/status.h"
#include "lantoa/trust.h"
#include "lantoa/v1/event.pb.h"
#include "lantoa/v1/wire.pb.h"

namespace lantoa {

// One delivered event, verified.
struct ReceivedEvent {
  VerifiedEvent verified;     // id, fields, signer
  v1::SignedEvent envelope;   // the author's bytes and signature, with the chain
  uint64_t broker_seq = 0;
  uint32_t attempt = 1;       // 2 and more: a redelivery
  std::string subscription;
  // For an ENDORSEMENT: the endorsed item as its author signed it (the
  // carried event, verified with the endorsement). nullopt for other kinds.
  std::optional<VerifiedEvent> original;
  // "endorsed by vn.gov, written by vn.ldtbxh" for an endorsement, else "".
  std::string provenance() const;
};

// An event that was not handed to the handler because it failed
// verification (see SubscriberOptions::on_rejected).
struct RejectedDelivery {
  std::string subscription;
  uint64_t broker_seq = 0;
  uint32_t attempt = 1;
  v1::SignedEvent envelope;  // as the broker delivered it
};

struct SubscriberOptions {
  BrokerAddress broker;
  // Mirrors of `broker` (docs/high-availability.md): when the broker is
  // lost or cannot be reached, the next one is tried at once.
  std::vector<BrokerAddress> failover;
  std::string name;                  // durable subscription name ([a-z0-9_-], up to 58 characters)
  std::vector<std::string> filters;  // needed when the subscription is new
  v1::StartPosition start;           // for a new subscription (default: new events only)
  uint32_t credit = 100;             // most events in flight
  uint32_t ack_timeout_ms = 0;       // 0: the broker's default
  bool verify = true;                // check every event (do not turn off in production)
  bool follow_revocations = true;
  std::filesystem::path inbox;       // empty: no cross-restart memory (duplicates, tombstones, revocations)
  bool remove_duplicates = true;     // hand each event id over once
  size_t remembered_ids = 100'000;   // ids (and tombstones) kept in memory without an inbox
  std::chrono::milliseconds connect_timeout{5000};
  std::string agent = "lantoa-sdk/0.1";
  // Events that failed verification (not handed to the handler; acked, since
  // a redelivery cannot repair them).
  std::function<void(const Status& why, const RejectedDelivery& delivery)> on_rejected;
};

struct SubscriberStats {
  uint64_t handled = 0;      // handler returned OK: acked
  uint64_t failed = 0;       // handler returned an error (or threw): nacked
  uint64_t rejected = 0;     // failed verification
  uint64_t duplicates = 0;   // already in the inbox
  uint64_t revocations = 0;  // revocation lists applied
  uint64_t held = 0;         // still under embargo: nacked, offered again later
  uint64_t expired = 0;      // past their expiry: dropped
  uint64_t withdrawn = 0;    // retracted by their origin before they arrived: dropped
  uint64_t reconnects = 0;
};

class Subscriber {
 public:
  // Connects and opens (or resumes) the subscription; the broker's refusal
  // comes back as its Status.
  static Result<std::unique_ptr<Subscriber>> open(MemberKey key, v1::CertificateChain chain, RootKey root,
                                                  SubscriberOptions options);
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // OK: the event is acked. An error: it is nacked with the error's text as
  // the reason, and the broker offers it again later.
  using Handler = std::function<Status(const ReceivedEvent&)>;
  // Waits up to `timeout` for events and handles those that arrive (at most
  // `max_events`). Returns how many reached the handler.
  Result<size_t> poll(const Handler& handler, std::chrono::milliseconds timeout, size_t max_events = SIZE_MAX);

  // Events waiting in the queue when the subscription was opened.
  uint64_t pending_at_open() const;
  // Deletes the subscription and its queue at the broker (for temporary
  // subscriptions, such as a replay).
  Status remove();

  TrustStore& trust();
  const SubscriberStats& stats() const;
  bool connected() const;
  // Why the subscriber is not connected (unreachable, refused and the
  // broker's reason, silent); empty while it is.
  std::string down_reason() const;

 private:
  struct Impl;
  explicit Subscriber(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lantoa
