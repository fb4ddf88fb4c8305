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

// What a feed's poller did since the node started. A poll is one
// poll_once(): a fetch and the publication of what it brought.
struct FeedStats {
  uint64_t fetches = 0;       // fetches answered (not_modified included)
  uint64_t not_modified = 0;  // answered 304
  uint64_t published = 0;     // new items published (news)
  uint64_t corrections = 0;   // changed items published as corrections
  uint64_t unchanged = 0;     // items seen again unchanged
  uint64_t skipped = 0;       // items that could not be made into an event (the poll goes on)
  uint64_t failures = 0;      // errors met: a failed fetch, parse or publication, a skipped item
  uint64_t polls = 0, failed_polls = 0;
  int64_t last_poll_ms = 0;   // when the last poll ended (wall clock); 0: none yet
  bool last_poll_ok = false;  // it ended without an error (skipped items do not count)
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
  Status poll();  // poll_once() without its bookkeeping
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
