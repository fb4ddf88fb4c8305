#include "monitor_client.h"

#include <httplib.h>

#include <filesystem>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/internal/file_util.h"
#include "lantoa/keys.h"
#include "lantoa/trust.h"

namespace lantoa::cli {
namespace {

using E = v1::Error;

Code code_from_name(const std::string& name) {
  v1::Error::Code c;
  return v1::Error::Code_Parse(name, &c) ? c : E::INTERNAL;
}

Result<nlohmann::json> answer(const std::string& url, const httplib::Result& res) {
  if (!res) return Status(E::UNAVAILABLE, "no answer from the monitoring address " + url);
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status >= 200 && res->status < 300) {
    if (j.is_discarded()) return Status(E::INVALID_ARGUMENT, url + " did not answer JSON");
    return j;
  }
  if (!j.is_discarded() && j.contains("error") && j["error"].is_object()) {
    return Status(code_from_name(j["error"].value("code", "")), j["error"].value("message", ""));
  }
  return Status(E::UNAVAILABLE, url + " answered HTTP " + std::to_string(res->status));
}

}  // namespace

void MonitorOptions::add_to(CLI::App& cmd, bool admin) {
  cmd.add_option("--monitor", monitor,
                 "the broker's monitoring address (http://host:port), or the path of its broker.ready.json")
      ->envname("LANTOA_MONITOR")
      ->capture_default_str();
  if (admin) {
    cmd.add_option("--admin-token-file", admin_token_file,
                   "the file holding the broker's admin token (its monitor_admin_token_file)")
        ->envname("LANTOA_ADMIN_TOKEN_FILE");
    cmd.add_option("--key", key, "or: your secret key file, to sign the request (an operator or authority)")
        ->envname("LANTOA_KEY");
    cmd.add_option("--chain", chain, "and your certificate chain file")->envname("LANTOA_CHAIN");
  }
}

Result<std::string> monitor_url(const std::string& given) {
  std::error_code ec;
  if (!given.starts_with("http") && std::filesystem::is_regular_file(given, ec)) {
    auto f = internal::read_file(given, 1 << 16);
    if (!f) return f.status();
    auto j = nlohmann::json::parse(f->data, nullptr, false);
    if (j.is_discarded() || !j.contains("monitor") || !j["monitor"].is_string() || j["monitor"].get<std::string>().empty()) {
      return Status(E::INVALID_ARGUMENT, given + " has no \"monitor\" address (is monitoring off on that broker?)");
    }
    return j["monitor"].get<std::string>();
  }
  return given.find("://") == std::string::npos ? "http://" + given : given;
}

Result<nlohmann::json> monitor_get(const MonitorOptions& o, const std::string& path) {
  auto url = monitor_url(o.monitor);
  if (!url) return url.status();
  httplib::Client http(*url);
  http.set_connection_timeout(5);
  http.set_read_timeout(15);
  return answer(*url, http.Get(path));
}

Result<nlohmann::json> monitor_admin(const MonitorOptions& o, const std::string& method, const std::string& path) {
  auto url = monitor_url(o.monitor);
  if (!url) return url.status();
  httplib::Client http(*url);
  http.set_connection_timeout(5);
  http.set_read_timeout(15);
  httplib::Headers headers;
  if (!o.admin_token_file.empty()) {
    auto token = internal::read_secret_file(o.admin_token_file, "admin token");
    if (!token) return token.status();
    http.set_bearer_token_auth(*token);
  } else if (!o.key.empty() && !o.chain.empty()) {
    auto key = MemberKey::load(o.key);
    if (!key) return key.status();
    auto chain = load_chain(o.chain);
    if (!chain) return chain.status();
    // The request is good for this broker only: it names the broker's key.
    auto stats = answer(*url, http.Get("/api/v1/stats"));
    if (!stats) return stats.status();
    const std::string broker_key = stats->value("transport_key", "");
    const std::string time = std::to_string(unix_now_ms());
    headers.emplace("X-Lantoa-Chain", to_base64url(chain->SerializeAsString()));
    headers.emplace("X-Lantoa-Time", time);
    headers.emplace("X-Lantoa-Signature",
                    to_base64url(key->sign.sign(SignDomain::kAdminRequest,
                                                method + " " + path + "\n" + time + "\n" + broker_key)));
  } else {
    return Status(E::INVALID_ARGUMENT,
                  "an admin verb needs --admin-token-file (the broker's admin token) or --key and --chain (an "
                  "operator or authority certificate)");
  }
  return answer(*url, method == "DELETE" ? http.Delete(path, headers) : http.Post(path, headers, "", ""));
}

}  // namespace lantoa::cli
