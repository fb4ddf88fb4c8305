#include "support/node_process.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "lantoa/encoding.h"
#include "lantoa/trust.h"

namespace lantoa::testing {

NodeProcess::NodeProcess(const TrustTree& tree, const Member& member, const BrokerAddress& broker,
                         const std::string& extra_toml) {
  const auto& d = dir_.path();
  EXPECT_TRUE(member.key.save(d / "member.key").ok());
  EXPECT_TRUE(save_chain(d / "member.chain", member.chain).ok());
  EXPECT_TRUE(tree.root_public().save(d / "root.pub").ok());
  token_ = to_hex(std::string(member.key.member + "-test-token-0123456789"));
  {
    std::ofstream out(d / "api.token");
    out << token_ << "\n";
  }
  ::chmod((d / "api.token").c_str(), 0600);
  std::ofstream config(d / "config.toml");
  config << "member = \"" << member.key.member << "\"\n"
         << "key = \"member.key\"\nchain = \"member.chain\"\nroot = \"root.pub\"\ndata = \"data\"\n\n"
         << "[broker]\nendpoint = \"" << broker.endpoint << "\"\nkey = \"" << to_base64url(broker.transport_key)
         << "\"\n\n[api]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"api.token\"\nmax_body_bytes = 65536\n\n"
         << extra_toml << "\n";
  config.close();
  ::chmod((d / "config.toml").c_str(), 0600);  // it may hold webhook tokens
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{LANTOA_NODE_BIN, "--config", (d / "config.toml").string(), "--log-level", "debug"},
      d / "data" / "node.ready.json", log());
}

void NodeProcess::start() {
  auto info = process_->start("api", std::chrono::milliseconds(15000));
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  api_url_ = (*info)["api"];
}

std::unique_ptr<httplib::Client> NodeProcess::client() const {
  auto c = std::make_unique<httplib::Client>(api_url_);
  c->set_bearer_token_auth(token_);
  c->set_read_timeout(std::chrono::seconds(10));
  return c;
}

WebhookReceiver::WebhookReceiver() {
  server_.Post("/lantoa", [this](const httplib::Request& req, httplib::Response& res) {
    if (failing_) {
      ++refused_;
      res.status = 503;
      return;
    }
    auto j = nlohmann::json::parse(req.body, nullptr, false);
    j["_idempotency_key"] = req.get_header_value("Idempotency-Key");
    std::lock_guard lock(mu_);
    if (!failing_topic_.empty() && req.get_header_value("X-Lantoa-Topic") == failing_topic_) {
      ++refused_;
      res.status = 500;
      return;
    }
    bodies_.push_back(std::move(j));
    res.status = 204;
  });
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

WebhookReceiver::~WebhookReceiver() {
  server_.stop();
  thread_.join();
}

std::vector<nlohmann::json> WebhookReceiver::received() const {
  std::lock_guard lock(mu_);
  return bodies_;
}

std::vector<nlohmann::json> WebhookReceiver::wait_for(size_t n, std::chrono::milliseconds timeout) const {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (received().size() >= n) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return received();
}

ApiAnswer api_call(httplib::Client& c, const std::string& method, const std::string& path, const std::string& body,
                   const httplib::Headers& headers) {
  httplib::Result r = method == "POST" ? c.Post(path, headers, body, "application/json") : c.Get(path, headers);
  if (!r) return {-1, nlohmann::json{{"transport_error", httplib::to_string(r.error())}}, ""};
  return {r->status, nlohmann::json::parse(r->body, nullptr, false), r->get_header_value("Idempotent-Replayed")};
}

ApiAnswer post_event(const NodeProcess& node, const nlohmann::json& doc, const std::string& query,
                     const std::string& idempotency_key) {
  httplib::Headers headers;
  if (!idempotency_key.empty()) headers.emplace("Idempotency-Key", idempotency_key);
  return api_call(*node.client(), "POST", "/v1/events" + query, doc.dump(), headers);
}

std::string webhook_toml(const WebhookReceiver& cms, const std::string& name, const std::string& more) {
  return "[[webhooks]]\nname = \"" + name + "\"\nurl = \"" + cms.url() + "\"\nmax_backoff_ms = 300\n" + more + "\n";
}

std::string subscription_toml(const std::string& filters) {
  return "[[subscriptions]]\nname = \"qn-inbound\"\nfilters = [" + filters + "]\nstart = \"earliest\"\n\n";
}

}  // namespace lantoa::testing
