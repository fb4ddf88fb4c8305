// Options and loading shared by the verbs that talk to a broker.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.h"
#include "lantoa/encoding.h"

namespace lantoa::cli {

void NetworkOptions::add_to(CLI::App& cmd, bool needs_root) {
  cmd.configurable();  // a [publish], [tail]... section of the --config file fills these
  cmd.add_option("--broker", broker, "broker endpoint")->envname("LANTOA_BROKER")->capture_default_str();
  cmd.add_option("--broker-key", broker_key, "the broker's transport key (base64url) or its broker.ready.json")
      ->envname("LANTOA_BROKER_KEY");
  cmd.add_option("--key", key, "your secret key file")->envname("LANTOA_KEY");
  cmd.add_option("--chain", chain, "your certificate chain file")->envname("LANTOA_CHAIN");
  if (needs_root) cmd.add_option("--root", root, "the root authority's public key file")->envname("LANTOA_ROOT");
  cmd.add_option("--timeout-ms", timeout_ms, "how long to wait for the broker")->capture_default_str();
}

Result<Network> load_network(const NetworkOptions& o, bool needs_root) {
  auto need = [](const std::string& v, const char* flag) -> Status {
    if (v.empty()) {
      return Status(v1::Error::INVALID_ARGUMENT, std::string(flag) + " is required (or its LANTOA_ variable)");
    }
    return Status::Ok();
  };
  LANTOA_RETURN_IF_ERROR(need(o.broker_key, "--broker-key"));
  LANTOA_RETURN_IF_ERROR(need(o.key, "--key"));
  LANTOA_RETURN_IF_ERROR(need(o.chain, "--chain"));
  if (needs_root) LANTOA_RETURN_IF_ERROR(need(o.root, "--root"));
  std::string endpoint = o.broker;
  std::optional<std::string> transport = from_base64url(o.broker_key);
  if (!transport) {  // a ready file written by lantoa-broker
    std::ifstream in(o.broker_key);
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.contains("transport_key")) {
      return Status(v1::Error::INVALID_ARGUMENT,
                    "--broker-key is neither a base64url key nor a readable broker.ready.json: " + o.broker_key);
    }
    transport = from_base64url(j["transport_key"].get<std::string>());
    if (j.contains("endpoint") && o.broker == "tcp://127.0.0.1:7450") endpoint = j["endpoint"];
  }
  if (!transport || transport->size() != 32) {
    return Status(v1::Error::INVALID_ARGUMENT, "the broker's transport key must be 32 bytes");
  }
  auto key = MemberKey::load(o.key);
  if (!key) return key.status();
  auto chain = load_chain(o.chain);
  if (!chain) return chain.status();
  RootKey root;
  if (needs_root) {
    auto r = PublicKeys::load(o.root);
    if (!r) return r.status();
    root = {r->member, r->sign};
  }
  return Network{{endpoint, *transport}, std::move(*key), std::move(*chain), std::move(root)};
}

}  // namespace lantoa::cli
