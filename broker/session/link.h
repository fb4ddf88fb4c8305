// Links between brokers (docs/federation.md). A link is one CurveZMQ
// connection between two certified brokers; the one with the `[[links]]`
// entry dials (a province behind its firewall dials the centre). Over it each
// side is, for the other, what a subscriber is for a broker:
//
//  - what a broker owes its peer is a durable subscription in its own store,
//    owned by the peer (`$link-<peer tag>`), whose filters are the peer's
//    interest (intersected with this side's export filters): queued by
//    reference, urgent first, kept by retention while owed, delivered with
//    acks, exactly like a portal's queue;
//  - what arrives from the peer is verified again, event by event with its own
//    signer chain, and stored like a publish (the id makes a second copy by
//    another path a DUPLICATE), then acknowledged; it is not routed back to
//    the subscription of the link it came by;
//  - each side tells the other its interest (Interest frames): the filters of
//    its own subscriptions and of its other links' peers, each entry with the
//    brokers it passed through, recomputed when subscriptions change.
//
// The accepting side needs no configuration: a session whose certificate has
// the broker role may send Interest and Forward frames. This file holds the
// dialing side's connection (LinkDialer, on the I/O thread) and the interest
// rules both sides use.
//
// Thread: the I/O thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "lantoa/keys.h"
#include "lantoa/status.h"
#include "lantoa/v1/wire.pb.h"
#include "monitor/metrics.h"
#include "store/store.h"

namespace lantoa::broker {

// One `[[links]]` entry of the configuration.
struct LinkConfig {
  std::string name;      // a-z, 0-9, '-', '_': in logs, metrics, `lantoa links`
  std::string endpoint;  // "tcp://central.gov.vn:7450"
  std::string key;       // the peer's transport key (base64url) or the path of its broker.ready.json
  std::vector<std::string> exports;  // what may go to the peer (empty: what its certificate may read)
  std::vector<std::string> imports;  // what may come from it (empty: anything)
  bool mirror = false;  // both sides send each other everything they store (docs/high-availability.md)
};

// The name of the subscription that holds what is owed to the broker with
// this tag (at most 64 characters; '$' keeps it apart from clients' names).
std::string link_subscription_name(const std::string& peer_tag);

// A broker's tag in interest paths: the first 16 hex digits of its transport key.
std::string broker_tag(std::string_view transport_key_bytes);

// Interest entries: filters with the brokers they passed through.
struct InterestEntry {
  std::string filter;
  std::vector<std::string> path;
};

// Limits of an Interest frame (checked on arrival, kept on sending).
inline constexpr size_t kMaxInterestEntries = 4096;
inline constexpr size_t kMaxInterestPath = 32;

// Checked Interest from a peer: every filter valid, within the limits; else
// INVALID_ARGUMENT naming the first problem.
Result<std::vector<InterestEntry>> read_interest(const v1::Interest& interest);

// Compact: one entry per filter (the shortest path), none covered by another;
// sorted by filter. At most kMaxInterestEntries (the widest are kept first).
std::vector<InterestEntry> compact_interest(std::vector<InterestEntry> entries);

// Each entry intersected with `allowed` (empty: unchanged).
std::vector<InterestEntry> restrict_interest(const std::vector<InterestEntry>& entries,
                                             const std::vector<std::string>& allowed);

// Everything a mirror stores: news (">"), the trust topics ("$trust.>") and
// every inbox. No wildcard reaches into an inbox, so that is one filter per
// depth of a recipient's id ("*.$inbox.>", "*.*.$inbox.>"... up to
// kMaxMemberLabels).
std::vector<InterestEntry> mirror_interest();

// The filters of `entries`, each once, as a subscription holds them.
std::vector<std::string> interest_filters(const std::vector<InterestEntry>& entries);

// True when `topic` is matched by one of `filters` (empty: any).
bool allowed_by(const std::vector<std::string>& filters, std::string_view topic);

// The dialing side of one link: its socket, Hello, heartbeats, silence
// detection and reconnects with back-off. What the frames mean is the
// Server's business (server.cc, link part).
class LinkDialer {
 public:
  enum class State { kIdle, kHello, kUp };

  // `peer_key`: the peer's transport key (32 bytes), `endpoint` resolved
  // (resolve_broker) from the config when the broker starts.
  LinkDialer(zmq::context_t& context, LinkConfig config, std::string endpoint, std::string peer_key,
             const MemberKey& own_key, std::string own_chain);

  const LinkConfig& config() const { return config_; }
  State state() const { return state_; }
  // The peer's transport key (bytes) and tag; empty until resolved.
  const std::string& peer_key() const { return peer_key_; }
  const std::string& endpoint() const { return endpoint_; }
  const std::string& peer_tag() const { return peer_tag_; }
  // Why the link is not up (empty when it is).
  const std::string& down_reason() const { return down_reason_; }
  int64_t up_since_ms() const { return up_since_ms_; }
  uint64_t connects() const { return connects_; }

  // Opens the socket when its time has come; sends heartbeats; gives up on
  // a silent peer (3 heartbeats) and on a Hello not answered in time.
  void tick(int64_t mono_ms, uint32_t heartbeat_ms);
  // The socket to poll, or null while waiting to reconnect.
  zmq::socket_t* socket() { return socket_ ? &*socket_ : nullptr; }
  // The next frame (non-blocking), parsed; nullopt when none. A frame that
  // does not parse ends the connection (FRAME_MALFORMED, reconnect).
  std::optional<v1::BrokerFrame> receive(int64_t mono_ms);
  Status send(const google::protobuf::MessageLite& frame, int64_t mono_ms);
  // Welcome came and was checked: the link is up.
  void up(int64_t mono_ms, int64_t wall_ms);
  // Ends the connection and reconnects after the back-off.
  void down(const std::string& why, int64_t mono_ms);

  // The link's figures (monitor/metrics.h), kept for its life.
  void set_probe(std::shared_ptr<LinkProbe> probe) { probe_ = std::move(probe); }
  const std::shared_ptr<LinkProbe>& probe() const { return probe_; }

  uint64_t bytes_sent() const { return bytes_sent_; }
  uint64_t bytes_received() const { return bytes_received_; }

 private:
  void open(int64_t mono_ms);

  zmq::context_t& context_;
  LinkConfig config_;
  const MemberKey& own_key_;
  std::string own_chain_;  // serialized CertificateChain
  std::string endpoint_, peer_key_, peer_tag_;
  std::optional<zmq::socket_t> socket_;
  State state_ = State::kIdle;
  std::string down_reason_ = "not connected yet";
  int64_t next_attempt_ms_ = 0;
  int64_t backoff_ms_ = 0;
  int64_t hello_sent_ms_ = 0;
  int64_t last_seen_ms_ = 0;
  int64_t last_sent_ms_ = 0;
  int64_t up_since_ms_ = 0;
  uint64_t connects_ = 0;
  uint64_t bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;
  std::shared_ptr<LinkProbe> probe_;
};

}  // namespace lantoa::broker
