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
  };

  // Frames in (server.cc).
  void receive_frames();
  void note_closes();
  void handle(Session& s, std::string_view bytes);
  void on_subscribe(Session& s, const lantoa::v1::Subscribe& sub);
  void on_unsubscribe(Session& s, const lantoa::v1::Unsubscribe& unsub);

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
};

}  // namespace lantoa::broker
