#include "support/broker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "lantoa/encoding.h"

namespace lantoa::testing {

BrokerProcess::BrokerProcess(const TrustTree& tree, std::vector<std::string> extra_args) {
  std::filesystem::create_directories(data());
  EXPECT_TRUE(tree.root_public().save(data() / "trust-root.pub").ok());
  args_ = {LANTOA_BROKER_BIN, "--data", data().string(), "--listen", "tcp://127.0.0.1:*",
           "--monitor", "127.0.0.1:0", "--log-level", "debug"};
  args_.insert(args_.end(), extra_args.begin(), extra_args.end());
}

BrokerProcess::~BrokerProcess() {
  if (running()) stop();
}

void BrokerProcess::start() {
  const auto ready = data() / "broker.ready.json";
  std::filesystem::remove(ready);
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log().c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ASSERT_GT(pid_, 0);
  for (int i = 0; i < 400; ++i) {
    if (std::filesystem::exists(ready)) {
      auto info = nlohmann::json::parse(read_text(ready), nullptr, false);
      if (!info.is_discarded()) {
        endpoint_ = info["endpoint"];
        transport_key_ = from_base64url(info["transport_key"].get<std::string>()).value_or("");
        monitor_url_ = info["monitor"];
        return;
      }
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL() << "lantoa-broker exited during start-up:\n" << read_text(log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  FAIL() << "lantoa-broker did not become ready in 10 s:\n" << read_text(log());
}

int BrokerProcess::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 400; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ADD_FAILURE() << "lantoa-broker did not stop within 10 s of SIGTERM";
  kill();
  return -1;
}

void BrokerProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace lantoa::testing
