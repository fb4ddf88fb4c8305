// FeedPoller: the feed adapter for CMSs that cannot call the API. It fetches
// a configured RSS/Atom URL every interval (libcurl: timeouts, up to 5
// redirects, gzip, conditional GET with ETag / Last-Modified), and turns each
// item it has not published before into a signed event on the feed's topic.
//
// What it has published is remembered in the NodeStore by source and item
// key (guid / id / link), with a digest of the item's content: an item seen
// again unchanged is skipped, an item whose content changed is published as
// a CORRECTION of the last version. Items are published oldest first (feeds
// list the newest first). Each fetch runs on the poller's own thread.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "config/node_config.h"
#include "feeds/feed_parser.h"
#include "state/node_store.h"

namespace lantoa::node {

// Signs and queues an event (the node's publishing path); returns its id.
using PublishFn = std::function<Result<std::string>(v1::Event event)>;

struct FetchResult {
  long http_status = 0;  // 304: not modified
  std::string body, etag, last_modified;
};

// One HTTP GET with the validators of the previous fetch. Only http and https,
// also for redirects; every address connected to (the URL's and each
// redirect's, after DNS) must pass `policy`, else PERMISSION_DENIED naming
// the address. Proxies from the environment are not used (the check would
// judge the proxy, not the feed).
Result<FetchResult> fetch_feed(const std::string& url, const std::string& etag, const std::string& last_modified,
                               std::chrono::milliseconds timeout, const DestinationPolicy& policy);

struct FeedStats {
  uint64_t fetches = 0, not_modified = 0, published = 0, corrections = 0, unchanged = 0, failures = 0;
  std::string last_error;
};

class FeedPoller {
 public:
  FeedPoller(FeedConfig config, std::string member, NodeStore& store, PublishFn publish);
  ~FeedPoller();
  void stop();
  // One fetch and its publications (the thread calls this every interval).
  Status poll_once();
  FeedStats stats() const;
  const FeedConfig& config() const { return config_; }

 private:
  Result<v1::Event> to_event(const FeedItem& item, v1::Kind kind, const std::string& refers_to) const;
  void run();
  FeedConfig config_;
  std::string member_;
  NodeStore& store_;
  PublishFn publish_;
  mutable std::mutex mu_;
  FeedStats stats_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace lantoa::node
