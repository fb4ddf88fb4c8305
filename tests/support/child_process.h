// A program started as a child process for tests and benchmarks: its output
// goes to a log file, and it says it is ready by writing a JSON file (ports
// picked by the kernel, keys). Start, stop (SIGTERM), kill (SIGKILL), start
// again. No test framework inside.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lantoa/status.h"

namespace lantoa::testing {

class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> args, std::filesystem::path ready_file, std::filesystem::path log);
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // Starts the program and waits until its ready file holds JSON with `key`.
  Result<nlohmann::json> start(const std::string& key, std::chrono::milliseconds timeout);
  // SIGTERM, then waits; the exit code (-1 if it had to be killed).
  int stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  void kill();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::vector<std::string>& args() { return args_; }
  const std::filesystem::path& log() const { return log_; }

 private:
  std::vector<std::string> args_;
  std::filesystem::path ready_, log_;
  pid_t pid_ = -1;
};

}  // namespace lantoa::testing
