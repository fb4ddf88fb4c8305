#include "config/node_config.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>

#include "support/fixtures.h"

namespace lantoa::node {
namespace {

using lantoa::testing::TempDir;

TEST(NodeConfig, TheExampleFileLoads) {
  // As shipped (mode 0644, no secret in it) it loads.
  TempDir dir;
  const auto copy = dir / "lantoa-node.toml";
  std::filesystem::copy_file(std::filesystem::path(LANTOA_SOURCE_DIR) / "node/lantoa-node.example.toml", copy);
  ::chmod(copy.c_str(), 0644);
  auto c = load_node_config(copy);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->member, "vn.qn");
  EXPECT_EQ(c->api_host, "127.0.0.1");
  EXPECT_EQ(c->api_port, 8470);
  EXPECT_EQ(c->key.filename(), "vn.qn.key");
  EXPECT_TRUE(c->key.is_absolute());  // read from the file's folder
  ASSERT_EQ(c->subscriptions.size(), 1u);
  EXPECT_EQ(c->subscriptions[0].filters.size(), 3u);
  EXPECT_TRUE(c->subscriptions[0].start.earliest());
  ASSERT_EQ(c->webhooks.size(), 1u);
  EXPECT_EQ(c->webhooks[0].max_backoff.count(), 60000);
  EXPECT_EQ(c->spool, "/var/spool/lantoa-node");
  EXPECT_EQ(c->chain.filename(), "vn.qn.cert");  // as lantoa cert issue names it
  EXPECT_EQ(c->root.filename(), "vn.pub");
  // The feed is off as shipped (it would publish what the URL serves); turned
  // on by removing the "# ", it reads as documented.
  EXPECT_TRUE(c->feeds.empty());
  EXPECT_EQ(c->spool_mode, 0640u);
  {
    std::string with_feed = testing::read_text(copy);
    for (const char* line : {"[[feeds]]", "name = \"portal\"", "url = \"https://quangninh.gov.vn/rss/tin-tuc.rss\"",
                             "topic = \"vn.qn.news\"", "interval_seconds = 60", "urgency = 5"}) {
      const std::string commented = std::string("# ") + line;
      const size_t at = with_feed.find(commented);
      ASSERT_NE(at, std::string::npos) << commented;
      with_feed.erase(at, 2);
    }
    const auto feed_copy = copy.parent_path() / "with-feed.toml";
    std::ofstream(feed_copy) << with_feed;
    auto f = load_node_config(feed_copy);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    ASSERT_EQ(f->feeds.size(), 1u);
    EXPECT_EQ(f->feeds[0].topic, "vn.qn.news");
    EXPECT_FALSE(f->feeds[0].destinations.allow_private);  // private destinations refused by default
    EXPECT_TRUE(f->feeds[0].destinations.allowed.empty());
  }
  // With its commented webhook token turned on, the file holds a secret: 0644 is refused, 0600 loads.
  std::string text = testing::read_text(copy);
  const std::string commented = "# token = \"secret-the-cms-expects\"";
  ASSERT_NE(text.find(commented), std::string::npos);
  text.replace(text.find(commented), 2, "");
  {
    std::ofstream(copy) << text;
  }
  EXPECT_EQ(load_node_config(copy).status().code(), v1::Error::KEY_FILE_INSECURE);
  ::chmod(copy.c_str(), 0600);
  EXPECT_TRUE(load_node_config(copy).ok());
}

TEST(NodeConfig, MistakesAreNamed) {
  TempDir dir;
  const std::string base =
      "member = \"vn.qn\"\nkey = \"k\"\nchain = \"c\"\nroot = \"r\"\ndata = \"d\"\n[broker]\nkey = \"x.json\"\n";
  struct Case {
    std::string toml, needle;
  };
  for (const Case& c : std::vector<Case>{
           {base, "api.token_file is required"},
           {base + "[api]\ntoken_file = \"t\"\nlisten = \"nowhere\"\n", "api.listen must be HOST:PORT"},
           {base + "[api]\ntoken_file = \"t\"\ncolour = 1\n", "unknown setting api.colour"},
           {base + "[api]\ntoken_file = \"t\"\n[[feeds]]\nname = \"f\"\nurl = \"http://x\"\ntopic = \"vn.gov.news\"\n",
            "outside vn.qn"},
           {base + "[api]\ntoken_file = \"t\"\n[[webhooks]]\nurl = \"ftp://x\"\n", "webhooks[0].url"},
           {base + "[api]\ntoken_file = \"t\"\n[[subscriptions]]\nname = \"s\"\nfilters = [\"vn.>\"]\nstart = \"soon\"\n",
            "subscriptions[0].start"},
           {base + "[api]\ntoken_file = \"t\"\n[[feeds]]\nname = \"f\"\nurl = \"http://x\"\ntopic = \"vn.qn.news\"\n"
                   "allow_networks = [\"10.0.0.0/33\"]\n",
            "feeds[0].allow_networks: \"10.0.0.0/33\" has a bad prefix length"},
           {base + "[api]\ntoken_file = \"t\"\n[[feeds]]\nname = \"f\"\nurl = \"file:///etc/passwd\"\ntopic = \"vn.qn.news\"\n",
            "feeds[0].url must be an http"},
           {"member = \"vn.qn\"\n[broker\n", "config.toml:2"},
       }) {
    std::ofstream(dir / "config.toml") << c.toml;
    auto r = load_node_config(dir / "config.toml");
    ASSERT_FALSE(r.ok()) << c.toml;
    EXPECT_NE(r.status().message().find(c.needle), std::string::npos) << r.status().to_string();
  }
}

// Issue 18: one run names every mistake of the file.
TEST(NodeConfig, EveryMistakeIsNamedAtOnce) {
  TempDir dir;
  std::ofstream(dir / "config.toml") << "member = \"vn.qn\"\nkey = \"k\"\nroot = \"r\"\ndata = \"d\"\ncolour = 1\n"
                                        "[api]\nlisten = \"nowhere\"\n[[webhooks]]\nurl = \"ftp://x\"\n"
                                        "[[feeds]]\nname = \"f\"\nurl = \"http://x\"\ntopic = \"vn.gov.news\"\n";
  auto r = load_node_config(dir / "config.toml");
  ASSERT_FALSE(r.ok());
  const std::string m = r.status().message();
  for (const char* part : {"7 mistakes", "unknown setting colour", "chain is required", "broker.key is required",
                           "api.listen must be HOST:PORT", "api.token_file is required", "webhooks[0].url",
                           "topic vn.gov.news is outside vn.qn"}) {
    EXPECT_NE(m.find(part), std::string::npos) << part << " in:\n" << m;
  }
}

// [review]: every mistake named, with the reserved name of the inbox subscription.
TEST(NodeConfig, ReviewSettingsAreChecked) {
  TempDir dir;
  std::ofstream(dir / "config.toml")
      << "member = \"vn.qn\"\nkey = \"k\"\nchain = \"c\"\nroot = \"r\"\ndata = \"d\"\n[broker]\nkey = \"x.json\"\n"
         "[api]\ntoken_file = \"t\"\n[[subscriptions]]\nname = \"inbox\"\nfilters = [\"vn.gov.>\"]\n"
         "[review]\ninbox = \"yes\"\nendorse_topic = \"vn.gov.press\"\ncolour = 1\n";
  auto r = load_node_config(dir / "config.toml");
  ASSERT_FALSE(r.ok());
  const std::string m = r.status().message();
  for (const char* part : {"4 mistakes", "name \"inbox\" is the portal's own inbox", "review.inbox must be true or false",
                           "review.endorse_topic vn.gov.press is outside vn.qn", "unknown setting review.colour"}) {
    EXPECT_NE(m.find(part), std::string::npos) << part << " in:\n" << m;
  }
  std::ofstream(dir / "config.toml", std::ios::trunc)
      << "member = \"vn.qn\"\nkey = \"k\"\nchain = \"c\"\nroot = \"r\"\ndata = \"d\"\n[broker]\nkey = \"x.json\"\n"
         "[api]\ntoken_file = \"t\"\n[review]\ninbox = false\nendorse_topic = \"vn.qn.news\"\n";
  auto ok = load_node_config(dir / "config.toml");
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->review_inbox, false);
  EXPECT_EQ(ok->endorse_topic, "vn.qn.news");
}

// Webhook topic filters (and subscription filters) are checked at load: every
// bad one named at once, with the others.
TEST(NodeConfig, WebhookTopicsAreFiltersCheckedAtLoad) {
  TempDir dir;
  std::ofstream(dir / "config.toml")
      << "member = \"vn.qn\"\nkey = \"k\"\nchain = \"c\"\nroot = \"r\"\ndata = \"d\"\n[broker]\nkey = \"x.json\"\n"
         "[api]\ntoken_file = \"t\"\nfeed_secret_file = \"feed.secret\"\n"
         "[[subscriptions]]\nname = \"in\"\nfilters = [\"vn.gov.>\", \"vn..x\"]\n"
         "[[webhooks]]\nname = \"press\"\nurl = \"http://127.0.0.1/a\"\ntopics = [\"vn.gov.press\", \"vn.>.x\", \"vn.*.notice\"]\n"
         "[[webhooks]]\nname = \"press\"\nurl = \"http://127.0.0.1/b\"\ntopics = []\n"
         "[[webhooks]]\nname = \"c\"\nurl = \"http://127.0.0.1/c\"\ntopics = \"vn.gov.>\"\n";
  auto r = load_node_config(dir / "config.toml");
  ASSERT_FALSE(r.ok());
  const std::string m = r.status().message();
  for (const char* part : {"5 mistakes", "subscriptions[0].filters: \"vn..x\" is not a topic filter",
                           "webhooks[0].topics: \"vn.>.x\" is not a topic filter", "webhooks[1].topics is empty",
                           "webhooks[1].name \"press\" is taken", "webhooks[2].topics must be an array of strings"}) {
    EXPECT_NE(m.find(part), std::string::npos) << part << " in:\n" << m;
  }
  std::ofstream(dir / "config.toml")
      << "member = \"vn.qn\"\nkey = \"k\"\nchain = \"c\"\nroot = \"r\"\ndata = \"d\"\n[broker]\nkey = \"x.json\"\n"
         "[api]\ntoken_file = \"t\"\nfeed_secret_file = \"feed.secret\"\n"
         "[[webhooks]]\nname = \"press\"\nurl = \"http://127.0.0.1/a\"\ntopics = [\"vn.gov.press\", \"vn.*.notice\"]\n";
  auto ok = load_node_config(dir / "config.toml");
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->webhooks[0].topics, (std::vector<std::string>{"vn.gov.press", "vn.*.notice"}));
  EXPECT_EQ(ok->feed_secret_file, dir / "feed.secret");
}

const std::string kBase =
    "member = \"vn.qn\"\nkey = \"k\"\nchain = \"c\"\nroot = \"r\"\ndata = \"d\"\n[broker]\nkey = \"x.json\"\n"
    "[api]\ntoken_file = \"t\"\n";

TEST(NodeConfig, SpoolFileModeIsConfigurableAndPrivateByDefault) {
  TempDir dir;
  std::ofstream(dir / "config.toml") << kBase << "[spool]\ndir = \"spool\"\n";
  auto c = load_node_config(dir / "config.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->spool_mode, 0640u);
  std::ofstream(dir / "config.toml") << kBase << "[spool]\ndir = \"spool\"\nmode = \"0600\"\n";
  c = load_node_config(dir / "config.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->spool_mode, 0600u);
  for (const char* bad : {"640x", "0755", "0666", "rw-r-----", "1640", "0040"}) {
    std::ofstream(dir / "config.toml") << kBase << "[spool]\ndir = \"spool\"\nmode = \"" << bad << "\"\n";
    c = load_node_config(dir / "config.toml");
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().message().find("spool.mode"), std::string::npos) << c.status().to_string();
  }
}

// Issue 13, item 17: a config holding secrets, readable by others, is refused.
TEST(NodeConfig, AConfigWithSecretsMustNotBeReadableByOthers) {
  TempDir dir;
  const auto file = dir / "config.toml";
  struct Case {
    std::string toml, secret;
  };
  for (const Case& k : std::vector<Case>{
           {"[[webhooks]]\nurl = \"https://cms.example/in\"\ntoken = \"s3cret-token\"\n", "webhooks[0].token"},
           {"[[webhooks]]\nurl = \"https://lantoa:pw@cms.example/in\"\n", "a password in webhooks[0].url"},
           {"[[feeds]]\nname = \"f\"\nurl = \"https://u:pw@portal.example/rss\"\ntopic = \"vn.qn.news\"\n",
            "a password in feeds[0].url"}}) {
    std::ofstream(file) << kBase << k.toml;
    for (mode_t mode : {0644, 0640, 0604}) {
      ::chmod(file.c_str(), mode);
      auto c = load_node_config(file);
      ASSERT_FALSE(c.ok()) << k.toml << " mode " << mode;
      EXPECT_EQ(c.status().code(), v1::Error::KEY_FILE_INSECURE);
      EXPECT_NE(c.status().message().find(k.secret), std::string::npos) << c.status().to_string();
      EXPECT_NE(c.status().message().find("chmod 600 " + file.string()), std::string::npos) << c.status().to_string();
    }
    ::chmod(file.c_str(), 0600);
    EXPECT_TRUE(load_node_config(file).ok()) << k.toml;
  }
  std::ofstream(file) << kBase << "[[webhooks]]\nurl = \"https://cms.example/in\"\n";  // no secret: any mode
  ::chmod(file.c_str(), 0644);
  EXPECT_TRUE(load_node_config(file).ok());
}

}  // namespace
}  // namespace lantoa::node
