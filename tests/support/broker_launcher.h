// Starts and stops a lantoa-broker child process on a data folder (no test
// framework inside: the gtest fixture BrokerProcess and the benchmark both
// use it). The broker listens on 127.0.0.1 with ports picked by the kernel
// and reports them in <data>/broker.ready.json.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "lantoa/connection.h"
#include "lantoa/status.h"
#include "support/child_process.h"

namespace lantoa::testing {

struct BrokerInfo {
  BrokerAddress address;
  std::string monitor_url;
};

class BrokerLauncher {
 public:
  // `binary` is lantoa-broker; `extra_args` are appended to the defaults.
  BrokerLauncher(std::filesystem::path binary, std::filesystem::path data, std::filesystem::path log,
                 std::vector<std::string> extra_args = {});
  BrokerLauncher(const BrokerLauncher&) = delete;
  BrokerLauncher& operator=(const BrokerLauncher&) = delete;

  // Starts the process and waits for its ready file.
  Result<BrokerInfo> start(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  // SIGTERM, then waits; the exit code (-1 if it had to be killed).
  int stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) { return process_.stop(timeout); }
  // SIGKILL, then waits.
  void kill() { process_.kill(); }
  bool running() const { return process_.running(); }
  pid_t pid() const { return process_.pid(); }
  // Listen on this endpoint from the next start on (to restart on the same port).
  void set_listen(const std::string& endpoint);

 private:
  ChildProcess process_;
};

}  // namespace lantoa::testing
