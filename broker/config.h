// BrokerConfig: every setting of lantoa-broker, from a TOML file and flags.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <toml++/toml.h>
#include <vector>
#include <string>

#include "ingest/verifier.h"
#include "lantoa/status.h"
#include "session/server.h"
#include "store/writer.h"

namespace lantoa::broker {

struct BrokerConfig {
  std::filesystem::path data = "lantoa-data";
  std::string listen = "tcp://127.0.0.1:7450";  // "tcp://127.0.0.1:*" picks a free port
  std::string monitor = "127.0.0.1:7451";        // host:port; port 0 picks a free one; "" disables
  std::filesystem::path monitor_admin_token_file;  // the admin verbs' token (empty: admin verbs off)
  std::filesystem::path key;                     // default: <data>/broker.key (created if missing)
  std::filesystem::path trust_root;              // default: <data>/trust-root.pub
  std::filesystem::path certs;                   // known certificates (*.cert); default: <data>/certs
  std::filesystem::path revocations;             // revocation lists (*.crl); default: <data>/revocations
  std::filesystem::path restrictions;            // namespace restrictions (*.json); default: <data>/restrictions
  std::filesystem::path certificate;             // this broker's chain (role broker), for links; "": none
  std::vector<LinkConfig> links;                 // [[links]]: the links this broker dials
  // Admission by certificate (the default): only transport keys of
  // certificates in `certs` (or seen in a Hello before) may connect, so a
  // stranger cannot make the broker do any work. false: any key may say
  // Hello, where its chain is checked.
  bool strict_admission = true;
  std::string log_level = "info";
  uint64_t map_size_mb = 4096;
  unsigned verify_threads = 2;
  uint64_t max_queue_depth = 1'000'000;  // entries per subscription queue (0: no limit); see Store
  int64_t replay_horizon_ms = Store::kDefaultReplayHorizonMs;  // see Store::set_replay_horizon_ms
  // --accept-store-change only (never in a file: it is a one-time decision):
  // start on a store the manifest does not vouch for (store/manifest.h).
  bool accept_store_change = false;
  ServerOptions server;
  WriterOptions writer;
  VerifierOptions verifier;

  // Reads a TOML file. Every mistake (an unknown key: a typo must not be
  // silently ignored; a wrong type; a value out of range) is reported, all
  // at once, in one INVALID_ARGUMENT that names each key.
  static Result<BrokerConfig> from_toml(const std::filesystem::path& path);
  // Fills defaults that depend on other settings (key and root paths).
  void finish();
};

// One setting of lantoa-broker. The table of them (settings()) is the one
// place a setting is declared: it drives the command-line flags (main.cc),
// the TOML reader (BrokerConfig::from_toml) and the table in
// docs/operating-a-broker.md (`lantoa-broker settings` prints it; a test
// keeps the two equal).
struct Setting {
  std::string key;           // in the TOML file: "verify_threads", "limits.max_frame_bytes"
  std::string flag;          // "--verify-threads"; empty: in the file only
  std::string off_flag;      // a switch's opposite ("--open-admission"), if any
  std::string meaning;
  std::string default_text;  // the default, as the docs show it
  bool is_switch = false;    // true/false; its flag takes no value
  // Stores a value from the file / from a flag's text; the error says what
  // is wrong with it (the caller adds where it came from).
  std::function<std::optional<std::string>(BrokerConfig&, const toml::node&)> from_toml;
  std::function<std::optional<std::string>(BrokerConfig&, const std::string&)> from_text;
};

const std::vector<Setting>& settings();

// The settings as the Markdown table of docs/operating-a-broker.md.
std::string settings_table();

}  // namespace lantoa::broker
