#include "config.h"

#include "lantoa/internal/toml_fields.h"

#include <toml++/toml.h>

#include <algorithm>
#include <set>
#include <sstream>

namespace lantoa::broker {
namespace {

using E = lantoa::v1::Error;

using toml_fields::bad;
using toml_fields::only_known;
using toml_fields::read;

}  // namespace

Result<BrokerConfig> BrokerConfig::from_toml(const std::filesystem::path& path) {
  auto parsed = toml_fields::parse_file(path);
  if (!parsed) return parsed.status();
  const toml::table& t = *parsed;
  BrokerConfig c;
  LANTOA_RETURN_IF_ERROR(only_known(t, {"data", "listen", "monitor", "key", "trust_root", "log_level", "member",
                                        "verify_threads", "limits", "storage", "delivery", "certs", "revocations",
                                        "strict_admission"},
                                    ""));
  LANTOA_RETURN_IF_ERROR(read(t, "certs", c.certs, ""));
  LANTOA_RETURN_IF_ERROR(read(t, "revocations", c.revocations, ""));
  LANTOA_RETURN_IF_ERROR(read(t, "strict_admission", c.strict_admission, ""));
  LANTOA_RETURN_IF_ERROR(read(t, "data", c.data, ""));
  LANTOA_RETURN_IF_ERROR(read(t, "listen", c.listen, ""));
  LANTOA_RETURN_IF_ERROR(read(t, "monitor", c.monitor, ""));
  LANTOA_RETURN_IF_ERROR(read(t, "key", c.key, ""));
  LANTOA_RETURN_IF_ERROR(read(t, "trust_root", c.trust_root, ""));
  LANTOA_RETURN_IF_ERROR(read(t, "log_level", c.log_level, ""));
  LANTOA_RETURN_IF_ERROR(read(t, "member", c.server.member, ""));
  LANTOA_RETURN_IF_ERROR(read(t, "verify_threads", c.verify_threads, ""));
  if (auto* limits = t["limits"].as_table()) {
    LANTOA_RETURN_IF_ERROR(only_known(*limits, {"max_frame_bytes", "max_batch_events", "max_event_bytes",
                                                "max_clock_skew_ms", "rate_events_per_s", "rate_burst_events",
                                                "rate_bytes_per_s", "rate_burst_bytes", "verify_queue_kb",
                                                "max_subscriptions_per_member", "max_queue_depth"},
                                      "limits."));
    uint64_t queue_kb = c.verifier.max_queued_bytes >> 10;
    LANTOA_RETURN_IF_ERROR(read(*limits, "verify_queue_kb", queue_kb, "limits."));
    if (queue_kb == 0) return Status(lantoa::v1::Error::INVALID_ARGUMENT, "limits.verify_queue_kb must be at least 1");
    c.verifier.max_queued_bytes = queue_kb << 10;
    LANTOA_RETURN_IF_ERROR(
        read(*limits, "max_subscriptions_per_member", c.writer.subscribe.max_per_member, "limits."));
    LANTOA_RETURN_IF_ERROR(read(*limits, "max_queue_depth", c.max_queue_depth, "limits."));
    LANTOA_RETURN_IF_ERROR(read(*limits, "rate_events_per_s", c.server.intake.rate.events_per_s, "limits."));
    LANTOA_RETURN_IF_ERROR(read(*limits, "rate_burst_events", c.server.intake.rate.burst_events, "limits."));
    LANTOA_RETURN_IF_ERROR(read(*limits, "rate_bytes_per_s", c.server.intake.rate.bytes_per_s, "limits."));
    LANTOA_RETURN_IF_ERROR(read(*limits, "rate_burst_bytes", c.server.intake.rate.burst_bytes, "limits."));
    LANTOA_RETURN_IF_ERROR(read(*limits, "max_frame_bytes", c.server.max_frame_bytes, "limits."));
    LANTOA_RETURN_IF_ERROR(read(*limits, "max_batch_events", c.server.intake.max_batch_events, "limits."));
    LANTOA_RETURN_IF_ERROR(read(*limits, "max_event_bytes", c.verifier.limits.max_signed_bytes, "limits."));
    LANTOA_RETURN_IF_ERROR(read(*limits, "max_clock_skew_ms", c.verifier.max_clock_skew_ms, "limits."));
  }
  if (auto* storage = t["storage"].as_table()) {
    LANTOA_RETURN_IF_ERROR(only_known(*storage, {"map_size_mb", "retention_hours", "retention_mb"}, "storage."));
    LANTOA_RETURN_IF_ERROR(read(*storage, "map_size_mb", c.map_size_mb, "storage."));
    int64_t hours = c.writer.retention.max_age_ms / 3'600'000;
    LANTOA_RETURN_IF_ERROR(read(*storage, "retention_hours", hours, "storage."));
    c.writer.retention.max_age_ms = hours * 3'600'000;
    uint64_t mb = c.writer.retention.max_bytes >> 20;
    LANTOA_RETURN_IF_ERROR(read(*storage, "retention_mb", mb, "storage."));
    c.writer.retention.max_bytes = mb << 20;
  }
  if (auto* d = t["delivery"].as_table()) {
    LANTOA_RETURN_IF_ERROR(only_known(*d, {"default_credit", "ack_timeout_ms", "heartbeat_ms",
                                           "max_redelivery_delay_ms", "session_window_kb"},
                                      "delivery."));
    LANTOA_RETURN_IF_ERROR(read(*d, "default_credit", c.writer.subscribe.credit, "delivery."));
    LANTOA_RETURN_IF_ERROR(read(*d, "ack_timeout_ms", c.writer.subscribe.ack_timeout_ms, "delivery."));
    LANTOA_RETURN_IF_ERROR(read(*d, "heartbeat_ms", c.server.heartbeat_ms, "delivery."));
    LANTOA_RETURN_IF_ERROR(read(*d, "max_redelivery_delay_ms", c.server.delivery.max_redelivery_delay_ms, "delivery."));
    uint64_t window_kb = c.server.delivery.session_window_bytes >> 10;
    LANTOA_RETURN_IF_ERROR(read(*d, "session_window_kb", window_kb, "delivery."));
    if (window_kb == 0) return Status(E::INVALID_ARGUMENT, "delivery.session_window_kb must be at least 1");
    c.server.delivery.session_window_bytes = window_kb << 10;
  }
  return c;
}

void BrokerConfig::finish() {
  if (key.empty()) key = data / "broker.key";
  if (trust_root.empty()) trust_root = data / "trust-root.pub";
  if (certs.empty()) certs = data / "certs";
  if (revocations.empty()) revocations = data / "revocations";
  if (restrictions.empty()) restrictions = data / "restrictions";
  verifier.revocations_dir = revocations;
  verifier.restrictions_dir = restrictions;
  verifier.threads = verify_threads;
  // Look for expired events a few times per retention period (100 ms .. 5 s).
  if (writer.retention.max_age_ms > 0) {
    writer.retention_every_ms = std::clamp<int64_t>(writer.retention.max_age_ms / 4, 100, 5000);
  }
}

}  // namespace lantoa::broker
