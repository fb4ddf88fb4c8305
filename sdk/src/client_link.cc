#include "client_link.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <zmq.hpp>

#include "lantoa/internal/connection_access.h"

namespace lantoa::internal {
namespace {

using std::chrono::milliseconds;
using E = v1::Error;

// How long the broker may stay silent (no frame, not even a heartbeat)
// before the link counts it as gone: three of its heartbeat intervals.
milliseconds silence_limit(const Connection& c) {
  return 3 * milliseconds(std::max<uint32_t>(c.welcome().heartbeat_ms(), 100));
}

}  // namespace

ClientLink::ClientLink(const MemberKey& key, const v1::CertificateChain& chain, ClientLinkOptions options,
                       OnConnect on_connect)
    : key_(key),
      chain_(chain),
      o_(std::move(options)),
      on_connect_(std::move(on_connect)),
      backoff_(o_.min_backoff) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

ClientLink::~ClientLink() {
  conn_.reset();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void ClientLink::wake() {
  if (wake_fd_ < 0) return;
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

std::string ClientLink::down_reason() const {
  std::lock_guard lock(reason_mu_);
  return down_reason_;
}

void ClientLink::set_down(const std::string& why) {
  {
    std::lock_guard lock(reason_mu_);
    down_reason_ = why;
  }
  const std::string state = why.empty() ? "up" : why;
  if (state == reported_) return;
  reported_ = state;
  if (o_.on_change) o_.on_change(why.empty(), why);
}

bool ClientLink::next_broker() {
  if (o_.failover.empty()) return false;
  current_ = (current_ + 1) % (o_.failover.size() + 1);
  return current_ != 0;
}

Status ClientLink::connect(milliseconds timeout) {
  ConnectOptions co;
  co.timeout = timeout;
  co.agent = o_.agent;
  auto c = Connection::open(broker(), key_, chain_, co);
  if (c.ok() && on_connect_) {
    if (Status s = on_connect_(*c); !s.ok()) c = s;
  }
  if (!c) {
    const std::string why = o_.failover.empty() ? c.status().to_string()
                                                : broker().endpoint + ": " + c.status().to_string();
    set_down(why);
    if (next_broker()) {
      next_connect_ = Clock::now();  // the next mirror at once
    } else {
      next_connect_ = Clock::now() + backoff_;
      backoff_ = std::min(o_.max_backoff, backoff_ * 2);
    }
    return c.status();
  }
  conn_.emplace(std::move(*c));
  last_heard_ = Clock::now();
  backoff_ = o_.min_backoff;
  if (connections_++ > 0) ++reconnects_;
  ++generation_;
  set_down("");
  connected_ = true;
  return Status::Ok();
}

void ClientLink::drop(const std::string& why) {
  if (!conn_) return;
  conn_.reset();
  connected_ = false;
  set_down(why);
  if (next_broker()) {
    next_connect_ = Clock::now();  // lost: a mirror at once
    return;
  }
  next_connect_ = Clock::now() + backoff_;
  backoff_ = std::min(o_.max_backoff, backoff_ * 2);
}

bool ClientLink::wait(Clock::time_point until) {
  const auto now = Clock::now();
  const long ms = until <= now ? 0 : static_cast<long>(std::chrono::ceil<milliseconds>(until - now).count());
  zmq::pollitem_t items[2] = {{nullptr, wake_fd_, ZMQ_POLLIN, 0}, {nullptr, 0, ZMQ_POLLIN, 0}};
  int n = 1;
  if (conn_) {
    items[1].socket = ConnectionAccess::socket(*conn_);
    n = 2;
  }
  try {
    zmq::poll(items, n, milliseconds(ms));
  } catch (const zmq::error_t&) {
    return false;  // interrupted: the caller looks again
  }
  if (!(items[0].revents & ZMQ_POLLIN)) return false;
  uint64_t count = 0;
  (void)!::read(wake_fd_, &count, sizeof count);
  return true;
}

std::optional<v1::BrokerFrame> ClientLink::next(Clock::time_point until) {
  for (;;) {
    if (!conn_) {
      if (Clock::now() >= until) return std::nullopt;
      if (Clock::now() >= next_connect_) {
        (void)connect(std::min(o_.connect_timeout, milliseconds(1000)));
        continue;
      }
      if (wait(std::min(until, next_connect_))) return std::nullopt;
      continue;
    }
    // What has arrived first (this also sends a heartbeat when one is due).
    auto frame = conn_->receive(milliseconds(0));
    if (!frame) {
      drop(frame.status().to_string());
      continue;
    }
    const auto now = Clock::now();
    if (frame->has_value()) {
      last_heard_ = now;
      const v1::BrokerFrame& f = **frame;
      if (f.has_error() && (f.error().fatal() || f.error().error().code() == E::HELLO_REQUIRED)) {
        // The broker ended the session (or restarted and forgot it): say
        // Hello again, after handing the reason over.
        drop("the broker ended the session: " + Status::from_proto(f.error().error()).to_string());
      }
      return std::move(*frame);
    }
    if (now - last_heard_ > silence_limit(*conn_)) {
      drop("the broker at " + o_.broker.endpoint + " went silent (no heartbeat for " +
           std::to_string(silence_limit(*conn_).count()) + " ms)");
      continue;
    }
    if (now >= until) return std::nullopt;
    // Sleep until a frame, a wake-up, the next heartbeat to send, or the
    // moment the broker's silence would count.
    const auto heartbeat = milliseconds(std::max<uint32_t>(conn_->welcome().heartbeat_ms(), 100));
    if (wait(std::min({until, now + heartbeat / 2, last_heard_ + silence_limit(*conn_) + milliseconds(1)}))) {
      return std::nullopt;
    }
  }
}

}  // namespace lantoa::internal
