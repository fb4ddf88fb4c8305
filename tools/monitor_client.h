// The broker's monitoring port as the `lantoa` verbs use it: the figures
// (/api/v1/stats), the spread of an event, and the admin verbs with the
// admin token. Shared by stats.cc (views, top) and admin.cc (trace, rm, purge).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "lantoa/status.h"

namespace lantoa::cli {

struct MonitorOptions {
  std::string monitor = "http://127.0.0.1:7451";
  // Admin verbs only: the broker's admin token, or a member key and chain
  // (an operator or authority certificate) to sign the request with.
  std::string admin_token_file;
  std::string key, chain;
  // Adds --monitor (LANTOA_MONITOR: an address, or the path of a broker.ready.json),
  // and, with `admin`, --admin-token-file (LANTOA_ADMIN_TOKEN_FILE) or --key and
  // --chain (LANTOA_KEY, LANTOA_CHAIN).
  void add_to(CLI::App& cmd, bool admin);
};

// The monitoring address: given as http://host:port, host:port, or the
// path of the broker's broker.ready.json (its "monitor").
Result<std::string> monitor_url(const std::string& given);

// GET `path`, expecting JSON; an error answer's {"error": {...}} becomes the Status.
Result<nlohmann::json> monitor_get(const MonitorOptions& o, const std::string& path);
// An admin verb: `method` (DELETE or POST) on `path`, with the admin token
// (Authorization: Bearer) or signed by the member's key (X-Lantoa-Chain,
// X-Lantoa-Time, X-Lantoa-Signature over "METHOD PATH\nTIME_MS").
Result<nlohmann::json> monitor_admin(const MonitorOptions& o, const std::string& method, const std::string& path);

}  // namespace lantoa::cli
