#include "config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support/fixtures.h"

namespace lantoa::broker {
namespace {

using lantoa::testing::TempDir;

std::filesystem::path write(const TempDir& dir, const std::string& text) {
  auto p = dir / "broker.toml";
  std::ofstream(p) << text;
  return p;
}

TEST(BrokerConfig, ReadsEverySection) {
  TempDir dir;
  auto c = BrokerConfig::from_toml(write(dir, R"(
data = "/var/lib/lantoa"
listen = "tcp://127.0.0.1:9000"
monitor = "127.0.0.1:9001"
member = "vn.broker"
verify_threads = 3
[limits]
max_batch_events = 500
max_event_bytes = 65536
[storage]
map_size_mb = 64
retention_hours = 48
[delivery]
default_credit = 20
ack_timeout_ms = 5000
heartbeat_ms = 2000
session_window_kb = 256
)"));
  ASSERT_OK(c);
  c->finish();
  EXPECT_EQ(c->data, "/var/lib/lantoa");
  EXPECT_EQ(c->listen, "tcp://127.0.0.1:9000");
  EXPECT_EQ(c->server.member, "vn.broker");
  EXPECT_EQ(c->verifier.threads, 3u);
  EXPECT_EQ(c->server.intake.max_batch_events, 500u);
  EXPECT_EQ(c->verifier.limits.max_signed_bytes, 65536u);
  EXPECT_EQ(c->map_size_mb, 64u);
  EXPECT_EQ(c->writer.retention.max_age_ms, 48LL * 3600 * 1000);
  EXPECT_EQ(c->writer.subscribe.credit, 20u);
  EXPECT_EQ(c->writer.subscribe.ack_timeout_ms, 5000u);
  EXPECT_EQ(c->server.heartbeat_ms, 2000u);
  EXPECT_EQ(c->server.delivery.session_window_bytes, 256u << 10);
  EXPECT_EQ(c->key, "/var/lib/lantoa/broker.key");
  EXPECT_EQ(c->trust_root, "/var/lib/lantoa/trust-root.pub");
}

TEST(BrokerConfig, RejectsTyposWrongTypesAndBadToml) {
  TempDir dir;
  auto typo = BrokerConfig::from_toml(write(dir, "lisen = \"tcp://x\"\n"));
  EXPECT_CODE(typo, v1::Error::INVALID_ARGUMENT);
  EXPECT_NE(typo.status().message().find("lisen"), std::string::npos);
  auto nested = BrokerConfig::from_toml(write(dir, "[storage]\nmap_size = 1\n"));
  EXPECT_NE(nested.status().message().find("storage.map_size"), std::string::npos);
  auto type = BrokerConfig::from_toml(write(dir, "verify_threads = \"two\"\n"));
  EXPECT_NE(type.status().message().find("verify_threads"), std::string::npos);
  auto negative = BrokerConfig::from_toml(write(dir, "[delivery]\ndefault_credit = -1\n"));
  EXPECT_CODE(negative, v1::Error::INVALID_ARGUMENT);
  auto no_window = BrokerConfig::from_toml(write(dir, "[delivery]\nsession_window_kb = 0\n"));
  EXPECT_CODE(no_window, v1::Error::INVALID_ARGUMENT);
  EXPECT_NE(no_window.status().message().find("session_window_kb"), std::string::npos);
  auto no_queue = BrokerConfig::from_toml(write(dir, "[limits]\nverify_queue_kb = 0\n"));
  EXPECT_NE(no_queue.status().message().find("verify_queue_kb"), std::string::npos);
  auto broken = BrokerConfig::from_toml(write(dir, "data = \n"));
  EXPECT_NE(broken.status().message().find("broker.toml:1"), std::string::npos);
}

// Issue 14: one run names every mistake of a file, not one per run.
TEST(BrokerConfig, EveryMistakeIsReportedAtOnce) {
  TempDir dir;
  auto c = BrokerConfig::from_toml(write(dir, R"(
lisen = "tcp://127.0.0.1:9000"
verify_threads = "two"
[limits]
verify_queue_kb = 0
[storage]
map_size = 64
[delivery]
heartbeat_ms = -5
)"));
  ASSERT_FALSE(c.ok());
  EXPECT_CODE(c, v1::Error::INVALID_ARGUMENT);
  const std::string m = c.status().message();
  EXPECT_NE(m.find("5 mistakes"), std::string::npos) << m;
  for (const char* part : {"unknown setting lisen", "verify_threads must be a whole number",
                           "limits.verify_queue_kb must be at least 1", "unknown setting storage.map_size",
                           "delivery.heartbeat_ms must be at least 1"}) {
    EXPECT_NE(m.find(part), std::string::npos) << part << " in:\n" << m;
  }
}

// The table of settings in the docs is the one the broker prints from its
// own settings table: a setting added, renamed or given a new default
// shows up here until the docs say the same.
TEST(BrokerConfig, TheDocsTableIsTheBrokersOwn) {
  std::ifstream in(std::string(LANTOA_SOURCE_DIR) + "/docs/operating-a-broker.md");
  std::stringstream doc;
  doc << in.rdbuf();
  const std::string text = doc.str();
  const std::string begin = "<!-- settings: lantoa-broker settings -->\n";
  const std::string end = "<!-- end of settings -->";
  const size_t a = text.find(begin), b = text.find(end);
  ASSERT_NE(a, std::string::npos) << "no settings table in docs/operating-a-broker.md";
  ASSERT_NE(b, std::string::npos);
  EXPECT_EQ(text.substr(a + begin.size(), b - a - begin.size()), settings_table())
      << "run: build/broker/lantoa-broker settings, and put its table into docs/operating-a-broker.md";
}

TEST(BrokerConfig, EverySettingReadsItsDefaultBack) {
  // Each key, written with the default the table shows, parses (the table
  // and the reader agree on names and types).
  TempDir dir;
  for (const Setting& s : settings()) {
    if (s.default_text.empty() || s.default_text.starts_with("`<")) continue;
    std::string value = s.default_text.substr(0, s.default_text.find(' '));
    if (value.starts_with("`")) value = value.substr(1, value.size() - 2);
    if (value != "true" && value != "false" && value.find_first_not_of("0123456789.") != std::string::npos) {
      value = "\"" + value + "\"";
    }
    const size_t dot = s.key.rfind('.');
    const std::string toml = dot == std::string::npos
                                 ? s.key + " = " + value + "\n"
                                 : "[" + s.key.substr(0, dot) + "]\n" + s.key.substr(dot + 1) + " = " + value + "\n";
    auto c = BrokerConfig::from_toml(write(dir, toml));
    EXPECT_TRUE(c.ok()) << toml << c.status().to_string();
  }
}

}  // namespace
// Issue 13, item 14: what protects the broker is on without configuration.
TEST(BrokerConfig, SafeDefaults) {
  BrokerConfig c;
  EXPECT_EQ(c.server.intake.rate.events_per_s, 200);
  EXPECT_EQ(c.server.intake.rate.burst_events, 2000);
  EXPECT_EQ(c.writer.subscribe.max_per_member, 32u);
  EXPECT_EQ(c.verifier.max_queued_bytes, 64ull << 20);
  EXPECT_EQ(c.monitor.rfind("127.0.0.1:", 0), 0u);  // monitoring on loopback only
  EXPECT_TRUE(c.strict_admission);                   // admission by certificate
}

}  // namespace lantoa::broker
