// Delivery targets: how received news reaches the CMS without the CMS asking.
//
// What is promised is order per topic: a target sees the events of one topic
// in inbox order, each after the one before it was confirmed. Events of
// different topics do not wait for each other, so within a target every topic
// has its own lane: an event the target keeps refusing (a webhook answering
// HTTP 500 to it) holds the later events of its topic only, while the other
// topics keep flowing. Healthy lanes deliver in inbox order overall. When the
// target cannot be reached at all (connection refused, timeout: the status
// code UNAVAILABLE or TIMEOUT from Target::deliver), every lane waits, with
// one back-off for the whole target. Back-offs grow 0.5 s, doubling up to the
// target's maximum; a lane's back-off is its own.
//
// Durable position (NodeStore "cursors", TargetProgress): a base B (every
// inbox entry up to B is handled: delivered, or not wanted by the target's
// topic filters) plus, for each topic delivered beyond B, the inbox sequence
// of its last delivered entry. B is the entry before the oldest one still
// waiting in any lane; topic positions at or below B are dropped. So what is
// stored is bounded by the number of topics that moved on while an older
// entry waits, and is empty (B alone, the former cursor) when nothing is
// held. It is written in one transaction after each delivery; after a crash
// between a delivery and that write, that one entry comes again: webhooks
// carry an Idempotency-Key (the event id) and spool files have fixed names.
//
// In memory, a target keeps the inbox sequences waiting in each lane, at most
// kMaxWaiting (then it reads no further into the inbox until some are
// delivered; the held lanes keep being retried), rebuilt at start by reading
// the inbox from B.
//
//   WebhookTarget: POST the record as JSON; success is any 2xx answer. With
//                  `topics` filters it takes only the events they match.
//   SpoolTarget:   one file <inbox seq>-<event id>.json per event in a
//                  folder, written atomically (temporary file, fsync, rename),
//                  with the configured mode (default 0640).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "config/node_config.h"
#include "state/node_store.h"

namespace lantoa::node {

class Target {
 public:
  virtual ~Target() = default;
  virtual const std::string& name() const = 0;  // its cursor's name
  // Whether the target takes events of this topic (default: all).
  virtual bool wants(const std::string& topic) const {
    (void)topic;
    return true;
  }
  // OK: delivered. UNAVAILABLE or TIMEOUT: the target could not be reached
  // (every lane waits). Another error: this event was refused (its topic's
  // lane waits).
  virtual Status deliver(const InboxEntry& entry) = 0;
};

std::unique_ptr<Target> make_webhook_target(const WebhookConfig& config);
std::unique_ptr<Target> make_spool_target(const std::filesystem::path& dir, mode_t mode = 0640);

// Runs one target on its own thread until stop() (or destruction).
class DeliveryWorker {
 public:
  static constexpr size_t kMaxWaiting = 100'000;

  DeliveryWorker(NodeStore& store, std::unique_ptr<Target> target,
                 std::chrono::milliseconds max_backoff = std::chrono::milliseconds(60000));
  ~DeliveryWorker();
  void stop();
  const std::string& name() const { return target_->name(); }

  // What the target owes and what it did since the node started.
  struct Figures {
    std::string target;  // its name: "webhook:<name>" or "spool"
    uint64_t delivered = 0, failures = 0;  // delivery attempts that succeeded / failed
    uint64_t base = 0;                     // the durable base position
    // Inbox entries after the base not delivered yet: those waiting in the
    // lanes, plus those not read into them yet (read, some may prove to be
    // outside the target's topics).
    uint64_t backlog = 0;
    // When it last delivered (wall clock, ms), or when the worker started
    // if it has not delivered since.
    int64_t last_success_ms = 0;
    std::string unreachable;  // non-empty (why) while every lane waits
    struct Held {             // a lane whose next event failed
      std::string topic;
      size_t waiting = 0;     // events of the topic waiting, the failing one included
      uint64_t failures = 0;  // attempts failed since the lane last delivered
      std::string error;
    };
    std::vector<Held> held;  // by topic
  };
  Figures figures() const;
  // For /v1/status: {"target", "delivered", "failures", "cursor" (the base),
  // "backlog", "unreachable" (why, while the target cannot be reached),
  // "held": [{"topic", "waiting", "failures", "error"}] (lanes that failed)}.
  nlohmann::json status() const;

 private:
  struct Lane {
    std::deque<uint64_t> waiting;  // inbox sequences, oldest first
    std::chrono::milliseconds backoff{0};
    std::chrono::steady_clock::time_point next_try{};
    uint64_t failures = 0;  // since the lane last delivered
    std::string error;      // the last failure
  };
  void run();
  bool read_inbox();  // false: the inbox could not be read
  bool deliver_one(const std::string& topic, Lane& lane);
  uint64_t base_after_delivery() const;
  void pause(std::chrono::milliseconds d);

  NodeStore& store_;
  std::unique_ptr<Target> target_;
  std::chrono::milliseconds max_backoff_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;  // guards what status() reads; held briefly, never while delivering
  std::map<std::string, Lane> lanes_;  // topics with entries waiting or failing
  TargetProgress progress_;
  uint64_t scanned_ = 0;  // inbox entries up to here are read into lanes (or not wanted)
  size_t waiting_ = 0;    // entries in all lanes
  uint64_t delivered_ = 0, failures_ = 0;
  int64_t last_success_ms_;  // wall clock; the worker's start until it delivers
  std::chrono::milliseconds target_backoff_{0};
  std::chrono::steady_clock::time_point target_next_try_{};
  std::string unreachable_;  // non-empty while the whole target waits

  std::thread thread_;
};

}  // namespace lantoa::node
