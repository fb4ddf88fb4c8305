// The node's /metrics text (node/api/metrics.h) from figures made by hand:
// promtool-clean, label values escaped, held topics bounded, each figure
// where the docs say (the processes' own figures: node_metrics_test.cc).
#include "api/metrics.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "node.h"
#include "support/fixtures.h"
#include "support/prometheus_text.h"

namespace lantoa::node {
namespace {

using lantoa::testing::CommandResult;
using lantoa::testing::TempDir;

// Figures with every label of every metric in use.
NodeFigures sample_figures() {
  NodeFigures f;
  f.now_ms = 1'800'000'000'000;
  f.broker_connected = true;
  f.outbox.unconfirmed = 2;
  f.outbox.oldest_unconfirmed_ms = f.now_ms - 2500;
  f.outbox.sent = 9;
  f.outbox.accepted = 5;
  f.outbox.duplicates = 1;
  f.outbox.rejected[v1::Error::ROLE_MISSING] = 1;
  f.outbox.held_back[v1::Error::RATE_LIMITED] = 3;
  f.store = {7, 8192, 1, 65536, uint64_t{4} << 30};
  f.received = 8;
  f.subscriptions = {{"qn-inbound", true, false}, {"hp-inbound", false, true}};
  DeliveryWorker::Figures cms;
  cms.target = "webhook:cms \"main\"\\";  // a name from the config: escaped, not trusted
  cms.unreachable = "http://127.0.0.1:9/lantoa: Could not establish connection";
  cms.delivered = 4;
  cms.failures = 30;
  cms.backlog = 325;
  cms.last_success_ms = f.now_ms - 90'000;
  for (size_t i = 0; i < kMaxHeldTopics + 5; ++i) {  // events waiting: 1, 2, 3...
    char topic[32];
    std::snprintf(topic, sizeof topic, "vn.t%02zu.press", i);
    cms.held.push_back({topic, i + 1, 1, "answered HTTP 500"});
  }
  DeliveryWorker::Figures spool;
  spool.target = "spool";
  spool.delivered = 8;
  spool.last_success_ms = f.now_ms - 1000;
  f.deliveries = {cms, spool};
  NodeFigures::Feed portal{"portal", {}};
  portal.stats.polls = 3;
  portal.stats.failed_polls = 1;
  portal.stats.published = 6;
  portal.stats.corrections = 2;
  portal.stats.last_poll_ms = f.now_ms - 877;
  portal.stats.last_poll_ok = true;
  f.feeds = {portal};
  return f;
}

TEST(NodeMetricsText, IsPromtoolCleanWithEscapedLabelsAndBoundedTopics) {
  ASSERT_EQ(lantoa::testing::run_command("command -v promtool").code, 0)
      << "promtool is missing: install the Debian package prometheus (./lantoa.sh deps does)";
  const NodeFigures f = sample_figures();
  const std::string text = metrics_text(f);
  TempDir dir;
  CommandResult lint = lantoa::testing::promtool_check(dir, text);
  EXPECT_EQ(lint.code, 0) << lint.out << "\n" << text;
  EXPECT_EQ(lint.out, "") << text;

  auto s = lantoa::testing::samples(text);
  EXPECT_EQ(s.count("lantoa_node_build_info{version=\"" + std::string(LANTOA_PROJECT_VERSION) + "\"}"), 1u) << text;
  EXPECT_EQ(s["lantoa_node_broker_connected"], 1);
  EXPECT_EQ(s["lantoa_node_outbox_depth"], 2);
  EXPECT_DOUBLE_EQ(s["lantoa_node_outbox_oldest_age_seconds"], 2.5);
  EXPECT_EQ(s["lantoa_node_outbox_sent_total"], 9);
  EXPECT_EQ(s["lantoa_node_outbox_acked_total{result=\"accepted\"}"], 5);
  EXPECT_EQ(s["lantoa_node_outbox_acked_total{result=\"duplicate\"}"], 1);
  EXPECT_EQ(s["lantoa_node_outbox_refused_total{class=\"permanent\",reason=\"ROLE_MISSING\"}"], 1);
  EXPECT_EQ(s["lantoa_node_outbox_refused_total{class=\"passing\",reason=\"RATE_LIMITED\"}"], 3);
  EXPECT_EQ(s["lantoa_node_subscription_open{subscription=\"qn-inbound\"}"], 1);
  EXPECT_EQ(s["lantoa_node_subscription_refused{subscription=\"hp-inbound\"}"], 1);
  EXPECT_EQ(s["lantoa_node_inbox_items"], 7);
  EXPECT_EQ(s["lantoa_node_inbox_bytes"], 8192);
  EXPECT_EQ(s["lantoa_node_received_refused_total"], 1);
  EXPECT_EQ(s["lantoa_node_received_total"], 8);

  const std::string target = "target=\"webhook:cms \\\"main\\\"\\\\\"";
  EXPECT_EQ(s["lantoa_node_delivery_backlog{" + target + "}"], 325) << text;
  EXPECT_EQ(s["lantoa_node_deliveries_total{" + target + "}"], 4);
  EXPECT_EQ(s["lantoa_node_delivery_failures_total{" + target + "}"], 30);
  EXPECT_DOUBLE_EQ(s["lantoa_node_delivery_last_success_age_seconds{" + target + "}"], 90);
  EXPECT_EQ(s["lantoa_node_delivery_held_lanes{" + target + "}"], static_cast<double>(kMaxHeldTopics + 5));
  EXPECT_EQ(s["lantoa_node_delivery_unreachable{" + target + "}"], 1);
  EXPECT_EQ(s["lantoa_node_delivery_unreachable{target=\"spool\"}"], 0);
  EXPECT_EQ(s["lantoa_node_delivery_held_lanes{target=\"spool\"}"], 0);
  // Held lanes: the first kMaxHeldTopics by topic, then one "other" with the rest.
  size_t held_series = 0;
  for (const auto& [series, value] : s) held_series += series.starts_with("lantoa_node_delivery_held_events{");
  EXPECT_EQ(held_series, kMaxHeldTopics + 1) << text;
  EXPECT_EQ(s["lantoa_node_delivery_held_events{" + target + ",topic=\"vn.t00.press\"}"], 1);
  EXPECT_EQ(s.count("lantoa_node_delivery_held_events{" + target + ",topic=\"vn.t20.press\"}"), 0u);
  // vn.t20.press .. vn.t24.press: 21 + 22 + 23 + 24 + 25 waiting
  EXPECT_EQ(s["lantoa_node_delivery_held_events{" + target + ",topic=\"other\"}"], 115);

  EXPECT_EQ(s["lantoa_node_feed_polls_total{feed=\"portal\"}"], 3);
  EXPECT_EQ(s["lantoa_node_feed_poll_errors_total{feed=\"portal\"}"], 1);
  EXPECT_EQ(s["lantoa_node_feed_last_poll_success{feed=\"portal\"}"], 1);
  EXPECT_DOUBLE_EQ(s["lantoa_node_feed_last_poll_timestamp_seconds{feed=\"portal\"}"], 1'799'999'999.123);
  EXPECT_EQ(s["lantoa_node_feed_items_total{feed=\"portal\",kind=\"news\"}"], 6);
  EXPECT_EQ(s["lantoa_node_feed_items_total{feed=\"portal\",kind=\"correction\"}"], 2);
}

// The docs are the spec: every metric /metrics serves is in the table of
// docs/joining-as-a-portal.md, with its type and labels, and every metric
// there is served.
TEST(NodeMetricsText, TheDocsTableListsEveryMetricWithItsTypeAndLabels) {
  struct Row {
    std::string type;
    std::set<std::string> labels;
  };
  const std::regex type_line(R"(# TYPE (\S+) (\S+))"), sample_line(R"((lantoa_node_\w+|process_\w+)\{(.*)\} \S+)"),
      label(R"((\w+)=\")"), table_row(R"(^\| `(lantoa_node_\w+|process_\w+)` \| (\w+) \| ([^|]*)\|)"), quoted("`(\\w+)`");
  std::map<std::string, Row> served;
  std::istringstream text(metrics_text(sample_figures()));
  for (std::string line; std::getline(text, line);) {
    std::smatch m;
    if (std::regex_match(line, m, type_line)) {
      served[m[1]].type = m[2];
    } else if (std::regex_match(line, m, sample_line)) {
      const std::string labels = m[2];
      for (std::sregex_iterator it(labels.begin(), labels.end(), label), end; it != end; ++it) {
        served[m[1]].labels.insert((*it)[1]);
      }
    }
  }
  std::map<std::string, Row> documented;
  std::ifstream in(std::string(LANTOA_SOURCE_DIR) + "/docs/joining-as-a-portal.md");
  ASSERT_TRUE(in) << "docs/joining-as-a-portal.md";
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, table_row)) continue;
    Row& row = documented[m[1]];
    row.type = m[2];
    const std::string labels = m[3];
    for (std::sregex_iterator it(labels.begin(), labels.end(), quoted), end; it != end; ++it) {
      row.labels.insert((*it)[1]);
    }
  }
  EXPECT_GT(served.size(), 20u);
  for (const auto& [name, row] : served) {
    if (!documented.count(name)) {
      ADD_FAILURE() << name << " is not in the table of docs/joining-as-a-portal.md";
      continue;
    }
    EXPECT_EQ(documented[name].type, row.type) << name;
    EXPECT_EQ(documented[name].labels, row.labels) << name;
  }
  for (const auto& [name, row] : documented) EXPECT_TRUE(served.count(name)) << name << " is documented, not served";
}

}  // namespace
}  // namespace lantoa::node
