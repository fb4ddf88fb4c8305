#include "config/node_config.h"

#include <sys/stat.h>

#include <cstdio>

#include "lantoa/internal/toml_fields.h"
#include "lantoa/encoding.h"
#include "lantoa/names.h"

namespace lantoa::node {
namespace {

using toml_fields::bad;
using toml_fields::only_known;
using toml_fields::read;

std::filesystem::path beside(const std::filesystem::path& file, const std::filesystem::path& p) {
  if (p.empty() || p.is_absolute()) return p;
  return file.parent_path() / p;
}

Status read_list(const toml::table& t, std::string_view key, std::vector<std::string>& out, const std::string& where) {
  const toml::node* n = t.get(key);
  if (!n) return Status::Ok();
  const toml::array* a = n->as_array();
  if (!a) return bad(where + std::string(key) + " must be an array of strings");
  for (const auto& item : *a) {
    auto v = item.value<std::string>();
    if (!v) return bad(where + std::string(key) + " must be an array of strings");
    out.push_back(*v);
  }
  return Status::Ok();
}

// Each table of an array of tables ([[name]]), or an error naming it.
template <typename F>
Status each_table(const toml::table& t, std::string_view key, F&& f) {
  const toml::node* n = t.get(key);
  if (!n) return Status::Ok();
  const toml::array* a = n->as_array();
  if (!a) return bad(std::string(key) + " must be an array of tables ([[" + std::string(key) + "]])");
  size_t i = 0;
  for (const auto& item : *a) {
    const toml::table* tt = item.as_table();
    const std::string where = std::string(key) + "[" + std::to_string(i++) + "].";
    if (!tt) return bad(where + " must be a table");
    LANTOA_RETURN_IF_ERROR(f(*tt, where));
  }
  return Status::Ok();
}

// True when a URL carries credentials (user:password@host).
bool has_userinfo(const std::string& url) {
  const size_t start = url.find("://");
  if (start == std::string::npos) return false;
  const size_t end = url.find_first_of("/?#", start + 3);
  return url.substr(start + 3, end == std::string::npos ? std::string::npos : end - start - 3).find('@') !=
         std::string::npos;
}

Result<mode_t> parse_file_mode(const std::string& text, const std::string& where) {
  const std::string usage = where + " must be an octal file mode like \"0640\" (got \"" + text + "\")";
  if (text.size() < 3 || text.size() > 4 || text.find_first_not_of("01234567") != std::string::npos) return bad(usage);
  const mode_t mode = static_cast<mode_t>(std::stoul(text, nullptr, 8));
  if (mode > 0777) return bad(usage);
  if (mode & 0111) return bad(where + " " + text + " makes spool files executable");
  if (mode & 0002) return bad(where + " " + text + " lets anyone change the spool files");
  if (!(mode & 0400)) return bad(where + " " + text + " leaves the spool files unreadable by their owner");
  return mode;
}

}  // namespace

Result<v1::StartPosition> parse_start_position(const std::string& text) {
  v1::StartPosition p;
  if (text.empty() || text == "new") {
    p.set_new_only(true);
  } else if (text == "earliest") {
    p.set_earliest(true);
  } else if (text.rfind("seq:", 0) == 0) {
    try {
      p.set_from_broker_seq(std::stoull(text.substr(4)));
    } catch (...) {
      return bad("start position seq:N needs a number");
    }
  } else if (auto t = parse_time_ms(text)) {
    p.set_from_time_ms(*t);
  } else {
    return bad("a start position is earliest, new, seq:N or a time like 2026-11-28 (got \"" + text + "\")");
  }
  return p;
}

Result<NodeConfig> load_node_config(const std::filesystem::path& file) {
  auto parsed = toml_fields::parse_file(file);
  if (!parsed) return parsed.status();
  const toml::table& t = *parsed;
  NodeConfig c;
  LANTOA_RETURN_IF_ERROR(only_known(
      t, {"member", "key", "chain", "root", "data", "broker", "api", "subscriptions", "webhooks", "spool", "feeds"},
      ""));
  for (auto [key, out] : {std::pair{"key", &c.key}, {"chain", &c.chain}, {"root", &c.root}, {"data", &c.data}}) {
    LANTOA_RETURN_IF_ERROR(read(t, key, *out, ""));
    if (out->empty()) return bad(std::string(key) + " is required");
    *out = beside(file, *out);
  }
  LANTOA_RETURN_IF_ERROR(read(t, "member", c.member, ""));
  LANTOA_RETURN_IF_ERROR(validate_member_id(c.member));
  if (const toml::table* b = t["broker"].as_table()) {
    LANTOA_RETURN_IF_ERROR(only_known(*b, {"endpoint", "key"}, "broker."));
    LANTOA_RETURN_IF_ERROR(read(*b, "endpoint", c.broker_endpoint, "broker."));
    LANTOA_RETURN_IF_ERROR(read(*b, "key", c.broker_key, "broker."));
  }
  if (c.broker_key.empty()) return bad("broker.key is required (the broker's key or its broker.ready.json)");
  if (!from_base64url(c.broker_key)) c.broker_key = beside(file, c.broker_key).string();
  if (const toml::table* a = t["api"].as_table()) {
    LANTOA_RETURN_IF_ERROR(only_known(*a, {"listen", "token_file", "max_body_bytes"}, "api."));
    std::string listen;
    LANTOA_RETURN_IF_ERROR(read(*a, "listen", listen, "api."));
    if (!listen.empty()) {
      const auto colon = listen.rfind(':');
      try {
        if (colon == std::string::npos) throw std::invalid_argument("no port");
        c.api_host = listen.substr(0, colon);
        c.api_port = std::stoi(listen.substr(colon + 1));
        if (c.api_port < 0 || c.api_port > 65535) throw std::out_of_range("port");
      } catch (const std::exception&) {
        return bad("api.listen must be HOST:PORT, e.g. 127.0.0.1:8470 (got \"" + listen + "\")");
      }
    }
    LANTOA_RETURN_IF_ERROR(read(*a, "token_file", c.token_file, "api."));
    LANTOA_RETURN_IF_ERROR(read(*a, "max_body_bytes", c.max_body_bytes, "api."));
  }
  if (c.token_file.empty()) return bad("api.token_file is required: the API never runs without a token");
  c.token_file = beside(file, c.token_file);
  Status subscriptions_read = each_table(t, "subscriptions", [&](const toml::table& s, const std::string& where) -> Status {
    LANTOA_RETURN_IF_ERROR(only_known(s, {"name", "filters", "start"}, where));
    SubscriptionConfig sc;
    std::string start;
    LANTOA_RETURN_IF_ERROR(read(s, "name", sc.name, where));
    LANTOA_RETURN_IF_ERROR(read_list(s, "filters", sc.filters, where));
    LANTOA_RETURN_IF_ERROR(read(s, "start", start, where));
    if (sc.name.empty() || sc.filters.empty()) return bad(where + "name and filters are required");
    auto p = parse_start_position(start);
    if (!p) return Status(p.status().code(), where + "start: " + p.status().message());
    sc.start = *p;
    c.subscriptions.push_back(std::move(sc));
    return Status::Ok();
  });
  LANTOA_RETURN_IF_ERROR(subscriptions_read);
  Status webhooks_read = each_table(t, "webhooks", [&](const toml::table& w, const std::string& where) -> Status {
    LANTOA_RETURN_IF_ERROR(only_known(w, {"name", "url", "token", "timeout_ms", "max_backoff_ms"}, where));
    WebhookConfig wc;
    int64_t timeout = wc.timeout.count(), backoff = wc.max_backoff.count();
    LANTOA_RETURN_IF_ERROR(read(w, "name", wc.name, where));
    LANTOA_RETURN_IF_ERROR(read(w, "url", wc.url, where));
    LANTOA_RETURN_IF_ERROR(read(w, "token", wc.token, where));
    LANTOA_RETURN_IF_ERROR(read(w, "timeout_ms", timeout, where));
    LANTOA_RETURN_IF_ERROR(read(w, "max_backoff_ms", backoff, where));
    if (wc.name.empty()) wc.name = "webhook-" + std::to_string(c.webhooks.size() + 1);
    if (!wc.url.starts_with("http://") && !wc.url.starts_with("https://")) {
      return bad(where + "url must be an http:// or https:// URL");
    }
    wc.timeout = std::chrono::milliseconds(timeout);
    wc.max_backoff = std::chrono::milliseconds(backoff);
    c.webhooks.push_back(std::move(wc));
    return Status::Ok();
  });
  LANTOA_RETURN_IF_ERROR(webhooks_read);
  if (const toml::table* s = t["spool"].as_table()) {
    LANTOA_RETURN_IF_ERROR(only_known(*s, {"dir", "mode"}, "spool."));
    LANTOA_RETURN_IF_ERROR(read(*s, "dir", c.spool, "spool."));
    c.spool = beside(file, c.spool);
    std::string mode;
    LANTOA_RETURN_IF_ERROR(read(*s, "mode", mode, "spool."));
    if (!mode.empty()) {
      auto m = parse_file_mode(mode, "spool.mode");
      if (!m) return m.status();
      c.spool_mode = *m;
    }
  }
  Status feeds_read = each_table(t, "feeds", [&](const toml::table& f, const std::string& where) -> Status {
    LANTOA_RETURN_IF_ERROR(only_known(
        f, {"name", "url", "topic", "interval_seconds", "urgency", "language", "allow_private", "allow_networks"}, where));
    FeedConfig fc;
    int64_t interval = fc.interval.count();
    LANTOA_RETURN_IF_ERROR(read(f, "name", fc.name, where));
    LANTOA_RETURN_IF_ERROR(read(f, "url", fc.url, where));
    LANTOA_RETURN_IF_ERROR(read(f, "topic", fc.topic, where));
    LANTOA_RETURN_IF_ERROR(read(f, "interval_seconds", interval, where));
    LANTOA_RETURN_IF_ERROR(read(f, "urgency", fc.urgency, where));
    LANTOA_RETURN_IF_ERROR(read(f, "language", fc.language, where));
    LANTOA_RETURN_IF_ERROR(read(f, "allow_private", fc.destinations.allow_private, where));
    std::vector<std::string> networks;
    LANTOA_RETURN_IF_ERROR(read_list(f, "allow_networks", networks, where));
    for (const auto& text : networks) {
      auto n = Network::parse(text);
      if (!n) return bad(where + "allow_networks: " + n.status().message());
      fc.destinations.allowed.push_back(*n);
    }
    if (fc.name.empty() || fc.url.empty() || fc.topic.empty()) return bad(where + "name, url and topic are required");
    if (!fc.url.starts_with("http://") && !fc.url.starts_with("https://")) {
      return bad(where + "url must be an http:// or https:// URL");
    }
    if (!in_namespace(fc.topic, c.member)) {
      return Status(v1::Error::TOPIC_OUTSIDE_NAMESPACE, where + "topic " + fc.topic + " is outside " + c.member);
    }
    if (interval < 1) return bad(where + "interval_seconds must be at least 1");
    fc.interval = std::chrono::seconds(interval);
    c.feeds.push_back(std::move(fc));
    return Status::Ok();
  });
  LANTOA_RETURN_IF_ERROR(feeds_read);
  // Secrets in this file: it must be for the node's user alone.
  std::string secret;
  for (size_t i = 0; i < c.webhooks.size() && secret.empty(); ++i) {
    if (!c.webhooks[i].token.empty()) secret = "webhooks[" + std::to_string(i) + "].token";
    if (has_userinfo(c.webhooks[i].url)) secret = "a password in webhooks[" + std::to_string(i) + "].url";
  }
  for (size_t i = 0; i < c.feeds.size() && secret.empty(); ++i) {
    if (has_userinfo(c.feeds[i].url)) secret = "a password in feeds[" + std::to_string(i) + "].url";
  }
  struct stat st {};
  if (!secret.empty() && ::stat(file.c_str(), &st) == 0 && (st.st_mode & 0077)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status(v1::Error::KEY_FILE_INSECURE,
                  "the config file " + file.string() + " holds a secret (" + secret +
                      ") but is readable by group or others (mode " + mode + "): chmod 600 " + file.string());
  }
  return c;
}

}  // namespace lantoa::node
