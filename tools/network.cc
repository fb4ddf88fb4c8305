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
  // The default endpoint gives way to the one in a broker.ready.json.
  auto broker = resolve_broker(o.broker == kDefaultBrokerEndpoint ? "" : o.broker, o.broker_key);
  if (!broker) return broker.status();
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
  return Network{std::move(*broker), std::move(*key), std::move(*chain), std::move(root)};
}

}  // namespace lantoa::cli
