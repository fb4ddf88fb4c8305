// Node: one running lantoa-node. It owns, for one portal (member):
//
//   NodeStore           LMDB state under <data>/state
//   Publisher           signs and sends, with its LMDB outbox <data>/outbox
//   Receivers           one per configured subscription, on its own thread
//                       (receive/receiver.h: SDK Subscriber, verifies every
//                       event, then NodeStore::add_received)
//   DeliveryWorkers     webhooks and the spool folder, each from its cursor
//   FeedPollers         the RSS/Atom adapter
//   ReviewDesk          proposals to review and answers (review/review_desk.h)
//   HttpApi             the CMS's local API (api/http_api.h)
//
// start() returns once the API listens; the broker may be down (the outbox
// and the subscriptions catch up when it returns). stop() ends everything in
// reverse order; nothing accepted is lost (outbox and inbox are on disk).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "config/node_config.h"
#include "delivery/delivery.h"
#include "feeds/feed_poller.h"
#include "lantoa/publisher.h"
#include "lantoa/subscriber.h"
#include "lantoa/internal/file_util.h"
#include "receive/receiver.h"
#include "state/node_store.h"

namespace lantoa::node {

class HttpApi;
class ReviewDesk;

// The node's figures at one moment, for GET /metrics (api/metrics.h writes
// them). Each is read from the part that keeps it, never counted a second
// time: the outbox from the Publisher, what is stored from the NodeStore (a
// read transaction), and the rest from each Receiver, DeliveryWorker and
// FeedPoller. Everything is bounded by the config but the held lanes (topics).
struct NodeFigures {
  int64_t now_ms = 0;  // when they were read (wall clock)
  bool broker_connected = false;
  size_t problems = 0;  // what /healthz lists
  PublisherStats outbox;
  NodeStore::Figures store;
  // ReceiveCounters: since the node started.
  uint64_t received = 0, received_rejected = 0, sanitized = 0;
  struct Subscription {
    std::string name;
    bool open = false;
    bool refused = false;  // the broker refuses it: the operator must act
  };
  std::vector<Subscription> subscriptions;
  std::vector<DeliveryWorker::Figures> deliveries;
  struct Feed {
    std::string name;
    FeedStats stats;
  };
  std::vector<Feed> feeds;
};

// What POST /v1/events answers.
struct Accepted {
  std::string event_id;  // 32 bytes
  uint64_t sequence = 0;
  v1::Kind kind = v1::NEWS;
  std::string refers_to;  // 32 bytes or empty
  bool repeated = false;  // the Idempotency-Key was seen: this is the earlier event
};

class Node {
 public:
  static Result<std::unique_ptr<Node>> start(NodeConfig config);
  ~Node();
  void stop();

  // The CMS hands over an event: Lantoa's JSON form, or a ninjs document
  // (then `topic` says where; a ninjs uri seen before makes it a correction
  // of that item's latest version, pubStatus "canceled" a retraction).
  // Validates, signs, stores in the outbox; errors name the field. With an
  // idempotency key (HTTP Idempotency-Key) a repeat of the same request
  // returns the earlier event (repeated), also after a crash: the key is
  // committed with the event in the outbox.
  Result<Accepted> publish_document(const nlohmann::json& doc, const std::string& topic,
                                    const Idempotency* idempotency = nullptr);
  // Signs and queues an event of this member (the feed adapter's path too).
  Result<Accepted> publish_event(v1::Event event, const std::string& item_uri = "",
                                 const Idempotency* idempotency = nullptr);

  nlohmann::json status() const;
  // Its figures now (an error only when the store cannot be read).
  Result<NodeFigures> figures() const;
  // What makes the node unhealthy (/healthz answers 503): refusals that need
  // the operator. Empty when healthy.
  std::vector<std::string> problems() const;
  NodeStore& store() { return *store_; }
  ReviewDesk& review() { return *review_; }
  const NodeConfig& config() const { return config_; }
  int api_port() const;

 private:
  explicit Node(NodeConfig config);
  // The record (NodeStore::published) of the latest version of the item
  // that event `id` (published by this node) belongs to; INVALID_REFERENCE
  // when the node did not publish it, the broker refused it, or the item
  // was withdrawn (the message names `field`).
  Result<nlohmann::json> latest_version(const std::string& id, const std::string& field);

  NodeConfig config_;
  std::optional<internal::FolderLock> lock_;  // one node per data folder; released last
  v1::CertificateChain chain_;
  RootKey root_;
  BrokerAddress broker_;
  std::vector<BrokerAddress> failover_;  // mirrors ([[broker.failover]])
  std::unique_ptr<NodeStore> store_;
  std::unique_ptr<Publisher> publisher_;
  std::unique_ptr<ReviewDesk> review_;
  std::atomic<bool> stopping_{false};
  ReceiveCounters counters_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
  std::vector<std::unique_ptr<DeliveryWorker>> deliveries_;
  std::vector<std::unique_ptr<FeedPoller>> feeds_;
  std::unique_ptr<HttpApi> api_;
};

}  // namespace lantoa::node
