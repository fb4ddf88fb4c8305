// lantoa-node's GET /metrics (issue 17) on real broker and node processes:
// it opens without the API token, passes `promtool check metrics`, and its
// figures move with what happens — events published, refused for now or for
// good, waiting while the broker is down; events received and delivered, a
// webhook that cannot be reached, a webhook that refuses one topic; a feed
// that works and one that is refused.
#include <gtest/gtest.h>

#include <thread>

#include "support/broker_process.h"
#include "support/feed_server.h"
#include "support/fixtures.h"
#include "support/node_process.h"
#include "support/prometheus_text.h"

namespace lantoa::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// GET /metrics as Prometheus does it: without the API token. "" when the
// node does not answer 200.
std::string scrape(const NodeProcess& node) {
  httplib::Client anonymous(node.api_url());
  auto r = anonymous.Get("/metrics");
  return r && r->status == 200 ? r->body : std::string();
}

void publish(const NodeProcess& node, const std::string& topic, const std::string& headline) {
  ApiAnswer a = post_event(node, {{"topic", topic}, {"headline", headline}});
  ASSERT_EQ(a.status, 202) << a.body.dump();
}

// The series of `text` whose name (with labels) starts with `prefix`.
size_t series_count(const std::map<std::string, double>& s, const std::string& prefix) {
  size_t n = 0;
  for (const auto& [series, value] : s) n += series.starts_with(prefix);
  return n;
}

void expect_promtool_clean(const std::string& text) {
  TempDir dir;
  CommandResult lint = promtool_check(dir, text);
  EXPECT_EQ(lint.code, 0) << lint.out << "\n" << text;
  EXPECT_EQ(lint.out, "") << text;
}

using NodeMetrics = NodeNetworkTest;

// vn.gov publishes five events; vn.qn receives them and hands them to three
// webhooks: one that takes everything, one that cannot be reached (503:
// every topic waits), one that refuses the notices (500: that lane is held,
// press flows). Then both CMSs recover and the figures follow.
TEST_F(NodeMetrics, FiguresFollowPublishingReceivingAndFailingWebhooks) {
  ASSERT_EQ(run_command("command -v promtool").code, 0)
      << "promtool is missing: install the Debian package prometheus (./lantoa.sh deps does)";
  WebhookReceiver ok, down, picky;
  down.set_failing(true);
  picky.set_failing_topic("vn.gov.notice");
  NodeProcess gov_node(tree, gov, broker.address(), "");
  NodeProcess qn_node(tree, qn, broker.address(),
                      subscription_toml("\"vn.gov.>\"") + webhook_toml(ok, "ok") + webhook_toml(down, "down") +
                          webhook_toml(picky, "picky"));
  gov_node.start();
  qn_node.start();

  // No token, as Prometheus scrapes; the rest of the API still wants it.
  httplib::Client anonymous(qn_node.api_url());
  auto first = anonymous.Get("/metrics");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200) << first->body;
  EXPECT_TRUE(first->get_header_value("Content-Type").starts_with("text/plain; version=0.0.4"))
      << first->get_header_value("Content-Type");
  EXPECT_EQ(anonymous.Get("/v1/status")->status, 401);
  auto before = samples(first->body);
  EXPECT_EQ(before["lantoa_node_inbox_items"], 0) << first->body;
  EXPECT_EQ(before["lantoa_node_deliveries_total{target=\"webhook:ok\"}"], 0) << first->body;

  for (int i = 1; i <= 3; ++i) publish(gov_node, "vn.gov.press", "press " + std::to_string(i));
  for (int i = 1; i <= 2; ++i) publish(gov_node, "vn.gov.notice", "notice " + std::to_string(i));

  // The publishing node: all five confirmed, nothing waits.
  std::map<std::string, double> g;
  ASSERT_TRUE(eventually([&] {
    g = samples(scrape(gov_node));
    return g["lantoa_node_outbox_acked_total{result=\"accepted\"}"] == 5;
  }, 30s)) << scrape(gov_node) << read_text(gov_node.log());
  EXPECT_EQ(g["lantoa_node_outbox_depth"], 0);
  EXPECT_EQ(g["lantoa_node_outbox_oldest_age_seconds"], 0);
  EXPECT_GE(g["lantoa_node_outbox_sent_total"], 5);
  EXPECT_EQ(g["lantoa_node_outbox_acked_total{result=\"duplicate\"}"], 0);
  EXPECT_EQ(series_count(g, "lantoa_node_outbox_refused_total"), 0u);
  EXPECT_EQ(g["lantoa_node_broker_connected"], 1);
  EXPECT_EQ(g["lantoa_node_problems"], 0);

  // The receiving node.
  const std::string ok_t = "{target=\"webhook:ok\"}", down_t = "{target=\"webhook:down\"}",
                    picky_t = "{target=\"webhook:picky\"}";
  std::map<std::string, double> q;
  ASSERT_TRUE(eventually([&] {
    q = samples(scrape(qn_node));
    return q["lantoa_node_deliveries_total" + ok_t] == 5 && q["lantoa_node_deliveries_total" + picky_t] == 3 &&
           q["lantoa_node_delivery_held_lanes" + picky_t] == 1 && q["lantoa_node_delivery_unreachable" + down_t] == 1 &&
           q["lantoa_node_delivery_last_success_age_seconds" + down_t] >= 1.0;
  }, 30s)) << scrape(qn_node) << read_text(qn_node.log());
  const std::string text = scrape(qn_node);
  q = samples(text);
  EXPECT_EQ(q["lantoa_node_inbox_items"], 5) << text;
  EXPECT_GT(q["lantoa_node_inbox_bytes"], 0);
  EXPECT_EQ(q["lantoa_node_received_total"], 5);
  EXPECT_EQ(q["lantoa_node_received_rejected_total"], 0);
  EXPECT_EQ(q["lantoa_node_subscription_open{subscription=\"qn-inbound\"}"], 1);
  EXPECT_EQ(q["lantoa_node_subscription_refused{subscription=\"qn-inbound\"}"], 0);
  EXPECT_EQ(q["lantoa_node_broker_connected"], 1);
  EXPECT_GT(q["lantoa_node_store_used_bytes"], 0);
  EXPECT_LT(q["lantoa_node_store_used_bytes"], q["lantoa_node_store_map_size_bytes"]);
  // Takes everything.
  EXPECT_EQ(q["lantoa_node_delivery_backlog" + ok_t], 0);
  EXPECT_EQ(q["lantoa_node_delivery_failures_total" + ok_t], 0);
  EXPECT_EQ(q["lantoa_node_delivery_unreachable" + ok_t], 0);
  EXPECT_LT(q["lantoa_node_delivery_last_success_age_seconds" + ok_t],
            q["lantoa_node_delivery_last_success_age_seconds" + down_t]);
  // Cannot be reached: owes all five, every topic waits.
  EXPECT_EQ(q["lantoa_node_deliveries_total" + down_t], 0);
  EXPECT_EQ(q["lantoa_node_delivery_backlog" + down_t], 5);
  EXPECT_GE(q["lantoa_node_delivery_failures_total" + down_t], 1);
  EXPECT_EQ(q["lantoa_node_delivery_held_lanes" + down_t], 0);  // not one topic's refusal: the whole target
  // Refuses the notices: owes those two, held in their lane.
  EXPECT_EQ(q["lantoa_node_delivery_backlog" + picky_t], 2);
  EXPECT_GE(q["lantoa_node_delivery_failures_total" + picky_t], 1);
  EXPECT_EQ(q["lantoa_node_delivery_unreachable" + picky_t], 0);
  EXPECT_EQ(q["lantoa_node_delivery_held_events{target=\"webhook:picky\",topic=\"vn.gov.notice\"}"], 2) << text;
  expect_promtool_clean(text);
  expect_promtool_clean(scrape(gov_node));

  // Both CMSs take events again.
  down.set_failing(false);
  picky.set_failing_topic("");
  ASSERT_TRUE(eventually([&] {
    q = samples(scrape(qn_node));
    return q["lantoa_node_deliveries_total" + down_t] == 5 && q["lantoa_node_deliveries_total" + picky_t] == 5;
  }, 30s)) << scrape(qn_node) << read_text(qn_node.log());
  EXPECT_EQ(q["lantoa_node_delivery_backlog" + down_t], 0);
  EXPECT_EQ(q["lantoa_node_delivery_unreachable" + down_t], 0);
  EXPECT_LT(q["lantoa_node_delivery_last_success_age_seconds" + down_t], 10);
  EXPECT_EQ(q["lantoa_node_delivery_backlog" + picky_t], 0);
  EXPECT_EQ(q["lantoa_node_delivery_held_lanes" + picky_t], 0);
  EXPECT_EQ(series_count(q, "lantoa_node_delivery_held_events{"), 0u);
  EXPECT_EQ(down.received().size(), 5u);
  EXPECT_EQ(gov_node.stop(), 0);
  EXPECT_EQ(qn_node.stop(), 0);
}

// The outbox: a broker that takes one event a second from a member refuses
// the quicker ones for now (RATE_LIMITED: sent again, counted as passing); a
// member that may not publish is refused for good (ROLE_MISSING:
// permanent); while the broker is down events wait and age.
TEST(NodeMetricsOutbox, CountsWhatWaitsWhatIsConfirmedAndWhatIsRefused) {
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member reader = tree.certify("vn.ldtbxh", {v1::SUBSCRIBER});
  BrokerProcess broker(tree, {"--rate-events", "1", "--rate-burst", "1"});
  broker.start();
  NodeProcess gov_node(tree, gov, broker.address(), "");
  NodeProcess reader_node(tree, reader, broker.address(), "");
  gov_node.start();
  reader_node.start();

  for (int i = 1; i <= 3; ++i) publish(gov_node, "vn.gov.press", "press " + std::to_string(i));
  std::map<std::string, double> g;
  ASSERT_TRUE(eventually([&] {
    g = samples(scrape(gov_node));
    return g["lantoa_node_outbox_acked_total{result=\"accepted\"}"] == 3;
  }, 30s)) << scrape(gov_node) << read_text(gov_node.log());
  const double passing = g["lantoa_node_outbox_refused_total{class=\"passing\",reason=\"RATE_LIMITED\"}"];
  EXPECT_GE(passing, 1) << scrape(gov_node);
  EXPECT_EQ(g["lantoa_node_outbox_sent_total"], 3 + passing) << "each refusal for now is one more send";
  EXPECT_EQ(g["lantoa_node_outbox_depth"], 0);

  publish(reader_node, "vn.ldtbxh.news", "không được phép");
  std::map<std::string, double> r;
  ASSERT_TRUE(eventually([&] {
    r = samples(scrape(reader_node));
    return r["lantoa_node_outbox_refused_total{class=\"permanent\",reason=\"ROLE_MISSING\"}"] == 1;
  }, 30s)) << scrape(reader_node) << read_text(reader_node.log());
  EXPECT_EQ(r["lantoa_node_outbox_depth"], 0);
  EXPECT_EQ(r["lantoa_node_outbox_acked_total{result=\"accepted\"}"], 0);
  expect_promtool_clean(scrape(reader_node));

  // The broker goes away: what is published waits in the outbox, and ages.
  broker.pin_endpoint();
  ASSERT_EQ(broker.stop(), 0);
  ASSERT_TRUE(eventually([&] { return samples(scrape(gov_node))["lantoa_node_broker_connected"] == 0; }, 30s))
      << scrape(gov_node);
  publish(gov_node, "vn.gov.press", "press 4");
  publish(gov_node, "vn.gov.press", "press 5");
  ASSERT_TRUE(eventually([&] {
    g = samples(scrape(gov_node));
    return g["lantoa_node_outbox_oldest_age_seconds"] >= 1.0;
  })) << scrape(gov_node);
  EXPECT_EQ(g["lantoa_node_outbox_depth"], 2);
  EXPECT_EQ(g["lantoa_node_broker_connected"], 0);
  EXPECT_EQ(g["lantoa_node_problems"], 0) << "a broker down may come back by itself";
  expect_promtool_clean(scrape(gov_node));
  broker.start();
  ASSERT_TRUE(eventually([&] {
    g = samples(scrape(gov_node));
    return g["lantoa_node_outbox_acked_total{result=\"accepted\"}"] == 5;
  }, 30s)) << scrape(gov_node) << read_text(gov_node.log());
  EXPECT_EQ(g["lantoa_node_outbox_depth"], 0);
  EXPECT_EQ(g["lantoa_node_outbox_oldest_age_seconds"], 0);
  EXPECT_EQ(g["lantoa_node_broker_connected"], 1);
  EXPECT_EQ(gov_node.stop(), 0);
  EXPECT_EQ(reader_node.stop(), 0);
}

const char* const kTwoItems =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Cổng</title>"
    "<item><title>Tin một</title><guid isPermaLink=\"false\">tin-1</guid><description>một</description></item>"
    "<item><title>Tin hai</title><guid isPermaLink=\"false\">tin-2</guid><description>hai</description></item>"
    "</channel></rss>";

// Two feeds: one the node may fetch, one on loopback it must not (no
// allow_private): each has its own figures.
TEST_F(NodeMetrics, EachFeedSaysWhetherItsLastPollWorkedAndWhatItTook) {
  FeedServer portal, internal;
  portal.set_content(kTwoItems);
  internal.set_content(kTwoItems);
  const double started_s = unix_now_ms() / 1000.0;
  NodeProcess gov_node(tree, gov, broker.address(),
                       "[[feeds]]\nname = \"portal\"\nurl = \"" + portal.url("/feed.xml") +
                           "\"\ntopic = \"vn.gov.news\"\ninterval_seconds = 1\nallow_private = true\n\n"
                           "[[feeds]]\nname = \"internal\"\nurl = \"" + internal.url("/feed.xml") +
                           "\"\ntopic = \"vn.gov.news\"\ninterval_seconds = 1\n");
  gov_node.start();
  const std::string portal_l = "{feed=\"portal\"}", internal_l = "{feed=\"internal\"}";
  std::map<std::string, double> s;
  ASSERT_TRUE(eventually([&] {
    s = samples(scrape(gov_node));
    // (a poll's items are counted as they are published, the poll when it ends)
    return s["lantoa_node_feed_items_total{feed=\"portal\",kind=\"news\"}"] == 2 &&
           s["lantoa_node_feed_polls_total" + portal_l] >= 1 && s["lantoa_node_feed_poll_errors_total" + internal_l] >= 1;
  }, 30s)) << scrape(gov_node) << read_text(gov_node.log());
  EXPECT_EQ(s["lantoa_node_feed_last_poll_success" + portal_l], 1);
  EXPECT_GE(s["lantoa_node_feed_polls_total" + portal_l], 1);
  EXPECT_EQ(s["lantoa_node_feed_poll_errors_total" + portal_l], 0);
  EXPECT_GE(s["lantoa_node_feed_last_poll_timestamp_seconds" + portal_l], started_s - 1);
  EXPECT_LE(s["lantoa_node_feed_last_poll_timestamp_seconds" + portal_l], unix_now_ms() / 1000.0 + 1);
  EXPECT_EQ(s["lantoa_node_feed_last_poll_success" + internal_l], 0);
  EXPECT_GE(s["lantoa_node_feed_last_poll_timestamp_seconds" + internal_l], started_s - 1);
  EXPECT_EQ(s["lantoa_node_feed_items_total{feed=\"internal\",kind=\"news\"}"], 0);
  EXPECT_EQ(internal.requests(), 0u) << "the node connected to a loopback feed";

  // An item changes: published again as a correction.
  std::string changed = kTwoItems;
  changed.replace(changed.find("Tin hai"), 7, "Tin hai (sửa)");
  portal.set_content(changed);
  ASSERT_TRUE(eventually([&] {
    s = samples(scrape(gov_node));
    return s["lantoa_node_feed_items_total{feed=\"portal\",kind=\"correction\"}"] == 1;
  }, 30s)) << scrape(gov_node) << read_text(gov_node.log());
  EXPECT_EQ(s["lantoa_node_feed_items_total{feed=\"portal\",kind=\"news\"}"], 2);
  EXPECT_EQ(s["lantoa_node_feed_items_skipped_total" + portal_l], 0);
  expect_promtool_clean(scrape(gov_node));
  EXPECT_EQ(gov_node.stop(), 0);
}

}  // namespace
}  // namespace lantoa::testing
