// Trust across the network with a running broker: revocation lists carried
// on the bus, sessions of a revoked key closed within a second, transport
// admission, and key rotation without downtime.
#include <gtest/gtest.h>

#include <thread>

#include "lantoa/names.h"
#include "support/broker_process.h"
#include "support/client.h"

namespace lantoa::testing {
namespace {

using E = v1::Error;
using std::chrono::milliseconds;

class Revocation : public ::testing::Test {
 protected:
  void SetUp() override { broker.start(); }

  // vn.qn's revocation list for `victim`, as an event vn.qn publishes.
  v1::SignedEvent revocation_event(const Member& carrier, const Member& issuer, const Member& victim,
                                   uint64_t number, uint64_t sequence, int64_t revoked_ms) {
    v1::Revocation r;
    r.set_member(victim.key.member);
    r.set_key_id(victim.key.sign.id());
    r.set_revoked_ms(revoked_ms);
    r.set_reason(v1::KEY_COMPROMISE);
    auto list = issue_revocation_list(issuer.key.member, issuer.key.sign, number, unix_now_ms(), {r}, issuer.chain);
    EXPECT_TRUE(list.ok()) << list.status().to_string();
    auto e = EventBuilder(carrier.key.member, sequence, std::string(kRevocationTopic))
                 .headline("Thu hồi khóa của " + victim.key.member)
                 .body(revocations_to_text(*list))
                 .urgency(1)
                 .build();
    EXPECT_TRUE(e.ok()) << e.status().to_string();
    return *sign_event(*e, carrier.key.sign);
  }

  TrustTree tree = TrustTree::live();
  Member qn = tree.certify("vn.qn", {v1::AUTHORITY, v1::PUBLISHER, v1::SUBSCRIBER});
  Member halong = tree.certify("vn.qn.halong", {v1::PUBLISHER, v1::SUBSCRIBER}, &qn);
  Member gov = tree.member("vn.gov");
  BrokerProcess broker{tree, {"--heartbeat-ms", "1000"}};
};

TEST_F(Revocation, ARevocationOnTheBusShutsTheKeyOutWithinASecond) {
  Client victim(broker.address(), halong);
  ASSERT_EQ(victim.publish_one(make_events(halong, "vn.qn.halong.news", 1, 1)[0]).status(),
            v1::PublishResult::ACCEPTED);
  Client watcher(broker.address(), gov);
  ASSERT_OK(watcher.subscribe("trust", {std::string(kRevocationTopic)}));

  Client authority(broker.address(), qn);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = authority.publish_one(revocation_event(qn, qn, halong, 1, 1, unix_now_ms()));
  ASSERT_EQ(r.status(), v1::PublishResult::ACCEPTED) << r.error().message();

  // The open session of the revoked key is told and closed within a second.
  auto closing = victim.next_error(milliseconds(2000));
  ASSERT_TRUE(closing);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(1000));
  EXPECT_EQ(closing->error().code(), E::CERT_REVOKED);
  EXPECT_TRUE(closing->fatal());
  // Whatever it sends on that connection is no longer accepted.
  auto after = victim.publish(make_events(halong, "vn.qn.halong.news", 2, 1), milliseconds(1000));
  EXPECT_EQ(after.results_size(), 0);
  EXPECT_EQ(victim.next_error()->error().code(), E::HELLO_REQUIRED);
  // A new connection is refused before any frame (transport admission).
  EXPECT_CODE(Connection::open(broker.address(), halong.key, halong.chain), E::PERMISSION_DENIED);

  // Subscribers receive the list on the bus and stop accepting the key too.
  auto d = watcher.next();
  ASSERT_TRUE(d);
  TrustStore local = tree.store();
  auto carried = local.verify_event(d->event());
  ASSERT_OK(carried);
  ASSERT_OK(local.apply_revocation_event(*carried, unix_now_ms()));
  auto later = EventBuilder("vn.qn.halong", 9, "vn.qn.halong.news").headline("Giả mạo").build();
  v1::SignedEvent forged = *sign_event(*later, halong.key.sign);
  EXPECT_CODE(local.verify_event(forged, halong.chain), E::CERT_REVOKED);
}

TEST_F(Revocation, TheRevocationSurvivesARestart) {
  Client authority(broker.address(), qn);
  ASSERT_EQ(authority.publish_one(revocation_event(qn, qn, halong, 1, 1, unix_now_ms())).status(),
            v1::PublishResult::ACCEPTED);
  ASSERT_EQ(broker.stop(), 0) << read_text(broker.log());
  broker.start();
  // The restarted broker has not seen this key's certificate yet, so the key
  // reaches Hello, where the revocation (kept on disk) refuses it.
  EXPECT_CODE(Connection::open(broker.address(), halong.key, halong.chain), E::CERT_REVOKED);
  EXPECT_TRUE(Connection::open(broker.address(), gov.key, gov.chain).ok());
  // The monitoring counts the refusal at Hello, with its reason.
  EXPECT_EQ(broker.stats().value("/sessions_refused/CERT_REVOKED"_json_pointer, 0), 1) << broker.stats().dump();
  EXPECT_NE(broker.metrics().find("lantoa_sessions_refused_total{reason=\"CERT_REVOKED\"} 1"), std::string::npos);
}

TEST_F(Revocation, OnlyValidListsFromAuthoritiesAreCarried) {
  Client publisher(broker.address(), gov);  // not an authority
  auto r1 = publisher.publish_one(revocation_event(gov, qn, halong, 1, 1, unix_now_ms()));
  EXPECT_EQ(r1.error().code(), E::ROLE_MISSING);
  Client authority(broker.address(), qn);
  auto forged = revocation_event(qn, qn, halong, 1, 1, unix_now_ms());
  v1::Event e;
  e.ParseFromString(forged.event());
  std::string body = e.body();
  body[body.find("-----BEGIN") + 60] ^= 0x01;  // damage the list inside
  auto bad = EventBuilder("vn.qn", 2, std::string(kRevocationTopic)).headline("x").body(body).build();
  auto r2 = authority.publish_one(*sign_event(*bad, qn.key.sign));
  EXPECT_EQ(r2.status(), v1::PublishResult::REJECTED);
  EXPECT_TRUE(r2.error().code() == E::CERT_MALFORMED || r2.error().code() == E::CERT_BAD_SIGNATURE ||
              r2.error().code() == E::CERT_WRONG_ISSUER)
      << code_name(r2.error().code()) << ": " << r2.error().message();
  // The victim was not shut out by either.
  EXPECT_TRUE(Connection::open(broker.address(), halong.key, halong.chain).ok());
}

TEST_F(Revocation, KeyRotationWithoutDowntime) {
  // vn.gov gets a new key and certificate while the old one is still valid.
  Member rotated = tree.member("vn.gov");
  Client subscriber(broker.address(), qn);
  ASSERT_OK(subscriber.subscribe("gov", {"vn.gov.>"}));
  Client old_conn(broker.address(), gov);
  Client new_conn(broker.address(), rotated);
  ASSERT_EQ(old_conn.publish_one(make_events(gov, "vn.gov.press", 1, 1)[0]).status(), v1::PublishResult::ACCEPTED);
  ASSERT_EQ(new_conn.publish_one(make_events(rotated, "vn.gov.press", 2, 1)[0]).status(),
            v1::PublishResult::ACCEPTED);
  // The old key is retired (superseded) from now on; its earlier event stays verifiable.
  Client authority(broker.address(), qn);  // any authority may carry the root's list
  v1::Revocation r;
  r.set_member("vn.gov");
  r.set_key_id(gov.key.sign.id());
  r.set_revoked_ms(unix_now_ms());
  r.set_reason(v1::SUPERSEDED);
  auto list = issue_revocation_list("vn", tree.root_key(), 1, unix_now_ms(), {r});
  auto carrier = EventBuilder("vn.qn", 1, std::string(kRevocationTopic)).headline("Thay khóa").body(revocations_to_text(*list)).build();
  ASSERT_EQ(authority.publish_one(*sign_event(*carrier, qn.key.sign)).status(), v1::PublishResult::ACCEPTED);
  EXPECT_EQ(new_conn.publish_one(make_events(rotated, "vn.gov.press", 3, 1)[0]).status(), v1::PublishResult::ACCEPTED);

  TrustStore local = tree.store();
  ASSERT_OK(local.add_revocation_list(*list, unix_now_ms()));
  auto got = subscriber.collect(3);
  ASSERT_EQ(got.size(), 3u);
  for (const auto& d : got) {
    auto v = local.verify_event(d.event());  // each carries the chain of the key that signed it
    EXPECT_TRUE(v.ok()) << v.status().to_string();
  }
}

TEST(StrictAdmission, OnlyKeysOfKnownCertificatesMayConnect) {
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member stranger = tree.member("vn.stranger");  // validly certified, but not provisioned
  BrokerProcess broker(tree, {"--strict-admission"});
  std::filesystem::create_directories(broker.data() / "certs");
  ASSERT_TRUE(save_chain(broker.data() / "certs" / "vn.gov.cert", gov.chain).ok());
  broker.start();
  EXPECT_TRUE(Connection::open(broker.address(), gov.key, gov.chain).ok());
  EXPECT_CODE(Connection::open(broker.address(), stranger.key, stranger.chain), E::PERMISSION_DENIED);
  // The monitoring counts the refusal at the transport handshake (no session, no event).
  const nlohmann::json stats = broker.stats();
  EXPECT_GE(stats.value("/sessions_refused/PERMISSION_DENIED"_json_pointer, 0), 1) << stats.dump();
  EXPECT_EQ(stats["events"]["rejected"], nlohmann::json::object()) << stats.dump();
  // Provisioned later: admitted without a restart.
  ASSERT_TRUE(save_chain(broker.data() / "certs" / "vn.stranger.cert", stranger.chain).ok());
  // (The folder is read again when an unknown key knocks, at most once a second.)
  EXPECT_TRUE(eventually([&] { return Connection::open(broker.address(), stranger.key, stranger.chain).ok(); }));
}

}  // namespace
}  // namespace lantoa::testing
