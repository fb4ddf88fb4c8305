// Connection: one authenticated, encrypted link from a member to a broker.
//
// It is the transport seam of the SDK: a ZeroMQ DEALER socket with CurveZMQ
// (the member's transport key as client key, the broker's public transport
// key pinned), over which the Hello handshake binds the link to the member's
// certificate. Frames are ClientFrame / BrokerFrame protobufs, one per
// ZeroMQ message (see proto/lantoa/v1/wire.proto).
//
// Blocking and single-threaded: use a Connection from one thread at a time.
// Publisher and Subscriber (later) build on it. A timed-out receive is not an
// error: it returns an empty optional.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "lantoa/keys.h"
#include "lantoa/status.h"
#include "lantoa/v1/cert.pb.h"
#include "lantoa/v1/wire.pb.h"

namespace lantoa {

// Where a broker is and which key it must prove it holds.
struct BrokerAddress {
  std::string endpoint;       // "tcp://127.0.0.1:7450"
  std::string transport_key;  // the broker's Curve25519 public key, 32 bytes
};

inline constexpr const char* kDefaultBrokerEndpoint = "tcp://127.0.0.1:7450";

// A broker address from what an operator writes: `key` is the broker's
// transport key in base64url, or the path of the broker.ready.json that
// lantoa-broker writes. An empty `endpoint` means the ready file's endpoint,
// else kDefaultBrokerEndpoint.
Result<BrokerAddress> resolve_broker(const std::string& endpoint, const std::string& key);

struct ConnectOptions {
  std::chrono::milliseconds timeout{5000};  // for connecting and the Hello answer
  std::string agent = "lantoa-sdk/0.1";
  uint32_t protocol_version = v1::PROTOCOL_V1;
};

namespace internal {
struct ConnectionAccess;  // the SDK's client core and the tests (lantoa/internal/connection_access.h)
}

class Connection {
 public:
  // Connects and performs the Hello handshake. The broker's refusal comes
  // back as its Status (for example CERT_EXPIRED); no answer within the
  // timeout is UNAVAILABLE.
  static Result<Connection> open(const BrokerAddress& broker, const MemberKey& key,
                                 const v1::CertificateChain& chain, const ConnectOptions& options = {});

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  const v1::Welcome& welcome() const;

  // Sends one frame. FRAME_TOO_LARGE (nothing sent, the session kept) when
  // it exceeds the broker's Welcome.max_frame_bytes.
  Status send(const v1::ClientFrame& frame);
  // The next frame, or nullopt when none arrives within `timeout`.
  Result<std::optional<v1::BrokerFrame>> receive(std::chrono::milliseconds timeout);
  // The next frame's bytes, not parsed (for a caller that parses only what it
  // needs, e.g. delivery headers with the event left as bytes).
  Result<std::optional<std::string>> receive_raw(std::chrono::milliseconds timeout);

 private:
  friend struct internal::ConnectionAccess;
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  static Result<Connection> connect_only(const BrokerAddress& broker, const MemberKey& key,
                                         const ConnectOptions& options);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lantoa
