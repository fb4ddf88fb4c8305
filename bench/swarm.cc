#include "swarm.h"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "peers/peers.h"

namespace lantoa::bench {

unsigned long raise_open_files() {
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0) return 0;
  if (files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
    ::getrlimit(RLIMIT_NOFILE, &files);
  }
  return files.rlim_cur;
}

size_t share(size_t total, size_t children, size_t i) { return total / children + (i < total % children ? 1 : 0); }
size_t first_of(size_t total, size_t children, size_t i) {
  size_t first = 0;
  for (size_t k = 0; k < i; ++k) first += share(total, children, k);
  return first;
}

namespace {

void write_line(int fd, const std::string& line) {
  const std::string text = line + "\n";
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// A line from `fd` into `buffer`; waits at most `ms` (0: no wait). "" on EOF.
std::optional<std::string> read_line(int fd, std::string& buffer, int ms, bool* eof) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    const auto nl = buffer.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, std::max<int>(0, static_cast<int>(left.count())));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *eof = true;
      return std::nullopt;
    }
    buffer.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

void ParentLink::say(const std::string& line) { write_line(out_, line); }

std::optional<std::string> ParentLink::hear(std::chrono::milliseconds timeout) {
  bool eof = false;
  auto line = read_line(in_, buffer_, static_cast<int>(timeout.count()), &eof);
  if (eof) return std::string("quit");
  return line;
}

std::string ParentLink::await(const std::vector<std::string>& words) {
  for (;;) {
    auto line = hear(std::chrono::milliseconds(1000));
    if (!line) continue;
    if (*line == "quit") return *line;
    for (const auto& w : words) {
      if (*line == w) return w;
    }
  }
}

Swarm::Swarm(size_t children, const std::function<int(size_t, ParentLink&)>& body) {
  std::fflush(nullptr);
  for (size_t i = 0; i < children; ++i) {
    int down[2], up[2];
    if (::pipe(down) != 0 || ::pipe(up) != 0) break;
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(down[1]);
      ::close(up[0]);
      for (const Kid& k : kids_) {  // the pipes of earlier children are not ours
        ::close(k.to);
        ::close(k.from);
      }
      ParentLink link(down[0], up[1]);
      const int rc = body(i, link);
      std::fflush(nullptr);
      ::_exit(rc);
    }
    ::close(down[0]);
    ::close(up[1]);
    kids_.push_back({pid, down[1], up[0], {}});
  }
}

Swarm::~Swarm() {
  tell_all("quit");
  for (Kid& k : kids_) {
    ::close(k.to);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      gone = ::waitpid(k.pid, nullptr, WNOHANG) == k.pid;
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!gone) {
      ::kill(k.pid, SIGKILL);
      ::waitpid(k.pid, nullptr, 0);
    }
    ::close(k.from);
  }
}

void Swarm::tell_all(const std::string& line) {
  for (Kid& k : kids_) write_line(k.to, line);
}

std::vector<std::optional<std::string>> Swarm::hear_all(double timeout_s) {
  std::vector<std::optional<std::string>> out(kids_.size());
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  std::vector<bool> closed(kids_.size(), false);
  for (;;) {
    bool waiting = false;
    for (size_t i = 0; i < kids_.size(); ++i) {
      if (out[i] || closed[i]) continue;
      bool eof = false;
      out[i] = read_line(kids_[i].from, kids_[i].buffer, 0, &eof);
      closed[i] = eof;
      waiting = waiting || (!out[i] && !eof);
    }
    if (!waiting || std::chrono::steady_clock::now() >= until) return out;
    std::vector<pollfd> fds;
    for (size_t i = 0; i < kids_.size(); ++i) {
      if (!out[i] && !closed[i]) fds.push_back({kids_[i].from, POLLIN, 0});
    }
    ::poll(fds.data(), fds.size(), 100);
  }
}

double Swarm::rss_mb() const {
  double sum = 0;
  for (const Kid& k : kids_) sum += bench::rss_mb(k.pid);
  return sum;
}

}  // namespace lantoa::bench

namespace lantoa::bench {

NationalResult run_national(const NationalPlan& plan) {
  using Clock = std::chrono::steady_clock;
  NationalResult r;
  r.rss_start_mb = rss_mb(plan.server);
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(plan.budget_s));
  const size_t children = std::max<size_t>(1, std::min(plan.children, plan.connections));
  Swarm swarm(children, [&](size_t i, ParentLink& link) {
    return plan.child(i, first_of(plan.connections, children, i), share(plan.connections, children, i), deadline, link);
  });
  // "ready <subscriptions> [note]" from every child.
  std::string notes;
  for (auto& line : swarm.hear_all(plan.budget_s + 120)) {
    if (!line || !line->starts_with("ready ")) {
      notes += std::string(notes.empty() ? "" : "; ") + "a client process did not finish subscribing";
      continue;
    }
    const std::string rest = line->substr(6);
    const auto space = rest.find(' ');
    r.subscriptions += std::stoul(rest.substr(0, space));
    if (space != std::string::npos && notes.find(rest.substr(space + 1)) == std::string::npos) {
      notes += std::string(notes.empty() ? "" : "; ") + rest.substr(space + 1);
    }
  }
  r.create_s = std::chrono::duration<double>(Clock::now() - t0).count();
  r.connections = r.subscriptions;
  r.rss_created_mb = rss_mb(plan.server);
  r.client_rss_mb = swarm.rss_mb();
  // A profiling aid: hold the idle, connected state this long (heaptrack,
  // /proc/PID/smaps of the server), e.g. LANTOA_BENCH_HOLD_CONNECTED_S=30.
  if (const char* hold = std::getenv("LANTOA_BENCH_HOLD_CONNECTED_S")) {
    std::cerr << "  .. holding " << hold << " s with every connection idle (server pid " << plan.server << ")\n";
    std::this_thread::sleep_for(std::chrono::duration<double>(std::atof(hold)));
  }
  if (plan.prepare) plan.prepare();
  const double cpu0 = cpu_seconds(plan.server);
  const auto t1 = Clock::now();
  swarm.tell_all("go");
  const Status published = plan.publish();
  if (!published.ok()) notes += std::string(notes.empty() ? "" : "; ") + "publishing: " + published.message();
  for (auto& line : swarm.hear_all(plan.deliver_timeout_s)) {
    if (!line || !line->starts_with("done ")) continue;
    size_t used = 0;
    r.deliveries += std::stoull(line->substr(5), &used);
    if (line->size() > 5 + used) r.delivery_frames += std::stoull(line->substr(5 + used));  // Lantoa's children
  }
  r.deliver_s = std::chrono::duration<double>(Clock::now() - t1).count();
  r.server_cpu_s = cpu_seconds(plan.server) - cpu0;
  r.rss_end_mb = rss_mb(plan.server);
  r.note = notes;
  return r;
}

}  // namespace lantoa::bench
