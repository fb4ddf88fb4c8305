// Issue 13: attacks on trust, performed through a real broker process. Each
// test is an attacker's move that worked before the rule it names; see
// docs/security-model.md for the table of who can do what.
#include <gtest/gtest.h>

#include <thread>
#include <zmq.hpp>

#include "lantoa/names.h"
#include "support/broker_process.h"
#include "support/client.h"

namespace lantoa::testing {
namespace {

using E = v1::Error;
using std::chrono::milliseconds;

v1::Revocation entry(const std::string& member, const std::string& key_id, int64_t revoked_ms) {
  v1::Revocation r;
  r.set_member(member);
  r.set_key_id(key_id);
  r.set_revoked_ms(revoked_ms);
  r.set_reason(v1::KEY_COMPROMISE);
  return r;
}

// A revocation list as the event `carrier` publishes on $trust.revocations.
v1::SignedEvent carried(const Member& carrier, uint64_t sequence, const v1::SignedRevocationList& list) {
  auto e = EventBuilder(carrier.key.member, sequence, std::string(kRevocationTopic))
               .headline("Danh sách thu hồi")
               .body(revocations_to_text(list))
               .urgency(1)
               .build();
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  return *sign_event(*e, carrier.key.sign);
}

class TrustAttack : public ::testing::Test {
 protected:
  void SetUp() override { broker.start(); }

  // The root's list `number` revoking `victims` from now.
  v1::SignedRevocationList root_list(uint64_t number, const std::vector<v1::Revocation>& entries) {
    auto list = issue_revocation_list("vn", tree.root_key(), number, unix_now_ms(), entries);
    EXPECT_TRUE(list.ok()) << list.status().to_string();
    return *list;
  }

  TrustTree tree = TrustTree::live();
  Member qn = tree.certify("vn.qn", {v1::AUTHORITY, v1::PUBLISHER, v1::SUBSCRIBER});
  Member halong = tree.certify("vn.qn.halong", {v1::AUTHORITY, v1::PUBLISHER, v1::SUBSCRIBER}, &qn);
  Member gov = tree.member("vn.gov");
  BrokerProcess broker{tree, {"--heartbeat-ms", "1000"}};
};

// Item 1: vn.qn.halong names vn.gov's key under a member of its own.
TEST_F(TrustAttack, AnAuthorityCannotRevokeAKeyOutsideItsNamespace) {
  Client victim(broker.address(), gov);  // the broker has seen vn.gov's key
  ASSERT_EQ(victim.publish_one(make_events(gov, "vn.gov.press", 1, 1)[0]).status(), v1::PublishResult::ACCEPTED);
  Client attacker(broker.address(), halong);
  // revoked_ms 0 would reach back over every event the key ever signed.
  v1::SignedRevocationList zero;
  {
    v1::RevocationList l;
    l.set_format(1);
    l.set_issuer("vn.qn.halong");
    l.set_issuer_key_id(halong.key.sign.id());
    l.set_number(1);
    l.set_issued_ms(unix_now_ms());
    *l.add_revocations() = entry("vn.qn.halong.x", gov.key.sign.id(), 0);
    zero.set_list(l.SerializeAsString());
    zero.set_signature(halong.key.sign.sign(SignDomain::kRevocation, zero.list()));
    *zero.mutable_issuer_chain() = halong.chain;
  }
  auto r0 = attacker.publish_one(carried(halong, 1, zero));
  EXPECT_EQ(r0.error().code(), E::CERT_MALFORMED) << r0.error().message();
  auto list = issue_revocation_list("vn.qn.halong", halong.key.sign, 1, unix_now_ms(),
                                    {entry("vn.qn.halong.x", gov.key.sign.id(), unix_now_ms())}, halong.chain);
  ASSERT_OK(list);
  auto r1 = attacker.publish_one(carried(halong, 2, *list));
  EXPECT_EQ(r1.error().code(), E::CERT_OUTSIDE_NAMESPACE) << r1.error().message();
  // vn.gov is not cut off: its session stays, new ones are admitted, its news flows.
  EXPECT_FALSE(victim.next_error(milliseconds(600)));
  EXPECT_EQ(victim.publish_one(make_events(gov, "vn.gov.press", 2, 1)[0]).status(), v1::PublishResult::ACCEPTED);
  EXPECT_TRUE(Connection::open(broker.address(), gov.key, gov.chain).ok());
}

// Item 8: the root revokes vn.qn; vn.qn.halong, certified by it, is out too.
TEST_F(TrustAttack, RevokingAnAuthorityEndsTheSessionsOfItsMembers) {
  Client member(broker.address(), halong);
  Member hn = tree.certify("vn.hn", {v1::AUTHORITY, v1::PUBLISHER});
  Client authority(broker.address(), hn);
  auto r = authority.publish_one(carried(hn, 1, root_list(1, {entry("vn.qn", qn.key.sign.id(), unix_now_ms())})));
  ASSERT_EQ(r.status(), v1::PublishResult::ACCEPTED) << r.error().message();
  auto closing = member.next_error(milliseconds(2000));
  ASSERT_TRUE(closing);
  EXPECT_EQ(closing->error().code(), E::CERT_REVOKED) << closing->error().message();
  EXPECT_TRUE(closing->fatal());
  EXPECT_FALSE(Connection::open(broker.address(), halong.key, halong.chain).ok());
  // A thief holding vn.qn's key mints a member dated before the revocation: refused.
  Member minted = tree.certify("vn.qn.fake", {v1::PUBLISHER}, &qn, unix_now_ms() - 86'400'000,
                               unix_now_ms() + 86'400'000);
  EXPECT_CODE(Connection::open(broker.address(), minted.key, minted.chain), E::CERT_REVOKED);
}

// Item 9: a list numbered at or below the one in force is refused with a
// clear error and never replaces the newer one, also after a restart.
TEST_F(TrustAttack, AStaleRevocationListIsRefusedAndNeverReplacesANewerOne) {
  Member a = tree.member("vn.a");
  Member b = tree.member("vn.b");
  Member hn = tree.certify("vn.hn", {v1::AUTHORITY, v1::PUBLISHER});
  Client authority(broker.address(), hn);
  ASSERT_EQ(authority.publish_one(carried(hn, 1, root_list(2, {entry("vn.a", a.key.sign.id(), unix_now_ms())})))
                .status(),
            v1::PublishResult::ACCEPTED);
  auto stale = authority.publish_one(carried(hn, 2, root_list(1, {entry("vn.b", b.key.sign.id(), unix_now_ms())})));
  EXPECT_EQ(stale.error().code(), E::REVOCATION_LIST_STALE) << stale.error().message();
  ASSERT_EQ(broker.stop(), 0);
  broker.start();
  EXPECT_CODE(Connection::open(broker.address(), a.key, a.chain), E::CERT_REVOKED);
  EXPECT_TRUE(Connection::open(broker.address(), b.key, b.chain).ok());
}

// Item 5: one event with sequence UINT64_MAX no longer locks an origin out;
// events arriving out of order are accepted once.
TEST_F(TrustAttack, OneEventCannotUseUpAnOriginsSequences) {
  Client thief(broker.address(), gov);
  auto r = thief.publish_one(make_events(gov, "vn.gov.press", UINT64_MAX, 1)[0]);
  EXPECT_EQ(r.error().code(), E::SEQUENCE_TOO_FAR) << r.error().message();
  EXPECT_EQ(thief.publish_one(make_events(gov, "vn.gov.press", 5, 1)[0]).status(), v1::PublishResult::ACCEPTED);
  // A later sequence got in first (a batch refused for a passing reason and
  // sent again): the earlier one is still accepted, once.
  EXPECT_EQ(thief.publish_one(make_events(gov, "vn.gov.press", 3, 1)[0]).status(), v1::PublishResult::ACCEPTED);
  auto again = make_events(gov, "vn.gov.other", 3, 1)[0];  // another event with the used sequence
  EXPECT_EQ(thief.publish_one(again).error().code(), E::STALE_SEQUENCE);
  EXPECT_EQ(thief.welcome().last_sequence(), 0u);
  Client back(broker.address(), gov);
  EXPECT_EQ(back.welcome().last_sequence(), 5u);
}

// Item 20: the broker applies the receivers' time rules: an event dated
// before its signer's certificate was valid is refused, not passed on.
TEST_F(TrustAttack, AnEventDatedBeforeItsCertificateIsRefused) {
  const int64_t now = unix_now_ms();
  Member fresh = tree.certify("vn.fresh", {v1::PUBLISHER}, nullptr, now - 60'000, now + 86'400'000);
  Client c(broker.address(), fresh);
  auto e = EventBuilder("vn.fresh", 1, "vn.fresh.news").headline("Ghi lùi ngày").created_ms(now - 3'600'000).build();
  ASSERT_OK(e);
  auto r = c.publish_one(*sign_event(*e, fresh.key.sign));
  EXPECT_EQ(r.error().code(), E::CERT_NOT_YET_VALID) << r.error().message();
}

// Item 11: after a renewal for the same key, each event travels with the
// chain its signer presented, so subscribers verify it.
TEST_F(TrustAttack, ARenewedCertificateTravelsWithTheEventsItSigned) {
  const int64_t now = unix_now_ms();
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("press", {"vn.gov.>"}));
  Member first = tree.certify("vn.gov", {v1::PUBLISHER}, nullptr, now - 60'000, now + 1500);
  {
    Client c(broker.address(), first);
    ASSERT_EQ(c.publish_one(make_events(first, "vn.gov.press", 1, 1)[0]).status(), v1::PublishResult::ACCEPTED);
  }
  // Renewed: the same key, a new certificate valid for a year.
  // Re-certify the first key (what an authority does at renewal).
  CertificateRequest req{first.key.public_keys(), {v1::PUBLISHER}, now - 60'000, now + 365LL * 86'400'000, 99, {}};
  auto cert = issue_certificate("vn", tree.root_key(), req);
  ASSERT_OK(cert);
  Member same_key{std::move(first.key), {}};
  *same_key.chain.add_certificates() = *cert;
  wait_for_clock(now + 1600);  // the first has expired
  Client c(broker.address(), same_key);
  ASSERT_EQ(c.publish_one(make_events(same_key, "vn.gov.press", 2, 1)[0]).status(), v1::PublishResult::ACCEPTED);
  auto got = sub.collect(2);
  ASSERT_EQ(got.size(), 2u);
  TrustStore local = tree.store();
  auto v = local.verify_event(got[1].event(), EventLimits{}, EventTimes{got[1].accepted_ms()});
  EXPECT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_GT(got[1].accepted_ms(), now);
}

// Item 12: a connection that reuses a remembered routing id with another
// Curve key starts without identity; it never inherits the first one's.
TEST_F(TrustAttack, AReusedRoutingIdDoesNotInheritAnIdentity) {
  zmq::context_t ctx;
  auto dial = [&](const Member& m) {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    const std::string pub = m.key.transport.public_key();
    const std::string sec = m.key.transport.secret();
    const std::string server = broker.address().transport_key;
    s.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server.data(), 32));
    s.set(zmq::sockopt::curve_publickey, zmq::const_buffer(pub.data(), 32));
    s.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(sec.data(), 32));
    s.set(zmq::sockopt::routing_id, "same-id");
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::rcvtimeo, 1000);
    s.connect(broker.address().endpoint);
    return s;
  };
  auto exchange = [](zmq::socket_t& s, const v1::ClientFrame& f) {
    v1::BrokerFrame reply;
    if (!s.send(zmq::buffer(f.SerializeAsString()))) return reply;  // not connected yet
    zmq::message_t m;
    if (s.recv(m)) reply.ParseFromArray(m.data(), static_cast<int>(m.size()));
    return reply;
  };
  {
    zmq::socket_t first = dial(gov);
    v1::ClientFrame hello;
    hello.mutable_hello()->set_protocol_version(v1::PROTOCOL_V1);
    *hello.mutable_hello()->mutable_chain() = gov.chain;
    ASSERT_TRUE(exchange(first, hello).has_welcome());
  }  // gone; the broker still remembers its session for a while (heartbeat grace)
  // Wait until ZeroMQ has let go of the first connection (the broker logs it),
  // so that the routing id is free to be taken again.
  ASSERT_TRUE(eventually([&] {
    return read_text(broker.log()).find("closed below the protocol") != std::string::npos;
  })) << read_text(broker.log());
  zmq::socket_t second = dial(halong);
  v1::ClientFrame publish;
  publish.mutable_publish()->set_request_id(7);
  *publish.mutable_publish()->add_events() = make_events(gov, "vn.gov.press", 1, 1)[0];
  // Until the broker has seen the first connection go, ZeroMQ drops what a
  // second one with the same routing id sends: ask again until answered.
  v1::BrokerFrame reply;
  for (int i = 0; i < 5 && reply.body_case() == v1::BrokerFrame::BODY_NOT_SET; ++i) reply = exchange(second, publish);
  ASSERT_TRUE(reply.has_error()) << reply.DebugString();
  EXPECT_EQ(reply.error().error().code(), E::HELLO_REQUIRED);
}

// Item 4: only the origin may correct or retract an item.
TEST_F(TrustAttack, OnlyTheOriginMayCorrectOrRetract) {
  Client g(broker.address(), gov);
  auto release = make_events(gov, "vn.gov.press", 1, 1)[0];
  ASSERT_EQ(g.publish_one(release).status(), v1::PublishResult::ACCEPTED);
  Client commune(broker.address(), halong);
  auto retraction = EventBuilder("vn.qn.halong", 1, "vn.qn.halong.news").headline("Thu hồi")
                        .kind(v1::RETRACTION).refers_to(event_id(release.event())).build();
  ASSERT_OK(retraction);
  auto r = commune.publish_one(*sign_event(*retraction, halong.key.sign));
  EXPECT_EQ(r.error().code(), E::REFERENCE_NOT_ALLOWED) << r.error().message();
  auto own = EventBuilder("vn.gov", 2, "vn.gov.press").headline("Đính chính").kind(v1::CORRECTION)
                 .refers_to(event_id(release.event())).build();
  EXPECT_EQ(g.publish_one(*sign_event(*own, gov.key.sign)).status(), v1::PublishResult::ACCEPTED);
}

// Item 10: an endorsement whose carried event was altered is refused; so is
// one by a member without the editor role, and one outside the endorser's
// namespace.
TEST_F(TrustAttack, AForgedEndorsementIsRefused) {
  Member desk = tree.certify("vn.desk", {v1::PUBLISHER, v1::SUBSCRIBER, v1::EDITOR});
  auto original = make_events(halong, "vn.qn.halong.news", 1, 1)[0];
  *original.mutable_signer_chain() = halong.chain;
  std::string carried_bytes = original.SerializeAsString();
  carried_bytes[carried_bytes.find("Tin")] = 'X';
  auto e = EventBuilder("vn.desk", 1, "vn.desk.press").headline("Đăng lại").kind(v1::ENDORSEMENT)
               .refers_to(event_id(original.event())).carried_event(carried_bytes).build();
  ASSERT_OK(e);
  Client editor(broker.address(), desk);
  auto r = editor.publish_one(*sign_event(*e, desk.key.sign));
  EXPECT_EQ(r.error().code(), E::BAD_SIGNATURE) << r.error().message();
  auto outside = EventBuilder("vn.desk", 2, "vn.gov.press").headline("Đăng lại").kind(v1::ENDORSEMENT)
                     .refers_to(event_id(original.event())).carried_event(original.SerializeAsString()).build();
  EXPECT_EQ(outside.status().code(), E::TOPIC_OUTSIDE_NAMESPACE);
  v1::Event outside_event = *e;  // built by hand past the SDK's check
  outside_event.set_topic("vn.gov.press");
  outside_event.set_carried_event(original.SerializeAsString());
  v1::SignedEvent outside_signed;  // signed by hand: sign_event checks the topic too
  outside_signed.set_event(outside_event.SerializeAsString());
  outside_signed.set_signature(desk.key.sign.sign(SignDomain::kEvent, outside_signed.event()));
  outside_signed.set_signer_key_id(desk.key.sign.id());
  r = editor.publish_one(outside_signed);
  EXPECT_EQ(r.error().code(), E::TOPIC_OUTSIDE_NAMESPACE) << r.error().message();
  // vn.gov holds no editor role: it cannot endorse, even a true original.
  auto not_editor = EventBuilder("vn.gov", 1, "vn.gov.press").headline("Đăng lại").kind(v1::ENDORSEMENT)
                        .refers_to(event_id(original.event())).carried_event(original.SerializeAsString()).build();
  Client g(broker.address(), gov);
  r = g.publish_one(*sign_event(*not_editor, gov.key.sign));
  EXPECT_EQ(r.error().code(), E::ROLE_MISSING) << r.error().message();
  EXPECT_NE(r.error().message().find("editor"), std::string::npos);
  auto good = EventBuilder("vn.desk", 3, "vn.desk.press").headline("Đăng lại").kind(v1::ENDORSEMENT)
                  .refers_to(event_id(original.event())).carried_event(original.SerializeAsString()).build();
  EXPECT_EQ(editor.publish_one(*sign_event(*good, desk.key.sign)).status(), v1::PublishResult::ACCEPTED);
}

// Item 13: one certificate cannot open durable subscriptions without end
// (each is routed every event and pins what it has not acked).
TEST_F(TrustAttack, OneMemberCannotOpenSubscriptionsWithoutEnd) {
  Client hoarder(broker.address(), qn);
  for (int i = 0; i < 32; ++i) ASSERT_OK(hoarder.subscribe("s" + std::to_string(i), {">"}));
  auto refused = hoarder.subscribe("s32", {">"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), E::QUOTA_EXCEEDED) << refused.status().to_string();
  EXPECT_NE(refused.status().message().find("32"), std::string::npos);
  // Resuming one it holds is fine; after removing one, a new one fits; others are not affected.
  EXPECT_TRUE(hoarder.subscribe("s0", {">"}).ok());
  ASSERT_OK(hoarder.unsubscribe("s0", /*remove=*/true));
  EXPECT_TRUE(hoarder.subscribe("s32", {">"}).ok());
  Client other(broker.address(), gov);
  EXPECT_TRUE(other.subscribe("press", {"vn.gov.>"}).ok());
}

// Item 13: an abandoned subscription cannot fill the store. Its queue stops
// at the limit; nothing is dropped silently: the broker logs it, and the
// owner is told on its return from which sequence events were not queued.
TEST(QueueLimit, AnAbandonedSubscriptionStopsAtTheLimitAndItsOwnerIsTold) {
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member commune = tree.member("vn.commune");
  Member province = tree.member("vn.province");
  BrokerProcess broker(tree, {"--max-queue-depth", "5"});
  broker.start();
  {
    Client away(broker.address(), commune);
    ASSERT_OK(away.subscribe("inbound", {"vn.gov.>"}));
  }  // the commune goes offline for days
  Client present(broker.address(), province);
  ASSERT_OK(present.subscribe("inbound", {"vn.gov.>"}, {}, 100));
  Client pub(broker.address(), gov);
  std::vector<v1::PublishResult> results;
  for (auto& e : make_events(gov, "vn.gov.press", 1, 8)) {
    results.push_back(pub.publish_one(e));
    ASSERT_EQ(results.back().status(), v1::PublishResult::ACCEPTED);
    auto d = present.next();  // a subscriber that keeps up is not affected
    ASSERT_TRUE(d);
    present.ack({*d});
  }
  Client back(broker.address(), commune);
  auto resumed = back.subscribe("inbound", {"vn.gov.>"});
  ASSERT_OK(resumed);
  EXPECT_TRUE(resumed->resumed());
  EXPECT_EQ(resumed->pending(), 5u);
  EXPECT_EQ(resumed->not_queued_from_seq(), results[5].broker_seq());
  EXPECT_NE(read_text(broker.log()).find("is full"), std::string::npos);
}

}  // namespace
}  // namespace lantoa::testing
