// Server: the I/O thread. Owns the ZeroMQ ROUTER socket (CurveZMQ server)
// and the sessions (one per connected client, bound to a member at Hello:
// hello.cc), reads frames and hands each to its step: publish batches to the
// PublishIntake (then the verifier and the writer), subscription requests to
// the writer, acks, nacks and credit to the Dispatcher (delivery/). Results
// come back from the writer through Completions and go to the step that
// waits for them. Heartbeats and session timeouts are kept here.
//
// Thread: everything here runs on the I/O thread (see ../THREADS.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <zmq.hpp>

#include "delivery/dispatcher.h"
#include "ingest/verifier.h"
#include "lantoa/internal/clock.h"
#include "lantoa/keys.h"
#include "lantoa/trust.h"
#include "monitor/metrics.h"
#include "session/admission.h"
#include "session/control.h"
#include "session/link.h"
#include "session/publish_intake.h"
#include "store/store.h"
#include "store/writer.h"

namespace lantoa::broker {

using internal::mono_now_ms;

struct ServerOptions {
  std::string member = "lantoa-broker";  // the broker's own id, told in Welcome
  uint32_t max_frame_bytes = (1u << 20) + (64u << 10);
  uint32_t heartbeat_ms = 5000;
  uint32_t min_ack_timeout_ms = 100;
  uint32_t max_ack_timeout_ms = 3'600'000;
  // Per member, on by default (a member that floods must not starve the
  // rest); a refusal is answered with a delay and is retryable with nothing
  // lost (the SDK does it by itself). See IntakeOptions.
  IntakeOptions intake;
  DeliveryOptions delivery;
  // Links (link.h, docs/federation.md).
  std::string transport_key;  // this broker's public transport key (32 bytes): its tag in interest paths
  std::string own_chain;      // this broker's serialized CertificateChain (role broker), told in Welcome; "": none
  // The member id this broker's certificate names: only members at or below
  // it (and linked brokers) are served. Empty: any member.
  std::string serves;
  uint32_t link_credit = 1000;  // deliveries in flight on a link
  // Bytes of deliveries in flight on a link (instead of [delivery]
  // session_window_kb): what may travel ahead of an ack, a heartbeat or an
  // urgent event. 64 KB is 10 s at 50 kbit/s, and 1.3 MB/s over 50 ms.
  uint64_t link_window_bytes = 64u << 10;
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

  // Requests from the monitoring port (control.h), answered on this thread.
  ControlRequests& control() { return control_; }
  bool control_closed() const { return control_closed_; }

  // A link this broker dials (before run()).
  void add_link(std::unique_ptr<LinkDialer> dialer);

  // Sends whatever results the writer finished (used once more at shutdown,
  // after the writer has committed its last group).
  void flush() { drain_completions(); }

 private:
  struct Session {
    std::string peer;
    std::string curve_key;  // from the ZAP handler (User-Id), hex
    std::shared_ptr<const Identity> identity;
    int64_t last_seen_ms = 0;  // monotonic
    int64_t last_sent_ms = 0;  // monotonic
    // A linked broker (link.h): the peer dialed us and its certificate has
    // the broker role, or we dial it (`dialer`: then this session stands for
    // the link inside the broker and its frames go through the dialer).
    struct Link {
      LinkDialer* dialer = nullptr;
      std::string name;                       // for logs, metrics and `lantoa links`
      std::string tag;                        // the peer's broker tag
      std::vector<InterestEntry> received;    // its interest
      std::vector<InterestEntry> sent;        // ours, as last told
      bool told = false;
      bool told_mirror = false;
      uint64_t sub = 0;                       // the subscription of what we owe it (0: not yet known)
      std::string sub_name;
      std::vector<std::string> exports, imports;
      bool mirror = false;  // everything both ways (LinkConfig::mirror; told in Interest)
      // Dialing side only: our Forward frames waiting for the peer's results
      // (request -> delivery ids of our link subscription), and the peer's
      // deliveries we are storing (request -> its subscription and delivery ids).
      uint64_t next_request = 1;
      std::unordered_map<uint64_t, std::vector<uint64_t>> forwarded;
      std::unordered_map<uint64_t, std::pair<std::string, std::vector<uint64_t>>> storing;
      std::shared_ptr<LinkProbe> probe;
    };
    std::unique_ptr<Link> link;
  };

  // Frames in (server.cc).
  void receive_frames();
  void note_closes();
  void handle(Session& s, std::string_view bytes);
  void on_subscribe(Session& s, const lantoa::v1::Subscribe& sub);
  void on_unsubscribe(Session& s, const lantoa::v1::Unsubscribe& unsub);

  // Links (link_sessions.cc).
  void poll_links(int64_t mono_ms);
  void on_link_frame(LinkDialer& dialer, v1::BrokerFrame& frame, int64_t mono_ms);
  void on_welcome(LinkDialer& dialer, const v1::Welcome& welcome, int64_t mono_ms);
  void link_down(LinkDialer& dialer, const std::string& why, int64_t mono_ms);
  // Frames the broker sends to a dialed link's session, passed on by the dialer.
  void to_dialed_link(Session& s, const google::protobuf::MessageLite& frame);
  void on_interest(Session& s, const v1::Interest& interest);
  void on_forward(Session& s, v1::PublishBatch& batch);
  void store_from_link(Session& s, v1::BrokerFrame& frame);
  void tell_interest(int64_t mono_ms);
  std::vector<InterestEntry> interest_for(const Session& target) const;
  void note_subscription(const SubscriptionRecord& record, bool removed);
  static std::string dialed_peer(const LinkDialer& dialer) { return std::string("\x01link/") + dialer.config().name; }

  // Who a session is (hello.cc).
  void on_hello(Session& s, const lantoa::v1::Hello& hello);
  void sweep_identities(int64_t wall_ms, int64_t mono_ms);

  // Results from the writer (server.cc).
  void drain_completions();
  void on_done(PublishDone& d);
  void on_done(SubscribeDone& d);
  void on_done(UnsubscribeDone& d);
  void on_done(PurgeDone& d);
  void on_done(AckDone& d);
  void on_done(Released& d);

  // The monitoring port's requests (control.cc).
  void on_control(ControlRequest& request);
  void control_done(UnsubscribeDone& d);
  // The request waiting for the writer under `id`, taken out of controls_.
  std::optional<ControlRequest> take_control(uint64_t id);
  nlohmann::json spread(const std::string& event_id, Status* status);

  void heartbeats(int64_t mono_ms);
  void drop_session(const std::string& peer);
  void send(Session& s, const google::protobuf::MessageLite& frame);
  void send_to(const std::string& peer, const google::protobuf::MessageLite& frame);
  void send_error(Session& s, uint64_t request_id, const Status& status);
  // Tells the session why it ends, then forgets it (its next frame needs a new Hello).
  void end_session(Session& s, const Status& status);

  zmq::socket_t& frontend_;
  zmq::socket_t* closes_ = nullptr;
  Store& store_;
  const TrustStore& trust_;
  const Restrictions& restrictions_;
  Admission& admission_;
  Writer& writer_;
  Completions& completions_;
  Metrics& metrics_;
  ServerOptions options_;

  Tickets tickets_;
  PublishIntake intake_;
  Dispatcher dispatcher_;
  int64_t last_sweep_ms_ = 0;
  int64_t last_heartbeat_walk_ms_ = 0;
  std::unordered_map<std::string, Session> sessions_;
  ControlRequests control_;
  std::atomic<bool> control_closed_{false};  // the loop has ended: nothing answers the control queue
  uint64_t next_control_ = 1;
  std::unordered_map<uint64_t, ControlRequest> controls_;  // waiting for the writer
  std::vector<std::unique_ptr<LinkDialer>> dialers_;
  // The filters of this broker's own (not link) subscriptions: its interest.
  std::unordered_map<uint64_t, std::vector<std::string>> local_filters_;
  bool interest_changed_ = true;
  int64_t last_interest_ms_ = 0;
};

}  // namespace lantoa::broker
