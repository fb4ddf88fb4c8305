#include "monitor_client.h"

#include <httplib.h>

#include <filesystem>

#include "lantoa/internal/file_util.h"

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
        ->envname("LANTOA_ADMIN_TOKEN_FILE")
        ->required();
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
  auto token = internal::read_secret_file(o.admin_token_file, "admin token");
  if (!token) return token.status();
  httplib::Client http(*url);
  http.set_connection_timeout(5);
  http.set_read_timeout(15);
  http.set_bearer_token_auth(*token);
  return answer(*url, method == "DELETE" ? http.Delete(path) : http.Post(path));
}

}  // namespace lantoa::cli
