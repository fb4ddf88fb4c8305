// Where a new subscription starts: only new events, the earliest retained,
// a time, or a broker sequence.
#include <gtest/gtest.h>

#include <thread>

#include "support/broker_process.h"
#include "support/client.h"

namespace lantoa::testing {
namespace {

using std::chrono::milliseconds;

class StartPosition : public ::testing::Test {
 protected:
  void SetUp() override {
    broker.start();
    Client pub(broker.address(), gov);
    ASSERT_EQ(pub.publish(make_events(gov, "vn.gov.press", 1, 3)).results_size(), 3);
    // A millisecond strictly after the first three were accepted, and the
    // last two accepted in a later one.
    middle_ms = unix_now_ms() + 1;
    wait_for_clock(middle_ms + 1);
    ASSERT_EQ(pub.publish(make_events(gov, "vn.gov.press", 4, 2)).results_size(), 2);
  }
  std::vector<std::string> headlines(Client& c, size_t n) {
    std::vector<std::string> out;
    for (const auto& d : c.collect(n, milliseconds(3000))) out.push_back(headline_of(d));
    EXPECT_TRUE(c.drain(milliseconds(200)).empty());
    return out;
  }
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member qn = tree.member("vn.qn");
  BrokerProcess broker{tree};
  int64_t middle_ms = 0;
};

TEST_F(StartPosition, NewOnlyIsTheDefault) {
  Client sub(broker.address(), qn);
  auto r = sub.subscribe("new", {"vn.gov.>"});
  ASSERT_OK(r);
  EXPECT_EQ(r->pending(), 0u);
  EXPECT_TRUE(sub.drain(milliseconds(300)).empty());
  Client pub(broker.address(), gov);
  pub.publish(make_events(gov, "vn.gov.press", 6, 1));
  EXPECT_EQ(headlines(sub, 1), std::vector<std::string>{"Tin số 6 trên vn.gov.press"});
}

TEST_F(StartPosition, EarliestReplaysEverythingRetained) {
  Client sub(broker.address(), qn);
  auto r = sub.subscribe("all", {"vn.gov.>"}, earliest());
  ASSERT_OK(r);
  EXPECT_EQ(r->pending(), 5u);
  EXPECT_FALSE(r->behind_retention());
  EXPECT_EQ(headlines(sub, 5).size(), 5u);
}

TEST_F(StartPosition, FromATime) {
  Client sub(broker.address(), qn);
  v1::StartPosition p;
  p.set_from_time_ms(middle_ms);
  auto r = sub.subscribe("since", {"vn.gov.>"}, p);
  ASSERT_OK(r);
  EXPECT_EQ(r->pending(), 2u);
  EXPECT_EQ(headlines(sub, 2), (std::vector<std::string>{"Tin số 4 trên vn.gov.press", "Tin số 5 trên vn.gov.press"}));
}

TEST_F(StartPosition, FromABrokerSequence) {
  Client sub(broker.address(), qn);
  auto r = sub.subscribe("seq", {"vn.gov.>"}, from_seq(3));
  ASSERT_OK(r);
  EXPECT_EQ(r->pending(), 3u);
  EXPECT_FALSE(r->behind_retention());
  EXPECT_EQ(headlines(sub, 3).front(), "Tin số 3 trên vn.gov.press");
}

}  // namespace
}  // namespace lantoa::testing
