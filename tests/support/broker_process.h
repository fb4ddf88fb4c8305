// A real lantoa-broker process for integration tests: its own temporary data
// folder, ZeroMQ and HTTP on 127.0.0.1 with ports picked by the kernel, the
// fixture's trust root installed. Start, stop (SIGTERM), kill (SIGKILL) and
// restart on the same data.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "lantoa/connection.h"
#include "support/fixtures.h"

namespace lantoa::testing {

class BrokerProcess {
 public:
  explicit BrokerProcess(const TrustTree& tree, std::vector<std::string> extra_args = {});
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;
  ~BrokerProcess();

  // Starts the process and waits until it is ready (ready file written).
  void start();
  // SIGTERM and wait; returns the exit code.
  int stop();
  // SIGKILL and wait.
  void kill();
  bool running() const { return pid_ > 0; }

  BrokerAddress address() const { return {endpoint_, transport_key_}; }
  const std::string& monitor_url() const { return monitor_url_; }
  std::filesystem::path data() const { return dir_.path() / "data"; }
  std::filesystem::path log() const { return dir_.path() / "broker.log"; }

 private:
  TempDir dir_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  std::string endpoint_, transport_key_, monitor_url_;
};

}  // namespace lantoa::testing
