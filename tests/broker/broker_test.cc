// lantoa-broker end to end: a real broker process, real sockets, a real
// LMDB folder; clients speak the wire protocol.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <fstream>
#include <set>
#include <thread>

#include "support/broker_process.h"
#include "support/client.h"

namespace lantoa::testing {
namespace {

using E = v1::Error;
using std::chrono::milliseconds;

class Broker : public ::testing::Test {
 protected:
  void SetUp() override { broker.start(); }
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member bqp = tree.member("vn.bqp");
  Member qn = tree.certify("vn.qn", {v1::AUTHORITY, v1::PUBLISHER, v1::SUBSCRIBER});
  Member halong = tree.certify("vn.qn.halong", {v1::PUBLISHER, v1::SUBSCRIBER}, &qn);
  Member ldtbxh = tree.member("vn.ldtbxh");
  BrokerProcess broker{tree, {"--heartbeat-ms", "1000"}};
};

TEST_F(Broker, HelloBindsTheConnectionToTheMember) {
  Client c(broker.address(), gov);
  EXPECT_EQ(c.welcome().member(), "vn.gov");
  EXPECT_EQ(c.welcome().protocol_version(), 1u);
  EXPECT_EQ(c.welcome().last_sequence(), 0u);
  EXPECT_GT(c.welcome().max_frame_bytes(), 1u << 20);
}

TEST_F(Broker, PublishedEventsReachExactlyTheMatchingSubscribers) {
  Client a(broker.address(), qn);
  Client b(broker.address(), ldtbxh);
  Client c(broker.address(), gov);
  ASSERT_OK(a.subscribe("press", {"vn.gov.press"}));
  ASSERT_OK(b.subscribe("notices", {"vn.*.notice"}));
  ASSERT_OK(c.subscribe("province", {"vn.qn.>"}));

  Client pub_gov(broker.address(), gov), pub_bqp(broker.address(), bqp), pub_halong(broker.address(), halong);
  auto r1 = pub_gov.publish(make_events(gov, "vn.gov.press", 1, 2));
  auto r2 = pub_bqp.publish(make_events(bqp, "vn.bqp.notice", 1, 1));
  auto r3 = pub_halong.publish(make_events(halong, "vn.qn.halong.news", 1, 1));
  auto r4 = pub_gov.publish(make_events(gov, "vn.gov.internal.notice", 3, 1));  // vn.*.notice: no (3 labels)
  for (auto* r : {&r1, &r2, &r3, &r4}) {
    ASSERT_GT(r->results_size(), 0);
    for (const auto& x : r->results()) EXPECT_EQ(x.status(), v1::PublishResult::ACCEPTED) << x.error().message();
  }

  auto got_a = a.collect(2);
  ASSERT_EQ(got_a.size(), 2u);
  for (const auto& d : got_a) EXPECT_EQ(topic_of(d), "vn.gov.press");
  auto got_b = b.collect(1);
  ASSERT_EQ(got_b.size(), 1u);
  EXPECT_EQ(topic_of(got_b[0]), "vn.bqp.notice");
  auto got_c = c.collect(1);
  ASSERT_EQ(got_c.size(), 1u);
  EXPECT_EQ(topic_of(got_c[0]), "vn.qn.halong.news");
  EXPECT_NE(headline_of(got_c[0]).find("Tin số"), std::string::npos);  // Vietnamese intact
  // Nothing else arrives.
  EXPECT_TRUE(a.drain(milliseconds(300)).empty());
  EXPECT_TRUE(b.drain(milliseconds(100)).empty());
  EXPECT_TRUE(c.drain(milliseconds(100)).empty());
}

TEST_F(Broker, DeliveriesCarryTheSignerChainAndVerifyAtTheSubscriber) {
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}));
  Client pub(broker.address(), gov);
  auto sent = make_events(gov, "vn.gov.press", 1, 1);
  ASSERT_EQ(pub.publish_one(sent[0]).status(), v1::PublishResult::ACCEPTED);
  auto d = sub.next();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->event().event(), sent[0].event());  // the author's bytes, untouched
  EXPECT_EQ(d->attempt(), 1u);
  auto verified = tree.store().verify_event(d->event());
  ASSERT_OK(verified);
  EXPECT_EQ(verified->signer.member(), "vn.gov");
}

TEST_F(Broker, UrgentEventsOvertakeWaitingOnes) {
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("press", {"vn.gov.>"}));
  sub.credit("press", 0);  // pause delivery while a backlog builds
  Client pub(broker.address(), gov);
  pub.publish(make_events(gov, "vn.gov.press", 1, 5, /*urgency=*/5));
  pub.publish(make_events(gov, "vn.gov.flash", 6, 1, /*urgency=*/1));
  pub.publish(make_events(gov, "vn.gov.press", 7, 2, /*urgency=*/3));
  EXPECT_TRUE(sub.drain(milliseconds(200)).empty());
  sub.credit("press", 100);
  auto got = sub.collect(8);
  ASSERT_EQ(got.size(), 8u);
  std::vector<uint32_t> urgencies;
  std::vector<uint64_t> seqs;
  for (const auto& d : got) urgencies.push_back(urgency_of(d)), seqs.push_back(d.broker_seq());
  EXPECT_EQ(urgencies, (std::vector<uint32_t>{1, 3, 3, 5, 5, 5, 5, 5}));
  // Within the same urgency, broker order.
  EXPECT_TRUE(std::is_sorted(seqs.begin() + 3, seqs.end()));
  EXPECT_LT(seqs[1], seqs[2]);
}

TEST_F(Broker, CreditIsNeverExceeded) {
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}, {}, /*credit=*/3));
  Client pub(broker.address(), gov);
  pub.publish(make_events(gov, "vn.gov.press", 1, 10));
  auto first = sub.drain(milliseconds(500));
  ASSERT_EQ(first.size(), 3u);
  sub.ack({first[0]});
  auto second = sub.drain(milliseconds(400));
  ASSERT_EQ(second.size(), 1u);
  sub.ack({first[1], first[2], second[0]});
  EXPECT_EQ(sub.drain(milliseconds(400)).size(), 3u);
}

// A broker whose [delivery] session_window_kb is set by the test.
class SessionWindow : public ::testing::Test {
 protected:
  void start(int window_kb) {
    std::ofstream(conf / "broker.toml") << "[delivery]\nsession_window_kb = " << window_kb << "\n";
    broker = std::make_unique<BrokerProcess>(tree, std::vector<std::string>{"--config", (conf / "broker.toml").string()});
    broker->start();
  }

  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member qn = tree.member("vn.qn");
  TempDir conf;
  std::unique_ptr<BrokerProcess> broker;
};

// A connection's unacknowledged deliveries are bounded in bytes, whatever
// the credit of its subscriptions: the broker waits for acks before sending
// more, loses nothing, and other connections are not held back.
TEST_F(SessionWindow, BoundsUnackedBytesPerConnection) {
  start(4);
  Client sub(broker->address(), qn);
  ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}, {}, 1000));
  ASSERT_OK(sub.subscribe("news", {"vn.gov.news"}, {}, 1000));
  Client other(broker->address(), qn);
  ASSERT_OK(other.subscribe("all", {"vn.gov.>"}, {}, 1000));
  Client pub(broker->address(), gov);
  ASSERT_EQ(pub.publish(make_events(gov, "vn.gov.press", 1, 20)).results_size(), 20);
  ASSERT_EQ(pub.publish(make_events(gov, "vn.gov.news", 21, 20)).results_size(), 20);

  // The other connection is not held back by the first one's window... as long as it acks.
  std::vector<v1::Deliver> all;
  for (int i = 0; i < 100 && all.size() < 40; ++i) {
    auto got = other.drain(milliseconds(100));
    other.ack(got);
    all.insert(all.end(), got.begin(), got.end());
  }
  EXPECT_EQ(all.size(), 40u);

  // The first connection gets about 4 KB, then nothing until it acks.
  auto first = sub.drain(milliseconds(500));
  ASSERT_FALSE(first.empty());
  size_t bytes = 0;
  for (const auto& d : first) bytes += d.event().ByteSizeLong();
  const size_t one = first.back().event().ByteSizeLong();
  EXPECT_LT(bytes - one, 4096u) << first.size() << " deliveries";  // the window was open before the last one
  EXPECT_LT(first.size(), 40u);
  EXPECT_TRUE(sub.drain(milliseconds(300)).empty());
  // Acking opens the window again, until every event of both subscriptions arrived once.
  std::set<std::pair<std::string, uint64_t>> seen;
  for (const auto& d : first) seen.insert({d.subscription(), d.broker_seq()});
  sub.ack(first);
  for (int i = 0; i < 100 && seen.size() < 40; ++i) {
    auto more = sub.drain(milliseconds(100));
    for (const auto& d : more) EXPECT_TRUE(seen.insert({d.subscription(), d.broker_seq()}).second) << "repeated";
    sub.ack(more);
  }
  EXPECT_EQ(seen.size(), 40u);
}

// With its window full, a connection's subscriptions take turns: one busy
// subscription does not keep the others waiting until it is empty.
TEST_F(SessionWindow, SubscriptionsOfAConnectionTakeTurns) {
  start(2);
  Client sub(broker->address(), qn);
  const std::vector<std::string> names = {"a", "b", "c", "d"};
  for (const auto& n : names) ASSERT_OK(sub.subscribe(n, {"vn.gov." + n}, {}, 1000));
  Client pub(broker->address(), gov);
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_EQ(pub.publish(make_events(gov, "vn.gov." + names[i], 1 + i * 30, 30)).results_size(), 30);
  }
  // A 2 KB window holds a few events: acking one window at a time, every
  // subscription must have had a delivery before any of them is done.
  std::map<std::string, size_t> got, first, done;
  size_t total = 0;
  for (int round = 0; round < 400 && total < 120; ++round) {
    auto ds = sub.drain(milliseconds(30));
    for (const auto& d : ds) {
      const size_t k = ++got[d.subscription()];
      if (k == 1) first[d.subscription()] = total;
      if (k == 30) done[d.subscription()] = total;
      ++total;
    }
    sub.ack(ds);
  }
  ASSERT_EQ(total, 120u);
  size_t last_first = 0, first_done = SIZE_MAX;
  for (const auto& n : names) {
    last_first = std::max(last_first, first[n]);
    first_done = std::min(first_done, done[n]);
  }
  EXPECT_LT(last_first, first_done) << "a subscription was served to the end before another was served at all";
}

TEST_F(Broker, UnackedDeliveriesComeBackAfterTheAckTimeout) {
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}, {}, 10, /*ack_timeout_ms=*/300));
  Client pub(broker.address(), gov);
  pub.publish(make_events(gov, "vn.gov.press", 1, 1));
  auto d1 = sub.next();
  ASSERT_TRUE(d1);
  EXPECT_EQ(d1->attempt(), 1u);
  const auto t0 = std::chrono::steady_clock::now();
  auto d2 = sub.next(milliseconds(3000));
  ASSERT_TRUE(d2);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(250));
  EXPECT_EQ(d2->broker_seq(), d1->broker_seq());
  EXPECT_EQ(d2->attempt(), 2u);
  sub.ack({*d2});
  EXPECT_TRUE(sub.drain(milliseconds(800)).empty());
}

TEST_F(Broker, NackRedeliversWithGrowingDelay) {
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}));
  Client pub(broker.address(), gov);
  pub.publish(make_events(gov, "vn.gov.press", 1, 1));
  auto d1 = sub.next();
  ASSERT_TRUE(d1);
  sub.nack("press", {d1->delivery_id()});
  auto d2 = sub.next();
  ASSERT_TRUE(d2);
  EXPECT_EQ(d2->attempt(), 2u);
  sub.nack("press", {d2->delivery_id()});
  const auto t0 = std::chrono::steady_clock::now();
  auto d3 = sub.next();
  ASSERT_TRUE(d3);
  EXPECT_EQ(d3->attempt(), 3u);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(150));  // 200 ms after the second nack
}

TEST_F(Broker, DuplicatePublishIsAnsweredAsDuplicateAndDeliveredOnce) {
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}));
  Client pub(broker.address(), gov);
  auto ev = make_events(gov, "vn.gov.press", 1, 1);
  auto first = pub.publish_one(ev[0]);
  auto again = pub.publish_one(ev[0]);
  EXPECT_EQ(first.status(), v1::PublishResult::ACCEPTED);
  EXPECT_EQ(again.status(), v1::PublishResult::DUPLICATE);
  EXPECT_EQ(again.broker_seq(), first.broker_seq());
  EXPECT_EQ(again.event_id(), first.event_id());
  auto got = sub.drain(milliseconds(500));
  EXPECT_EQ(got.size(), 1u);
}

TEST_F(Broker, StaleSequenceIsRejectedAndTheWelcomeTellsTheLastOne) {
  Client pub(broker.address(), gov);
  ASSERT_EQ(pub.publish_one(make_events(gov, "vn.gov.press", 5, 1)[0]).status(), v1::PublishResult::ACCEPTED);
  auto stale = pub.publish_one(make_events(gov, "vn.gov.press", 5, 1, 4)[0]);  // same sequence, new content
  EXPECT_EQ(stale.status(), v1::PublishResult::REJECTED);
  EXPECT_EQ(stale.error().code(), E::STALE_SEQUENCE);
  // Out of order within the replay window: accepted once (see SequenceWindow).
  EXPECT_EQ(pub.publish_one(make_events(gov, "vn.gov.press", 3, 1)[0]).status(), v1::PublishResult::ACCEPTED);
  EXPECT_EQ(pub.publish_one(make_events(gov, "vn.gov.press", 3, 1, 4)[0]).error().code(), E::STALE_SEQUENCE);
  Client again(broker.address(), gov);
  EXPECT_EQ(again.welcome().last_sequence(), 5u);
}

TEST_F(Broker, OneBadEventDoesNotSpoilItsBatch) {
  Client pub(broker.address(), gov);
  auto events = make_events(gov, "vn.gov.press", 1, 4);
  (*events[1].mutable_signature())[3] ^= 1;                          // forged signature
  events[2] = make_events(bqp, "vn.bqp.notice", 1, 1)[0];           // another member's event
  auto r = pub.publish(events);
  ASSERT_EQ(r.results_size(), 4);
  EXPECT_EQ(r.results(0).status(), v1::PublishResult::ACCEPTED);
  EXPECT_EQ(r.results(1).error().code(), E::BAD_SIGNATURE);
  EXPECT_EQ(r.results(2).error().code(), E::ORIGIN_MISMATCH);
  EXPECT_EQ(r.results(3).status(), v1::PublishResult::ACCEPTED);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(r.results(i).index(), static_cast<uint32_t>(i));
  // The connection is still fine.
  EXPECT_EQ(pub.publish_one(make_events(gov, "vn.gov.press", 9, 1)[0]).status(), v1::PublishResult::ACCEPTED);
}

TEST_F(Broker, FramesBeforeHelloAndBadHellosAreRefused) {
  auto raw = Client::raw(broker.address(), gov);
  ASSERT_OK(raw);
  v1::ClientFrame f;
  f.mutable_publish()->set_request_id(1);
  ASSERT_TRUE(raw->send(f).ok());
  auto answer = raw->receive(milliseconds(3000));
  ASSERT_TRUE(answer.ok() && answer->has_value());
  EXPECT_EQ((*answer)->error().error().code(), E::HELLO_REQUIRED);

  ConnectOptions old;
  old.protocol_version = 7;
  auto v7 = Connection::open(broker.address(), gov.key, gov.chain, old);
  EXPECT_CODE(v7, E::UNSUPPORTED_VERSION);

  Member expired = tree.certify("vn.old", {v1::PUBLISHER}, nullptr, kT0, kT0 + 1000);
  EXPECT_CODE(Connection::open(broker.address(), expired.key, expired.chain), E::CERT_EXPIRED);

  // A valid chain, but for another transport key than the connection's.
  EXPECT_CODE(Connection::open(broker.address(), bqp.key, gov.chain), E::PERMISSION_DENIED);
}

}  // namespace
}  // namespace lantoa::testing
