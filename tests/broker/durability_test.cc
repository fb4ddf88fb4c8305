// Durability end to end: restarts, SIGKILL at random moments, a full store,
// embargoes and retention, with a real broker process and LMDB folder.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "support/broker_process.h"
#include "support/client.h"

namespace lantoa::testing {
namespace {

using E = v1::Error;
using std::chrono::milliseconds;

class Durability : public ::testing::Test {
 protected:
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member qn = tree.member("vn.qn");
};

// Issue 14: two brokers on one data folder handed out the same broker
// sequences and overwrote each other's events. The second is refused.
TEST_F(Durability, ASecondBrokerOnTheSameDataFolderIsRefused) {
  BrokerProcess broker(tree);
  broker.start();
  CommandResult second = run_command("timeout 20 '" LANTOA_BROKER_BIN "' --data '" + broker.data().string() +
                                     "' --listen 'tcp://127.0.0.1:*' --monitor 127.0.0.1:0 --open-admission 2>&1");
  EXPECT_EQ(second.code, 1) << second.out;
  EXPECT_NE(second.out.find("is in use by another lantoa-broker"), std::string::npos) << second.out;
  // The first is untouched: its ready file is still there and it still takes events.
  EXPECT_TRUE(std::filesystem::exists(broker.data() / "broker.ready.json"));
  Client c(broker.address(), gov);
  EXPECT_EQ(c.publish_one(make_events(gov, "vn.gov.press", 1, 1)[0]).status(), v1::PublishResult::ACCEPTED);
  // Once it stops, the folder is free again.
  ASSERT_EQ(broker.stop(), 0);
  broker.start();
  EXPECT_TRUE(broker.running());
}

// Issue 18: a second broker on the same monitoring port started too, and
// the kernel split the scrapes between the two. It is refused.
TEST_F(Durability, ASecondBrokerOnTheSameMonitoringPortIsRefused) {
  BrokerProcess broker(tree);
  broker.start();
  const std::string monitor = broker.monitor_url().substr(std::string("http://").size());  // 127.0.0.1:PORT
  TempDir other;
  std::filesystem::create_directories(other / "data");
  std::filesystem::copy_file(broker.data() / "trust-root.pub", other / "data" / "trust-root.pub");
  CommandResult second = run_command("timeout 20 '" LANTOA_BROKER_BIN "' --data '" + (other / "data").string() +
                                     "' --listen 'tcp://127.0.0.1:*' --monitor " + monitor + " --open-admission 2>&1");
  EXPECT_EQ(second.code, 1) << second.out;
  EXPECT_NE(second.out.find("cannot listen for monitoring on " + monitor + ": the address is in use"),
            std::string::npos)
      << second.out;
  EXPECT_FALSE(broker.stats().is_null());  // the first still answers
}

TEST_F(Durability, RestartKeepsSubscriptionsQueuesAndSequences) {
  BrokerProcess broker(tree);
  broker.start();
  {
    Client sub(broker.address(), qn);
    ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}, {}, 100));
    Client pub(broker.address(), gov);
    auto r = pub.publish(make_events(gov, "vn.gov.press", 1, 6));
    ASSERT_EQ(r.results_size(), 6);
    auto got = sub.collect(6);
    ASSERT_EQ(got.size(), 6u);
    sub.ack({got[0], got[1]});  // two done, four delivered but not acked
    ASSERT_TRUE(eventually([&] { return broker.stats()["delivery"]["acks"] == 2; }));  // taken, before the stop
  }
  EXPECT_EQ(broker.stop(), 0) << read_text(broker.log());
  broker.start();
  Client pub(broker.address(), gov);
  EXPECT_EQ(pub.welcome().last_sequence(), 6u);
  pub.publish(make_events(gov, "vn.gov.press", 7, 1));
  Client sub(broker.address(), qn);
  auto resumed = sub.subscribe("press", {"vn.gov.press"});
  ASSERT_OK(resumed);
  EXPECT_TRUE(resumed->resumed());
  EXPECT_EQ(resumed->pending(), 5u);
  auto got = sub.collect(5);
  ASSERT_EQ(got.size(), 5u);
  std::set<std::string> headlines;
  for (const auto& d : got) headlines.insert(headline_of(d));
  EXPECT_EQ(headlines.size(), 5u);
  EXPECT_TRUE(headlines.count("Tin số 3 trên vn.gov.press"));
  EXPECT_TRUE(headlines.count("Tin số 7 trên vn.gov.press"));
  EXPECT_FALSE(headlines.count("Tin số 1 trên vn.gov.press"));  // acked before the restart
}

TEST_F(Durability, SubscriberReconnectResumesWhereItStood) {
  BrokerProcess broker(tree);
  broker.start();
  Client pub(broker.address(), gov);
  {
    Client sub(broker.address(), qn);
    ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}));
    pub.publish(make_events(gov, "vn.gov.press", 1, 3));
    auto got = sub.collect(3);
    ASSERT_EQ(got.size(), 3u);
    sub.ack({got[0]});
    ASSERT_TRUE(eventually([&] { return broker.stats()["delivery"]["acks"] == 1; }));
  }
  // A new connection takes the subscription over: the unacked two return.
  Client sub(broker.address(), qn);
  auto r = sub.subscribe("press", {});
  ASSERT_OK(r);
  EXPECT_TRUE(r->resumed());
  auto got = sub.collect(2);
  ASSERT_EQ(got.size(), 2u);
  for (const auto& d : got) EXPECT_EQ(d.attempt(), 2u);
  EXPECT_EQ(sub.subscribe("press", {"vn.other"}).status().code(), E::INVALID_ARGUMENT);  // other filters
}

TEST_F(Durability, SigkillNeverLosesAnAcknowledgedEvent) {
  BrokerProcess broker(tree);
  broker.start();
  {
    Client sub(broker.address(), qn);
    ASSERT_OK(sub.subscribe("all", {"vn.gov.>"}));
    ASSERT_OK(sub.subscribe("press-only", {"vn.gov.press"}));
  }
  std::mt19937 rng(12345);
  std::set<std::string> acknowledged;   // event ids the broker said were stored
  std::set<std::string> press_ids;
  uint64_t seq = 1;
  for (int round = 0; round < 5; ++round) {
    // The broker is killed with a batch in flight: sent, its answer not yet
    // read (stored or not, it is the publisher's to send again), after a
    // random number of confirmed batches.
    const int kill_after = 5 + static_cast<int>(rng() % 40);
    {
      auto c = Connection::open(broker.address(), gov.key, gov.chain);
      ASSERT_TRUE(c.ok()) << "cannot connect after restart: " << c.status().to_string();
      Connection conn = std::move(*c);
      uint64_t request = 1;
      for (int batch = 0;; ++batch) {
        const std::string topic = seq % 2 ? "vn.gov.press" : "vn.gov.notice";
        auto events = make_events(gov, topic, seq, 5);
        v1::ClientFrame f;
        f.mutable_publish()->set_request_id(request++);
        for (auto& e : events) *f.mutable_publish()->add_events() = e;
        ASSERT_TRUE(conn.send(f).ok());
        seq += 5;
        if (batch == kill_after) {
          broker.kill();
          break;
        }
        auto answer = conn.receive(milliseconds(10'000));
        ASSERT_TRUE(answer.ok() && answer->has_value() && (*answer)->has_results());
        for (const auto& r : (*answer)->results().results()) {
          if (r.status() == v1::PublishResult::ACCEPTED || r.status() == v1::PublishResult::DUPLICATE) {
            acknowledged.insert(r.event_id());
            if (topic == "vn.gov.press") press_ids.insert(r.event_id());
          }
        }
      }
    }
    broker.start();
  }
  ASSERT_GT(acknowledged.size(), 50u) << "the test should have published for a while";

  // Every acknowledged event is delivered to every matching subscription.
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("all", {}, {}, 10'000));
  ASSERT_OK(sub.subscribe("press-only", {}, {}, 10'000));
  // Drain both queues (they may also hold events whose "accepted" answer was
  // lost to a kill: stored, just never confirmed).
  std::set<std::string> all, press;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    auto d = sub.next(milliseconds(1500));
    if (!d) break;
    const std::string id = event_id(d->event().event());
    (d->subscription() == "all" ? all : press).insert(id);
    sub.ack({*d});
  }
  for (const auto& id : acknowledged) EXPECT_TRUE(all.count(id)) << "acknowledged event lost";
  size_t missing_press = 0, missing_but_in_all = 0;
  for (const auto& id : press_ids) {
    if (!press.count(id)) ++missing_press, missing_but_in_all += all.count(id);
  }
  EXPECT_EQ(missing_press, 0u) << "acknowledged press events lost (" << missing_but_in_all << " of them reached \"all\"), "
                               << press.size() << " of " << press_ids.size() << " delivered";
  std::cout << "[ stats    ] " << acknowledged.size() << " acknowledged events across 5 SIGKILLs, all delivered\n";
}

TEST_F(Durability, FullStoreRejectsWithStorageFullAndKeepsServing) {
  BrokerProcess broker(tree, {"--map-size-mb", "1"});
  broker.start();
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}, {}, 0));
  sub.credit("press", 0);
  Client pub(broker.address(), gov);
  uint64_t seq = 1, accepted = 0;
  Status last;
  for (int i = 0; i < 200 && last.code() != E::STORAGE_FULL; ++i) {
    auto r = pub.publish(make_events(gov, "vn.gov.press", seq, 20));
    seq += 20;
    for (const auto& x : r.results()) {
      if (x.status() == v1::PublishResult::ACCEPTED) ++accepted;
      if (x.status() == v1::PublishResult::REJECTED) last = Status::from_proto(x.error());
    }
  }
  ASSERT_EQ(last.code(), E::STORAGE_FULL) << last.to_string();
  EXPECT_NE(last.message().find("storage full"), std::string::npos);
  ASSERT_GT(accepted, 10u);
  // Still up, still answering, and everything accepted is deliverable.
  // (A single small event may still fit where a batch of twenty did not.)
  auto one = pub.publish_one(make_events(gov, "vn.gov.press", seq + 100, 1)[0]);
  ASSERT_NE(one.status(), v1::PublishResult::STATUS_UNSPECIFIED) << "no answer after the store filled up";
  if (one.status() == v1::PublishResult::ACCEPTED) ++accepted;
  else EXPECT_EQ(one.error().code(), E::STORAGE_FULL);
  sub.credit("press", 10'000);
  size_t delivered = 0;
  while (auto d = sub.next(milliseconds(1500))) {
    ++delivered;
    sub.ack({*d});
  }
  EXPECT_EQ(delivered, accepted);
}

TEST_F(Durability, EmbargoedEventsWaitForTheirTimeEvenAcrossARestart) {
  BrokerProcess broker(tree);
  broker.start();
  const int64_t release = unix_now_ms() + 2500;
  {
    Client sub(broker.address(), qn);
    ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}));
    Client pub(broker.address(), gov);
    auto e = EventBuilder("vn.gov", 1, "vn.gov.press").headline("Cấm vận đến giờ G").embargo_until_ms(release).build();
    ASSERT_OK(e);
    ASSERT_EQ(pub.publish_one(*sign_event(*e, gov.key.sign)).status(), v1::PublishResult::ACCEPTED);
    EXPECT_TRUE(sub.drain(milliseconds(500)).empty());
  }
  ASSERT_EQ(broker.stop(), 0) << read_text(broker.log());
  broker.start();
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("press", {}));
  auto d = sub.next(milliseconds(6000));
  ASSERT_TRUE(d);
  EXPECT_GE(unix_now_ms(), release);
  EXPECT_EQ(headline_of(*d), "Cấm vận đến giờ G");
}

TEST_F(Durability, ExpiredEventsAreNotDelivered) {
  BrokerProcess broker(tree);
  broker.start();
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}));
  sub.credit("press", 0);
  Client pub(broker.address(), gov);
  const int64_t now = unix_now_ms();
  auto e = EventBuilder("vn.gov", 1, "vn.gov.press").headline("Hết hạn").expires_ms(now + 300).build();
  ASSERT_EQ(pub.publish_one(*sign_event(*e, gov.key.sign)).status(), v1::PublishResult::ACCEPTED);
  pub.publish(make_events(gov, "vn.gov.press", 2, 1));
  wait_for_clock(now + 301);  // the first has expired (only then may it be handed out)
  sub.credit("press", 10);
  auto got = sub.drain(milliseconds(600));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(headline_of(got[0]), "Tin số 2 trên vn.gov.press");
}

TEST_F(Durability, RetentionRemovesOnlyUnreferencedEventsAndSaysSo) {
  BrokerProcess broker(tree, {"--retention-ms", "400"});
  broker.start();
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("kept", {"vn.gov.press"}));
  sub.credit("kept", 0);
  Client pub(broker.address(), gov);
  pub.publish(make_events(gov, "vn.gov.press", 1, 3));   // referenced by "kept"
  pub.publish(make_events(gov, "vn.gov.notice", 4, 3));  // referenced by nobody
  // Retention (every 400 ms here) removes the three nobody references.
  ASSERT_TRUE(eventually([&] {
    return broker.metrics().find("lantoa_retention_removed_total 3") != std::string::npos;
  })) << broker.metrics();
  // A late subscription asking for everything from sequence 1 is told that
  // the unreferenced events are gone.
  auto late = sub.subscribe("late", {"vn.gov.>"}, from_seq(1));
  ASSERT_OK(late);
  EXPECT_TRUE(late->behind_retention());
  EXPECT_EQ(late->pending(), 3u);  // only the three "kept" still references
  sub.credit("kept", 10);
  auto got = sub.collect(6, milliseconds(3000));
  size_t kept = 0, others = 0;
  for (const auto& d : got) (d.subscription() == "kept" ? kept : others)++;
  EXPECT_EQ(kept, 3u);
  EXPECT_EQ(others, 3u);
}

TEST_F(Durability, MonitoringShowsTheFlows) {
  BrokerProcess broker(tree);
  broker.start();
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}, {}, 1));
  Client pub(broker.address(), gov);
  pub.publish(make_events(gov, "vn.gov.press", 1, 4));
  auto bad = make_events(gov, "vn.gov.press", 5, 1);
  (*bad[0].mutable_signature())[0] ^= 1;
  pub.publish(bad);
  auto d = sub.next();
  ASSERT_TRUE(d);
  ASSERT_TRUE(eventually([&] {
    return broker.metrics().find("lantoa_queue_depth{owner=\"vn.qn\",subscription=\"press\"} 4") !=
           std::string::npos;
  })) << broker.metrics();

  const std::string url = broker.monitor_url();
  httplib::Client http(url);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics) << "no answer from " << url;
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("lantoa_events_accepted_total 4"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("lantoa_events_rejected_total{reason=\"BAD_SIGNATURE\"} 1"), std::string::npos);
  EXPECT_NE(metrics->body.find("lantoa_queue_depth{owner=\"vn.qn\",subscription=\"press\"} 4"), std::string::npos);
  EXPECT_NE(metrics->body.find("lantoa_in_flight{owner=\"vn.qn\",subscription=\"press\"} 1"), std::string::npos);
  EXPECT_NE(metrics->body.find("lantoa_origin_accepted_total{origin=\"vn.gov\"} 4"), std::string::npos);

  auto stats = http.Get("/api/v1/stats");
  ASSERT_TRUE(stats);
  auto j = nlohmann::json::parse(stats->body);
  EXPECT_EQ(j["events"]["accepted"], 4);
  EXPECT_EQ(j["topics"]["vn.gov.press"]["accepted"], 4);
  ASSERT_EQ(j["subscriptions"].size(), 1u);
  EXPECT_EQ(j["subscriptions"][0]["name"], "press");
  EXPECT_EQ(j["subscriptions"][0]["in_flight"], 1);
  EXPECT_GE(j["commits"]["count"].get<int>(), 1);
}

TEST_F(Durability, MalformedFramesGetClearErrorsAndTheConnectionStays) {
  BrokerProcess broker(tree);
  broker.start();
  Client c(broker.address(), gov);
  ASSERT_TRUE(c.send_raw({"part one", "part two"}).ok());
  auto e1 = c.next_error();
  ASSERT_TRUE(e1);
  EXPECT_EQ(e1->error().code(), E::FRAME_MALFORMED);
  ASSERT_TRUE(c.send_raw({std::string("\xff\xff\xff\xff\xff", 5)}).ok());
  auto e2 = c.next_error();
  ASSERT_TRUE(e2);
  EXPECT_EQ(e2->error().code(), E::FRAME_MALFORMED);
  ASSERT_TRUE(c.send_raw({std::string((1 << 20) + (64 << 10) + 1, 'x')}).ok());
  auto e3 = c.next_error();
  ASSERT_TRUE(e3);
  EXPECT_EQ(e3->error().code(), E::FRAME_TOO_LARGE);
  auto many = make_events(gov, "vn.gov.press", 1, 1);
  std::vector<v1::SignedEvent> batch(1001, many[0]);
  c.publish(batch, milliseconds(2000));
  auto e4 = c.next_error();
  ASSERT_TRUE(e4);
  EXPECT_EQ(e4->error().code(), E::INVALID_ARGUMENT);
  // Still serving.
  EXPECT_EQ(c.publish_one(many[0]).status(), v1::PublishResult::ACCEPTED);
}

TEST_F(Durability, UnsubscribeKeepsOrRemovesTheQueue) {
  BrokerProcess broker(tree);
  broker.start();
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}));
  sub.credit("press", 0);
  Client pub(broker.address(), gov);
  pub.publish(make_events(gov, "vn.gov.press", 1, 2));
  auto kept = sub.unsubscribe("press", false);
  ASSERT_OK(kept);
  EXPECT_FALSE(kept->removed());
  auto again = sub.subscribe("press", {});
  ASSERT_OK(again);
  EXPECT_EQ(again->pending(), 2u);
  ASSERT_OK(sub.unsubscribe("press", true));
  EXPECT_EQ(sub.unsubscribe("press", true).status().code(), E::SUBSCRIPTION_NOT_FOUND);
  auto fresh = sub.subscribe("press", {"vn.gov.press"});
  ASSERT_OK(fresh);
  EXPECT_FALSE(fresh->resumed());
  EXPECT_EQ(fresh->pending(), 0u);
  EXPECT_EQ(sub.subscribe("Bad Name", {"x"}).status().code(), E::INVALID_ARGUMENT);
  EXPECT_EQ(sub.subscribe("x", {"vn.>.x"}).status().code(), E::INVALID_FILTER);
  EXPECT_EQ(sub.subscribe("nofilter", {}).status().code(), E::INVALID_FILTER);
}

}  // namespace
}  // namespace lantoa::testing
