// A small protocol client for tests: a Connection plus the bookkeeping of
// frames that arrive out of order (deliveries interleaved with answers).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lantoa/connection.h"
#include "support/broker_process.h"
#include "support/fixtures.h"

namespace lantoa::testing {

using std::chrono::milliseconds;

class Client {
 public:
  // Connects as `m`; fails the test if Hello is refused.
  Client(const BrokerAddress& broker, const Member& m);
  // Connects without Hello (for tests of what comes before it).
  static Result<Connection> raw(const BrokerAddress& broker, const Member& m);

  Connection& connection() { return conn_; }
  // Sends raw ZeroMQ message parts (malformed input) on this connection.
  Status send_raw(const std::vector<std::string>& parts);
  const v1::Welcome& welcome() const { return conn_.welcome(); }

  // Publishes and waits for the results (empty results on timeout).
  v1::PublishResults publish(const std::vector<v1::SignedEvent>& events, milliseconds timeout = milliseconds(10000));
  v1::PublishResult publish_one(const v1::SignedEvent& event) {
    auto r = publish({event});
    return r.results_size() ? r.results(0) : v1::PublishResult();
  }

  // Subscribes; the Subscribed answer or the broker's error.
  Result<v1::Subscribed> subscribe(const std::string& name, const std::vector<std::string>& filters,
                                   v1::StartPosition start = {}, uint32_t credit = 0, uint32_t ack_timeout_ms = 0);
  Result<v1::Unsubscribed> unsubscribe(const std::string& name, bool remove);

  // The next delivery, or nullopt after `timeout`.
  std::optional<v1::Deliver> next(milliseconds timeout = milliseconds(5000));
  // Deliveries until `n` arrived or `timeout` passed.
  std::vector<v1::Deliver> collect(size_t n, milliseconds timeout = milliseconds(5000));
  // Whatever arrives within `window`.
  std::vector<v1::Deliver> drain(milliseconds window);

  void ack(const std::string& sub, const std::vector<uint64_t>& ids);
  void ack(const std::vector<v1::Deliver>& ds);
  void nack(const std::string& sub, const std::vector<uint64_t>& ids);
  void credit(const std::string& sub, uint32_t max_in_flight);

  // The next error frame received (waits up to `timeout`).
  std::optional<v1::ErrorFrame> next_error(milliseconds timeout = milliseconds(5000));

 private:
  void pump(milliseconds timeout);
  // The answer (or error frame) to a request, waiting up to 10 s.
  Result<v1::BrokerFrame> await_answer(uint64_t request_id);
  Connection conn_;
  uint64_t next_request_ = 1;
  std::map<uint64_t, v1::PublishResults> results_;
  std::map<uint64_t, v1::BrokerFrame> answers_;  // subscribed / unsubscribed / errors with request ids
  std::deque<v1::Deliver> deliveries_;
  std::deque<v1::ErrorFrame> errors_;
};

// The headline of a delivered event (parses the signed bytes).
std::string headline_of(const v1::Deliver& d);
std::string topic_of(const v1::Deliver& d);
uint32_t urgency_of(const v1::Deliver& d);

// Builds and signs `count` events by `m` on `topic`, sequences from `first_seq`.
std::vector<v1::SignedEvent> make_events(const Member& m, const std::string& topic, uint64_t first_seq, size_t count,
                                         uint32_t urgency = 5);

v1::StartPosition earliest();
v1::StartPosition from_seq(uint64_t seq);

}  // namespace lantoa::testing
