#include "config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>
#include <type_traits>

#include "lantoa/internal/toml_fields.h"
#include "lantoa/names.h"

namespace lantoa::broker {
namespace {

using E = lantoa::v1::Error;
using Error = std::optional<std::string>;

// Where a setting lives in BrokerConfig, and in which unit: the key's value
// times `scale` is the field's (KB -> bytes: 1024; hours -> ms: 3,600,000).
template <typename T>
struct Field {
  std::function<T&(BrokerConfig&)> at;
  int64_t scale = 1;
  int64_t min = 0;  // smallest value allowed, in the key's unit
};

template <typename T>
constexpr bool kIsText = std::is_same_v<T, std::string> || std::is_same_v<T, std::filesystem::path>;

template <typename T>
std::string show(const T& v, int64_t scale) {
  if constexpr (kIsText<T>) {
    const std::string s = std::filesystem::path(v).string();
    return s.empty() ? "" : "`" + s + "`";
  } else if constexpr (std::is_same_v<T, bool>) {
    return v ? "`true`" : "`false`";
  } else if constexpr (std::is_floating_point_v<T>) {
    std::ostringstream out;
    out << v / static_cast<double>(scale);
    return out.str();
  } else {
    return std::to_string(static_cast<int64_t>(v) / scale);
  }
}

// Stores `v` (in the key's unit) into the field, checking its range.
template <typename T, typename V>
Error store(const Field<T>& f, BrokerConfig& c, V v) {
  if (v < static_cast<V>(f.min)) {
    return f.min == 0 ? "must not be negative" : "must be at least " + std::to_string(f.min);
  }
  if constexpr (std::is_floating_point_v<T>) {
    f.at(c) = static_cast<T>(v) * static_cast<T>(f.scale);
  } else {
    const auto most = static_cast<long double>(std::numeric_limits<T>::max()) / static_cast<long double>(f.scale);
    if (static_cast<long double>(v) > most) return "is too large";
    f.at(c) = static_cast<T>(v) * static_cast<T>(f.scale);
  }
  return std::nullopt;
}

template <typename T>
Setting bind(std::string key, std::string flag, Field<T> f, std::string meaning, std::string default_text = "") {
  Setting s;
  s.key = std::move(key);
  s.flag = std::move(flag);
  s.meaning = std::move(meaning);
  s.is_switch = std::is_same_v<T, bool>;
  if (default_text.empty()) {
    BrokerConfig defaults;
    default_text = show(f.at(defaults), f.scale);
  }
  s.default_text = std::move(default_text);
  s.from_toml = [f](BrokerConfig& c, const toml::node& n) -> Error {
    if constexpr (kIsText<T>) {
      auto v = n.value_exact<std::string>();
      if (!v) return "must be a string";
      f.at(c) = *v;
    } else if constexpr (std::is_same_v<T, bool>) {
      auto v = n.value_exact<bool>();
      if (!v) return "must be true or false";
      f.at(c) = *v;
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!n.is_number()) return "must be a number";
      return store(f, c, *n.value<double>());
    } else {
      auto v = n.value_exact<int64_t>();
      if (!v) return "must be a whole number";
      return store(f, c, *v);
    }
    return std::nullopt;
  };
  s.from_text = [f](BrokerConfig& c, const std::string& text) -> Error {
    if constexpr (kIsText<T>) {
      f.at(c) = text;
    } else if constexpr (std::is_same_v<T, bool>) {
      if (text != "true" && text != "false") return "must be true or false";
      f.at(c) = text == "true";
    } else if constexpr (std::is_floating_point_v<T>) {
      double v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) return "must be a number";
      return store(f, c, v);
    } else {
      int64_t v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size()) return "must be a whole number";
      return store(f, c, v);
    }
    return std::nullopt;
  };
  return s;
}

std::vector<Setting> make_settings() {
  using C = BrokerConfig;
  std::vector<Setting> all;
  all.push_back(bind<std::filesystem::path>("data", "--data", {[](C& c) -> auto& { return c.data; }},
                                            "the data folder"));
  all.push_back(bind<std::string>("listen", "--listen", {[](C& c) -> auto& { return c.listen; }},
                                  "ZeroMQ endpoint (CurveZMQ); port `*` = any free"));
  all.push_back(bind<std::string>("monitor", "--monitor", {[](C& c) -> auto& { return c.monitor; }},
                                  "monitoring HTTP `host:port`; port 0 = any free; `\"\"` = off"));
  all.push_back(bind<std::filesystem::path>(
      "monitor_admin_token_file", "--monitor-admin-token-file",
      {[](C& c) -> auto& { return c.monitor_admin_token_file; }},
      "a file (mode 0600, at least 16 characters) holding the token that authorises the admin verbs on the "
      "monitoring port (`lantoa subs rm`, `lantoa queues purge`, `lantoa sessions close`); unset: admin verbs "
      "are off", "unset"));
  all.push_back(bind<std::filesystem::path>("key", "--key", {[](C& c) -> auto& { return c.key; }},
                                            "the broker's key file (created, mode 0600, if missing)",
                                            "`<data>/broker.key`"));
  all.push_back(bind<std::filesystem::path>("trust_root", "--trust-root",
                                            {[](C& c) -> auto& { return c.trust_root; }},
                                            "the root authority's public key", "`<data>/trust-root.pub`"));
  all.push_back(bind<std::string>("member", "--member", {[](C& c) -> auto& { return c.server.member; }},
                                  "the broker's own id (informational)"));
  all.push_back(bind<std::filesystem::path>(
      "certificate", "--certificate", {[](C& c) -> auto& { return c.certificate; }},
      "this broker's certificate chain (from `lantoa cert issue --roles broker` for its `key`): needed for "
      "`[[links]]` and told to brokers that link to it; with it the broker serves only members in the namespace of the "
      "authority that certified it (and linked brokers)"));
  all.push_back(bind<std::filesystem::path>("certs", "--certs", {[](C& c) -> auto& { return c.certs; }},
                                            "known certificate chains (`*.cert`)", "`<data>/certs`"));
  all.push_back(bind<std::filesystem::path>(
      "revocations", "--revocations", {[](C& c) -> auto& { return c.revocations; }},
      "revocation lists (`*.crl`), applied at start and kept up to date from the bus", "`<data>/revocations`"));
  Setting strict = bind<bool>(
      "strict_admission", "--strict-admission", {[](C& c) -> auto& { return c.strict_admission; }},
      "admission by certificate: only transport keys of certificates in `certs` (or seen in an accepted Hello) "
      "may connect; put each member's `.cert` there (the folder is read again, at most once a second, when an "
      "unknown key knocks). `false` (`--open-admission`): any key may say Hello, where its chain is checked");
  strict.off_flag = "--open-admission";
  all.push_back(std::move(strict));
  all.push_back(bind<std::string>("log_level", "--log-level", {[](C& c) -> auto& { return c.log_level; }},
                                  "trace, debug, info, warn, error"));
  all.push_back(bind<unsigned>("verify_threads", "--verify-threads",
                               {[](C& c) -> auto& { return c.verify_threads; }, 1, 1},
                               "signature verification threads"));
  all.push_back(bind<uint32_t>("limits.max_frame_bytes", "",
                               {[](C& c) -> auto& { return c.server.max_frame_bytes; }, 1, 1024},
                               "largest frame a client may send, bytes", "1114112 (1 MiB + 64 KiB)"));
  all.push_back(bind<uint32_t>("limits.max_batch_events", "",
                               {[](C& c) -> auto& { return c.server.intake.max_batch_events; }, 1, 1},
                               "events per publish batch"));
  all.push_back(bind<size_t>("limits.max_event_bytes", "",
                             {[](C& c) -> auto& { return c.verifier.limits.max_signed_bytes; }, 1, 1},
                             "largest signed event, bytes", "1048576 (1 MiB)"));
  all.push_back(bind<int64_t>("limits.max_clock_skew_ms", "",
                              {[](C& c) -> auto& { return c.verifier.max_clock_skew_ms; }},
                              "how far in the future `created_ms` may be"));
  all.push_back(bind<double>(
      "limits.rate_events_per_s", "--rate-events", {[](C& c) -> auto& { return c.server.intake.rate.events_per_s; }},
      "per-member publish rate, events/s (0: none); a refused event is answered `RATE_LIMITED` with "
      "`retry_after_ms`, and until it comes back no later sequence of that member is taken (order is kept; the SDK "
      "and `lantoa publish` send again by themselves)"));
  all.push_back(bind<double>("limits.rate_burst_events", "--rate-burst",
                             {[](C& c) -> auto& { return c.server.intake.rate.burst_events; }},
                             "per-member burst allowance, events (0: one second's worth)"));
  all.push_back(bind<double>("limits.rate_bytes_per_s", "",
                             {[](C& c) -> auto& { return c.server.intake.rate.bytes_per_s; }},
                             "per-member byte rate (0: none)"));
  all.push_back(bind<double>("limits.rate_burst_bytes", "",
                             {[](C& c) -> auto& { return c.server.intake.rate.burst_bytes; }},
                             "per-member burst allowance, bytes"));
  all.push_back(bind<uint32_t>(
      "limits.max_subscriptions_per_member", "--max-subscriptions-per-member",
      {[](C& c) -> auto& { return c.writer.subscribe.max_per_member; }},
      "durable subscriptions one member may hold (0: no limit); one more is refused `QUOTA_EXCEEDED`, naming the "
      "count (remove unused ones with `Unsubscribe` + `remove`)"));
  all.push_back(bind<uint64_t>(
      "limits.max_queue_depth", "--max-queue-depth", {[](C& c) -> auto& { return c.max_queue_depth; }},
      "entries one subscription's queue may hold (0: no limit; a commune offline for days keeps everything up to "
      "it); beyond it events are not queued for that subscription: a warning in the log, "
      "`lantoa_events_not_queued_total`, and the owner told on its next Subscribe (`Subscribed.not_queued_from_seq`: "
      "remove the subscription and subscribe again from that sequence to fetch what is missing)"));
  all.push_back(bind<uint64_t>(
      "limits.verify_queue_kb", "", {[](C& c) -> auto& { return c.verifier.max_queued_bytes; }, 1024, 1},
      "KB of events waiting for signature checks; a batch that would go beyond is refused `OVERLOADED` with "
      "`retry_after_ms` (a batch is always taken when the queue is empty), and until the refused events come back no "
      "later sequence of that member is taken (order is kept, as for the rate limit)"));
  all.push_back(bind<uint64_t>("storage.map_size_mb", "--map-size-mb", {[](C& c) -> auto& { return c.map_size_mb; }, 1, 1},
                               "largest size of the LMDB store, MB"));
  all.push_back(bind<int64_t>("storage.retention_hours", "--retention-hours",
                              {[](C& c) -> auto& { return c.writer.retention.max_age_ms; }, 3'600'000},
                              "keep events no queue references this long (0: forever)"));
  all.push_back(bind<int64_t>(
      "storage.replay_horizon_days", "",
      {[](C& c) -> auto& { return c.replay_horizon_ms; }, 86'400'000, 1},
      "event ids are remembered this long after their event's creation, even once retention removed the event, "
      "so a replay is answered `DUPLICATE`; an event created longer ago is refused `EVENT_TOO_OLD`. Longer than "
      "the longest partition a link should survive"));
  all.push_back(bind<uint64_t>("storage.retention_mb", "",
                               {[](C& c) -> auto& { return c.writer.retention.max_bytes; }, 1 << 20},
                               "size limit of the event log, MB (0: none)"));
  all.push_back(bind<uint32_t>("delivery.default_credit", "",
                               {[](C& c) -> auto& { return c.writer.subscribe.credit; }, 1, 1},
                               "deliveries in flight per subscription, when its Subscribe names none"));
  all.push_back(bind<uint32_t>("delivery.ack_timeout_ms", "--ack-timeout-ms",
                               {[](C& c) -> auto& { return c.writer.subscribe.ack_timeout_ms; }, 1, 1},
                               "redeliver when not acknowledged in time (default of new subscriptions)"));
  all.push_back(bind<uint32_t>("delivery.heartbeat_ms", "--heartbeat-ms",
                               {[](C& c) -> auto& { return c.server.heartbeat_ms; }, 1, 1},
                               "heartbeat interval; silent clients are dropped after three"));
  all.push_back(bind<int64_t>("delivery.max_redelivery_delay_ms", "",
                              {[](C& c) -> auto& { return c.server.delivery.max_redelivery_delay_ms; }, 1, 1},
                              "longest delay between redeliveries"));
  all.push_back(bind<uint64_t>(
      "delivery.session_window_kb", "",
      {[](C& c) -> auto& { return c.server.delivery.session_window_bytes; }, 1024, 1},
      "deliveries sent to one connection and not yet acknowledged, in KB; beyond it that connection's "
      "subscriptions wait for acks, taking turns (bounds the broker's memory per connection)"));
  all.push_back(bind<uint64_t>(
      "delivery.link_window_kb", "", {[](C& c) -> auto& { return c.server.link_window_bytes; }, 1024, 1},
      "on a link to another broker (docs/federation.md), deliveries sent and not yet acknowledged, in KB: what "
      "may travel ahead of an ack, a heartbeat or an urgent event (64 KB: 10 s at 50 kbit/s)"));
  return all;
}

const Setting* find(std::string_view key) {
  for (const Setting& s : settings()) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

bool is_section(std::string_view name) {
  for (const Setting& s : settings()) {
    if (s.key.starts_with(std::string(name) + ".")) return true;
  }
  return false;
}

// Every key of `t` (under `prefix`) applied to `c`; each mistake added to `mistakes`.
// One [[links]] entry (docs/federation.md).
void read_link(const toml::node& node, size_t index, BrokerConfig& c, std::vector<std::string>& mistakes) {
  const std::string where = "[[links]] #" + std::to_string(index + 1);
  const toml::table* t = node.as_table();
  if (!t) return mistakes.push_back(where + " must be a table");
  LinkConfig link;
  auto text = [&](const char* key, std::string& out, bool required) {
    const toml::node* n = t->get(key);
    if (!n) {
      if (required) mistakes.push_back(where + ": " + key + " is required");
      return;
    }
    auto v = n->value_exact<std::string>();
    if (!v || v->empty()) return mistakes.push_back(where + ": " + key + " must be a non-empty string");
    out = *v;
  };
  auto filters = [&](const char* key, std::vector<std::string>& out) {
    const toml::node* n = t->get(key);
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) return mistakes.push_back(where + ": " + key + " must be a list of topic filters");
    for (const auto& f : *a) {
      auto v = f.value_exact<std::string>();
      if (!v) return mistakes.push_back(where + ": " + key + " must be a list of topic filters");
      if (Status st = validate_filter(*v); !st.ok()) {
        mistakes.push_back(where + ": " + key + ": " + st.message());
        continue;
      }
      out.push_back(*v);
    }
  };
  for (const auto& [k, v] : *t) {
    const std::string_view key = k.str();
    if (key != "name" && key != "endpoint" && key != "key" && key != "export" && key != "import" && key != "mirror") {
      mistakes.push_back(where + ": unknown setting " + std::string(key) +
                         " (name, endpoint, key, export, import, mirror)");
    }
  }
  text("name", link.name, true);
  text("endpoint", link.endpoint, true);
  text("key", link.key, true);
  filters("export", link.exports);
  filters("import", link.imports);
  if (const toml::node* m = t->get("mirror")) {
    if (auto v = m->value_exact<bool>()) link.mirror = *v;
    else mistakes.push_back(where + ": mirror must be true or false");
  }
  if (!link.name.empty() && !is_subscription_name(link.name)) {
    mistakes.push_back(where + ": name must be 1..64 characters of a-z, 0-9, '-', '_'");
  }
  for (const auto& other : c.links) {
    if (!link.name.empty() && other.name == link.name) mistakes.push_back(where + ": a second link named " + link.name);
  }
  c.links.push_back(std::move(link));
}

void read_table(const toml::table& t, const std::string& prefix, BrokerConfig& c, std::vector<std::string>& mistakes) {
  for (const auto& [k, node] : t) {
    const std::string key = prefix + std::string(k.str());
    if (key == "links") {
      const toml::array* a = node.as_array();
      if (!a) {
        mistakes.push_back("links must be written [[links]] (a list of tables)");
        continue;
      }
      for (size_t i = 0; i < a->size(); ++i) read_link(*a->get(i), i, c, mistakes);
      continue;
    }
    if (const Setting* s = find(key)) {
      if (auto why = s->from_toml(c, node)) mistakes.push_back(key + " " + *why);
    } else if (node.is_table() && is_section(key)) {
      read_table(*node.as_table(), key + ".", c, mistakes);
    } else {
      mistakes.push_back("unknown setting " + key + (is_section(key) ? " (a section: write [" + key + "])" : ""));
    }
  }
}

}  // namespace

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = make_settings();
  return all;
}

std::string settings_table() {
  std::ostringstream out;
  out << "| TOML key | flag | default | meaning |\n| --- | --- | --- | --- |\n";
  for (const Setting& s : settings()) {
    const size_t dot = s.key.rfind('.');
    const std::string key =
        dot == std::string::npos ? "`" + s.key + "`" : "`[" + s.key.substr(0, dot) + "] " + s.key.substr(dot + 1) + "`";
    std::string flags = s.flag.empty() ? "" : "`" + s.flag + "`";
    if (!s.off_flag.empty()) flags += ", `" + s.off_flag + "`";
    out << "| " << key << " | " << flags << " | " << s.default_text << " | " << s.meaning << " |\n";
  }
  return out.str();
}

Result<BrokerConfig> BrokerConfig::from_toml(const std::filesystem::path& path) {
  auto parsed = toml_fields::parse_file(path);
  if (!parsed) return parsed.status();
  BrokerConfig c;
  std::vector<std::string> mistakes;
  read_table(*parsed, "", c, mistakes);
  if (mistakes.empty()) return c;
  std::string message = path.string() + ": ";
  if (mistakes.size() == 1) return Status(E::INVALID_ARGUMENT, message + mistakes[0]);
  message += std::to_string(mistakes.size()) + " mistakes:";
  for (const auto& m : mistakes) message += "\n  - " + m;
  return Status(E::INVALID_ARGUMENT, message);
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
