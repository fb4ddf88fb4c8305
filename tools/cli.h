// Shared conventions of the `lantoa` command line: exit codes, how errors
// are printed, and how each verb registers itself.
//
// Exit codes: 0 ok, 1 error (the cause on stderr, with its code), 2 usage.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <string>

#include "lantoa/connection.h"
#include "lantoa/keys.h"
#include "lantoa/status.h"
#include "lantoa/trust.h"

namespace lantoa::cli {

inline constexpr int kOk = 0;
inline constexpr int kError = 1;
inline constexpr int kUsage = 2;

// Prints "lantoa: CODE: message" on stderr and returns kError.
inline int fail(const Status& s) {
  std::cerr << "lantoa: " << s.to_string() << "\n";
  return kError;
}

// Each verb adds its subcommand to the app and sets `run` to what it does.
using Runner = std::function<int()>;
void add_keygen(CLI::App& app, Runner& run);
void add_cert(CLI::App& app, Runner& run);
void add_publish(CLI::App& app, Runner& run);
void add_tail(CLI::App& app, Runner& run);
void add_replay(CLI::App& app, Runner& run);
void add_review(CLI::App& app, Runner& run);  // through a node's API
void add_stats(CLI::App& app, Runner& run);  // also top, and the admin verbs below
// trace; subs rm, queues purge (under the views `subs` and `queues`); sessions close.
void add_admin(CLI::App& subs, CLI::App& queues, CLI::App& app, Runner& run);

// How the network verbs reach the broker and who they are. Every option can
// also come from the environment (LANTOA_BROKER, LANTOA_BROKER_KEY,
// LANTOA_KEY, LANTOA_CHAIN, LANTOA_ROOT) or the --config file: TOML with a
// section per verb and the long option names as keys, e.g.
//   [tail]
//   broker-key = "/var/lib/lantoa/broker.ready.json"
//   key = "vn.qn.key"
struct NetworkOptions {
  std::string broker = kDefaultBrokerEndpoint;
  std::string broker_key;  // base64url, or the path of a broker.ready.json
  std::string key;         // the member's secret key file
  std::string chain;       // its certificate chain file
  std::string root;        // the root authority's public key file (to verify)
  int timeout_ms = 10000;

  void add_to(CLI::App& cmd, bool needs_root);
};

// The loaded identity and broker address.
struct Network {
  BrokerAddress broker;
  MemberKey key;
  v1::CertificateChain chain;
  RootKey root;
};
Result<Network> load_network(const NetworkOptions& o, bool needs_root);

}  // namespace lantoa::cli
