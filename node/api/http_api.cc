#include "api/http_api.h"

#include <algorithm>
#include <optional>

#include <httplib.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <cctype>

#include "lantoa/internal/file_util.h"
#include "api/atom.h"
#include "api/metrics.h"
#include "json_form/json_form.h"
#include "lantoa/encoding.h"
#include "lantoa/names.h"
#include "ninjs/ninjs.h"
#include "node.h"
#include "review/review_desk.h"
#include "lantoa/internal/listen_socket.h"

namespace lantoa::node {
namespace {

using nlohmann::json;
using E = v1::Error;

std::string digest(std::string_view text) {
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(text.data()), text.size(), nullptr, 0);
  return out;
}

void send_json(httplib::Response& res, int http_status, const json& body) {
  res.status = http_status;
  res.set_content(body.dump(), "application/json; charset=utf-8");
}

void send_error(httplib::Response& res, int http_status, const std::string& code, const std::string& message,
                const std::string& field = "") {
  json err = {{"code", code}, {"message", message}};
  if (!field.empty()) err["field"] = field;
  send_json(res, http_status, {{"error", err}});
}

// A Lantoa status as an HTTP error.
void send_status(httplib::Response& res, const Status& s) {
  int http = 422;
  switch (s.code()) {
    case E::INVALID_ARGUMENT: http = 400; break;
    case E::TOPIC_OUTSIDE_NAMESPACE: case E::PERMISSION_DENIED: case E::ROLE_MISSING: http = 403; break;
    case E::ALREADY_EXISTS: http = 409; break;
    case E::NOT_FOUND: http = 404; break;
    case E::EVENT_TOO_LARGE: http = 413; break;
    case E::STORAGE_FULL: case E::STORAGE_ERROR: case E::IO_ERROR: case E::INTERNAL: case E::UNAVAILABLE:
      http = 503;
      break;
    default: break;
  }
  send_error(res, http, v1::Error::Code_Name(s.code()), s.message(), field_of(s));
}

std::string param(const httplib::Request& req, const char* name) {
  return req.has_param(name) ? req.get_param_value(name) : std::string();
}

// A query parameter's value, percent-encoded (RFC 3986 unreserved kept).
std::string query_escape(std::string_view value) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : value) {
    if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

constexpr const char* kFeedPath = "/v1/feed.atom";

}  // namespace

HttpApi::HttpApi(Node& node) : node_(node) {}

HttpApi::~HttpApi() { stop(); }

namespace {

// `what`: "API token" or "feed secret".
Result<std::string> read_token(const std::filesystem::path& file, const std::string& what = "API token") {
  return internal::read_secret_file(file, what);
}

}  // namespace

Status HttpApi::check_token_file(const std::filesystem::path& file) { return read_token(file).status(); }

Status HttpApi::check_feed_secret_file(const std::filesystem::path& file) {
  return read_token(file, "feed secret").status();
}

std::string HttpApi::feed_key(const std::string& topic) const {
  unsigned char out[16];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(topic.data()), topic.size(),
                     reinterpret_cast<const unsigned char*>(feed_mac_key_.data()), feed_mac_key_.size());
  return to_hex(std::string_view(reinterpret_cast<const char*>(out), sizeof out));
}

Status HttpApi::start() {
  const NodeConfig& c = node_.config();
  auto token = read_token(c.token_file);
  if (!token) return token.status();
  token_digest_ = digest(*token);
  std::string feed_secret = *token;
  if (!c.feed_secret_file.empty()) {
    auto secret = read_token(c.feed_secret_file, "feed secret");
    if (!secret) return secret.status();
    feed_secret = *secret;
  }
  // The key of the feed URLs: its own, so that no feed URL tells anything of
  // the API token (or of the feed secret), and each topic's key is distinct.
  feed_mac_key_ = digest("lantoa-node feed key v1\n" + feed_secret);
  sodium_memzero(feed_secret.data(), feed_secret.size());

  server_ = std::make_unique<httplib::Server>();
  httplib::Server& s = *server_;
  s.set_payload_max_length(c.max_body_bytes);
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Health and metrics open without the token, for monitors (Prometheus
    // cannot hold the CMS's token); they tell no secret (node/README.md).
    if (req.path == "/healthz" || req.path == "/metrics") return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    const bool feed = req.path == kFeedPath && (req.method == "GET" || req.method == "HEAD");
    if (feed && auth.empty() && req.has_param("feed_key")) {
      // The feed's own URL (GET /v1/feed-url): its key opens this one feed
      // (this topic filter), and nothing else.
      const std::string expected = feed_key(param(req, "topic"));
      const std::string given = param(req, "feed_key");
      if (given.size() == expected.size() && sodium_memcmp(given.data(), expected.data(), given.size()) == 0) {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      send_error(res, 401, "FEED_KEY_WRONG",
                 "this feed_key does not open the feed" +
                     (param(req, "topic").empty() ? std::string() : " of topic " + param(req, "topic")) +
                     ": a feed URL is only valid as GET /v1/feed-url gave it (with its topic, unchanged)",
                 "feed_key");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!auth.starts_with("Bearer ")) {
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401, "TOKEN_MISSING",
                 feed ? "send the API token as \"Authorization: Bearer <token>\", or use the feed's own URL with "
                        "its feed_key (GET /v1/feed-url?topic=... gives it)"
                      : "send the API token as \"Authorization: Bearer <token>\"");
      return httplib::Server::HandlerResponse::Handled;
    }
    const std::string given = digest(auth.substr(7));
    if (sodium_memcmp(given.data(), token_digest_.data(), given.size()) != 0) {
      res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      send_error(res, 401, "TOKEN_WRONG", "the API token is not this node's");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 413) {
      send_error(res, 413, "BODY_TOO_LARGE", "the request body is larger than this node accepts (api.max_body_bytes)");
    } else if (res.status == 404) {
      send_error(res, 404, "NOT_FOUND", "no such endpoint");
    } else {
      send_error(res, res.status, "BAD_REQUEST", "the request could not be handled (HTTP " + std::to_string(res.status) + ")");
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("API: {}", what);
    send_error(res, 500, "INTERNAL", "the node failed to handle the request");
  });

  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const std::vector<std::string> problems = node_.problems();
    if (problems.empty()) return send_json(res, 200, {{"ok", true}});
    send_json(res, 503, {{"ok", false}, {"problems", problems}});
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    auto figures = node_.figures();
    if (!figures) return send_status(res, figures.status());
    res.set_content(metrics_text(*figures), "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/v1/status", [this](const httplib::Request&, httplib::Response& res) { send_json(res, 200, node_.status()); });

  // A request body as one JSON object, or the error sent.
  auto read_body = [](const httplib::Request& req, httplib::Response& res) -> std::optional<json> {
    if (json_nested_deeper_than(req.body)) {
      send_error(res, 400, "MALFORMED_JSON",
                 "the request body nests arrays or objects deeper than " + std::to_string(kMaxJsonDepth) +
                     " levels: no news item does");
      return std::nullopt;
    }
    json doc = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      send_error(res, 400, "MALFORMED_JSON", "the request body is not one JSON object");
      return std::nullopt;
    }
    return doc;
  };
  auto answer = [](httplib::Response& res, int http, const Result<json>& r) {
    if (!r) return send_status(res, r.status());
    send_json(res, http, *r);
  };

  s.Post("/v1/proposals", [this](const httplib::Request& req, httplib::Response& res) {
    // A proposal is an item published on the reviewer's inbox (only the two
    // portals read it): then it is like POST /v1/events.
    if (json_nested_deeper_than(req.body)) {
      return send_error(res, 400, "MALFORMED_JSON", "the request body nests arrays or objects too deep");
    }
    json doc = json::parse(req.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return send_error(res, 400, "MALFORMED_JSON", "the request body is not one JSON object");
    }
    std::string reviewer = param(req, "reviewer");
    if (reviewer.empty() && doc.contains("reviewer") && doc["reviewer"].is_string() && !looks_like_ninjs(doc)) {
      reviewer = doc["reviewer"].get<std::string>();
    }
    if (!looks_like_ninjs(doc)) doc.erase("reviewer");
    if (reviewer.empty()) {
      return send_error(res, 400, "INVALID_ARGUMENT", "say who reviews it: ?reviewer=<member id> (or \"reviewer\" "
                                                      "in Lantoa's form)", "reviewer");
    }
    if (Status st = validate_member_id(reviewer); !st.ok()) {
      return send_error(res, 400, "INVALID_MEMBER_ID", st.message(), "reviewer");
    }
    if (reviewer == node_.config().member) {
      return send_error(res, 400, "INVALID_ARGUMENT", "a portal does not propose to itself", "reviewer");
    }
    const std::string topic = inbox_topic(reviewer, node_.config().member);
    if (!looks_like_ninjs(doc)) {
      if (doc.contains("topic") && doc["topic"] != topic) {
        return send_error(res, 400, "INVALID_TOPIC", "a proposal goes to the reviewer's inbox " + topic +
                                                         ": leave \"topic\" out", "topic");
      }
      doc["topic"] = topic;
    }
    publish(req, res, doc, topic);
  });

  s.Get("/v1/review", [this, answer](const httplib::Request& req, httplib::Response& res) {
    size_t offset = 0, limit = 100;
    try {
      if (!param(req, "offset").empty()) offset = std::stoul(param(req, "offset"));
      if (!param(req, "limit").empty()) limit = std::min<size_t>(1000, std::stoul(param(req, "limit")));
    } catch (const std::exception&) {
      return send_error(res, 400, "INVALID_ARGUMENT", "offset and limit are whole numbers", "limit");
    }
    answer(res, 200, node_.review().list(param(req, "state"), offset, limit));
  });
  s.Get(R"(/v1/review/([0-9A-Fa-f]+))", [this, answer](const httplib::Request& req, httplib::Response& res) {
    answer(res, 200, node_.review().show(req.matches[1].str()));
  });
  s.Post(R"(/v1/review/([0-9A-Fa-f]+)/endorse)", [this, read_body, answer](const httplib::Request& req,
                                                                          httplib::Response& res) {
    auto body = read_body(req, res);
    if (body) answer(res, 200, node_.review().endorse(req.matches[1].str(), *body));
  });
  s.Post(R"(/v1/review/([0-9A-Fa-f]+)/reject)", [this, read_body, answer](const httplib::Request& req,
                                                                         httplib::Response& res) {
    auto body = read_body(req, res);
    if (body) answer(res, 200, node_.review().reject(req.matches[1].str(), *body));
  });
  s.Post(R"(/v1/inbox/([0-9A-Fa-f]+)/reply)", [this, read_body, answer](const httplib::Request& req,
                                                                       httplib::Response& res) {
    auto body = read_body(req, res);
    if (body) answer(res, 202, node_.review().reply(req.matches[1].str(), *body));
  });

  s.Post("/v1/events", [this](const httplib::Request& req, httplib::Response& res) {
    if (json_nested_deeper_than(req.body)) {
      return send_error(res, 400, "MALFORMED_JSON",
                        "the request body nests arrays or objects deeper than " + std::to_string(kMaxJsonDepth) +
                            " levels: no news item does");
    }
    json doc = json::parse(req.body, nullptr, false);
    if (doc.is_discarded()) {
      send_error(res, 400, "MALFORMED_JSON", "the request body is not valid JSON");
      return;
    }
    publish(req, res, doc, param(req, "topic"));
  });

  s.Get(R"(/v1/events/([0-9A-Fa-f]+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto id = from_hex(req.matches[1].str());
    if (!id || id->size() != 32) {
      send_error(res, 400, "INVALID_ARGUMENT", "an event id is 64 hexadecimal digits", "id");
      return;
    }
    auto rec = node_.store().published(*id);
    if (!rec) return send_status(res, rec.status());
    if (!*rec) return send_error(res, 404, "NOT_FOUND", "this node published no event " + req.matches[1].str());
    if (Status st = node_.review().annotate(**rec); !st.ok()) return send_status(res, st);
    send_json(res, 200, **rec);
  });


  s.Get("/v1/inbox", [this](const httplib::Request& req, httplib::Response& res) {
    uint64_t since = 0;
    size_t limit = 100;
    try {
      if (!param(req, "since").empty()) since = std::stoull(param(req, "since"));
      if (!param(req, "limit").empty()) limit = std::min<size_t>(1000, std::stoul(param(req, "limit")));
    } catch (const std::exception&) {
      return send_error(res, 400, "INVALID_ARGUMENT", "since and limit are whole numbers", "since");
    }
    std::optional<TopicFilter> filter;
    if (!param(req, "topic").empty()) {
      auto f = TopicFilter::parse(param(req, "topic"));
      if (!f) return send_error(res, 400, "INVALID_FILTER", f.status().message(), "topic");
      filter = std::move(*f);
    }
    const std::string acked = param(req, "acked");  // "include": also those acknowledged
    auto entries = node_.store().inbox_after(since, limit, [&](const json& r) {
      if (filter && !filter->matches(r["lantoa"].value("topic", ""))) return false;
      return acked == "include" || !r["inbox"].value("acked", false);
    });
    if (!entries) return send_status(res, entries.status());
    json events = json::array();
    uint64_t next = since;
    for (auto& e : *entries) {
      next = e.seq;
      events.push_back(std::move(e.record));
    }
    send_json(res, 200, {{"events", events}, {"next", next}});
  });

  s.Post(R"(/v1/inbox/([0-9A-Fa-f]+)/ack)", [this](const httplib::Request& req, httplib::Response& res) {
    Status st = node_.store().ack(req.matches[1].str());
    if (!st.ok()) return send_status(res, st);
    send_json(res, 200, {{"id", req.matches[1].str()}, {"acked", true}});
  });

  s.Get("/v1/feed-url", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string topic = param(req, "topic");
    if (!topic.empty()) {
      if (auto f = TopicFilter::parse(topic); !f) return send_error(res, 400, "INVALID_FILTER", f.status().message(), "topic");
    }
    const std::string host = req.has_header("Host") ? req.get_header_value("Host")
                                                    : node_.config().api_host + ":" + std::to_string(port_);
    const std::string url = "http://" + host + kFeedPath + "?" +
                            (topic.empty() ? "" : "topic=" + query_escape(topic) + "&") + "feed_key=" + feed_key(topic);
    send_json(res, 200, {{"topic", topic}, {"url", url}});
  });

  s.Get(kFeedPath, [this](const httplib::Request& req, httplib::Response& res) {
    std::optional<TopicFilter> filter;
    const std::string topic = param(req, "topic");
    if (!topic.empty()) {
      auto f = TopicFilter::parse(topic);
      if (!f) return send_error(res, 400, "INVALID_FILTER", f.status().message(), "topic");
      filter = std::move(*f);
    }
    auto entries = node_.store().inbox_newest(100, [&](const json& r) {
      return in_atom_feed(r) && (!filter || filter->matches(r["lantoa"].value("topic", "")));
    });
    if (!entries) return send_status(res, entries.status());
    const std::string member = node_.config().member;
    std::string query = topic.empty() ? "" : "topic=" + query_escape(topic);
    if (req.has_param("feed_key") && req.get_header_value("Authorization").empty()) {  // opened by its key
      query += (query.empty() ? "" : "&") + std::string("feed_key=") + query_escape(param(req, "feed_key"));
    }
    const std::string self = "http://" + req.get_header_value("Host") + req.path + (query.empty() ? "" : "?" + query);
    res.set_content(atom_feed(*entries, "News received by " + member + (topic.empty() ? "" : " on " + topic),
                              "urn:lantoa:" + member + ":inbox" + (topic.empty() ? "" : ":" + topic), self),
                    "application/atom+xml; charset=utf-8");
  });

  const NodeConfig& cfg = node_.config();
  s.set_socket_options(internal::exclusive_listen_socket);  // a second node on the port is refused
  errno = 0;
  if (cfg.api_port == 0) {
    port_ = s.bind_to_any_port(cfg.api_host);
  } else {
    port_ = s.bind_to_port(cfg.api_host, cfg.api_port) ? cfg.api_port : -1;
  }
  if (port_ <= 0) {
    return Status(E::UNAVAILABLE, "the API cannot listen on " + cfg.api_host + ":" + std::to_string(cfg.api_port) + ": " +
                                      internal::bind_failure_reason());
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::Ok();
}

void HttpApi::publish(const httplib::Request& req, httplib::Response& res, const json& doc, const std::string& topic) {
  // Idempotency-Key: the same key (with the same request) answers with the
  // event the first request made; with another request it is refused.
  std::optional<Idempotency> idempotency;
  if (req.has_header("Idempotency-Key")) {
    const std::string key = req.get_header_value("Idempotency-Key");
    const bool printable = std::all_of(key.begin(), key.end(), [](char ch) { return ch > ' ' && ch < 127; });
    if (key.empty() || key.size() > 255 || !printable) {
      return send_error(res, 400, "INVALID_ARGUMENT",
                        "the Idempotency-Key header must be 1..255 visible ASCII characters", "Idempotency-Key");
    }
    if (key.starts_with("review:") || key.starts_with("reply:")) {
      return send_error(res, 400, "INVALID_ARGUMENT",
                        "Idempotency-Key values starting with \"review:\" or \"reply:\" are the node's own",
                        "Idempotency-Key");
    }
    idempotency = Idempotency{key, digest(topic + "\n" + req.body)};
  }
  auto accepted = node_.publish_document(doc, topic, idempotency ? &*idempotency : nullptr);
  if (!accepted) {
    if (accepted.status().code() == E::ALREADY_EXISTS) {
      return send_error(res, 422, "IDEMPOTENCY_KEY_REUSED", accepted.status().message(), "Idempotency-Key");
    }
    return send_status(res, accepted.status());
  }
  if (accepted->repeated) res.set_header("Idempotent-Replayed", "true");
  const std::string id = to_hex(accepted->event_id);
  json body = {{"id", id}, {"status", "queued"}, {"sequence", accepted->sequence}};
  std::string kind = v1::Kind_Name(accepted->kind);
  for (char& ch : kind) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  body["kind"] = kind;
  if (!accepted->refers_to.empty()) body["refers_to"] = to_hex(accepted->refers_to);
  res.set_header("Location", "/v1/events/" + id);
  send_json(res, 202, body);
}

void HttpApi::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace lantoa::node
