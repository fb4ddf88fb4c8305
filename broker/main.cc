// lantoa-broker: the process edge. Flags and config file, logging, signals.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>

#include "broker.h"
#include "store/backup.h"
#include "store/check.h"

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

// The data folder a subcommand works on: --data, else the config file's.
std::filesystem::path data_folder(const std::string& data, const std::string& config_file) {
  if (!data.empty()) return data;
  if (!config_file.empty()) {
    auto loaded = lantoa::broker::BrokerConfig::from_toml(config_file);
    if (loaded) return loaded->data;
    std::cerr << "lantoa-broker: " << loaded.status().to_string() << "\n";
    std::exit(2);
  }
  return lantoa::broker::BrokerConfig{}.data;
}

int run_check(const std::filesystem::path& dir, bool no_signatures) {
  lantoa::broker::CheckOptions options;
  options.verify_signatures = !no_signatures;
  auto checked = lantoa::broker::check_store_in_child(dir, options);  // a damaged page ends the child, not us
  if (!checked) {
    std::cerr << "lantoa-broker check: " << checked.status().to_string() << "\n";
    return 2;
  }
  using Outcome = lantoa::broker::IsolatedCheck::Outcome;
  if (checked->outcome == Outcome::kUnreadable || checked->outcome == Outcome::kNoStore) {
    std::cerr << "lantoa-broker check: " << checked->text << "\n";
    return 2;
  }
  std::cout << "checked " << dir.string() << ": " << checked->text;
  return checked->outcome == Outcome::kClean ? 0 : 1;
}

int run_backup(const std::filesystem::path& dir, const std::filesystem::path& out) {
  auto info = lantoa::broker::backup_store(dir, out);
  if (!info) {
    std::cerr << "lantoa-broker backup: " << info.status().to_string() << "\n";
    return 1;
  }
  std::cout << "copied store " << info->store_id << " (broker sequences up to " << info->highest_seq << ", "
            << info->bytes << " bytes) to " << (out / "data.mdb").string() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lantoa-broker: verifies, stores and delivers signed news events"};
  app.set_version_flag("--version", "lantoa-broker " LANTOA_VERSION);
  app.require_subcommand(0, 1);
  std::string config_file, data, listen, monitor, key, trust_root, log_level, member;
  uint64_t map_size_mb = 0;
  unsigned verify_threads = 0, heartbeat_ms = 0, ack_timeout_ms = 0;
  int64_t retention_hours = -1, retention_ms = -1;
  double rate_events = -1, rate_burst = -1;
  int64_t max_subs = -1, max_queue_depth = -1;
  std::string certs, revocations;
  bool strict_admission = false, open_admission = false;
  app.add_option("--config", config_file, "TOML config file")->check(CLI::ExistingFile);
  app.add_option("--data", data, "data folder (LMDB store, keys, ready file)");
  app.add_option("--listen", listen, "ZeroMQ endpoint, e.g. tcp://127.0.0.1:7450 (port * = any free)");
  app.add_option("--monitor", monitor, "monitoring HTTP host:port (port 0 = any free; empty = off)");
  app.add_option("--key", key, "broker key file (created, mode 0600, if missing)");
  app.add_option("--trust-root", trust_root, "public key file of the root authority");
  app.add_option("--member", member, "the broker's own id");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  app.add_option("--map-size-mb", map_size_mb, "largest size of the LMDB store");
  app.add_option("--verify-threads", verify_threads, "signature verification threads");
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval; silent clients are dropped after 3");
  app.add_option("--ack-timeout-ms", ack_timeout_ms, "default ack timeout of new subscriptions");
  app.add_option("--retention-hours", retention_hours, "keep unreferenced events this long (0 = forever)");
  app.add_option("--retention-ms", retention_ms, "the same in milliseconds (for tests)")->group("");
  app.add_option("--rate-events", rate_events, "per-member publish limit, events/s (0 = none)");
  app.add_option("--rate-burst", rate_burst, "per-member burst allowance, events");
  app.add_option("--max-queue-depth", max_queue_depth, "entries one subscription's queue may hold (0 = no limit)");
  app.add_option("--max-subscriptions-per-member", max_subs, "durable subscriptions one member may hold (0 = no limit)");
  app.add_option("--certs", certs, "folder of known certificate chains (*.cert)");
  app.add_option("--revocations", revocations, "folder of revocation lists (*.crl), applied at start");
  app.add_flag("--strict-admission", strict_admission,
               "refuse transport keys of certificates not in --certs (the default)");
  app.add_flag("--open-admission", open_admission,
               "let any transport key say Hello (its chain is checked there); for tests and closed networks");
  bool accept_store_change = false;
  app.add_flag("--accept-store-change", accept_store_change,
               "start on a store the folder's manifest does not vouch for (missing, emptied, replaced or restored "
               "from an older copy); broker sequences continue after the highest ever handed out");

  std::string sub_data, sub_config, backup_out;
  bool no_signatures = false;
  CLI::App* check = app.add_subcommand("check", "read the whole store and report every damaged record (exit 1)");
  check->add_option("--data", sub_data, "data folder (default: the config file's, else lantoa-data)");
  check->add_option("--config", sub_config, "TOML config file naming the data folder")->check(CLI::ExistingFile);
  check->add_flag("--no-signatures", no_signatures, "skip verifying each event's signature (faster)");
  CLI::App* backup = app.add_subcommand("backup", "copy the store, consistently, while the broker runs");
  backup->add_option("out", backup_out, "folder to write data.mdb and backup.json into (new or empty)")->required();
  backup->add_option("--data", sub_data, "data folder (default: the config file's, else lantoa-data)");
  backup->add_option("--config", sub_config, "TOML config file naming the data folder")->check(CLI::ExistingFile);
  CLI11_PARSE(app, argc, argv);
  // `lantoa-broker --data X check` means the same as `lantoa-broker check --data X`.
  if (sub_data.empty()) sub_data = data;
  if (sub_config.empty()) sub_config = config_file;
  if (check->parsed()) return run_check(data_folder(sub_data, sub_config), no_signatures);
  if (backup->parsed()) return run_backup(data_folder(sub_data, sub_config), backup_out);

  lantoa::broker::BrokerConfig config;
  if (!config_file.empty()) {
    auto loaded = lantoa::broker::BrokerConfig::from_toml(config_file);
    if (!loaded) {
      std::cerr << "lantoa-broker: " << loaded.status().to_string() << "\n";
      return 2;
    }
    config = std::move(*loaded);
  }
  if (!data.empty()) config.data = data;
  if (!listen.empty()) config.listen = listen;
  if (app.count("--monitor")) config.monitor = monitor;
  if (!key.empty()) config.key = key;
  if (!trust_root.empty()) config.trust_root = trust_root;
  if (!member.empty()) config.server.member = member;
  if (!log_level.empty()) config.log_level = log_level;
  if (map_size_mb) config.map_size_mb = map_size_mb;
  if (verify_threads) config.verify_threads = verify_threads;
  if (heartbeat_ms) config.server.heartbeat_ms = heartbeat_ms;
  if (ack_timeout_ms) config.writer.subscribe.ack_timeout_ms = ack_timeout_ms;
  if (retention_hours >= 0) config.writer.retention.max_age_ms = retention_hours * 3'600'000;
  if (retention_ms >= 0) config.writer.retention.max_age_ms = retention_ms;
  if (rate_events >= 0) config.server.intake.rate.events_per_s = rate_events;
  if (!certs.empty()) config.certs = certs;
  if (!revocations.empty()) config.revocations = revocations;
  if (strict_admission && open_admission) {
    std::cerr << "lantoa-broker: --strict-admission and --open-admission contradict each other\n";
    return 2;
  }
  if (strict_admission) config.strict_admission = true;
  if (open_admission) config.strict_admission = false;
  if (rate_burst >= 0) config.server.intake.rate.burst_events = rate_burst;
  if (max_subs >= 0) config.writer.subscribe.max_per_member = static_cast<uint32_t>(max_subs);
  if (max_queue_depth >= 0) config.max_queue_depth = static_cast<uint64_t>(max_queue_depth);
  config.accept_store_change = accept_store_change;

  auto level = spdlog::level::from_str(config.log_level);
  if (level == spdlog::level::off && config.log_level != "off") {
    std::cerr << "lantoa-broker: unknown log level \"" << config.log_level << "\"\n";
    return 2;
  }
  spdlog::set_level(level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  // Every portal is a TCP connection, a descriptor each: the soft open-file
  // limit (often 1,024) goes up to the hard one, and the figure is logged.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    if (files.rlim_cur < files.rlim_max) {
      rlimit raised = files;
      raised.rlim_cur = files.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) files = raised;
    }
    spdlog::info("open-file limit {} (about that many connections)", files.rlim_cur);
    if (files.rlim_cur < 4096) {
      spdlog::warn("open-file limit {}: the broker can hold fewer than that many connections (raise the hard limit, "
                   "e.g. LimitNOFILE= in the systemd unit)",
                   files.rlim_cur);
    }
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    lantoa::Status s = lantoa::broker::run_broker(std::move(config), g_stop);
    if (!s.ok()) {
      spdlog::error("{}", s.to_string());
      return 1;
    }
  } catch (const std::exception& e) {
    spdlog::critical("unexpected error: {}", e.what());
    return 1;
  }
  return 0;
}
