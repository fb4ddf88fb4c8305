// ClientLink: the client core that Publisher and Subscriber share. It keeps
// one member's link to a broker up:
//  - connects (Connection::open: Curve handshake and Hello), and after a loss
//    connects again with a back-off that doubles from `min_backoff` to
//    `max_backoff`;
//  - runs the owner's `on_connect` on every new connection (a publisher
//    learns its sequence, a subscriber opens its subscriptions);
//  - keeps the session alive (a Heartbeat when it would go quiet) and drops a
//    connection whose broker went silent for three heartbeat intervals, or
//    that the broker ended (a fatal Error, HELLO_REQUIRED after a restart);
//  - waits for the next frame without polling: next() sleeps in zmq_poll on
//    the socket and an eventfd, so a frame or wake() from another thread ends
//    the wait at once.
//
// One thread at a time uses the link (connect(), next(), connection(),
// drop()); wake(), connected() and down_reason() may be called from any
// thread. Why the link is down is kept
// in down_reason() (unreachable, refused with the broker's reason, silent).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lantoa/connection.h"

namespace lantoa::internal {

struct ClientLinkOptions {
  BrokerAddress broker;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  std::string agent = "lantoa-sdk/0.1";
  // Called on the link's thread when it comes up (true, "") or goes down or
  // fails to connect for a new reason (false, why): not on every retry.
  std::function<void(bool up, const std::string& why)> on_change;
  // Mirrors of `broker` (docs/high-availability.md): when the broker it is
  // on cannot be reached or the connection is lost, the link tries the next
  // one at once, and backs off only after a round over all of them.
  std::vector<BrokerAddress> failover = {};
};

class ClientLink {
 public:
  using Clock = std::chrono::steady_clock;
  // Runs on each new connection before next() hands out any of its frames;
  // an error drops the connection (and is its down_reason()).
  using OnConnect = std::function<Status(Connection&)>;

  // `key` and `chain` are the owner's and must outlive the link.
  ClientLink(const MemberKey& key, const v1::CertificateChain& chain, ClientLinkOptions options,
             OnConnect on_connect);
  ~ClientLink();
  ClientLink(const ClientLink&) = delete;
  ClientLink& operator=(const ClientLink&) = delete;

  // Connects now, waiting at most `timeout`; the error says why not.
  Status connect(std::chrono::milliseconds timeout);

  // The next frame from the broker, or nullopt when `until` has passed or
  // wake() was called. While the link is down it connects again when the
  // back-off allows. Frames that end the session (fatal errors) drop the
  // connection and are handed out too, so the owner sees the reason.
  std::optional<v1::BrokerFrame> next(Clock::time_point until);

  // Ends a wait in next() at once (from any thread).
  void wake();

  // The live connection, or nullptr while down. Valid until the next call
  // of next() or drop().
  Connection* connection() { return conn_ ? &*conn_ : nullptr; }
  // Drops the connection (a send failed, an answer never came): the link
  // connects again after the back-off.
  void drop(const std::string& why);

  bool connected() const { return connected_.load(); }
  // Counts each connection made after the first.
  uint64_t reconnects() const { return reconnects_; }
  // Each connection gets a new number: what came over an older one (a
  // delivery id to ack) is not valid on a newer one.
  uint64_t generation() const { return generation_; }
  // Why the link is down (empty while up, or before the first attempt).
  std::string down_reason() const;
  // The broker the link is on (or tries next); its index in broker, failover....
  const BrokerAddress& broker() const { return current_ == 0 ? o_.broker : o_.failover[current_ - 1]; }
  size_t broker_index() const { return current_; }

 private:
  void set_down(const std::string& why);
  // After a failure on the current broker: the next one (true), or back to
  // the first after a whole round (false: back off).
  bool next_broker();
  // Waits on the socket (when connected) and the wake-up until `until`;
  // true when woken.
  bool wait(Clock::time_point until);

  const MemberKey& key_;
  const v1::CertificateChain& chain_;
  ClientLinkOptions o_;
  OnConnect on_connect_;

  std::optional<Connection> conn_;
  Clock::time_point last_heard_{};
  Clock::time_point next_connect_{};
  std::chrono::milliseconds backoff_;
  uint64_t connections_ = 0;
  uint64_t reconnects_ = 0;
  uint64_t generation_ = 0;
  size_t current_ = 0;
  int wake_fd_ = -1;
  std::atomic<bool> connected_{false};
  mutable std::mutex reason_mu_;
  std::string down_reason_;
  std::string reported_;  // the last state given to on_change ("up" or the reason)
};

}  // namespace lantoa::internal
