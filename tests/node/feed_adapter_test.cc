// The feed adapter end to end: a local HTTP server serves the real-world
// sample feeds; lantoa-node polls them, publishes each item once, remembers
// what it published across restarts, and turns a changed item into a
// correction that another portal receives.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "lantoa/encoding.h"
#include "support/broker_process.h"
#include "support/feed_server.h"
#include "support/fixtures.h"
#include "support/ninjs_schema.h"
#include "support/node_process.h"

namespace lantoa::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

json node_status(const NodeProcess& node) {
  auto r = node.client()->Get("/v1/status");
  return r ? json::parse(r->body, nullptr, false) : json();
}

// Waits for the condition (the test's next assertions say what went wrong).
void wait_until(const std::function<bool()>& done) { (void)eventually(done); }

TEST(FeedAdapter, PublishesEachItemOnceAndChangedItemsAsCorrections) {
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member qn = tree.member("vn.qn");
  BrokerProcess broker(tree);
  broker.start();
  FeedServer rss, atom;
  const std::string vi = read_text(testdata("feeds/vi_rss20_baochinhphu_nfc.xml"));
  rss.set_content(vi);
  atom.set_content(read_text(testdata("feeds/atom10_full_sample.xml")));
  WebhookReceiver cms;
  NodeProcess gov_node(tree, gov, broker.address(),
                       "[[feeds]]\nname = \"portal\"\nurl = \"" + rss.url("/old-feed") +
                           "\"\ntopic = \"vn.gov.news\"\ninterval_seconds = 1\nallow_private = true\n\n"
                           "[[feeds]]\nname = \"intl\"\nurl = \"" + atom.url("/feed.xml") +
                           "\"\ntopic = \"vn.gov.intl\"\ninterval_seconds = 1\nurgency = 4\n"
                           "allow_networks = [\"127.0.0.1/32\"]\n");
  NodeProcess qn_node(tree, qn, broker.address(),
                      "[[subscriptions]]\nname = \"feeds\"\nfilters = [\"vn.gov.news\", \"vn.gov.intl\"]\n"
                      "start = \"earliest\"\n\n[[webhooks]]\nname = \"cms\"\nurl = \"" + cms.url() + "\"\n");
  qn_node.start();
  gov_node.start();

  // Every item arrives once, verified, with its fields.
  auto got = cms.wait_for(6, 30s);
  ASSERT_EQ(got.size(), 6u) << read_text(gov_node.log()) << read_text(qn_node.log()) << read_text(broker.log());
  std::map<std::string, json> by_headline;
  for (const auto& g : got) {
    EXPECT_EQ(g["lantoa"]["signature"], "verified");
    EXPECT_EQ(g["lantoa"]["kind"], "news");
    by_headline[g["ninjs"]["headlines"][0]["value"]] = g;
  }
  ASSERT_EQ(by_headline.size(), 6u);
  const json& first = by_headline.at("Cần làm gì để nâng cao vị thế của Cổng TTĐT?");
  EXPECT_EQ(first["lantoa"]["topic"], "vn.gov.news");
  EXPECT_EQ(first["ninjs"]["language"], "vi");
  EXPECT_EQ(first["ninjs"]["contentCreated"], "2023-08-12T01:30:00Z");  // the item's pubDate
  // A category is no URI: the subject's literal (and name).
  EXPECT_EQ(first["ninjs"]["subjects"][0], json({{"literal", "Hội nghị"}, {"name", "Hội nghị"}}));
  // The description is the summary, as text; without content:encoded there is no body.
  EXPECT_TRUE(first["ninjs"]["descriptions"][0]["value"].get<std::string>().starts_with("Ông Nguyễn Hồng Sâm"))
      << first["ninjs"].dump(2);
  EXPECT_FALSE(first["ninjs"].contains("bodies"));
  // The feed's guid is kept, beside the canonical link.
  bool canonical = false, guid = false;
  for (const auto& alt : first["ninjs"]["altIds"]) {
    canonical = canonical || (alt["role"] == "canonical-url" && alt["value"].get<std::string>().ends_with("#muc-1"));
    guid = guid || (alt["role"] == "guid" && alt["value"] == "baochinhphu-102230812072828677-1");
  }
  EXPECT_TRUE(canonical) << first["ninjs"].dump(2);
  EXPECT_TRUE(guid) << first["ninjs"].dump(2);
  const json& entry = by_headline.at("First entry title");
  EXPECT_EQ(entry["lantoa"]["topic"], "vn.gov.intl");
  EXPECT_EQ(entry["ninjs"]["urgency"], 4);
  EXPECT_EQ(entry["ninjs"]["language"], "en");
  EXPECT_EQ(entry["ninjs"]["by"], "Mark Pilgrim");
  ASSERT_EQ(entry["ninjs"]["associations"].size(), 1u);  // the enclosure, as an attachment
  EXPECT_EQ(entry["ninjs"]["associations"][0]["renditions"][0]["href"], "http://www.example.com/movie.mp4");
  std::vector<json> docs;
  for (const auto& g : got) docs.push_back(g["ninjs"]);
  for (const auto& e : ninjs_schema_errors(docs)) EXPECT_EQ(e, "");

  // Conditional GET: later polls are answered "not modified".
  wait_until([&] { return rss.not_modified() >= 2; });
  EXPECT_GE(rss.not_modified(), 2u);

  // A restart, with the server no longer sending validators and now spelling
  // every item in NFD: every item is fetched and parsed again, and none is
  // published twice (items are compared after NFC normalisation).
  ASSERT_EQ(gov_node.stop(), 0);
  rss.set_etags(false);
  rss.set_content(read_text(testdata("feeds/vi_rss20_baochinhphu_nfd.xml")));
  const size_t before = rss.requests();
  gov_node.start();
  wait_until([&] { return rss.requests() >= before + 2; });
  json status = node_status(gov_node);
  EXPECT_EQ(status["feeds"][0]["published"], 0) << status.dump();
  EXPECT_EQ(status["feeds"][0]["corrections"], 0) << status.dump();
  EXPECT_GE(status["feeds"][0]["unchanged"], 5) << status.dump();
  // (The node published nothing, so nothing more can reach the CMS.)
  EXPECT_EQ(cms.received().size(), 6u);

  // An item whose content changed becomes a correction of what was published.
  std::string changed = vi;
  const std::string old_title = "Quảng Ninh giới thiệu Cổng Thông tin điện tử tỉnh";
  const size_t at = changed.find(old_title);
  ASSERT_NE(at, std::string::npos);
  changed.replace(at, old_title.size(), "Quảng Ninh giới thiệu Cổng Thông tin điện tử tỉnh (bản cập nhật)");
  rss.set_content(changed);
  got = cms.wait_for(7, 20s);
  ASSERT_EQ(got.size(), 7u) << read_text(gov_node.log());
  const json& correction = got[6];
  const json& original = by_headline.at(old_title);
  EXPECT_EQ(correction["lantoa"]["kind"], "correction");
  EXPECT_EQ(correction["lantoa"]["refers_to"], original["lantoa"]["event_id"]);
  EXPECT_EQ(correction["ninjs"]["uri"], original["ninjs"]["uri"]);
  EXPECT_EQ(correction["ninjs"]["version"], "2");
  // Two more polls of the unchanged feed publish nothing more, and every
  // queue at the broker is empty: no second correction is on its way.
  const size_t polls = rss.requests();
  wait_until([&] { return rss.requests() >= polls + 2; });
  status = node_status(gov_node);
  EXPECT_EQ(status["feeds"][0]["corrections"], 1) << status.dump();
  EXPECT_TRUE(eventually([&] {
    const auto stats = broker.stats();
    for (const auto& s : stats["subscriptions"]) {
      if (s["depth"] != 0) return false;
    }
    return true;
  })) << broker.stats().dump();
  EXPECT_EQ(cms.received().size(), 7u) << "the correction was published more than once";
  EXPECT_EQ(gov_node.stop(), 0);
  EXPECT_EQ(qn_node.stop(), 0);
}

std::string feed_toml(const std::string& url, const std::string& extra) {
  return "[[feeds]]\nname = \"portal\"\nurl = \"" + url + "\"\ntopic = \"vn.gov.news\"\ninterval_seconds = 1\n" + extra;
}

const char* const kSmallFeed =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Nội bộ</title>"
    "<item><title>Tài liệu nội bộ</title><guid isPermaLink=\"false\">noi-bo-1</guid><description>mật</description></item>"
    "</channel></rss>";

// SSRF (issue 13, item 16): a feed URL on the node's own host (or any
// private network) is refused at connect time unless the feed allows it,
// and the node says so in its status and log.
TEST(FeedAdapter, LoopbackFeedIsRefusedUnlessAllowed) {
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  BrokerProcess broker(tree);
  broker.start();
  FeedServer internal;
  internal.set_content(kSmallFeed);
  NodeProcess gov_node(tree, gov, broker.address(), feed_toml(internal.url("/feed.xml"), ""));
  gov_node.start();
  json status;
  wait_until([&] {
    status = node_status(gov_node);
    return status["feeds"][0].value("failures", 0) >= 2;
  });
  ASSERT_GE(status["feeds"][0].value("failures", 0), 2) << status.dump();
  const std::string error = status["feeds"][0]["last_error"];
  EXPECT_NE(error.find("PERMISSION_DENIED"), std::string::npos) << error;
  EXPECT_NE(error.find("127.0.0.1 is a loopback address"), std::string::npos) << error;
  EXPECT_NE(error.find("allow_private = true"), std::string::npos) << error;
  EXPECT_EQ(status["feeds"][0]["published"], 0);
  EXPECT_EQ(internal.requests(), 0u) << "the node connected to a loopback feed";
  EXPECT_NE(read_text(gov_node.log()).find("127.0.0.1 is a loopback address"), std::string::npos);
  EXPECT_EQ(gov_node.stop(), 0);
}

// A redirect from an allowed host to a forbidden one is refused too (the
// check runs for every connection, after DNS).
TEST(FeedAdapter, RedirectToAForbiddenAddressIsRefused) {
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  BrokerProcess broker(tree);
  broker.start();
  FeedServer allowed("127.0.0.1"), forbidden("127.0.0.2");
  forbidden.set_content(kSmallFeed);
  allowed.set_redirect(forbidden.url("/feed.xml"));
  NodeProcess gov_node(tree, gov, broker.address(),
                       feed_toml(allowed.url("/moved"), "allow_networks = [\"127.0.0.1/32\"]\n"));
  gov_node.start();
  json status;
  wait_until([&] {
    status = node_status(gov_node);
    return status["feeds"][0].value("failures", 0) >= 2;
  });
  ASSERT_GE(status["feeds"][0].value("failures", 0), 2) << status.dump() << read_text(gov_node.log());
  const std::string error = status["feeds"][0]["last_error"];
  EXPECT_NE(error.find("127.0.0.2 is a loopback address"), std::string::npos) << error;
  EXPECT_NE(error.find(forbidden.url("/feed.xml")), std::string::npos) << error;
  EXPECT_EQ(forbidden.requests(), 0u) << "the node followed a redirect to a forbidden address";
  EXPECT_EQ(status["feeds"][0]["published"], 0);
  EXPECT_EQ(gov_node.stop(), 0);
}

// A guid longer than LMDB's key limit (511 bytes) does not stall the feed:
// it is published once, the items after it too, and it is remembered.
TEST(FeedAdapter, AGuidLongerThanLmdbsKeyLimitKeepsTheFeedFlowing) {
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member qn = tree.member("vn.qn");
  BrokerProcess broker(tree);
  broker.start();
  FeedServer rss;
  rss.set_etags(false);  // every poll reads every item again
  const std::string long_guid = "https://portal.example/tin?id=" + std::string(2000, '7');
  // Newest first: the item with the long guid is the older one, published first.
  rss.set_content("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Cổng</title>"
                  "<item><title>Tin thứ hai</title><guid isPermaLink=\"false\">tin-2</guid></item>"
                  "<item><title>Tin có guid dài</title><guid isPermaLink=\"false\">" + long_guid +
                  "</guid></item></channel></rss>");
  WebhookReceiver cms;
  NodeProcess gov_node(tree, gov, broker.address(), feed_toml(rss.url("/feed.xml"), "allow_private = true\n"));
  NodeProcess qn_node(tree, qn, broker.address(),
                      "[[subscriptions]]\nname = \"feeds\"\nfilters = [\"vn.gov.news\"]\nstart = \"earliest\"\n\n"
                      "[[webhooks]]\nname = \"cms\"\nurl = \"" + cms.url() + "\"\n");
  qn_node.start();
  gov_node.start();
  auto got = cms.wait_for(2, 30s);
  ASSERT_EQ(got.size(), 2u) << read_text(gov_node.log());
  std::set<std::string> headlines;
  for (const auto& g : got) headlines.insert(g["ninjs"]["headlines"][0]["value"].get<std::string>());
  EXPECT_EQ(headlines, (std::set<std::string>{"Tin có guid dài", "Tin thứ hai"}));
  json status;
  wait_until([&] {
    status = node_status(gov_node);
    return status["feeds"][0].value("unchanged", 0) >= 4;  // two more polls, both items known
  });
  EXPECT_GE(status["feeds"][0].value("unchanged", 0), 4) << status.dump();
  EXPECT_EQ(status["feeds"][0]["failures"], 0) << status.dump();
  EXPECT_EQ(cms.received().size(), 2u) << "an item was published twice";
  EXPECT_EQ(gov_node.stop(), 0);
  EXPECT_EQ(qn_node.stop(), 0);
}

}  // namespace
}  // namespace lantoa::testing
