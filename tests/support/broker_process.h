// A real lantoa-broker process for integration tests: its own temporary data
// folder, ZeroMQ and HTTP on 127.0.0.1 with ports picked by the kernel, the
// fixture's trust root installed. Start, stop (SIGTERM), kill (SIGKILL) and
// restart on the same data. Failures fail the test with the broker's log.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/broker_launcher.h"
#include "support/fixtures.h"

namespace lantoa::testing {

// Writes `toml` as broker.toml in `dir` and returns the arguments that give
// it to a broker ({"--config", path}), for settings without a flag.
std::vector<std::string> config_file_args(const TempDir& dir, std::string_view toml);

class BrokerProcess {
 public:
  explicit BrokerProcess(const TrustTree& tree, std::vector<std::string> extra_args = {});

  void start();
  int stop() { return launcher_->stop(); }
  void kill() { launcher_->kill(); }
  bool running() const { return launcher_->running(); }
  // Later starts listen on the current endpoint again (clients keep their address).
  void pin_endpoint() { launcher_->set_listen(info_.address.endpoint); }

  BrokerAddress address() const { return info_.address; }
  // GET /api/v1/stats and /metrics of the running broker (null / empty when it does not answer).
  nlohmann::json stats() const;
  std::string metrics() const;
  const std::string& monitor_url() const { return info_.monitor_url; }
  std::filesystem::path data() const { return dir_.path() / "data"; }
  std::filesystem::path log() const { return dir_.path() / "broker.log"; }

 private:
  TempDir dir_;
  std::unique_ptr<BrokerLauncher> launcher_;
  BrokerInfo info_;
};

}  // namespace lantoa::testing
