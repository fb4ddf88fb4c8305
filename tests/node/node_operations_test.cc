// lantoa-node as a portal operator runs it (issue 18), through real broker
// and node processes on 127.0.0.1:
//  - a webhook that keeps refusing one topic's events holds only that topic
//    (each topic is a lane), and positions survive a restart;
//  - a webhook with `topics` takes only what they match;
//  - the Atom feed opens with its own URL (feed_key) for CMS feed importers,
//    and that key opens nothing else;
//  - changed subscription filters are applied at the broker; a subscription
//    the broker refuses fails /healthz and is logged once.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <thread>

#include "support/broker_process.h"
#include "support/fixtures.h"
#include "support/node_process.h"

namespace lantoa::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

json get_json(const NodeProcess& node, const std::string& path, int* status = nullptr) {
  auto r = node.client()->Get(path);
  if (status) *status = r ? r->status : -1;
  return r ? json::parse(r->body, nullptr, false) : json();
}

std::string publish(const NodeProcess& node, const std::string& topic, const std::string& headline) {
  auto r = node.client()->Post("/v1/events", json{{"topic", topic}, {"headline", headline}}.dump(), "application/json");
  EXPECT_TRUE(r && r->status == 202) << (r ? r->body : "no answer");
  return r ? json::parse(r->body, nullptr, false).value("id", "") : "";
}

std::vector<std::string> headlines(const std::vector<json>& records, const std::string& topic = "") {
  std::vector<std::string> out;
  for (const auto& r : records) {
    if (topic.empty() || r["lantoa"]["topic"] == topic) out.push_back(r["ninjs"]["headlines"][0]["value"]);
  }
  return out;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

const std::string kAllGov = subscription_toml("\"vn.gov.>\"");

using NodeOperations = NodeNetworkTest;

// A CMS that answers HTTP 500 to every vn.gov.press event: vn.gov.notice
// keeps flowing, in order; the press lane is shown held in /v1/status; a
// restart keeps both positions (nothing of notice comes twice); when press
// recovers its events arrive in order. A second webhook with topics takes
// only vn.gov.notice.
TEST_F(NodeOperations, AFailingTopicHoldsOnlyItsOwnLaneAndPositionsSurviveARestart) {
  WebhookReceiver cms, notices_only;
  cms.set_failing_topic("vn.gov.press");
  NodeProcess gov_node(tree, gov, broker.address(), "");
  NodeProcess qn_node(tree, qn, broker.address(),
                      kAllGov + webhook_toml(cms, "cms") +
                          webhook_toml(notices_only, "notices", "topics = [\"vn.gov.notice\", \"vn.gov.*.notice\"]"));
  gov_node.start();
  qn_node.start();
  std::set<std::string> ids;
  for (int i = 1; i <= 3; ++i) {
    ids.insert(publish(gov_node, "vn.gov.press", "press " + std::to_string(i)));
    ids.insert(publish(gov_node, "vn.gov.notice", "notice " + std::to_string(i)));
  }
  auto got = cms.wait_for(3, 30s);
  ASSERT_EQ(headlines(got), (std::vector<std::string>{"notice 1", "notice 2", "notice 3"})) << read_text(qn_node.log());
  EXPECT_GE(cms.refused(), 1u);
  EXPECT_EQ(headlines(notices_only.wait_for(3, 20s)), (std::vector<std::string>{"notice 1", "notice 2", "notice 3"}));

  // /v1/status: the press lane is held with its three events.
  json cms_status;
  ASSERT_TRUE(eventually([&] {
    const json status = get_json(qn_node, "/v1/status");
    for (const auto& d : status["deliveries"]) {
      if (d["target"] == "webhook:cms") cms_status = d;
    }
    return cms_status.is_object() && cms_status["held"].size() == 1 && cms_status["failures"] >= 2;
  })) << cms_status.dump();
  EXPECT_EQ(cms_status["held"][0]["topic"], "vn.gov.press");
  EXPECT_EQ(cms_status["held"][0]["waiting"], 3);
  EXPECT_NE(cms_status["held"][0]["error"].get<std::string>().find("HTTP 500"), std::string::npos);
  EXPECT_EQ(cms_status["backlog"], 3);
  EXPECT_EQ(cms_status["cursor"], 0) << "the base stays before the first press event";

  // A restart: the notices are not delivered again, press is still held.
  ASSERT_EQ(qn_node.stop(), 0);
  const size_t refused = cms.refused();
  qn_node.start();
  ASSERT_TRUE(eventually([&] { return cms.refused() >= refused + 2; })) << read_text(qn_node.log());
  ids.insert(publish(gov_node, "vn.gov.notice", "notice 4"));
  got = cms.wait_for(4, 20s);
  EXPECT_EQ(headlines(got), (std::vector<std::string>{"notice 1", "notice 2", "notice 3", "notice 4"}))
      << "a notice came twice, or notice 4 did not come";

  // Press recovers: its three events, in order, each once.
  cms.set_failing_topic("");
  got = cms.wait_for(7, 30s);
  ASSERT_EQ(got.size(), 7u) << read_text(qn_node.log());
  EXPECT_EQ(headlines(got, "vn.gov.press"), (std::vector<std::string>{"press 1", "press 2", "press 3"}));
  std::set<std::string> delivered;
  for (const auto& r : got) delivered.insert(r["lantoa"]["event_id"]);
  EXPECT_EQ(delivered, ids);
  ASSERT_TRUE(eventually([&] {
    const json status = get_json(qn_node, "/v1/status");
    for (const auto& d : status["deliveries"]) {
      if (d["target"] == "webhook:cms") cms_status = d;
    }
    return cms_status["held"].empty() && cms_status["backlog"] == 0 && cms_status["cursor"] == 7;
  })) << cms_status.dump();
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(cms.received().size(), 7u);
  EXPECT_EQ(notices_only.received().size(), 4u) << "the notices-only webhook got another topic";
  EXPECT_EQ(qn_node.stop(), 0);
  EXPECT_NE(read_text(qn_node.log()).find("vn.gov.press flows again"), std::string::npos);
}

// The feed's own URL (GET /v1/feed-url) opens the Atom feed without the API
// token, as a CMS feed importer fetches it; a wrong key or another topic is
// 401; the key opens no other endpoint.
TEST_F(NodeOperations, TheFeedUrlOpensTheFeedAndNothingElse) {
  NodeProcess gov_node(tree, gov, broker.address(), "");
  NodeProcess qn_node(tree, qn, broker.address(), kAllGov);
  gov_node.start();
  qn_node.start();
  publish(gov_node, "vn.gov.press", "Thông cáo báo chí");
  ASSERT_TRUE(eventually([&] { return get_json(qn_node, "/v1/inbox")["events"].size() == 1; }, 30s));

  json answer = get_json(qn_node, "/v1/feed-url?topic=vn.gov.%3E");
  const std::string url = answer.value("url", "");
  ASSERT_EQ(url.rfind(qn_node.api_url() + "/v1/feed.atom?topic=vn.gov.%3E&feed_key=", 0), 0u) << answer.dump();
  const std::string key = url.substr(url.find("feed_key=") + 9);
  EXPECT_EQ(key.size(), 32u);
  EXPECT_EQ(url.find(qn_node.token()), std::string::npos);

  httplib::Client anonymous(qn_node.api_url());  // no Authorization header, like WordPress
  const std::string path = url.substr(qn_node.api_url().size());
  auto feed = anonymous.Get(path);
  ASSERT_TRUE(feed);
  EXPECT_EQ(feed->status, 200) << feed->body;
  EXPECT_NE(feed->body.find("Thông cáo báo chí"), std::string::npos);
  EXPECT_EQ(feed->get_header_value("Content-Type").rfind("application/atom+xml", 0), 0u);

  auto code_of = [&](const std::string& p) {
    auto r = anonymous.Get(p);
    if (!r) return std::string("no answer");
    return std::to_string(r->status) + " " + json::parse(r->body, nullptr, false)["error"].value("code", "");
  };
  std::string wrong = key;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  EXPECT_EQ(code_of("/v1/feed.atom?topic=vn.gov.%3E&feed_key=" + wrong), "401 FEED_KEY_WRONG");
  EXPECT_EQ(code_of("/v1/feed.atom?topic=vn.gov.%3E&feed_key="), "401 FEED_KEY_WRONG");
  EXPECT_EQ(code_of("/v1/feed.atom?topic=vn.%3E&feed_key=" + key), "401 FEED_KEY_WRONG") << "another topic";
  EXPECT_EQ(code_of("/v1/feed.atom?feed_key=" + key), "401 FEED_KEY_WRONG") << "every topic";
  EXPECT_EQ(code_of("/v1/feed.atom?topic=vn.gov.%3E"), "401 TOKEN_MISSING");
  EXPECT_EQ(code_of("/v1/inbox?feed_key=" + key), "401 TOKEN_MISSING");
  EXPECT_EQ(code_of("/v1/inbox?topic=vn.gov.%3E&feed_key=" + key), "401 TOKEN_MISSING");
  EXPECT_EQ(code_of("/v1/status?feed_key=" + key), "401 TOKEN_MISSING");
  EXPECT_EQ(code_of("/v1/feed-url?topic=vn.gov.%3E&feed_key=" + key), "401 TOKEN_MISSING");
  auto post = anonymous.Post("/v1/events?topic=vn.qn.news&feed_key=" + key, R"({"headline": "x"})", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 401);
  // The API token still opens the feed; the feed of every topic has its own URL.
  auto with_token = qn_node.client()->Get("/v1/feed.atom?topic=vn.gov.%3E");
  ASSERT_TRUE(with_token);
  EXPECT_EQ(with_token->status, 200);
  const std::string all = get_json(qn_node, "/v1/feed-url").value("url", "");
  EXPECT_EQ(all.find("topic="), std::string::npos);
  EXPECT_NE(all.substr(all.find("feed_key=")), "feed_key=" + key);
  EXPECT_EQ(anonymous.Get(all.substr(qn_node.api_url().size()))->status, 200);
  int status = 0;
  get_json(qn_node, "/v1/feed-url?topic=vn..gov", &status);
  EXPECT_EQ(status, 400);

  // A feed secret of its own ([api] feed_secret_file): the earlier URLs are revoked.
  ASSERT_EQ(qn_node.stop(), 0);
  {
    std::ofstream(qn_node.dir() / "feed.secret") << "a-feed-secret-of-its-own-0123456789\n";
  }
  ::chmod((qn_node.dir() / "feed.secret").c_str(), 0600);
  const auto config = qn_node.dir() / "config.toml";
  std::string text = read_text(config);
  text.replace(text.find("token_file = \"api.token\"\n"), 25, "token_file = \"api.token\"\nfeed_secret_file = \"feed.secret\"\n");
  std::ofstream(config) << text;
  qn_node.start();
  httplib::Client again(qn_node.api_url());
  auto old_url = again.Get("/v1/feed.atom?topic=vn.gov.%3E&feed_key=" + key);
  ASSERT_TRUE(old_url);
  EXPECT_EQ(old_url->status, 401);
  const std::string renewed = get_json(qn_node, "/v1/feed-url?topic=vn.gov.%3E").value("url", "");
  EXPECT_EQ(renewed.find(key), std::string::npos);
  auto renewed_feed = again.Get(renewed.substr(qn_node.api_url().size()));
  ASSERT_TRUE(renewed_feed);
  EXPECT_EQ(renewed_feed->status, 200);
  EXPECT_NE(renewed_feed->body.find("Thông cáo báo chí"), std::string::npos);
  EXPECT_EQ(qn_node.stop(), 0);
}

// Restarted with other filters: the node changes the subscription at the
// broker. What the old subscription still held and the new filters match
// arrives; what was published meanwhile on a newly added topic arrives; a
// topic taken out no longer does.
TEST_F(NodeOperations, ChangedSubscriptionFiltersAreAppliedAtTheBroker) {
  NodeProcess gov_node(tree, gov, broker.address(), "");
  NodeProcess qn_node(tree, qn, broker.address(),
                      "[[subscriptions]]\nname = \"qn-inbound\"\nfilters = [\"vn.gov.press\"]\nstart = \"earliest\"\n");
  gov_node.start();
  qn_node.start();
  auto inbox = [&] {
    std::vector<json> events;
    const json answer = get_json(qn_node, "/v1/inbox?acked=include&limit=1000");
    for (const auto& e : answer["events"]) events.push_back(e);
    return headlines(events);
  };
  publish(gov_node, "vn.gov.press", "press 1");
  ASSERT_TRUE(eventually([&] { return inbox().size() == 1; }, 30s)) << read_text(qn_node.log());
  ASSERT_EQ(qn_node.stop(), 0);

  // Meanwhile: press 2 waits in the old subscription; notice 1 matches only the new filters.
  const std::string p2 = publish(gov_node, "vn.gov.press", "press 2");
  const std::string n1 = publish(gov_node, "vn.gov.notice", "notice 1");
  ASSERT_TRUE(eventually([&] {
    return get_json(gov_node, "/v1/events/" + n1).value("status", "") == "accepted" &&
           get_json(gov_node, "/v1/events/" + p2).value("status", "") == "accepted";
  }, 30s));
  const auto config = qn_node.dir() / "config.toml";
  auto rewrite = [&](const std::string& from, const std::string& to) {
    std::string text = read_text(config);
    ASSERT_NE(text.find(from), std::string::npos);
    text.replace(text.find(from), from.size(), to);
    std::ofstream(config) << text;
  };
  rewrite("filters = [\"vn.gov.press\"]", "filters = [\"vn.gov.press\", \"vn.gov.notice\"]");
  qn_node.start();
  ASSERT_TRUE(eventually([&] { return inbox().size() == 3; }, 30s)) << read_text(qn_node.log());
  EXPECT_EQ(inbox(), (std::vector<std::string>{"press 1", "press 2", "notice 1"}));
  int health = 0;
  EXPECT_TRUE(eventually([&] {
    json sub = get_json(qn_node, "/v1/status")["subscriptions"]["list"][0];
    return sub["open"] == true && sub["filters"].size() == 2;
  }));
  EXPECT_EQ(get_json(qn_node, "/healthz", &health)["ok"], true);
  EXPECT_EQ(health, 200);
  publish(gov_node, "vn.gov.notice", "notice 2");
  ASSERT_TRUE(eventually([&] { return inbox().size() == 4; }, 30s));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(inbox().size(), 4u) << "something came twice";
  ASSERT_EQ(qn_node.stop(), 0);
  std::string log = read_text(qn_node.log());
  EXPECT_EQ(count_of(log, "exists at the broker with other filters"), 1u) << log;
  EXPECT_EQ(count_of(log, "exists with other filters"), 0u) << "the refusal was logged as an error";

  // Now without press: press 3 (published while it is down) does not come, notice 3 does.
  const std::string p3 = publish(gov_node, "vn.gov.press", "press 3");
  const std::string n3 = publish(gov_node, "vn.gov.notice", "notice 3");
  ASSERT_TRUE(eventually([&] {
    return get_json(gov_node, "/v1/events/" + n3).value("status", "") == "accepted" &&
           get_json(gov_node, "/v1/events/" + p3).value("status", "") == "accepted";
  }, 30s));
  rewrite("filters = [\"vn.gov.press\", \"vn.gov.notice\"]", "filters = [\"vn.gov.notice\"]");
  qn_node.start();
  ASSERT_TRUE(eventually([&] { return inbox().size() == 5; }, 30s)) << read_text(qn_node.log());
  ASSERT_TRUE(eventually([&] {
    json sub = get_json(qn_node, "/v1/status")["subscriptions"]["list"][0];
    return sub["open"] == true && sub["changing_filters"] == false;
  }, 30s)) << read_text(qn_node.log());
  publish(gov_node, "vn.gov.press", "press 4");
  publish(gov_node, "vn.gov.notice", "notice 4");
  ASSERT_TRUE(eventually([&] { return inbox().size() == 6; }, 30s)) << read_text(qn_node.log());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(inbox(), (std::vector<std::string>{"press 1", "press 2", "notice 1", "notice 2", "notice 3", "notice 4"}));
  // The broker holds one news subscription for vn.qn, with the new filters.
  size_t news_subscriptions = 0;
  const json stats = broker.stats();
  for (const auto& sub : stats["subscriptions"]) {
    if (sub["owner"] == "vn.qn" && sub["name"] == "qn-inbound") {
      ++news_subscriptions;
      if (sub.contains("filters")) {
        EXPECT_EQ(sub["filters"], json::array({"vn.gov.notice"}));
      }
    }
  }
  EXPECT_EQ(news_subscriptions, 1u) << stats.dump();
  EXPECT_EQ(qn_node.stop(), 0);
  log = read_text(qn_node.log());
  EXPECT_NE(log.find("(1 kept; 1 left out, which the new filters do not match)"), std::string::npos) << log;
}

// A subscription the broker refuses (the portal is not certified as a
// subscriber): /healthz answers 503 with the reason, /v1/status shows it, the
// log says it once with what to do.
TEST_F(NodeOperations, ASubscriptionTheBrokerRefusesFailsHealthAndIsLoggedOnce) {
  Member publisher_only = tree.certify("vn.hp", {v1::PUBLISHER});
  NodeProcess node(tree, publisher_only, broker.address(),
                   "[[subscriptions]]\nname = \"hp-inbound\"\nfilters = [\"vn.gov.press\"]\n");
  node.start();
  int health = 0;
  json body;
  ASSERT_TRUE(eventually([&] {
    body = get_json(node, "/healthz", &health);
    return health == 503;
  })) << read_text(node.log());
  EXPECT_EQ(body["ok"], false);
  ASSERT_EQ(body["problems"].size(), 1u);
  EXPECT_NE(body["problems"][0].get<std::string>().find("subscription hp-inbound: ROLE_MISSING"), std::string::npos)
      << body.dump();
  json sub = get_json(node, "/v1/status")["subscriptions"]["list"][0];
  EXPECT_EQ(sub["open"], false);
  EXPECT_EQ(sub["refused"], true);
  EXPECT_NE(sub["error"].get<std::string>().find("ROLE_MISSING"), std::string::npos);
  std::this_thread::sleep_for(3s);  // several attempts
  ASSERT_EQ(node.stop(), 0);
  const std::string log = read_text(node.log());
  EXPECT_EQ(count_of(log, "ROLE_MISSING"), 1u) << log;
  EXPECT_NE(log.find("fix [[subscriptions]] hp-inbound"), std::string::npos) << log;
}

}  // namespace
}  // namespace lantoa::testing
