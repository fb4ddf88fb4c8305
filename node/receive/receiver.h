// Receiver: one configured subscription, on its own thread. It opens the
// durable subscription at the broker (SDK Subscriber: every event verified),
// hands each event to NodeStore::add_received, and keeps the broker's
// subscription in step with the config.
//
// Filters changed in the config. The broker keeps a durable subscription's
// filters and refuses to resume it with others ("exists with other
// filters"). The receiver applies the change without losing what both the
// old and the new filters match:
//   1. it resumes the old subscription as it stands (no filters) and takes in
//      what it still holds: what the new filters match enters the inbox,
//      the rest is acknowledged and left out; until a second passes with
//      nothing more (everything routed to it so far is handled);
//   2. it notes in NodeStore ("subscription:" + name) the broker sequence
//      the new subscription starts from: the one after the newest event
//      received on the subscription (from the inbox and step 1);
//   3. it removes the old subscription at the broker (Unsubscribe, remove);
//   4. it subscribes again with the new filters from that sequence, so what
//      was accepted meanwhile comes too, as far as the broker's retention
//      holds it; anything twice is removed by event id. The note is then
//      erased. A subscription that never received anything starts at its
//      configured `start`, or, when that is "new", 5 minutes (for clock
//      differences) before step 1 began.
// A stop or crash in between resumes at the step reached: before step 3 the
// old subscription is still there and step 1 runs again; after it, the note
// says where the new subscription starts.
//
// A refusal that waiting will not cure (a filter the broker refuses, a
// permission, a quota) is logged once with what to do, shown in status() and
// makes /healthz fail, until the subscription opens; it is tried again with
// a back-off up to 30 s. Passing trouble (the broker unreachable) is logged
// once per change of reason and retried up to every 5 s.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "config/node_config.h"
#include "lantoa/subscriber.h"
#include "state/node_store.h"

namespace lantoa::node {

// Figures all receivers of a node add to (/v1/status "inbox").
struct ReceiveCounters {
  std::atomic<uint64_t> received{0}, rejected{0}, sanitized{0};
};

class Receiver {
 public:
  struct Identity {
    std::filesystem::path key_file;  // read at each (re)open
    v1::CertificateChain chain;
    RootKey root;
    BrokerAddress broker;
    std::vector<BrokerAddress> failover;  // mirrors (docs/high-availability.md)
  };
  // `on_follow_up`: called (on the receiver's thread) after an event that
  // needs a follow-up endorsement was stored (review/review_desk.h).
  Receiver(SubscriptionConfig config, Identity identity, NodeStore& store, ReceiveCounters& counters,
           std::function<void()> on_follow_up = {});
  ~Receiver();
  void request_stop() { stopping_ = true; }
  void stop();  // and waits for its thread

  const std::string& name() const { return config_.name; }
  bool open() const { return open_; }
  // A refusal that needs the operator ("" when none).
  std::string problem() const;
  // {"name", "filters", "open", "error" (the last reason it is not open),
  //  "refused" (bool: waiting will not cure it), "changing_filters" (bool)}.
  nlohmann::json status() const;

 private:
  void run();
  Status change_filters(const SubscriberOptions& base);
  Status handle(const ReceivedEvent& e);
  void report(const Status& why);
  Result<std::unique_ptr<Subscriber>> open_subscriber(const SubscriberOptions& options);
  void sleep_for(std::chrono::milliseconds d);

  const SubscriptionConfig config_;
  const Identity identity_;
  NodeStore& store_;
  ReceiveCounters& counters_;
  const std::function<void()> on_follow_up_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> open_{false};
  std::atomic<bool> changing_{false};
  mutable std::mutex mu_;  // guards error_ and refused_
  std::string error_;
  bool refused_ = false;
  std::thread thread_;
};

// Whether the broker refused to resume a subscription because it holds other
// filters (Subscribe with filters that differ from the stored ones).
bool is_filter_mismatch(const Status& s);

}  // namespace lantoa::node
