// Who a session is: Hello (the chain checked against the trust store, bound
// to the connection's Curve key) and the sweep that ends sessions whose key
// or chain stopped being good since.
#include <spdlog/spdlog.h>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "session/server.h"

namespace lantoa::broker {
namespace {

using lantoa::v1::BrokerFrame;
using E = lantoa::v1::Error;

std::string peer_label(const std::string& peer) { return to_hex(peer).substr(0, 10); }

}  // namespace

void Server::on_hello(Session& s, const lantoa::v1::Hello& hello) {
  if (s.identity) {
    send_error(s, 0, Status(E::INVALID_ARGUMENT, "Hello was already accepted on this connection"));
    return;
  }
  if (hello.protocol_version() != lantoa::v1::PROTOCOL_V1) {
    return end_session(s, Status(E::UNSUPPORTED_VERSION, "protocol version " +
                                                             std::to_string(hello.protocol_version()) +
                                                             " is not supported; this broker speaks version 1"));
  }
  auto member = trust_.verify_chain(hello.chain(), unix_now_ms());
  if (!member) return end_session(s, member.status());
  if (to_hex(member->certificate.transport_key()) != s.curve_key) {
    return end_session(s, Status(E::PERMISSION_DENIED, "the certificate of " + member->member() +
                                                           " is for another transport key than this connection uses"));
  }
  const bool broker = member->has_role(lantoa::v1::BROKER);
  if (!options_.serves.empty() && !broker && !in_namespace(member->member(), options_.serves)) {
    return end_session(s, Status(E::PERMISSION_DENIED, "this broker serves " + options_.serves +
                                                           " and the members below it (its certificate); " +
                                                           member->member() + " is not one of them"));
  }
  auto identity = std::make_shared<Identity>();
  identity->member = std::move(*member);
  hello.chain().SerializeToString(&identity->chain);
  identity->chain_id = event_id(identity->chain);  // SHA-256: the chain's key in the store
  s.identity = identity;
  admission_.learn(identity->member);
  metrics_.connections++;

  uint64_t last = 0;
  if (auto txn = store::Txn::begin(store_.env(), store::Access::kRead); txn.ok()) {
    auto r = store_.last_origin_sequence(*txn, identity->member.member());
    if (r.ok()) last = *r;
  }
  BrokerFrame reply;
  auto* w = reply.mutable_welcome();
  w->set_protocol_version(lantoa::v1::PROTOCOL_V1);
  w->set_member(identity->member.member());
  w->set_last_sequence(last);
  w->set_max_frame_bytes(options_.max_frame_bytes);
  w->set_max_batch_events(options_.intake.max_batch_events);
  w->set_heartbeat_ms(options_.heartbeat_ms);
  w->set_broker(options_.member);
  if (!options_.own_chain.empty()) w->mutable_broker_chain()->ParseFromString(options_.own_chain);
  send(s, reply);
  if (broker) {
    // A linked broker (link.h): it dialed us; its interest and ours follow.
    s.link = std::make_unique<Session::Link>();
    s.link->tag = s.curve_key.substr(0, 16);
    s.link->name = identity->member.member() + "@" + s.link->tag;
    s.link->probe = metrics_.link(s.link->name, false);
    s.link->probe->connected = true;
    s.link->probe->connects++;
    s.link->probe->up_since_ms = unix_now_ms();
    metrics_.link_details(*s.link->probe, [&](LinkProbe& p) {
      p.peer = identity->member.member();
      p.down_reason.clear();
    });
    interest_changed_ = true;
  }
  spdlog::info("session {} is {} (key {})", peer_label(s.peer), identity->member.member(),
               fingerprint(identity->member.certificate.sign_key()));
}

// Sessions whose key was revoked, or whose certificate expired, since their
// Hello are told so and forgotten (checked four times a second, so a
// revocation takes effect within a second of reaching the broker).
void Server::sweep_identities(int64_t wall_ms, int64_t mono_ms) {
  if (mono_ms - last_sweep_ms_ < 250) return;
  last_sweep_ms_ = mono_ms;
  std::vector<std::pair<std::string, Status>> out;
  for (auto& [peer, s] : sessions_) {
    if (!s.identity) continue;
    // The whole chain counts: revoking an authority ends the sessions of
    // every member it certified.
    if (Status st = trust_.check_current(s.identity->member, wall_ms); !st.ok()) {
      out.emplace_back(peer, Status(st.code(), st.message() + "; closing"));
    }
  }
  for (auto& [peer, status] : out) {
    auto it = sessions_.find(peer);
    if (it != sessions_.end()) end_session(it->second, status);
  }
}

}  // namespace lantoa::broker
