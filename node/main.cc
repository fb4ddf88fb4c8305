// lantoa-node: the daemon beside a portal's CMS. See node/README.md.
#include <curl/curl.h>
#include <signal.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "node.h"

int main(int argc, char** argv) {
  CLI::App app("lantoa-node: publish a portal's news to a Lantoa network and hand received news to its CMS");
  app.set_version_flag("--version", "lantoa-node " LANTOA_VERSION);
  std::string config_file, log_level = "info";
  app.add_option("--config", config_file, "the node's TOML configuration")->required();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    std::cerr << "lantoa-node: cannot initialise libsodium / libcurl\n";
    return 1;
  }
  auto config = lantoa::node::load_node_config(config_file);
  if (!config) {
    std::cerr << "lantoa-node: " << config_file << ": " << config.status().to_string() << "\n";
    return 2;
  }
  // Every thread inherits the blocked signals; only this one waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  auto node = lantoa::node::Node::start(std::move(*config));
  if (!node) {
    std::cerr << "lantoa-node: " << node.status().to_string() << "\n";
    return 1;
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("signal {}: stopping", sig);
  (*node)->stop();
  node->reset();
  curl_global_cleanup();
  spdlog::info("stopped");
  return 0;
}
