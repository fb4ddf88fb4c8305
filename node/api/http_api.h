// HttpApi: the CMS's local HTTP API (cpp-httplib), on 127.0.0.1 by default.
// Every endpoint but /healthz needs "Authorization: Bearer <token>" with the
// token from the configured token file. Answers are JSON (the feed: Atom);
// errors are {"error": {"code", "field", "message"}} with a 4xx status that
// fits (400 malformed, 401 token, 403 outside the namespace, 404, 413 too
// large, 422 a rule of the event broken).
//
//   POST /v1/events[?topic=]     publish (Lantoa's form or ninjs) -> 202 {id, status: "queued", ...}
//   GET  /v1/events/{id}         queued / accepted / rejected (with the broker's reason)
//   GET  /v1/inbox?topic=&since=&limit=&acked=   received events in order (pull)
//   POST /v1/inbox/{id}/ack      mark one as handled by the CMS
//   GET  /v1/feed.atom[?topic=]  Atom feed of received news (latest versions)
//   GET  /v1/status              the node's own figures
//   GET  /healthz                liveness, no token
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "lantoa/status.h"

namespace httplib {
class Server;
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
  Status start();
  void stop();
  int port() const { return port_; }

 private:
  Node& node_;
  std::string token_digest_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace lantoa::node
