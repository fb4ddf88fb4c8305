// The deliver step in process, with time given by the test (no sleeps):
// deliveries within credit and the connection's window, ack timeouts and
// redeliveries from the deadline heap, nacks, expiry, take-over by a new
// connection, and a dropped connection returning everything to the queue.
#include <gtest/gtest.h>

#include "delivery/dispatcher.h"
#include "lantoa/event.h"
#include "support/fixtures.h"
#include "broker/stored_item.h"

namespace lantoa::testing {
namespace {

using broker::Dispatcher;
using broker::QueueRef;

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = broker::Store::open(dir.path(), store::EnvOptions{});
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store = std::move(*s);
    options.max_redelivery_delay_ms = 1000;
    make_dispatcher();
  }
  void make_dispatcher() {
    dispatcher = std::make_unique<Dispatcher>(
        *store, metrics, options,
        [this](const std::string& peer, const google::protobuf::MessageLite& frame) {
          v1::BrokerFrame f;
          ASSERT_TRUE(f.ParseFromString(frame.SerializeAsString()));
          for (const auto& d : f.deliveries().items()) sent.emplace_back(peer, d);
        },
        [this](broker::WriterOp op) { submitted.push_back(std::move(op)); });
  }

  // A durable subscription with `credit` and a 1 s ack timeout.
  broker::SubscriptionRecord subscribe(const std::string& name, uint32_t credit) {
    v1::Subscribe req;
    req.set_name(name);
    req.add_filters("vn.gov.press");
    req.set_credit(credit);
    req.set_ack_timeout_ms(1000);
    auto batch = store->begin();
    EXPECT_TRUE(batch.ok());
    auto r = batch->subscribe("vn.qn", {}, req, unix_now_ms(), {});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(batch->commit().ok());
    return r->subscription.record;
  }
  // Stores `n` events from origin sequence `first`; returns the queue entries made.
  std::vector<QueueRef> publish(uint64_t first, size_t n, int64_t expires_ms = 0) {
    std::vector<QueueRef> routed;
    auto batch = store->begin();
    EXPECT_TRUE(batch.ok());
    for (size_t i = 0; i < n; ++i) {
      auto item = stored_item(signed_by(gov, sample_event("vn.gov", first + i, "vn.gov.press")), expires_ms);
      auto r = batch->ingest(item, unix_now_ms());
      EXPECT_TRUE(r.ok() && r->status == v1::PublishResult::ACCEPTED);
      routed.insert(routed.end(), r->routed.begin(), r->routed.end());
    }
    EXPECT_TRUE(batch->commit().ok());
    dispatcher->routed(routed);
    return routed;
  }
  std::vector<uint64_t> take_sent_ids() {
    std::vector<uint64_t> ids;
    for (const auto& [peer, d] : sent) ids.push_back(d.delivery_id());
    return ids;
  }
  v1::Ack ack_of(const std::string& name, const std::vector<uint64_t>& ids) {
    v1::Ack a;
    a.set_subscription(name);
    for (uint64_t id : ids) a.add_delivery_ids(id);
    return a;
  }

  TempDir dir;
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  std::unique_ptr<broker::Store> store;
  broker::Metrics metrics;
  broker::DeliveryOptions options;
  std::unique_ptr<Dispatcher> dispatcher;
  std::vector<std::pair<std::string, v1::Deliver>> sent;
  std::vector<broker::WriterOp> submitted;
  const int64_t wall = unix_now_ms();
};

TEST_F(DispatcherTest, DeliversWithinCreditAndAcksFreeIt) {
  dispatcher->attach("peer-a", subscribe("press", 2));
  publish(1, 5);
  dispatcher->tick(0, wall);
  ASSERT_EQ(sent.size(), 2u);  // credit 2
  EXPECT_EQ(sent[0].first, "peer-a");
  EXPECT_EQ(sent[0].second.attempt(), 1u);
  const auto first = take_sent_ids();
  dispatcher->tick(10, wall);
  EXPECT_EQ(sent.size(), 2u);  // nothing more until an ack
  ASSERT_TRUE(dispatcher->ack("peer-a", ack_of("press", first)).ok());
  ASSERT_EQ(submitted.size(), 1u);
  EXPECT_EQ(std::get<broker::AckOp>(submitted[0]).refs.size(), 2u);
  dispatcher->tick(20, wall);
  EXPECT_EQ(sent.size(), 4u);
  // A peer that does not hold the subscription is told so.
  EXPECT_EQ(dispatcher->ack("peer-b", ack_of("press", first)).code(), v1::Error::SUBSCRIPTION_NOT_FOUND);
}

// A subscription that starts with an entry waiting, and a new event routed
// to it before the first delivery pass: the waiting entry goes first. (The
// new entry used to move the scan position past the waiting one, which was
// then delivered only after a reconnect, out of order.)
TEST_F(DispatcherTest, AnEntryWaitingAtAttachGoesBeforeOneRoutedBeforeTheFirstPass) {
  publish(1, 1);  // waits in the queue when the subscription starts from the earliest
  v1::Subscribe req;
  req.set_name("press");
  req.add_filters("vn.gov.press");
  req.set_credit(10);
  req.set_ack_timeout_ms(1000);
  req.mutable_start()->set_earliest(true);
  auto batch = store->begin();
  ASSERT_TRUE(batch.ok());
  auto r = batch->subscribe("vn.qn", {}, req, unix_now_ms(), {});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_TRUE(batch->commit().ok());
  ASSERT_EQ(r->pending, 1u);
  dispatcher->attach("peer-a", r->subscription.record);
  publish(2, 1);  // routed before the dispatcher's first pass
  dispatcher->tick(0, wall);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_LT(sent[0].second.broker_seq(), sent[1].second.broker_seq());
}

TEST_F(DispatcherTest, AnAckTimeoutRedeliversAfterTheDelayAndALateAckIsHarmless) {
  dispatcher->attach("peer-a", subscribe("press", 10));
  publish(1, 1);
  dispatcher->tick(0, wall);
  ASSERT_EQ(sent.size(), 1u);
  const uint64_t first_id = sent[0].second.delivery_id();
  dispatcher->tick(999, wall);
  EXPECT_EQ(sent.size(), 1u);  // not yet timed out
  dispatcher->tick(1000, wall);  // ack timeout: waits 100 ms, then goes again
  EXPECT_EQ(sent.size(), 1u);
  dispatcher->tick(1099, wall);
  EXPECT_EQ(sent.size(), 1u);
  dispatcher->tick(1100, wall);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].second.attempt(), 2u);
  EXPECT_EQ(sent[1].second.broker_seq(), sent[0].second.broker_seq());
  EXPECT_EQ(metrics.redeliveries.load(), 1u);
  // The first delivery's ack comes late: nothing happens (the second stands).
  ASSERT_TRUE(dispatcher->ack("peer-a", ack_of("press", {first_id})).ok());
  EXPECT_TRUE(submitted.empty());
  ASSERT_TRUE(dispatcher->ack("peer-a", ack_of("press", {sent[1].second.delivery_id()})).ok());
  EXPECT_EQ(submitted.size(), 1u);
  dispatcher->tick(5000, wall);  // the acked delivery's old deadline passes: nothing
  EXPECT_EQ(sent.size(), 2u);
}

TEST_F(DispatcherTest, ANackRedeliversAfterABackOffThatDoubles) {
  dispatcher->attach("peer-a", subscribe("press", 10));
  publish(1, 1);
  dispatcher->tick(0, wall);
  v1::Nack nack;
  nack.set_subscription("press");
  nack.add_delivery_ids(sent.back().second.delivery_id());
  ASSERT_TRUE(dispatcher->nack("peer-a", nack, 0).ok());
  dispatcher->tick(99, wall);
  EXPECT_EQ(sent.size(), 1u);
  dispatcher->tick(100, wall);  // 100 ms after the first attempt
  ASSERT_EQ(sent.size(), 2u);
  nack.set_delivery_ids(0, sent.back().second.delivery_id());
  ASSERT_TRUE(dispatcher->nack("peer-a", nack, 100).ok());
  dispatcher->tick(299, wall);
  EXPECT_EQ(sent.size(), 2u);
  dispatcher->tick(300, wall);  // 200 ms after the second
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent.back().second.attempt(), 3u);
}

TEST_F(DispatcherTest, AnExpiredEventIsNotDeliveredAndLeavesTheQueue) {
  dispatcher->attach("peer-a", subscribe("press", 10));
  publish(1, 1, wall - 1);  // already expired by the time it would go
  publish(2, 1);
  dispatcher->tick(0, wall);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(metrics.expired.load(), 1u);
  ASSERT_EQ(submitted.size(), 1u);  // removed from the queue like an ack
  EXPECT_EQ(std::get<broker::AckOp>(submitted[0]).refs.size(), 1u);
}

TEST_F(DispatcherTest, TheConnectionWindowHoldsBackEvenWithCredit) {
  options.session_window_bytes = 1;  // one delivery fills it
  make_dispatcher();
  dispatcher->attach("peer-a", subscribe("press", 100));
  publish(1, 3);
  dispatcher->tick(0, wall);
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(dispatcher->ack("peer-a", ack_of("press", take_sent_ids())).ok());
  dispatcher->tick(1, wall);
  EXPECT_EQ(sent.size(), 2u);
}

TEST_F(DispatcherTest, ADroppedConnectionReturnsEverythingAndATakeOverStartsAgain) {
  const auto record = subscribe("press", 10);
  dispatcher->attach("peer-a", record);
  publish(1, 3);
  dispatcher->tick(0, wall);
  ASSERT_EQ(sent.size(), 3u);
  dispatcher->drop_peer("peer-a");
  dispatcher->tick(1, wall);
  EXPECT_EQ(sent.size(), 3u);  // nobody to send to
  dispatcher->attach("peer-b", record);
  dispatcher->tick(2, wall);
  ASSERT_EQ(sent.size(), 6u);  // all three again, to the new connection
  EXPECT_EQ(sent[3].first, "peer-b");
  EXPECT_EQ(sent[3].second.attempt(), 2u);
  // Taken over again while in flight: the old connection's acks count for nothing.
  dispatcher->attach("peer-c", record);
  EXPECT_EQ(dispatcher->ack("peer-b", ack_of("press", {sent[3].second.delivery_id()})).code(),
            v1::Error::SUBSCRIPTION_NOT_FOUND);
  dispatcher->tick(3, wall);
  EXPECT_EQ(sent.size(), 9u);
  dispatcher->tick(100'000, wall);  // every deadline passes: peer-b's are stale, peer-c's time out
  EXPECT_EQ(sent.size(), 9u);
  dispatcher->tick(100'399, wall);
  EXPECT_EQ(sent.size(), 9u);
  dispatcher->tick(100'400, wall);  // after the third attempt's 400 ms, only peer-c's three go again
  EXPECT_EQ(sent.size(), 12u);
  EXPECT_EQ(sent.back().first, "peer-c");
}

}  // namespace
}  // namespace lantoa::testing
