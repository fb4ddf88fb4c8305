// PublishIntake: the publish step of the I/O thread. A PublishBatch is
// checked against the batch limit, the member's rate limit (what is over it
// is refused with a delay and never reaches verification) and the room in
// the verification queue (OVERLOADED with a delay), split into chunks for
// the verification pool, each with a writer ticket in arrival order; the
// chunks' results come back from the writer in any order and are put
// together, in batch order, into one PublishResults for the publisher.
//
// Thread: the I/O thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "ingest/verifier.h"
#include "lantoa/v1/wire.pb.h"
#include "monitor/metrics.h"
#include "session/rate_limit.h"
#include "store/writer.h"

namespace lantoa::broker {

// Writer tickets, handed out by the I/O thread in the order frames arrive
// (the writer applies operations strictly in ticket order).
class Tickets {
 public:
  uint64_t next() { return next_++; }

 private:
  uint64_t next_ = 1;
};

struct IntakeOptions {
  uint32_t max_batch_events = 1000;
  uint32_t chunk_events = 64;  // events per verification job
  RateLimits rate{200, 2000, 0, 0};
};

class PublishIntake {
 public:
  using Reply = std::function<void(const std::string& peer, const v1::PublishResults& results)>;

  PublishIntake(Verifier& verifier, Metrics& metrics, Tickets& tickets, IntakeOptions options, Reply reply);

  // Takes a batch from `peer`, published as `identity`. A Status when the
  // whole batch is refused (answered as an error to its request id);
  // otherwise the results are replied when every event has an answer.
  Status take(const std::string& peer, const std::shared_ptr<const Identity>& identity, v1::PublishBatch& batch,
              int64_t now_ms);
  // Takes a batch of events a linked broker passed on (`identity`: that
  // broker; `arrived_on`: the subscription of what is owed to it). No rate
  // limit or order rule (the events are of many origins, in the order the
  // peer's queue holds them); back-pressure as for a publish.
  Status forward(const std::string& peer, const std::shared_ptr<const Identity>& identity, v1::PublishBatch& batch,
                 uint64_t arrived_on);
  // A chunk's results, from the writer.
  void done(PublishDone& chunk);

 private:
  struct Pending {
    std::string peer;
    uint32_t chunks_left = 0;
    v1::PublishResults results;
  };
  void finish(uint64_t publish_id);
  // Checks the batch's size and opens its Pending; its publish id.
  Result<uint64_t> open_batch(const std::string& peer, const v1::PublishBatch& batch);
  // Refuses every admitted event OVERLOADED (the verify queue is full), with a retry delay.
  static constexpr uint32_t kOverloadedRetryMs = 100;
  void refuse_overloaded(Pending& p, std::vector<std::pair<uint32_t, v1::SignedEvent>>& admitted,
                         const std::string& member);
  // Splits admitted events into verification jobs.
  void submit(uint64_t id, const std::string& peer, const std::shared_ptr<const Identity>& identity,
              uint64_t request_id, std::vector<std::pair<uint32_t, v1::SignedEvent>>& admitted, bool forwarded,
              uint64_t arrived_on);

  Verifier& verifier_;
  Metrics& metrics_;
  Tickets& tickets_;
  IntakeOptions options_;
  Reply reply_;
  RateLimiter rate_;
  uint64_t next_publish_id_ = 1;
  std::unordered_map<uint64_t, Pending> pending_;
};

}  // namespace lantoa::broker
