#include "support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace lantoa::testing {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> args, std::filesystem::path ready_file, std::filesystem::path log)
    : args_(std::move(args)), ready_(std::move(ready_file)), log_(std::move(log)) {}

ChildProcess::~ChildProcess() {
  if (running()) stop();
}

Result<nlohmann::json> ChildProcess::start(const std::string& key, std::chrono::milliseconds timeout) {
  const std::string program = std::filesystem::path(args_.at(0)).filename().string();
  std::error_code ec;
  std::filesystem::remove(ready_, ec);
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
    if (std::filesystem::exists(ready_)) {
      auto info = nlohmann::json::parse(slurp(ready_), nullptr, false);
      if (!info.is_discarded() && info.contains(key)) return info;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status(v1::Error::UNAVAILABLE, program + " exited during start-up:\n" + slurp(log_));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill();
  return Status(v1::Error::TIMEOUT, program + " did not become ready:\n" + slurp(log_));
}

int ChildProcess::stop(std::chrono::milliseconds timeout) {
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

void ChildProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace lantoa::testing
