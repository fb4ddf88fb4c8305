#include "support/broker_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "lantoa/encoding.h"

namespace lantoa::testing {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

BrokerLauncher::BrokerLauncher(std::filesystem::path binary, std::filesystem::path data, std::filesystem::path log,
                               std::vector<std::string> extra_args)
    : data_(std::move(data)), log_(std::move(log)) {
  args_ = {binary.string(), "--data", data_.string(), "--listen", "tcp://127.0.0.1:*", "--monitor", "127.0.0.1:0"};
  args_.insert(args_.end(), extra_args.begin(), extra_args.end());
}

void BrokerLauncher::set_listen(const std::string& endpoint) {
  for (size_t i = 0; i + 1 < args_.size(); ++i) {
    if (args_[i] == "--listen") args_[i + 1] = endpoint;
  }
}

BrokerLauncher::~BrokerLauncher() {
  if (running()) stop();
}

Result<BrokerInfo> BrokerLauncher::start(std::chrono::milliseconds timeout) {
  const auto ready = data_ / "broker.ready.json";
  std::filesystem::remove(ready);
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (pid_ < 0) return Status(v1::Error::IO_ERROR, "fork failed");
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (std::filesystem::exists(ready)) {
      auto info = nlohmann::json::parse(slurp(ready), nullptr, false);
      if (!info.is_discarded() && info.contains("transport_key")) {
        BrokerInfo out;
        out.address.endpoint = info["endpoint"];
        out.address.transport_key = from_base64url(info["transport_key"].get<std::string>()).value_or("");
        out.monitor_url = info["monitor"];
        return out;
      }
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status(v1::Error::UNAVAILABLE, "lantoa-broker exited during start-up:\n" + slurp(log_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill();
  return Status(v1::Error::TIMEOUT, "lantoa-broker did not become ready:\n" + slurp(log_));
}

int BrokerLauncher::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const auto until = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill();
  return -1;
}

void BrokerLauncher::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace lantoa::testing
