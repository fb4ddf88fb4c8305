// lantoa-broker: the process edge. Flags and config file, logging, signals.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>

#include "broker.h"
#include "lantoa/internal/file_util.h"
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

// --config's check: a file this process cannot read is named as such
// ("permission denied for user ..."), not as missing.
std::string readable_file(const std::string& path) { return lantoa::internal::why_unreadable(path); }

int main(int argc, char** argv) {
  CLI::App app{"lantoa-broker: verifies, stores and delivers signed news events"};
  app.set_version_flag("--version", "lantoa-broker " LANTOA_VERSION);
  app.require_subcommand(0, 1);
  std::string config_file;
  app.add_option("--config", config_file, "TOML config file (flags given too override it)")->check(readable_file);
  // Every setting's flag, from the one table (config.cc).
  const auto& table = lantoa::broker::settings();
  std::vector<std::string> values(table.size());
  std::vector<bool> on(table.size()), off(table.size());
  for (size_t i = 0; i < table.size(); ++i) {
    const auto& s = table[i];
    if (s.flag.empty()) continue;
    if (s.is_switch) {
      app.add_flag_callback(s.flag, [&on, i] { on[i] = true; }, s.meaning);
      if (!s.off_flag.empty()) app.add_flag_callback(s.off_flag, [&off, i] { off[i] = true; }, "the opposite of " + s.flag);
    } else {
      app.add_option(s.flag, values[i], s.meaning);
    }
  }
  int64_t retention_ms = -1;
  app.add_option("--retention-ms", retention_ms, "storage.retention_hours in milliseconds (for tests)")->group("");
  bool accept_store_change = false;
  app.add_flag("--accept-store-change", accept_store_change,
               "start on a store the folder's manifest does not vouch for (missing, emptied, replaced or restored "
               "from an older copy); broker sequences continue after the highest ever handed out");

  std::string sub_data, sub_config, backup_out;
  bool no_signatures = false;
  CLI::App* check = app.add_subcommand("check", "read the whole store and report every damaged record (exit 1)");
  check->add_option("--data", sub_data, "data folder (default: the config file's, else lantoa-data)");
  check->add_option("--config", sub_config, "TOML config file naming the data folder")->check(readable_file);
  check->add_flag("--no-signatures", no_signatures, "skip verifying each event's signature (faster)");
  CLI::App* backup = app.add_subcommand("backup", "copy the store, consistently, while the broker runs");
  backup->add_option("out", backup_out, "folder to write data.mdb and backup.json into (new or empty)")->required();
  backup->add_option("--data", sub_data, "data folder (default: the config file's, else lantoa-data)");
  backup->add_option("--config", sub_config, "TOML config file naming the data folder")->check(readable_file);
  CLI::App* show_settings = app.add_subcommand("settings", "print every setting (TOML key, flag, default) as a Markdown table");
  CLI11_PARSE(app, argc, argv);
  if (show_settings->parsed()) {
    std::cout << lantoa::broker::settings_table();
    return 0;
  }
  // `lantoa-broker --data X check` means the same as `lantoa-broker check --data X`.
  if (sub_data.empty()) {
    for (size_t i = 0; i < table.size(); ++i) {
      if (table[i].flag == "--data") sub_data = values[i];
    }
  }
  if (sub_config.empty()) sub_config = config_file;
  if (check->parsed()) return run_check(data_folder(sub_data, sub_config), no_signatures);
  if (backup->parsed()) return run_backup(data_folder(sub_data, sub_config), backup_out);

  // The file, then the flags over it; every mistake of both is reported at once.
  lantoa::broker::BrokerConfig config;
  std::vector<std::string> mistakes;
  if (!config_file.empty()) {
    auto loaded = lantoa::broker::BrokerConfig::from_toml(config_file);
    if (loaded) config = std::move(*loaded);
    else mistakes.push_back(loaded.status().to_string());
  }
  for (size_t i = 0; i < table.size(); ++i) {
    const auto& s = table[i];
    if (s.flag.empty()) continue;
    if (on[i] && off[i]) mistakes.push_back(s.flag + " and " + s.off_flag + " contradict each other");
    std::optional<std::string> why;
    if (on[i]) why = s.from_text(config, "true");
    if (off[i]) why = s.from_text(config, "false");
    if (!s.is_switch && app.count(s.flag)) why = s.from_text(config, values[i]);
    if (why) mistakes.push_back(s.flag + (s.is_switch ? "" : " " + values[i]) + ": " + *why);
  }
  if (retention_ms >= 0) config.writer.retention.max_age_ms = retention_ms;
  auto level = spdlog::level::from_str(config.log_level);
  if (level == spdlog::level::off && config.log_level != "off") {
    mistakes.push_back("unknown log level \"" + config.log_level + "\" (trace, debug, info, warn, error, off)");
  }
  if (!mistakes.empty()) {
    for (const auto& m : mistakes) std::cerr << "lantoa-broker: " << m << "\n";
    return 2;
  }
  config.accept_store_change = accept_store_change;

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
