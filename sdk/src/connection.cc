#include "lantoa/connection.h"

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "lantoa/encoding.h"
#include "lantoa/internal/connection_access.h"
#include "lantoa/internal/file_util.h"
#include "proto_scan.h"

namespace lantoa {
namespace {
// The most a client accepts in one frame from a broker (ZeroMQ drops the
// connection beyond it, before allocating): far above a delivery batch.
constexpr int64_t kMaxIncomingFrameBytes = 64ll << 20;
}  // namespace

struct Connection::Impl {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::dealer};
  zmq::socket_t monitor{context, zmq::socket_type::pair};  // handshake events, during open() only

  // What the handshake watch has seen so far (during open() only).
  bool tcp_connected = false;     // something accepted the TCP connection
  bool handshake_done = false;    // the CurveZMQ handshake succeeded
  bool refused = false;           // the broker's admission (ZAP) said no
  bool handshake_failed = false;  // a handshake broke off (e.g. the wrong broker key)

  void watch() {
    if (!monitor.handle()) return;
    zmq::message_t event;
    zmq::pollitem_t item{monitor.handle(), 0, ZMQ_POLLIN, 0};
    while (zmq::poll(&item, 1, std::chrono::milliseconds(0)) > 0) {
      if (!monitor.recv(event, zmq::recv_flags::dontwait)) break;
      uint16_t id = 0;
      if (event.size() >= 2) std::memcpy(&id, event.data(), 2);
      while (monitor.get(zmq::sockopt::rcvmore)) (void)monitor.recv(event, zmq::recv_flags::dontwait);
      switch (id) {
        case ZMQ_EVENT_CONNECTED: tcp_connected = true; break;
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: handshake_done = true; break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: refused = true; break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: handshake_failed = true; break;
        case ZMQ_EVENT_DISCONNECTED:
          if (!handshake_done) handshake_failed = true;
          break;
        default: break;
      }
    }
  }
  bool refused_by_admission() {
    watch();
    return refused;
  }
  // Why no Welcome came within `timeout`, from what the watch saw.
  Status why_no_answer(const std::string& endpoint, std::chrono::milliseconds timeout) {
    watch();
    const std::string within = " within " + std::to_string(timeout.count()) + " ms";
    if (!tcp_connected) {
      return Status(v1::Error::UNAVAILABLE, "cannot reach the broker at " + endpoint +
                                                ": nothing accepted a connection there" + within +
                                                " (is it running, and is the endpoint right?)");
    }
    if (!handshake_done) {
      return Status(v1::Error::UNAVAILABLE,
                    "the broker at " + endpoint +
                        " accepted the connection but the encrypted handshake failed" +
                        (handshake_failed ? "" : " to complete" + within) +
                        ": the broker transport key given here is not that broker's (check the key, or the "
                        "broker.ready.json it was taken from)");
    }
    return Status(v1::Error::UNAVAILABLE, "no answer to Hello from " + endpoint + within);
  }
  v1::Welcome welcome;
  std::chrono::steady_clock::time_point last_send = std::chrono::steady_clock::now();

  Status send_parts(const std::vector<std::string>& parts) {
    try {
      for (size_t i = 0; i < parts.size(); ++i) {
        auto flags = i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
        if (!socket.send(zmq::buffer(parts[i]), flags)) {
          return Status(v1::Error::UNAVAILABLE, "cannot send: the broker is not reachable");
        }
      }
      last_send = std::chrono::steady_clock::now();
    } catch (const zmq::error_t& e) {
      return Status(v1::Error::UNAVAILABLE, std::string("cannot send: ") + e.what());
    }
    return Status::Ok();
  }

  // The next single-part message (nullopt when none arrives within
  // `timeout`), keeping the session alive while the caller only listens.
  Status keep_alive() {
    const auto heartbeat = std::chrono::milliseconds(welcome.heartbeat_ms());
    if (heartbeat.count() > 0 && std::chrono::steady_clock::now() - last_send > heartbeat / 2) {
      v1::ClientFrame hb;
      hb.mutable_heartbeat()->set_time_ms(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count());
      return send_parts({hb.SerializeAsString()});
    }
    return Status::Ok();
  }

  Result<std::optional<zmq::message_t>> next_message(std::chrono::milliseconds timeout) {
    LANTOA_RETURN_IF_ERROR(keep_alive());
    try {
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, timeout) == 0) return std::optional<zmq::message_t>();
      std::vector<zmq::message_t> parts;
      zmq::message_t part;
      do {
        if (!socket.recv(part, zmq::recv_flags::none)) return std::optional<zmq::message_t>();
        parts.push_back(std::move(part));
      } while (socket.get(zmq::sockopt::rcvmore));
      if (parts.size() != 1) {
        return Status(v1::Error::FRAME_MALFORMED, "broker sent a message of " + std::to_string(parts.size()) + " parts");
      }
      return std::optional<zmq::message_t>(std::move(parts[0]));
    } catch (const zmq::error_t& e) {
      return Status(v1::Error::UNAVAILABLE, std::string("cannot receive: ") + e.what());
    }
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

const v1::Welcome& Connection::welcome() const { return impl_->welcome; }

Result<Connection> Connection::connect_only(const BrokerAddress& broker, const MemberKey& key,
                                            const ConnectOptions& options) {
  if (broker.transport_key.size() != kTransportKeySize) {
    return Status(v1::Error::INVALID_ARGUMENT, "the broker's transport key must be 32 bytes");
  }
  auto impl = std::make_unique<Impl>();
  try {
    zmq::socket_t& s = impl->socket;
    std::string secret = key.transport.secret();
    s.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(broker.transport_key.data(), 32));
    s.set(zmq::sockopt::curve_publickey, zmq::const_buffer(key.transport.public_key().data(), 32));
    s.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(secret.data(), 32));
    secure_wipe(secret);
    // A broker frame is at most a delivery batch plus one event of the
    // network's largest size; anything far beyond is refused by ZeroMQ
    // before it is allocated.
    s.set(zmq::sockopt::maxmsgsize, int64_t{kMaxIncomingFrameBytes});
    s.set(zmq::sockopt::linger, 200);
    s.set(zmq::sockopt::immediate, 1);  // queue nothing until the Curve handshake is done
    s.set(zmq::sockopt::reconnect_ivl, 100);
    // Watch the connection and the handshake, so that a failure can be
    // named: nothing listening, the wrong broker key, or a refusal by the
    // broker's transport admission (before any frame).
    const std::string monitor = "inproc://lantoa-connect-" + std::to_string(reinterpret_cast<uintptr_t>(impl.get()));
    constexpr int kWatched = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (zmq_socket_monitor(s.handle(), monitor.c_str(), kWatched) == 0) {
      impl->monitor.connect(monitor);
    }
    s.connect(broker.endpoint);
  } catch (const zmq::error_t& e) {
    return Status(v1::Error::INVALID_ARGUMENT, "cannot connect to " + broker.endpoint + ": " + e.what());
  }
  Connection conn(std::move(impl));
  conn.impl_->socket.set(zmq::sockopt::sndtimeo, static_cast<int>(options.timeout.count()));
  return conn;
}

Result<Connection> Connection::open(const BrokerAddress& broker, const MemberKey& key,
                                    const v1::CertificateChain& chain, const ConnectOptions& options) {
  auto connected = connect_only(broker, key, options);
  if (!connected) return connected.status();
  Connection conn = std::move(*connected);
  v1::ClientFrame hello;
  hello.mutable_hello()->set_protocol_version(options.protocol_version);
  *hello.mutable_hello()->mutable_chain() = chain;
  hello.mutable_hello()->set_agent(options.agent);
  // With ZMQ_IMMEDIATE a send waits while no connection is up; never wait
  // forever (a dead broker must surface as UNAVAILABLE, not a hang).
  conn.impl_->socket.set(zmq::sockopt::sndtimeo, static_cast<int>(options.timeout.count()));
  const Status admission_refused(v1::Error::PERMISSION_DENIED,
                                 "the broker at " + broker.endpoint +
                                     " refused this connection before any frame: its transport key does not belong "
                                     "to a certificate the broker accepts (unknown, expired or revoked)");
  // Send and wait in small steps, so that a refusal is reported at once
  // rather than after the whole timeout.
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  const std::string hello_bytes = hello.SerializeAsString();
  for (;;) {
    bool sent = false;
    try {
      sent = conn.impl_->socket.send(zmq::buffer(hello_bytes), zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t& e) {
      return Status(v1::Error::UNAVAILABLE, std::string("cannot send Hello: ") + e.what());
    }
    if (sent) break;
    if (conn.impl_->refused_by_admission()) return admission_refused;
    if (std::chrono::steady_clock::now() >= deadline) return conn.impl_->why_no_answer(broker.endpoint, options.timeout);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  conn.impl_->last_send = std::chrono::steady_clock::now();
  Result<std::optional<v1::BrokerFrame>> reply = std::optional<v1::BrokerFrame>();
  while (std::chrono::steady_clock::now() < deadline) {
    reply = conn.receive(std::chrono::milliseconds(50));
    if (!reply || reply->has_value()) break;
    if (conn.impl_->refused_by_admission()) return admission_refused;
  }
  if (!reply) return reply.status();
  if (!reply->has_value()) {
    if (conn.impl_->refused_by_admission()) return admission_refused;
    return conn.impl_->why_no_answer(broker.endpoint, options.timeout);
  }
  const v1::BrokerFrame& frame = **reply;
  if (frame.has_error()) return Status::from_proto(frame.error().error());
  if (!frame.has_welcome()) return Status(v1::Error::FRAME_MALFORMED, "the broker answered Hello with another frame");
  conn.impl_->welcome = frame.welcome();
  zmq_socket_monitor(conn.impl_->socket.handle(), nullptr, 0);
  conn.impl_->monitor.close();
  return conn;
}

Status Connection::send(const v1::ClientFrame& frame) {
  std::string bytes;
  if (!frame.SerializeToString(&bytes)) return Status(v1::Error::INTERNAL, "cannot serialize frame");
  // The broker closes a connection that sends far more than its limit
  // without a word (ZeroMQ's own cap): refuse here, clearly, and keep the
  // session.
  const uint32_t limit = impl_->welcome.max_frame_bytes();
  if (limit != 0 && bytes.size() > limit) {
    return Status(v1::Error::FRAME_TOO_LARGE, "frame of " + std::to_string(bytes.size()) +
                                                  " bytes exceeds the broker's limit of " + std::to_string(limit) +
                                                  " (Welcome.max_frame_bytes); nothing was sent");
  }
  return impl_->send_parts({bytes});
}

void* internal::ConnectionAccess::socket(Connection& c) { return c.impl_->socket.handle(); }
Status internal::ConnectionAccess::keep_alive(Connection& c) { return c.impl_->keep_alive(); }
Status internal::ConnectionAccess::send_raw(Connection& c, const std::vector<std::string>& parts) {
  return c.impl_->send_parts(parts);
}
Result<Connection> internal::ConnectionAccess::open_without_hello(const BrokerAddress& broker, const MemberKey& key,
                                                                 const ConnectOptions& options) {
  return Connection::connect_only(broker, key, options);
}

Result<std::optional<std::string>> Connection::receive_raw(std::chrono::milliseconds timeout) {
  auto message = impl_->next_message(timeout);
  if (!message) return message.status();
  if (!message->has_value()) return std::optional<std::string>();
  return std::optional<std::string>((*message)->to_string());
}

Result<std::optional<v1::BrokerFrame>> Connection::receive(std::chrono::milliseconds timeout) {
  auto message = impl_->next_message(timeout);
  if (!message) return message.status();
  if (!message->has_value()) return std::optional<v1::BrokerFrame>();
  v1::BrokerFrame frame;  // parsed from ZeroMQ's buffer, not a copy of it
  LANTOA_RETURN_IF_ERROR(internal::parse_protobuf(frame, (*message)->to_string_view(), v1::Error::FRAME_MALFORMED));
  return std::optional<v1::BrokerFrame>(std::move(frame));
}

}  // namespace lantoa

namespace lantoa {

Result<BrokerAddress> resolve_broker(const std::string& endpoint, const std::string& key) {
  BrokerAddress out{endpoint, {}};
  std::optional<std::string> transport = from_base64url(key);
  if (!transport) {  // a ready file written by lantoa-broker
    if (std::string why = internal::why_unreadable(key); !why.empty() && why.find("no such file") == std::string::npos) {
      return Status(v1::Error::INVALID_ARGUMENT, "the broker key file: " + why);  // e.g. permission denied for user U
    }
    std::ifstream in(key);
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.contains("transport_key") || !j["transport_key"].is_string()) {
      return Status(v1::Error::INVALID_ARGUMENT,
                    "the broker key is neither a base64url key nor a readable broker.ready.json: " + key);
    }
    transport = from_base64url(j["transport_key"].get<std::string>());
    if (out.endpoint.empty() && j.contains("endpoint") && j["endpoint"].is_string()) out.endpoint = j["endpoint"];
  }
  if (!transport || transport->size() != 32) {
    return Status(v1::Error::INVALID_ARGUMENT, "the broker's transport key must be 32 bytes");
  }
  if (out.endpoint.empty()) out.endpoint = kDefaultBrokerEndpoint;
  out.transport_key = std::move(*transport);
  return out;
}

}  // namespace lantoa
