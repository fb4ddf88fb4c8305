// ReadyEvents: the events one delivery pass hands out, each read from the
// store once and kept encoded as it travels (the author's envelope as stored,
// with the signer's certificate chain appended), shared by every
// subscription the pass serves. A national press release goes to thousands
// of subscriptions: the event is read, and its chain looked up, once per
// pass instead of once per subscriber.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "monitor/metrics.h"
#include "store/store.h"

namespace lantoa::broker {

struct ReadyEvent {
  std::string bytes;        // an encoded lantoa.v1.SignedEvent, signer chain included
  int64_t expires_ms = 0;   // 0: never
  int64_t accepted_ms = 0;  // when this broker accepted it (told to receivers, see Deliver.accepted_ms)
  int64_t released_ms = 0;  // when it could first be delivered: accepted, or its embargo's end
  Flow* topic_flow = nullptr;   // its topic's and origin's counters (when the pass counts flows)
  Flow* origin_flow = nullptr;
};

class ReadyEvents {
 public:
  // Reads through `txn`, which must outlive this object (one pass). With
  // `flows`, each event carries its topic's and origin's counters.
  ReadyEvents(const Store& store, const store::Txn& txn, FlowCache* flows = nullptr)
      : store_(store), txn_(txn), flows_(flows) {}

  // The event at `seq`, or nullptr when it is gone (removed by retention, or
  // unreadable: logged). The pointer is valid until the next call.
  const ReadyEvent* get(uint64_t seq);
  const store::Txn& txn() const { return txn_; }

 private:
  static constexpr size_t kMaxKept = 4096;  // ~5 MB of 1 KB events

  const Store& store_;
  const store::Txn& txn_;
  FlowCache* flows_;
  std::unordered_map<uint64_t, ReadyEvent> events_;
  std::unordered_map<std::string, std::string> chains_;  // chain key (chain id, or signer key id in old records) -> encoded SignedEvent{signer_chain}
};

}  // namespace lantoa::broker
