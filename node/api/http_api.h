// HttpApi: the CMS's local HTTP API (cpp-httplib), on 127.0.0.1 by default.
// Every endpoint but /healthz and /metrics needs "Authorization: Bearer
// <token>" with the token from the configured token file; GET /v1/feed.atom
// also opens with the feed_key of its URL instead (below). Answers are JSON
// (the feed: Atom; /metrics: Prometheus text); errors are {"error": {"code",
// "field", "message"}} with a 4xx status that fits (400 malformed, 401 token,
// 403 outside the namespace, 404, 413 too large, 422 a rule of the event
// broken).
//
//   POST /v1/events[?topic=]     publish (Lantoa's form or ninjs) -> 202 {id, status: "queued", ...}
//   GET  /v1/events/{id}         queued / accepted / rejected (with the broker's reason)
//   GET  /v1/inbox?topic=&since=&limit=&acked=   received events in order (pull)
//   POST /v1/inbox/{id}/ack      mark one as handled by the CMS
//   GET  /v1/feed.atom[?topic=]  Atom feed of received news (latest versions)
//   GET  /v1/feed-url[?topic=]   {"topic", "url"}: the feed's own URL, for a
//                                CMS feed importer that cannot send headers
//   GET  /v1/status              the node's own figures
//   GET  /healthz                200 {"ok": true}, or 503 {"ok": false,
//                                "problems": [...]} when something needs the
//                                operator (a subscription the broker refuses);
//                                no token
//   GET  /metrics                the node's figures in the Prometheus text
//                                format (api/metrics.h); no token
//
// Feed URLs: /v1/feed.atom?topic=T&feed_key=K where K is a keyed BLAKE2b of T
// (128 bits, hex) under a key derived from [api] feed_secret_file, or from
// the API token when there is none. K opens that one feed (that exact topic
// filter, "" for all) and no other endpoint; it tells nothing of the token
// or the secret. A wrong key is 401 FEED_KEY_WRONG. Replacing the secret (or
// the token, without a feed secret) and restarting revokes every feed URL.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "lantoa/status.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}

namespace lantoa::node {

class Node;

class HttpApi {
 public:
  explicit HttpApi(Node& node);
  ~HttpApi();
  // Reads the token, binds (port 0: any free port) and serves on a thread.
  // The token file as start() will read it: 0600, at least 16 characters.
  static Status check_token_file(const std::filesystem::path& file);
  // The feed secret file: the same rules (0600, at least 16 characters).
  static Status check_feed_secret_file(const std::filesystem::path& file);
  Status start();
  void stop();
  int port() const { return port_; }

 private:
  // POST /v1/events and /v1/proposals: publishes `doc` (Lantoa's form or
  // ninjs) on `topic`, with the request's Idempotency-Key; answers 202.
  void publish(const httplib::Request& req, httplib::Response& res, const nlohmann::json& doc,
               const std::string& topic);
  Node& node_;
  std::string feed_key(const std::string& topic) const;  // hex, for the feed URL of `topic`
  std::string token_digest_;
  std::string feed_mac_key_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace lantoa::node
