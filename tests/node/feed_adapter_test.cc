// The feed adapter end to end: a local HTTP server serves the real-world
// sample feeds; lantoa-node polls them, publishes each item once, remembers
// what it published across restarts, and turns a changed item into a
// correction that another portal receives.
#include <gtest/gtest.h>

#include <thread>

#include "lantoa/encoding.h"
#include "support/broker_process.h"
#include "support/fixtures.h"
#include "support/ninjs_schema.h"
#include "support/node_process.h"

namespace lantoa::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Serves one document at /feed.xml (with an ETag and conditional GET, which
// can be turned off) and redirects /old-feed there.
class FeedServer {
 public:
  FeedServer() {
    server_.Get("/feed.xml", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      ++requests_;
      const std::string etag = "\"" + std::to_string(std::hash<std::string>{}(content_)) + "\"";
      if (etags_) {
        if (req.get_header_value("If-None-Match") == etag) {
          ++not_modified_;
          res.status = 304;
          return;
        }
        res.set_header("ETag", etag);
      }
      res.set_content(content_, "application/rss+xml; charset=utf-8");
    });
    server_.Get("/old-feed", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/feed.xml", 301); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FeedServer() {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  void set_content(std::string c) {
    std::lock_guard lock(mu_);
    content_ = std::move(c);
  }
  void set_etags(bool on) { etags_ = on; }
  size_t requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t not_modified() const {
    std::lock_guard lock(mu_);
    return not_modified_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::string content_;
  std::atomic<bool> etags_{true};
  size_t requests_ = 0, not_modified_ = 0;
};

json node_status(const NodeProcess& node) {
  auto r = node.client()->Get("/v1/status");
  return r ? json::parse(r->body, nullptr, false) : json();
}

void wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 20s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(50ms);
}

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
                           "\"\ntopic = \"vn.gov.news\"\ninterval_seconds = 1\n\n"
                           "[[feeds]]\nname = \"intl\"\nurl = \"" + atom.url("/feed.xml") +
                           "\"\ntopic = \"vn.gov.intl\"\ninterval_seconds = 1\nurgency = 4\n");
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
  EXPECT_EQ(first["ninjs"]["subjects"][0]["name"], "Hội nghị");
  EXPECT_EQ(first["ninjs"]["bodies"][0]["contentType"], "text/html");
  EXPECT_TRUE(first["ninjs"]["bodies"][0]["value"].get<std::string>().starts_with("<p>Ông Nguyễn Hồng Sâm"));
  bool canonical = false;
  for (const auto& alt : first["ninjs"]["altIds"]) {
    canonical = canonical || alt["value"].get<std::string>().ends_with("#muc-1");
  }
  EXPECT_TRUE(canonical) << first["ninjs"].dump(2);
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

  // A restart, with the server no longer sending validators: every item is
  // fetched and parsed again, and none is published twice.
  ASSERT_EQ(gov_node.stop(), 0);
  rss.set_etags(false);
  const size_t before = rss.requests();
  gov_node.start();
  wait_until([&] { return rss.requests() >= before + 2; });
  json status = node_status(gov_node);
  EXPECT_EQ(status["feeds"][0]["published"], 0) << status.dump();
  EXPECT_GE(status["feeds"][0]["unchanged"], 5) << status.dump();
  std::this_thread::sleep_for(500ms);
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
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(cms.received().size(), 7u) << "the correction was published more than once";
  EXPECT_EQ(gov_node.stop(), 0);
  EXPECT_EQ(qn_node.stop(), 0);
}

}  // namespace
}  // namespace lantoa::testing
