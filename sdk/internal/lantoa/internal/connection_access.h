// What the SDK's client core (sdk/src/client_link.h) and the tests need from
// a Connection beyond its public API: the socket to wait on together with a
// wake-up, a heartbeat when the session would go quiet, raw message parts
// (tests send malformed input with them), and a connection without the
// Hello handshake (tests of what a broker does with frames before Hello).
#pragma once

#include <string>
#include <vector>

#include "lantoa/connection.h"

namespace lantoa::internal {

struct ConnectionAccess {
  // The ZeroMQ socket (a void* handle for zmq_poll).
  static void* socket(Connection& c);
  // Sends a Heartbeat if nothing was sent for half the broker's heartbeat
  // interval (Welcome.heartbeat_ms).
  static Status keep_alive(Connection& c);
  static Status send_raw(Connection& c, const std::vector<std::string>& parts);
  static Result<Connection> open_without_hello(const BrokerAddress& broker, const MemberKey& key,
                                               const ConnectOptions& options = {});
};

}  // namespace lantoa::internal
