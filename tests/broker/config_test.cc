#include "config.h"

#include <gtest/gtest.h>

#include <fstream>

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
