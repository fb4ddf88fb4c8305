// Verifier: the pool of threads that check published events before they
// reach the writer, so that signature work (the most expensive step) never
// runs on the I/O thread and uses every core.
//
// Each job is a chunk of one publish batch from one session, with the
// identity the session proved at Hello. Every event gets a verdict: stored
// later by the writer, or rejected now with its reason. The job then goes to
// the writer under its ticket, so order is kept whatever thread finishes
// first.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lantoa/access.h"
#include "lantoa/event.h"
#include "lantoa/trust.h"
#include "monitor/metrics.h"
#include "store/writer.h"

namespace lantoa::broker {

// The member a session is bound to after a successful Hello.
struct Identity {
  VerifiedMember member;
  std::string chain;     // the serialized CertificateChain it presented
  std::string chain_id;  // its SHA-256, the chain's key in the store
};

struct PublishJob {
  uint64_t bytes() const {
    uint64_t n = 0;
    for (const auto& e : events) n += e.event().size();
    return n;
  }
  uint64_t ticket = 0;
  std::string peer;
  uint64_t publish_id = 0;
  uint64_t request_id = 0;
  std::shared_ptr<const Identity> identity;
  std::vector<uint32_t> indexes;  // index in the batch of each event
  std::vector<lantoa::v1::SignedEvent> events;
  // Passed on by a linked broker (`identity` is that broker): each event is
  // verified against its own signer chain (verify_forwarded), and not routed
  // back to `arrived_on`, the subscription of what is owed to that broker.
  bool forwarded = false;
  uint64_t arrived_on = 0;
};

struct VerifierOptions {
  unsigned threads = 2;
  std::filesystem::path revocations_dir;   // where applied revocation lists are kept (empty: nowhere)
  std::filesystem::path restrictions_dir;  // where restriction declarations are kept (empty: nowhere)
  EventLimits limits;
  int64_t max_clock_skew_ms = 5 * 60 * 1000;  // how far in the future created_ms may be
  // Bytes of events waiting for verification. A batch that would go beyond
  // it is refused with OVERLOADED (and a retry delay) rather than queued:
  // the queue cannot grow until the broker runs out of memory. A batch is
  // always taken when the queue is empty, so any batch can get through.
  uint64_t max_queued_bytes = 64ull << 20;
};

class Verifier {
 public:
  Verifier(TrustStore& trust, Restrictions& restrictions, Writer& writer, Metrics& metrics, VerifierOptions options);
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // OK to submit `bytes` more now? (See VerifierOptions::max_queued_bytes.)
  bool has_room(uint64_t bytes) const {
    const uint64_t queued = queued_bytes_.load();
    return queued == 0 || queued + bytes <= options_.max_queued_bytes;
  }
  uint64_t queued_bytes() const { return queued_bytes_.load(); }
  void submit(PublishJob job);
  // Verifies every job already submitted, hands it to the writer, then stops.
  void stop();

  // The checks for one event, for tests and for the pool: OK and the record
  // to store, or the reason to reject. Changes nothing: a revocation list or
  // restriction the event carries is checked and attached to the record
  // (IngestItem::revocations, ::restriction), and put in force by
  // apply_declaration once the writer has committed the event.
  static Result<IngestItem> verify(const lantoa::v1::SignedEvent& event, const Identity& identity,
                                   const TrustStore& trust, const VerifierOptions& options, int64_t now_ms);

  // The same for an event passed on by a linked broker: verified as every
  // receiver verifies (TrustStore::verify_event), against the signer chain it
  // carries (required), valid when the event was made and unrevoked now; the
  // author's certificate need not be current (the event may have waited on a
  // link for days).
  static Result<IngestItem> verify_forwarded(const lantoa::v1::SignedEvent& event, const TrustStore& trust,
                                             const VerifierOptions& options, int64_t now_ms);

  // On the writer thread, after the commit: puts the declaration of a
  // committed event in force and keeps it in its folder (atomically), so
  // that it is applied again at the next start.
  static void apply_declaration(const IngestItem& item, TrustStore& trust, Restrictions& restrictions,
                                const VerifierOptions& options);

 private:
  void run();
  // The record to store for an event that passed its checks, with the
  // declaration it carries (checked, not applied).
  static Result<IngestItem> make_item(const lantoa::v1::SignedEvent& envelope, const std::string& id,
                                      const lantoa::v1::Event& e, const Identity& identity, const TrustStore& trust,
                                      int64_t now_ms);

  TrustStore& trust_;
  Restrictions& restrictions_;
  Writer& writer_;
  Metrics& metrics_;
  VerifierOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PublishJob> jobs_;
  std::atomic<uint64_t> queued_bytes_{0};
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace lantoa::broker
