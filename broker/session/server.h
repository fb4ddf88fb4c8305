// Server: the I/O thread. Owns the ZeroMQ ROUTER socket (CurveZMQ server),
// the sessions (one per connected client, bound to a member at Hello), and
// the delivery state of attached subscriptions. Publish batches go to the
// Verifier, storage operations to the Writer, each with a ticket in arrival
// order; results come back through Completions.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <zmq.hpp>

#include "ingest/verifier.h"
#include "lantoa/keys.h"
#include "lantoa/trust.h"
#include "monitor/metrics.h"
#include "routing/delivery.h"
#include "routing/ready_events.h"
#include "routing/wire_views.pb.h"
#include "session/admission.h"
#include "session/rate_limit.h"
#include "store/log.h"
#include "store/writer.h"

namespace lantoa::broker {

struct ServerOptions {
  std::string member = "lantoa-broker";  // the broker's own id, told in Welcome
  uint32_t max_frame_bytes = (1u << 20) + (64u << 10);
  uint32_t max_batch_events = 1000;
  uint32_t chunk_events = 64;        // events per verification job
  uint32_t heartbeat_ms = 5000;
  uint32_t max_credit = 100'000;
  uint32_t min_ack_timeout_ms = 100;
  uint32_t max_ack_timeout_ms = 3'600'000;
  int64_t max_redelivery_delay_ms = 60'000;
  size_t max_deliveries_per_frame = 64;
  // Bytes of deliveries sent to one connection and not yet acknowledged.
  // Beyond it the connection's subscriptions wait for acks, however much
  // credit they have: the broker does not encode (and hold in ZeroMQ's send
  // queue) faster than a subscriber takes, so memory stays near
  // connections x window rather than every queued event once per subscriber.
  uint64_t session_window_bytes = 1u << 20;
  // Per member. On by default (a member that floods must not starve the
  // rest); a refusal is answered with a delay and is retryable with nothing
  // lost (the SDK does it by itself).
  RateLimits rate{200, 2000, 0, 0};
};

class Server {
 public:
  Server(zmq::socket_t& frontend, Store& store, const TrustStore& trust, const Restrictions& restrictions,
         Admission& admission, Verifier& verifier, Writer& writer, Completions& completions, Metrics& metrics,
         ServerOptions options);

  // Connections closed below the protocol (ZMQ_EVENT_DISCONNECTED from a
  // monitor of the frontend): logged and counted. ZeroMQ closes a
  // connection that sends a frame over its hard cap (4 x max_frame_bytes)
  // without letting the broker answer; this is where that becomes visible.
  void watch_closes(zmq::socket_t& monitor) { closes_ = &monitor; }

  // Runs the poll loop until `stop` becomes true.
  void run(const std::atomic<bool>& stop);

  // Sends whatever results the writer finished (used once more at shutdown,
  // after the writer has committed its last group).
  void flush() { drain_completions(); }

 private:
  uint64_t next_ticket() { return ticket_++; }

  struct Session {
    std::string peer;
    std::string curve_key;  // from the ZAP handler (User-Id), hex
    std::shared_ptr<const Identity> identity;
    int64_t last_seen_ms = 0;
    int64_t last_sent_ms = 0;
    uint64_t unacked_bytes = 0;  // deliveries sent and in flight (see session_window_bytes)
    // An in-flight delivery is acked, nacked or timed out: out of the window.
    void release(const InFlight& p) { unacked_bytes -= std::min<uint64_t>(unacked_bytes, p.bytes); }
    std::map<std::string, uint64_t> subs;  // attached subscriptions by name
  };
  struct PendingPublish {
    std::string peer;
    uint32_t chunks_left = 0;
    lantoa::v1::PublishResults results;
  };

  void receive_frames();
  void note_closes();
  void handle(Session& s, std::string_view bytes);
  void on_hello(Session& s, const lantoa::v1::Hello& hello);
  void on_publish(Session& s, lantoa::v1::PublishBatch& batch);
  void on_subscribe(Session& s, const lantoa::v1::Subscribe& sub);
  void on_unsubscribe(Session& s, const lantoa::v1::Unsubscribe& unsub);
  void on_ack(Session& s, const lantoa::v1::Ack& ack);
  void on_nack(Session& s, const lantoa::v1::Nack& nack);
  void on_credit(Session& s, const lantoa::v1::Credit& credit);

  void drain_completions();
  void on_done(PublishDone& d);
  void on_done(SubscribeDone& d);
  void on_done(UnsubscribeDone& d);
  void on_done(AckDone& d);
  void on_done(Released& d);
  void note_routed(const std::vector<QueueRef>& routed);

  void timers(int64_t now);
  void deliver_all(int64_t now);
  void deliver(ActiveSubscription& sub, Session& s, int64_t now, ReadyEvents& events);
  void detach_session_subs(Session& s);
  // Returns what `sub` has in flight (to the queue and out of its session's window).
  void detach(ActiveSubscription& sub);
  void release_window(const std::string& peer, const InFlight& p);
  bool window_full(const Session& s) const { return s.unacked_bytes >= options_.session_window_bytes; }
  void drop_session(const std::string& peer);
  ActiveSubscription* attached(Session& s, const std::string& name, lantoa::v1::Error::Code* why);

  void send(Session& s, const google::protobuf::MessageLite& frame);
  void send_error(Session& s, uint64_t request_id, const Status& status, bool fatal = false);
  void send_raw_error(const std::string& peer, const Status& status);

  zmq::socket_t& frontend_;
  zmq::socket_t* closes_ = nullptr;
  Store& store_;
  const TrustStore& trust_;
  const Restrictions& restrictions_;
  Admission& admission_;
  Verifier& verifier_;
  Writer& writer_;
  Completions& completions_;
  Metrics& metrics_;
  ServerOptions options_;

  void sweep_identities(int64_t now);

  uint64_t ticket_ = 1;
  int64_t last_sweep_ms_ = 0;
  uint64_t next_publish_id_ = 1;
  uint64_t next_delivery_id_ = 1;
  uint64_t last_served_ = 0;  // subscription the last delivery pass served last (the next starts after it)
  std::unordered_map<std::string, Session> sessions_;
  std::unordered_map<uint64_t, PendingPublish> publishes_;
  std::unordered_map<uint64_t, ActiveSubscription> subs_;
  RateLimiter rate_;
};

}  // namespace lantoa::broker
