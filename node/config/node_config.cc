#include "config/node_config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <vector>

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

// Every mistake of a file, so that one run names them all.
struct Mistakes {
  std::vector<Status> list;
  // Keeps `s` when it is an error; true when it is OK.
  bool ok(const Status& s) {
    if (!s.ok()) list.push_back(s);
    return s.ok();
  }
  void add(const std::string& message) { list.push_back(bad(message)); }
};

// Calls `f` for each table of an array of tables ([[name]]); what is not a
// table is a mistake.
template <typename F>
void each_table(const toml::table& t, std::string_view key, Mistakes& m, F&& f) {
  const toml::node* n = t.get(key);
  if (!n) return;
  const toml::array* a = n->as_array();
  if (!a) return m.add(std::string(key) + " must be an array of tables ([[" + std::string(key) + "]])");
  size_t i = 0;
  for (const auto& item : *a) {
    const toml::table* tt = item.as_table();
    const std::string where = std::string(key) + "[" + std::to_string(i++) + "].";
    if (!tt) {
      m.add(where + " must be a table");
      continue;
    }
    f(*tt, where);
  }
}

// True when a URL carries credentials (user:password@host).
bool has_userinfo(const std::string& url) {
  const size_t start = url.find("://");
  if (start == std::string::npos) return false;
  const size_t end = url.find_first_of("/?#", start + 3);
  return url.substr(start + 3, end == std::string::npos ? std::string::npos : end - start - 3).find('@') !=
         std::string::npos;
}

// Each filter is valid ("vn.gov.>", "vn.*.notice"), else it is a mistake.
void check_filters(const std::vector<std::string>& filters, const std::string& where, Mistakes& m) {
  for (const auto& f : filters) {
    auto parsed = TopicFilter::parse(f);
    if (!parsed) m.add(where + ": \"" + f + "\" is not a topic filter: " + parsed.status().message());
  }
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
  Mistakes m;
  m.ok(only_known(t, {"member", "key", "chain", "root", "data", "broker", "api", "subscriptions", "webhooks", "spool",
                      "feeds", "review"},
                  ""));
  for (auto [key, out] : {std::pair{"key", &c.key}, {"chain", &c.chain}, {"root", &c.root}, {"data", &c.data}}) {
    if (!m.ok(read(t, key, *out, ""))) continue;
    if (out->empty()) m.add(std::string(key) + " is required");
    *out = beside(file, *out);
  }
  if (m.ok(read(t, "member", c.member, ""))) m.ok(validate_member_id(c.member));
  if (const toml::table* b = t["broker"].as_table()) {
    m.ok(only_known(*b, {"endpoint", "key", "failover"}, "broker."));
    m.ok(read(*b, "endpoint", c.broker_endpoint, "broker."));
    m.ok(read(*b, "key", c.broker_key, "broker."));
    if (const toml::node* f = b->get("failover")) {
      const toml::array* list = f->as_array();
      if (!list) m.add("broker.failover must be written [[broker.failover]] (a list of tables)");
      for (size_t i = 0; list && i < list->size(); ++i) {
        const toml::table* one = list->get(i)->as_table();
        const std::string where = "broker.failover #" + std::to_string(i + 1) + ".";
        if (!one) {
          m.add(where.substr(0, where.size() - 1) + " must be a table with endpoint and key");
          continue;
        }
        m.ok(only_known(*one, {"endpoint", "key"}, where));
        std::string endpoint, key;
        m.ok(read(*one, "endpoint", endpoint, where));
        m.ok(read(*one, "key", key, where));
        if (endpoint.empty()) m.add(where + "endpoint is required");
        if (key.empty()) m.add(where + "key is required (that broker's key or its broker.ready.json)");
        else if (!from_base64url(key)) key = beside(file, key).string();
        c.broker_failover.emplace_back(endpoint, key);
      }
    }
  }
  if (c.broker_key.empty()) m.add("broker.key is required (the broker's key or its broker.ready.json)");
  else if (!from_base64url(c.broker_key)) c.broker_key = beside(file, c.broker_key).string();
  if (const toml::table* a = t["api"].as_table()) {
    m.ok(only_known(*a, {"listen", "token_file", "feed_secret_file", "max_body_bytes"}, "api."));
    std::string listen;
    if (m.ok(read(*a, "listen", listen, "api.")) && !listen.empty()) {
      const auto colon = listen.rfind(':');
      try {
        if (colon == std::string::npos) throw std::invalid_argument("no port");
        c.api_host = listen.substr(0, colon);
        c.api_port = std::stoi(listen.substr(colon + 1));
        if (c.api_port < 0 || c.api_port > 65535) throw std::out_of_range("port");
      } catch (const std::exception&) {
        m.add("api.listen must be HOST:PORT, e.g. 127.0.0.1:8470 (got \"" + listen + "\")");
      }
    }
    m.ok(read(*a, "token_file", c.token_file, "api."));
    if (m.ok(read(*a, "feed_secret_file", c.feed_secret_file, "api."))) {
      c.feed_secret_file = beside(file, c.feed_secret_file);
    }
    m.ok(read(*a, "max_body_bytes", c.max_body_bytes, "api."));
  }
  if (c.token_file.empty()) m.add("api.token_file is required: the API never runs without a token");
  c.token_file = beside(file, c.token_file);
  each_table(t, "subscriptions", m, [&](const toml::table& s, const std::string& where) {
    m.ok(only_known(s, {"name", "filters", "start"}, where));
    SubscriptionConfig sc;
    std::string start;
    m.ok(read(s, "name", sc.name, where));
    m.ok(read_list(s, "filters", sc.filters, where));
    m.ok(read(s, "start", start, where));
    if (sc.name.empty() || sc.filters.empty()) m.add(where + "name and filters are required");
    check_filters(sc.filters, where + "filters", m);
    for (const auto& other : c.subscriptions) {
      if (!sc.name.empty() && other.name == sc.name) m.add(where + "name \"" + sc.name + "\" is taken by another subscription");
    }
    if (sc.name == kInboxSubscription) {
      m.add(where + "name \"inbox\" is the portal's own inbox ([review] inbox): choose another name");
    }
    auto p = parse_start_position(start);
    if (!p) return m.add(where + "start: " + p.status().message());
    sc.start = *p;
    c.subscriptions.push_back(std::move(sc));
  });
  each_table(t, "webhooks", m, [&](const toml::table& w, const std::string& where) {
    m.ok(only_known(w, {"name", "url", "token", "topics", "timeout_ms", "max_backoff_ms"}, where));
    WebhookConfig wc;
    int64_t timeout = wc.timeout.count(), backoff = wc.max_backoff.count();
    m.ok(read(w, "name", wc.name, where));
    m.ok(read(w, "url", wc.url, where));
    m.ok(read(w, "token", wc.token, where));
    if (m.ok(read_list(w, "topics", wc.topics, where))) {
      if (w.contains("topics") && wc.topics.empty()) {
        m.add(where + "topics is empty: leave it out for every event, or name the topic filters");
      }
      check_filters(wc.topics, where + "topics", m);
    }
    m.ok(read(w, "timeout_ms", timeout, where));
    m.ok(read(w, "max_backoff_ms", backoff, where));
    if (wc.name.empty()) wc.name = "webhook-" + std::to_string(c.webhooks.size() + 1);
    for (const auto& other : c.webhooks) {
      if (other.name == wc.name) m.add(where + "name \"" + wc.name + "\" is taken by another webhook (each keeps its own position)");
    }
    if (timeout < 1) m.add(where + "timeout_ms must be at least 1");
    if (backoff < 1) m.add(where + "max_backoff_ms must be at least 1");
    if (!wc.url.starts_with("http://") && !wc.url.starts_with("https://")) {
      m.add(where + "url must be an http:// or https:// URL");
    }
    wc.timeout = std::chrono::milliseconds(std::max<int64_t>(timeout, 1));
    wc.max_backoff = std::chrono::milliseconds(std::max<int64_t>(backoff, 1));
    c.webhooks.push_back(std::move(wc));
  });
  if (const toml::table* s = t["spool"].as_table()) {
    m.ok(only_known(*s, {"dir", "mode"}, "spool."));
    if (m.ok(read(*s, "dir", c.spool, "spool."))) c.spool = beside(file, c.spool);
    std::string mode;
    if (m.ok(read(*s, "mode", mode, "spool.")) && !mode.empty()) {
      auto parsed_mode = parse_file_mode(mode, "spool.mode");
      if (m.ok(parsed_mode.status())) c.spool_mode = *parsed_mode;
    }
  }
  if (const toml::table* r = t["review"].as_table()) {
    m.ok(only_known(*r, {"inbox", "endorse_topic"}, "review."));
    if (const toml::node* inbox = r->get("inbox")) {
      if (auto b = inbox->value<bool>()) c.review_inbox = *b;
      else m.add("review.inbox must be true or false");
    }
    if (m.ok(read(*r, "endorse_topic", c.endorse_topic, "review.")) && !c.endorse_topic.empty()) {
      if (Status st = validate_topic(c.endorse_topic); !st.ok()) m.add("review.endorse_topic: " + st.message());
      else if (inbox_address(c.endorse_topic)) m.add("review.endorse_topic " + c.endorse_topic + " is an inbox");
      else if (!c.member.empty() && !in_namespace(c.endorse_topic, c.member)) {
        m.ok(Status(v1::Error::TOPIC_OUTSIDE_NAMESPACE,
                    "review.endorse_topic " + c.endorse_topic + " is outside " + c.member));
      }
    }
  }
  each_table(t, "feeds", m, [&](const toml::table& f, const std::string& where) {
    m.ok(only_known(f, {"name", "url", "topic", "interval_seconds", "urgency", "language", "allow_private",
                        "allow_networks"},
                    where));
    FeedConfig fc;
    int64_t interval = fc.interval.count();
    m.ok(read(f, "name", fc.name, where));
    m.ok(read(f, "url", fc.url, where));
    m.ok(read(f, "topic", fc.topic, where));
    m.ok(read(f, "interval_seconds", interval, where));
    m.ok(read(f, "urgency", fc.urgency, where));
    m.ok(read(f, "language", fc.language, where));
    m.ok(read(f, "allow_private", fc.destinations.allow_private, where));
    std::vector<std::string> networks;
    m.ok(read_list(f, "allow_networks", networks, where));
    for (const auto& text : networks) {
      auto n = Network::parse(text);
      if (n) fc.destinations.allowed.push_back(*n);
      else m.add(where + "allow_networks: " + n.status().message());
    }
    if (fc.name.empty() || fc.url.empty() || fc.topic.empty()) {
      m.add(where + "name, url and topic are required");
    } else if (!fc.url.starts_with("http://") && !fc.url.starts_with("https://")) {
      m.add(where + "url must be an http:// or https:// URL");
    } else if (!c.member.empty() && !in_namespace(fc.topic, c.member)) {
      m.ok(Status(v1::Error::TOPIC_OUTSIDE_NAMESPACE, where + "topic " + fc.topic + " is outside " + c.member));
    }
    if (interval < 1) m.add(where + "interval_seconds must be at least 1");
    fc.interval = std::chrono::seconds(std::max<int64_t>(interval, 1));
    c.feeds.push_back(std::move(fc));
  });
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
    m.ok(Status(v1::Error::KEY_FILE_INSECURE,
                "the config file " + file.string() + " holds a secret (" + secret +
                    ") but is readable by group or others (mode " + mode + "): chmod 600 " + file.string() +
                        " (and chown it to the user the node runs as, e.g. chown lantoa: " + file.string() + ")"));
  }
  if (m.list.empty()) return c;
  if (m.list.size() == 1) return m.list[0];
  std::string message = file.string() + ": " + std::to_string(m.list.size()) + " mistakes:";
  for (const Status& s : m.list) message += "\n  - " + s.message();
  return bad(message);
}

}  // namespace lantoa::node
