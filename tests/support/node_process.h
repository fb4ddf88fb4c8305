// A real lantoa-node process for integration tests: its own temporary folder
// with the member's key, chain, the root's public key, an API token (0600)
// and a config.toml (API on 127.0.0.1, port picked by the kernel, plus the
// test's own TOML: subscriptions, webhooks, spool, feeds). Start, stop
// (SIGTERM), kill, restart on the same data.
#pragma once

#include <httplib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "lantoa/connection.h"
#include "support/broker_process.h"
#include "support/child_process.h"
#include "support/fixtures.h"

namespace lantoa::testing {

class NodeProcess {
 public:
  NodeProcess(const TrustTree& tree, const Member& member, const BrokerAddress& broker, const std::string& extra_toml);

  void start();
  int stop() { return process_->stop(); }
  void kill() { process_->kill(); }
  bool running() const { return process_->running(); }

  const std::string& api_url() const { return api_url_; }  // http://127.0.0.1:PORT
  const std::string& token() const { return token_; }
  // A client of the API with the token set.
  std::unique_ptr<httplib::Client> client() const;
  std::filesystem::path dir() const { return dir_.path(); }
  std::filesystem::path log() const { return dir_.path() / "node.log"; }

 private:
  TempDir dir_;
  std::string token_;
  std::string api_url_;
  std::unique_ptr<ChildProcess> process_;
};

// A small HTTP server on 127.0.0.1 (any free port) that records what is
// POSTed to it: a stand-in CMS receiving webhooks. It can be told to fail.
class WebhookReceiver {
 public:
  WebhookReceiver();
  ~WebhookReceiver();
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/lantoa"; }
  // Answers 503 while failing (and records nothing).
  void set_failing(bool failing) { failing_ = failing; }
  // Answers 500 to the events of this topic (X-Lantoa-Topic) and records
  // nothing of them; "" for none.
  void set_failing_topic(const std::string& topic) {
    std::lock_guard lock(mu_);
    failing_topic_ = topic;
  }
  std::vector<nlohmann::json> received() const;
  // Waits until at least `n` bodies arrived; returns them.
  std::vector<nlohmann::json> wait_for(size_t n, std::chrono::milliseconds timeout) const;
  size_t refused() const { return refused_; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> failing_{false};
  std::atomic<size_t> refused_{0};
  mutable std::mutex mu_;
  std::vector<nlohmann::json> bodies_;
  std::string failing_topic_;
};

// An answer of the node's HTTP API: status (-1: no answer), JSON body (the
// transport error when there was no answer) and the Idempotent-Replayed header.
struct ApiAnswer {
  int status = 0;
  nlohmann::json body;
  std::string replayed;
};
// GET, or POST with a JSON body, through a client of the API.
ApiAnswer api_call(httplib::Client& c, const std::string& method, const std::string& path,
                   const std::string& body = "", const httplib::Headers& headers = {});
// POST /v1/events<query> of `doc`, with an Idempotency-Key when given.
ApiAnswer post_event(const NodeProcess& node, const nlohmann::json& doc, const std::string& query = "",
                     const std::string& idempotency_key = "");

// The TOML of a [[webhooks]] entry to `cms` (a short back-off keeps tests
// quick); `more` adds lines to it (topics = [...]).
std::string webhook_toml(const WebhookReceiver& cms, const std::string& name = "cms", const std::string& more = "");

// A [[subscriptions]] entry "qn-inbound" on `filters`, from the earliest event.
std::string subscription_toml(const std::string& filters = "\"vn.gov.press\"");

// Tests of nodes on a live network: a broker running, and the members vn.gov
// and vn.qn certified by the tree's root.
class NodeNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override { broker.start(); }
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member qn = tree.member("vn.qn");
  BrokerProcess broker{tree};
};

}  // namespace lantoa::testing
