#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <tuple>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace lantoa::testing {
namespace {

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// One direction of one connection: what was read and not yet written, and
// the tokens it may still pass (throttled).
struct Flow {
  std::string pending;
  double tokens = 0;
};

struct Pair {
  int client = -1, target = -1;
  Flow up, down;  // client -> target, target -> client
  bool dead = false;
};

}  // namespace

TcpProxy::TcpProxy(int target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 16) != 0) {
    throw std::runtime_error("TcpProxy: cannot listen on 127.0.0.1");
  }
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  nonblocking(listen_fd_);
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
}

void TcpProxy::run() {
  std::vector<Pair> pairs;
  int64_t last = now_us();
  char buf[16384];
  while (!stop_) {
    if (cut_.exchange(false)) {
      for (auto& p : pairs) p.dead = true;
    }
    // Accept: connect to the target at once (a black hole accepts and keeps
    // the connection, and passes nothing).
    while (true) {
      int c = ::accept(listen_fd_, nullptr, nullptr);
      if (c < 0) break;
      nonblocking(c);
      int t = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(target_port_));
      if (::connect(t, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(t);
        ::close(c);
        continue;
      }
      nonblocking(t);
      Pair p;
      p.client = c;
      p.target = t;
      pairs.push_back(std::move(p));
      ++accepted_;
    }
    const int64_t now = now_us();
    const double elapsed_s = static_cast<double>(now - last) / 1e6;
    last = now;
    const uint64_t rate = rate_;
    const bool hole = black_hole_;
    for (auto& p : pairs) {
      if (p.dead) continue;
      for (auto [from, to, flow] : {std::tuple{p.client, p.target, &p.up}, std::tuple{p.target, p.client, &p.down}}) {
        if (rate > 0) flow->tokens = std::min<double>(flow->tokens + elapsed_s * static_cast<double>(rate),
                                                       static_cast<double>(std::max<uint64_t>(rate / 10, 1500)));
        // Read what may pass (all of it when not throttled; a black hole reads and drops).
        size_t room = sizeof buf;
        if (rate > 0 && !hole) room = std::min<size_t>(room, static_cast<size_t>(std::max(flow->tokens, 0.0)));
        if (flow->pending.size() < (1u << 20) && room > 0) {
          ssize_t n = ::recv(from, buf, room, 0);
          if (n == 0) p.dead = true;
          if (n > 0) {
            if (!hole) {
              flow->pending.append(buf, static_cast<size_t>(n));
              if (rate > 0) flow->tokens -= static_cast<double>(n);
            }
          }
        }
        if (!flow->pending.empty() && !hole) {
          ssize_t n = ::send(to, flow->pending.data(), flow->pending.size(), MSG_NOSIGNAL);
          if (n > 0) {
            flow->pending.erase(0, static_cast<size_t>(n));
            passed_ += static_cast<uint64_t>(n);
          } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            p.dead = true;
          }
        }
      }
    }
    for (auto& p : pairs) {
      if (p.dead && p.client >= 0) {
        ::close(p.client);
        ::close(p.target);
        p.client = p.target = -1;
      }
    }
    pairs.erase(std::remove_if(pairs.begin(), pairs.end(), [](const Pair& p) { return p.client < 0; }), pairs.end());
    // Wait for anything readable, at most 2 ms (throttling refills meanwhile).
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
    for (const auto& p : pairs) {
      fds.push_back({p.client, POLLIN, 0});
      fds.push_back({p.target, POLLIN, 0});
    }
    if (rate > 0) {
      ::usleep(1000);  // throttled: readable sockets may wait for tokens, so do not spin on poll
    } else {
      ::poll(fds.data(), fds.size(), 2);
    }
  }
  for (auto& p : pairs) {
    if (p.client >= 0) {
      ::close(p.client);
      ::close(p.target);
    }
  }
}

}  // namespace lantoa::testing
