// Delivery targets: how received news reaches the CMS without the CMS asking.
//
// Every target reads the node's inbox in order from its own durable cursor
// (NodeStore "cursors"): it delivers entry N, and only after that succeeds
// does it move its cursor past N. A target that fails is retried with a
// growing delay (0.5 s doubling up to its maximum) and blocks the entries
// behind it, so a CMS sees each topic's events in order, and nothing is
// skipped or lost across restarts. After a crash between delivering and
// moving the cursor, the same entry is delivered once more: webhooks carry an
// Idempotency-Key (the event id) and spool files have fixed names, so the
// CMS can tell.
//
//   WebhookTarget: POST the record as JSON; success is any 2xx answer.
//   SpoolTarget:   one file <inbox seq>-<event id>.json per event in a
//                  folder, written atomically (temporary file, fsync, rename),
//                  with the configured mode (default 0640).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "config/node_config.h"
#include "state/node_store.h"

namespace lantoa::node {

class Target {
 public:
  virtual ~Target() = default;
  virtual const std::string& name() const = 0;  // its cursor's name
  virtual Status deliver(const InboxEntry& entry) = 0;
};

std::unique_ptr<Target> make_webhook_target(const WebhookConfig& config);
std::unique_ptr<Target> make_spool_target(const std::filesystem::path& dir, mode_t mode = 0640);

struct DeliveryStats {
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> cursor{0};
};

// Runs one target on its own thread until stop() (or destruction).
class DeliveryWorker {
 public:
  DeliveryWorker(NodeStore& store, std::unique_ptr<Target> target,
                 std::chrono::milliseconds max_backoff = std::chrono::milliseconds(60000));
  ~DeliveryWorker();
  void stop();
  const DeliveryStats& stats() const { return stats_; }
  const std::string& name() const { return target_->name(); }

 private:
  void run();
  NodeStore& store_;
  std::unique_ptr<Target> target_;
  std::chrono::milliseconds max_backoff_;
  DeliveryStats stats_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace lantoa::node
