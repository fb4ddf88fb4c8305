// Replay protection in the store (FORMAT.md, "Replays"): every event id is
// accepted once, however late and out of order it arrives (several links
// between brokers, urgent events overtaking a backlog); a replay after
// retention removed the event is still answered DUPLICATE until the replay
// horizon, and an event created before the horizon is refused.
#include <gtest/gtest.h>

#include "broker/stored_item.h"
#include "lantoa/event.h"
#include "store/check.h"
#include "store/store.h"
#include "support/broker_process.h"
#include "support/client.h"
#include "support/fixtures.h"

namespace lantoa::testing {
namespace {

using E = v1::Error;
using R = v1::PublishResult;
constexpr int64_t kDay = 86'400'000;

class Replay : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = broker::Store::open(dir.path(), store::EnvOptions{});
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store = std::move(*s);
    store->set_replay_horizon_ms(10 * kDay);
  }

  broker::IngestItem item(uint64_t seq, int64_t created_ms, std::string topic = "vn.gov.press") {
    return stored_item(signed_by(gov, sample_event("vn.gov", seq, topic)), 0, created_ms);
  }
  broker::IngestResult ingest(const broker::IngestItem& it, int64_t now_ms) {
    auto batch = store->begin();
    EXPECT_TRUE(batch.ok());
    auto r = batch->ingest(it, now_ms);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(batch->commit().ok());
    return r.ok() ? *r : broker::IngestResult{};
  }
  uint64_t retention(int64_t now_ms, int64_t max_age_ms) {
    auto batch = store->begin();
    EXPECT_TRUE(batch.ok());
    auto removed = batch->apply_retention(now_ms, broker::RetentionPolicy{max_age_ms, 0});
    EXPECT_TRUE(removed.ok()) << removed.status().to_string();
    EXPECT_TRUE(batch->commit().ok());
    return removed.ok() ? *removed : 0;
  }
  void expect_clean() {
    auto report = broker::check_store(dir.path(), broker::CheckOptions{false, false});
    ASSERT_TRUE(report.ok()) << report.status().to_string();
    EXPECT_TRUE(report->clean()) << report->to_text();
  }

  TempDir dir;
  TrustTree tree;
  Member gov = tree.member("vn.gov");
  std::unique_ptr<broker::Store> store;
};

TEST_F(Replay, AnEventArrivingLateAndFarOutOfOrderIsAcceptedOnce) {
  const int64_t now = unix_now_ms();
  EXPECT_EQ(ingest(item(5000, now), now).status, R::ACCEPTED);
  // 4,996 sequences below the highest (far below the old 1,024 window): by
  // another path, or held back behind urgent events.
  EXPECT_EQ(ingest(item(4, now), now).status, R::ACCEPTED);
  EXPECT_EQ(ingest(item(4, now), now).status, R::DUPLICATE);
  // A different event with a sequence used within the window (the last
  // 1,024) is still refused.
  EXPECT_EQ(ingest(item(4990, now), now).status, R::ACCEPTED);
  auto other = ingest(item(4990, now, "vn.gov.other"), now);
  EXPECT_EQ(other.status, R::REJECTED);
  EXPECT_EQ(other.error.code(), E::STALE_SEQUENCE);
  expect_clean();
}

TEST_F(Replay, AReplayAfterRetentionIsADuplicateUntilTheHorizonThenTooOld) {
  const int64_t created = unix_now_ms();
  const auto event = item(7, created);
  EXPECT_EQ(ingest(event, created).status, R::ACCEPTED);
  // Two days later retention (one day) removes it; its id is remembered.
  EXPECT_EQ(retention(created + 2 * kDay, kDay), 1u);
  expect_clean();
  auto replay = ingest(event, created + 2 * kDay);
  EXPECT_EQ(replay.status, R::DUPLICATE);
  EXPECT_EQ(replay.seq, 0u);
  {
    auto txn = store::Txn::begin(store->env(), store::Access::kRead);
    ASSERT_TRUE(txn.ok());
    auto seq = store->seq_of_id(*txn, event.record.id());
    ASSERT_TRUE(seq.ok());
    EXPECT_FALSE(seq->has_value());  // not held any more
  }
  // Past the horizon the id is forgotten, and the event is too old to be taken.
  retention(created + 10 * kDay + 1, kDay);
  auto late = ingest(event, created + 10 * kDay + 1);
  EXPECT_EQ(late.status, R::REJECTED);
  EXPECT_EQ(late.error.code(), E::EVENT_TOO_OLD) << late.error.message();
  expect_clean();
  auto txn = store::Txn::begin(store->env(), store::Access::kRead);
  ASSERT_TRUE(txn.ok());
  auto left = txn->get(store->dbs().ids, event.record.id());
  ASSERT_TRUE(left.ok());
  EXPECT_FALSE(left->has_value());
}

TEST_F(Replay, AnEventCreatedBeforeTheHorizonIsRefusedWithoutAHorizonNothingIs) {
  const int64_t now = unix_now_ms();
  auto old = ingest(item(9, now - 11 * kDay), now);
  EXPECT_EQ(old.status, R::REJECTED);
  EXPECT_EQ(old.error.code(), E::EVENT_TOO_OLD);
  store->set_replay_horizon_ms(0);
  EXPECT_EQ(ingest(item(9, now - 11 * kDay), now).status, R::ACCEPTED);
  // Without a horizon retention forgets ids at once.
  EXPECT_EQ(retention(now + 2 * kDay, kDay), 1u);
  expect_clean();
}

TEST_F(Replay, CheckFindsARememberedIdWithoutItsForgottenEntry) {
  const int64_t now = unix_now_ms();
  const auto event = item(3, now);
  EXPECT_EQ(ingest(event, now).status, R::ACCEPTED);
  EXPECT_EQ(retention(now + 2 * kDay, kDay), 1u);
  // Damage: the forgotten entry removed behind the store's back.
  store.reset();
  {
    auto env = store::Env::open(dir.path(), store::EnvOptions{});
    ASSERT_TRUE(env.ok());
    auto db = env->open_db("forgotten");
    ASSERT_TRUE(db.ok());
    auto txn = store::Txn::begin(*env, store::Access::kWrite);
    ASSERT_TRUE(txn.ok());
    {
      auto cursor = store::Cursor::open(*txn, *db);  // closed before the commit (LMDB frees it there)
      ASSERT_TRUE(cursor.ok());
      auto first = cursor->first();
      ASSERT_TRUE(first.ok() && first->has_value());
      ASSERT_TRUE(cursor->erase_current().ok());
    }
    ASSERT_TRUE(txn->commit().ok());
  }
  auto report = broker::check_store(dir.path(), broker::CheckOptions{false, false});
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->clean());
  EXPECT_NE(report->to_text().find("forgotten has no entry"), std::string::npos) << report->to_text();
}

// Through a running broker: a replay of an event older than the horizon
// (a captured event sent again after its id was forgotten) is refused.
TEST(ReplayAtABroker, AnEventCreatedBeforeTheHorizonIsRefusedAndARecentOneTakenOnce) {
  const int64_t now = unix_now_ms();
  TrustTree tree(now - 60 * kDay, now + 365 * kDay);  // certificates valid when the old events were made
  Member gov = tree.member("vn.gov");
  TempDir conf;
  BrokerProcess broker(tree, config_file_args(conf, "[storage]\nreplay_horizon_days = 10\n"));
  broker.start();
  Client c(broker.address(), gov);
  auto made = [&](uint64_t seq, int64_t created_ms) {
    auto e = EventBuilder("vn.gov", seq, "vn.gov.press").headline("Thông cáo cũ").created_ms(created_ms).build();
    EXPECT_TRUE(e.ok());
    return *sign_event(*e, gov.key.sign);
  };
  auto old = c.publish_one(made(1, now - 11 * kDay));
  EXPECT_EQ(old.status(), R::REJECTED);
  EXPECT_EQ(old.error().code(), E::EVENT_TOO_OLD) << old.error().message();
  const auto recent = made(2, now - 9 * kDay);
  EXPECT_EQ(c.publish_one(recent).status(), R::ACCEPTED);
  EXPECT_EQ(c.publish_one(recent).status(), R::DUPLICATE);
}

}  // namespace
}  // namespace lantoa::testing
