// Monitoring figures (issue 17): the Metrics class with its own clock
// (rates over fixed windows, label caps, histograms), and a real broker
// process whose /metrics passes `promtool check metrics` and says the truth
// about a subscription whose subscriber went away.
#include <gtest/gtest.h>
#include <httplib.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "lantoa/event.h"
#include "monitor/metrics.h"
#include "support/broker_process.h"
#include "support/client.h"
#include "support/prometheus_text.h"

namespace lantoa::testing {
namespace {

using broker::Metrics;
using std::chrono::milliseconds;

// --- the Metrics class ---

TEST(Metrics, RatesAreKeptOverFixedWindowsWhoeverPolls) {
  Metrics m;
  broker::Flow& press = m.topic_flow("vn.gov.press");
  m.sample(0);
  for (int s = 1; s <= 10; ++s) {  // 5 events a second for 10 s
    m.accepted += 5;
    press.accepted += 5;
    m.sample(s * 1000);
  }
  auto snap = m.snapshot(unix_now_ms());
  EXPECT_DOUBLE_EQ(snap.accepted.per_s_10s, 5.0);
  EXPECT_DOUBLE_EQ(snap.accepted.per_s_1m, 5.0);  // only 10 s known so far
  EXPECT_DOUBLE_EQ(snap.topics["vn.gov.press"].accepted_rate.per_s_10s, 5.0);
  // Polling does not change them (the old rates were computed between polls).
  EXPECT_DOUBLE_EQ(m.snapshot(unix_now_ms()).accepted.per_s_10s, 5.0);
  for (int s = 11; s <= 60; ++s) m.sample(s * 1000);  // then nothing for 50 s
  snap = m.snapshot(unix_now_ms());
  EXPECT_DOUBLE_EQ(snap.accepted.per_s_10s, 0.0);
  EXPECT_NEAR(snap.accepted.per_s_1m, 50.0 / 60, 1e-9);
  m.sample(61'000);  // the first 5 a second left the minute
  EXPECT_NEAR(m.snapshot(unix_now_ms()).accepted.per_s_1m, 45.0 / 60, 1e-9);
}

TEST(Metrics, ATopicSeenLateHasItsRateFromItsFirstSecond) {
  Metrics m;
  for (int s = 0; s <= 30; ++s) m.sample(s * 1000);
  m.topic_flow("vn.bqp.notice").accepted += 20;
  m.sample(31'000);
  auto snap = m.snapshot(unix_now_ms());
  EXPECT_DOUBLE_EQ(snap.topics["vn.bqp.notice"].accepted_rate.per_s_10s, 2.0);
  EXPECT_NEAR(snap.topics["vn.bqp.notice"].accepted_rate.per_s_1m, 20.0 / 31, 1e-9);
}

TEST(Metrics, LabelsAreBounded) {
  EXPECT_EQ(Metrics::origin_namespace("vn.qn.halong.phuong1"), "vn.qn");
  EXPECT_EQ(Metrics::origin_namespace("vn.gov"), "vn.gov");
  EXPECT_EQ(Metrics::origin_namespace("vn"), "vn");
  Metrics m;
  m.origin_flow("vn.qn.halong").accepted += 1;
  m.origin_flow("vn.qn").accepted += 1;
  for (size_t i = 0; i < Metrics::kMaxTopics + 50; ++i) m.topic_flow("vn.qn.t" + std::to_string(i)).accepted += 1;
  for (int i = 0; i < 2000; ++i) m.reject(v1::Error::BAD_SIGNATURE, "m" + std::to_string(i));
  auto snap = m.snapshot(unix_now_ms());
  EXPECT_EQ(snap.origins.size(), 1u);
  EXPECT_EQ(snap.origins["vn.qn"].accepted, 2u);
  EXPECT_EQ(snap.topics.size(), Metrics::kMaxTopics + 1);
  EXPECT_EQ(snap.topics["other"].accepted, 50u);
  EXPECT_LE(snap.rejected_by_origin.size(), Metrics::kMaxRejectionLabels + 1);
  EXPECT_GT((snap.rejected_by_origin[{"other", "BAD_SIGNATURE"}]), 0u);
  EXPECT_EQ(m.rejected[static_cast<size_t>(v1::Error::BAD_SIGNATURE)].load(), 2000u);
}

TEST(Metrics, HistogramsAreCumulative) {
  broker::Histogram h({0.001, 0.01, 0.1});
  h.observe_micros(500);     // <= 1 ms
  h.observe_micros(1000);    // <= 1 ms (bounds are inclusive)
  h.observe_micros(50'000);  // <= 100 ms
  h.observe_ms(2000);        // +Inf
  h.observe_ms(-5);          // a clock step: counted as 0
  auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{3, 3, 4, 5}));
  EXPECT_EQ(s.count, 5u);
  EXPECT_NEAR(s.sum_s, 2.0515, 1e-9);
}

// --- a real broker ---

class Monitoring : public ::testing::Test {
 protected:
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member qn = tree.member("vn.qn");
  Member bqp = tree.member("vn.bqp");
};

TEST_F(Monitoring, MetricsArePromtoolCleanAndTellTheTruthAboutAGoneSubscriber) {
  ASSERT_EQ(run_command("command -v promtool").code, 0)
      << "promtool is missing: install the Debian package prometheus (./lantoa.sh deps does)";
  // Heartbeats every 200 ms: a silent session is dropped after 600 ms.
  BrokerProcess broker(tree, {"--heartbeat-ms", "200"});
  broker.start();
  const auto start = std::chrono::steady_clock::now();
  Client pub(broker.address(), gov);
  const std::string press = "{owner=\"vn.qn\",subscription=\"press\"}";
  const std::string notice = "{owner=\"vn.bqp\",subscription=\"notice\"}";
  {
    // vn.qn takes one event and acks it, then is killed: no Unsubscribe,
    // the connection just goes silent.
    Client sub(broker.address(), qn);
    ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}, {}, 1));
    // vn.bqp stops the way the SDK does (Unsubscribe, keep the queue), then
    // goes silent: its session times out. (Before issue 17 this one stayed
    // "connected" for ever.)
    Client other(broker.address(), bqp);
    ASSERT_OK(other.subscribe("notice", {"vn.gov.press"}, {}, 1));
    auto results = pub.publish(make_events(gov, "vn.gov.press", 1, 4));
    ASSERT_EQ(results.results_size(), 4);
    auto bad = make_events(gov, "vn.gov.press", 5, 1);
    (*bad[0].mutable_signature())[0] ^= 1;
    pub.publish(bad);
    auto d = sub.next();
    ASSERT_TRUE(d);
    sub.credit("press", 0);  // nothing more after the ack
    sub.ack({*d});
    auto d2 = other.next();
    ASSERT_TRUE(d2);
    ASSERT_TRUE(eventually([&] {
      auto s = samples(broker.metrics());
      return s["lantoa_queue_depth" + press] == 3 && s["lantoa_subscription_connected" + press] == 1 &&
             s["lantoa_subscription_connected" + notice] == 1;
    })) << broker.metrics();
    ASSERT_OK(other.unsubscribe("notice", false));
  }
  // Both are gone; the broker notices within three heartbeats.
  ASSERT_TRUE(eventually([&] {
    auto s = samples(broker.metrics());
    return s["lantoa_subscription_connected" + press] == 0 && s["lantoa_subscription_connected" + notice] == 0;
  }, milliseconds(10'000))) << broker.metrics();
  std::this_thread::sleep_for(milliseconds(1100));  // ages of a second or more

  const std::string text = broker.metrics();
  TempDir dir;
  CommandResult lint = promtool_check(dir, text);
  EXPECT_EQ(lint.code, 0) << lint.out << "\n" << text;
  EXPECT_EQ(lint.out, "") << text;

  auto s = samples(text);
  EXPECT_EQ(s.count("lantoa_build_info{version=\"" + std::string(LANTOA_PROJECT_VERSION) + "\"}"), 1u) << text;
  // vn.qn: four queued, one acked, nothing in flight once it is gone.
  EXPECT_EQ(s["lantoa_queue_depth" + press], 3);
  EXPECT_EQ(s["lantoa_in_flight" + press], 0);
  EXPECT_EQ(s["lantoa_subscription_delivered_total" + press], 1);
  EXPECT_EQ(s["lantoa_subscription_acked_total" + press], 1);
  EXPECT_EQ(s["lantoa_subscription_redelivered_total" + press], 0);
  EXPECT_EQ(s["lantoa_subscription_connected" + press], 0);
  const double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(s["lantoa_subscription_oldest_unacked_age_seconds" + press], 1.0);
  EXPECT_LE(s["lantoa_subscription_oldest_unacked_age_seconds" + press], up + 1);
  EXPECT_GE(s["lantoa_subscription_last_ack_age_seconds" + press], 1.0);
  EXPECT_LE(s["lantoa_subscription_last_ack_age_seconds" + press], up + 1);
  // vn.bqp: its one delivery was never acked and is back in the queue.
  EXPECT_EQ(s["lantoa_queue_depth" + notice], 4);
  EXPECT_EQ(s["lantoa_in_flight" + notice], 0);
  EXPECT_EQ(s["lantoa_subscription_connected" + notice], 0);
  EXPECT_GE(s["lantoa_subscription_oldest_unacked_age_seconds" + notice], 1.0);

  EXPECT_EQ(s["lantoa_events_accepted_total"], 4);
  EXPECT_EQ(s["lantoa_topic_accepted_total{topic=\"vn.gov.press\"}"], 4);
  EXPECT_EQ(s["lantoa_origin_accepted_total{origin=\"vn.gov\"}"], 4);
  EXPECT_EQ(s["lantoa_topic_delivered_total{topic=\"vn.gov.press\"}"], 2);  // one to each
  EXPECT_EQ(s["lantoa_origin_delivered_total{origin=\"vn.gov\"}"], 2);
  EXPECT_EQ(s["lantoa_events_rejected_total{reason=\"BAD_SIGNATURE\"}"], 1);
  EXPECT_EQ(s["lantoa_origin_rejected_total{origin=\"vn.gov\",reason=\"BAD_SIGNATURE\"}"], 1);
  EXPECT_GE(s["lantoa_commit_duration_seconds_count"], 1);
  EXPECT_EQ(s["lantoa_commit_duration_seconds_bucket{le=\"+Inf\"}"], s["lantoa_commit_duration_seconds_count"]);
  EXPECT_EQ(s["lantoa_verify_duration_seconds_count"], 5);  // four good, one bad
  EXPECT_EQ(s["lantoa_delivery_latency_seconds_count"], 2);
  EXPECT_LT(s["lantoa_delivery_latency_seconds_sum"], up);
  EXPECT_EQ(s["lantoa_store_map_size_bytes"], 4096.0 * 1024 * 1024);  // map_size_mb's default
  EXPECT_GT(s["lantoa_store_used_bytes"], 0);
  EXPECT_LT(s["lantoa_store_used_bytes"], s["lantoa_store_map_size_bytes"]);
  EXPECT_GT(s["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GT(s["process_open_fds"], 3);
  EXPECT_GT(s["process_max_fds"], s["process_open_fds"]);
  EXPECT_GT(s["process_cpu_seconds_total"], 0);
  EXPECT_NEAR(s["process_start_time_seconds"], unix_now_ms() / 1000.0, up + 5);

  // Rates: kept by the broker over 10 s and 1 min, not between polls. A
  // second later, with nothing new published, they have not dropped to 0.
  const nlohmann::json first = broker.stats();
  std::this_thread::sleep_for(milliseconds(1100));
  const nlohmann::json j = broker.stats();
  for (const auto* stats : {&first, &j}) {
    EXPECT_GT((*stats)["rates"]["accepted"]["10s"].get<double>(), 0) << stats->dump(2);
    EXPECT_GT((*stats)["rates"]["accepted"]["1m"].get<double>(), 0) << stats->dump(2);
    EXPECT_GT((*stats)["topics"]["vn.gov.press"]["accepted_per_s"]["10s"].get<double>(), 0) << stats->dump(2);
  }
  EXPECT_EQ(j["topics"]["vn.gov.press"]["accepted"], 4);
  EXPECT_EQ(j["topics"]["vn.gov.press"]["delivered"], 2);
  EXPECT_EQ(j["origins"]["vn.gov"]["accepted"], 4);
  EXPECT_EQ(j["events"]["rejected_by_origin"]["vn.gov"]["BAD_SIGNATURE"], 1);
  EXPECT_GT(j["store"]["used_bytes"].get<uint64_t>(), 0u);
  for (const auto& sub : j["subscriptions"]) {
    EXPECT_EQ(sub["connected"], false) << sub.dump();
    EXPECT_GE(sub["oldest_unacked_age_s"].get<double>(), 1.0) << sub.dump();
  }
}

// A subscriber that comes back is connected again, and its figures follow.
TEST_F(Monitoring, ASubscriberThatComesBackIsConnectedAgain) {
  BrokerProcess broker(tree, {"--heartbeat-ms", "200"});
  broker.start();
  const std::string press = "{owner=\"vn.qn\",subscription=\"press\"}";
  {
    Client sub(broker.address(), qn);
    ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}));
  }
  ASSERT_TRUE(eventually([&] { return samples(broker.metrics())["lantoa_subscription_connected" + press] == 0; }));
  Client pub(broker.address(), gov);
  pub.publish(make_events(gov, "vn.gov.press", 1, 2));
  Client again(broker.address(), qn);
  ASSERT_OK(again.subscribe("press", {"vn.gov.press"}));
  auto got = again.collect(2);
  ASSERT_EQ(got.size(), 2u);
  again.ack(got);
  ASSERT_TRUE(eventually([&] {
    auto s = samples(broker.metrics());
    return s["lantoa_subscription_connected" + press] == 1 && s["lantoa_queue_depth" + press] == 0 &&
           s["lantoa_subscription_acked_total" + press] == 2 &&
           s["lantoa_subscription_oldest_unacked_age_seconds" + press] == 0;
  })) << broker.metrics();
}

}  // namespace
}  // namespace lantoa::testing
