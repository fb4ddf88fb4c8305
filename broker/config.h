// BrokerConfig: every setting of lantoa-broker, from a TOML file and flags.
#pragma once

#include <cstdint>
#include <filesystem>
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
  std::filesystem::path key;                     // default: <data>/broker.key (created if missing)
  std::filesystem::path trust_root;              // default: <data>/trust-root.pub
  std::filesystem::path certs;                   // known certificates (*.cert); default: <data>/certs
  std::filesystem::path revocations;             // revocation lists (*.crl); default: <data>/revocations
  std::filesystem::path restrictions;            // namespace restrictions (*.json); default: <data>/restrictions
  // Admission by certificate (the default): only transport keys of
  // certificates in `certs` (or seen in a Hello before) may connect, so a
  // stranger cannot make the broker do any work. false: any key may say
  // Hello, where its chain is checked.
  bool strict_admission = true;
  std::string log_level = "info";
  uint64_t map_size_mb = 4096;
  unsigned verify_threads = 2;
  uint64_t max_queue_depth = 1'000'000;  // entries per subscription queue (0: no limit); see Store
  // --accept-store-change only (never in a file: it is a one-time decision):
  // start on a store the manifest does not vouch for (store/manifest.h).
  bool accept_store_change = false;
  ServerOptions server;
  WriterOptions writer;
  VerifierOptions verifier;

  // Reads a TOML file; unknown keys are errors (a typo must not be silently
  // ignored). INVALID_ARGUMENT names the key.
  static Result<BrokerConfig> from_toml(const std::filesystem::path& path);
  // Fills defaults that depend on other settings (key and root paths).
  void finish();
};

}  // namespace lantoa::broker
