#include "support/broker_process.h"

#include <httplib.h>

#include <fstream>

namespace lantoa::testing {

BrokerProcess::BrokerProcess(const TrustTree& tree, std::vector<std::string> extra_args) {
  std::filesystem::create_directories(data());
  EXPECT_TRUE(tree.root_public().save(data() / "trust-root.pub").ok());
  extra_args.insert(extra_args.begin(), {"--log-level", "debug"});
  launcher_ = std::make_unique<BrokerLauncher>(LANTOA_BROKER_BIN, data(), log(), std::move(extra_args));
}

void BrokerProcess::start() {
  auto info = launcher_->start();
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  info_ = *info;
}

nlohmann::json BrokerProcess::stats() const {
  httplib::Client http(info_.monitor_url);
  auto r = http.Get("/api/v1/stats");
  return r && r->status == 200 ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
}

std::string BrokerProcess::metrics() const {
  httplib::Client http(info_.monitor_url);
  auto r = http.Get("/metrics");
  return r && r->status == 200 ? r->body : std::string();
}

std::vector<std::string> config_file_args(const TempDir& dir, std::string_view toml) {
  const std::filesystem::path path = dir / "broker.toml";
  {
    std::ofstream(path) << toml;
  }
  return {"--config", path.string()};
}

}  // namespace lantoa::testing
