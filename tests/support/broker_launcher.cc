#include "support/broker_launcher.h"

#include <algorithm>

#include "lantoa/encoding.h"

namespace lantoa::testing {
namespace {

std::vector<std::string> broker_args(const std::filesystem::path& binary, const std::filesystem::path& data,
                                     const std::vector<std::string>& extra) {
  // Tests certify members as they go, so their brokers let any key say Hello
  // (the default, admission by certificate, is tested on its own).
  std::vector<std::string> args = {binary.string(), "--data",    data.string(), "--listen",
                                   "tcp://127.0.0.1:*", "--monitor", "127.0.0.1:0"};
  if (std::find(extra.begin(), extra.end(), "--strict-admission") == extra.end()) args.push_back("--open-admission");
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

BrokerLauncher::BrokerLauncher(std::filesystem::path binary, std::filesystem::path data, std::filesystem::path log,
                               std::vector<std::string> extra_args)
    : process_(broker_args(binary, data, extra_args), data / "broker.ready.json", std::move(log)) {}

void BrokerLauncher::set_listen(const std::string& endpoint) {
  auto& args = process_.args();
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--listen") args[i + 1] = endpoint;
  }
}

Result<BrokerInfo> BrokerLauncher::start(std::chrono::milliseconds timeout) {
  auto info = process_.start("transport_key", timeout);
  if (!info) return info.status();
  BrokerInfo out;
  out.address.endpoint = (*info)["endpoint"];
  out.address.transport_key = from_base64url((*info)["transport_key"].get<std::string>()).value_or("");
  out.monitor_url = (*info)["monitor"];
  return out;
}

}  // namespace lantoa::testing
