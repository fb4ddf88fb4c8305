// lantoa publish: sign and publish events from flags or a JSON file (Lantoa's
// own JSON form, or an IPTC ninjs document), printing each one's fate.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.h"
#include "lantoa/encoding.h"
#include "lantoa/publisher.h"

namespace lantoa::cli {
namespace {

using nlohmann::json;

Result<int64_t> parse_time_field(const std::string& text, const std::string& what) {
  auto t = parse_time_ms(text);
  if (!t) return Status(v1::Error::INVALID_TIME, what + " \"" + text + "\" is not a time like 2026-11-28T13:00:00Z");
  return *t;
}

Result<v1::Kind> parse_kind(std::string name) {
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  v1::Kind k;
  if (!v1::Kind_Parse(name, &k) || k == v1::KIND_UNSPECIFIED) {
    return Status(v1::Error::INVALID_KIND, "kind \"" + name + "\" is not news, correction, retraction, endorsement or reply");
  }
  return k;
}

std::string first_value(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_array() || j[key].empty()) return {};
  const json& first = j[key][0];
  return first.is_object() && first.contains("value") && first["value"].is_string() ? first["value"].get<std::string>()
                                                                                    : std::string();
}

// One JSON object (Lantoa's form or ninjs) into an event on `topic`.
Result<v1::Event> event_from_json(const json& j, const std::string& member, const std::string& default_topic) {
  auto str = [&](const char* key) { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; };
  const bool ninjs = j.contains("headlines") || j.contains("uri");
  const std::string topic = str("topic").empty() ? default_topic : str("topic");
  if (topic.empty()) return Status(v1::Error::INVALID_TOPIC, "no topic: give --topic or a \"topic\" field");
  EventBuilder b(member, 1, topic);  // the publisher sets the real sequence
  if (ninjs) {
    b.headline(first_value(j, "headlines")).summary(first_value(j, "descriptions"));
    if (j.contains("bodies") && j["bodies"].is_array() && !j["bodies"].empty()) {
      const json& body = j["bodies"][0];
      std::string type = body.contains("contentType") ? body["contentType"].get<std::string>() : "text/plain";
      b.body(body.value("value", ""), type == "text/html" ? "text/html" : "text/plain");
    }
    if (j.contains("subjects") && j["subjects"].is_array()) {
      for (const auto& s : j["subjects"]) b.subject(s.value("uri", s.value("name", "")), s.value("name", ""));
    }
    if (!str("embargoedUntil").empty()) {
      auto t = parse_time_field(str("embargoedUntil"), "embargoedUntil");
      if (!t) return t.status();
      b.embargo_until_ms(*t);
    }
    if (j.contains("by") && j["by"].is_string()) b.byline(j["by"].get<std::string>());
  } else {
    b.headline(str("headline")).summary(str("summary"));
    b.body(str("body"), str("body_type").empty() ? "text/plain" : str("body_type"));
    if (j.contains("subjects") && j["subjects"].is_array()) {
      for (const auto& s : j["subjects"]) b.subject(s.value("code", ""), s.value("name", ""));
    }
    for (const char* key : {"embargo_until", "expires"}) {
      if (str(key).empty()) continue;
      auto t = parse_time_field(str(key), key);
      if (!t) return t.status();
      std::string_view k(key);
      if (k == "embargo_until") b.embargo_until_ms(*t);
      else b.expires_ms(*t);
    }
    if (!str("link").empty()) b.link(str("link"));
    if (!str("byline").empty()) b.byline(str("byline"));
    if (!str("kind").empty()) {
      auto k = parse_kind(str("kind"));
      if (!k) return k.status();
      b.kind(*k);
    }
    if (!str("refers_to").empty()) {
      auto id = from_hex(str("refers_to"));
      if (!id) return Status(v1::Error::INVALID_REFERENCE, "refers_to must be a hex event id");
      b.refers_to(*id);
    }
  }
  if (j.contains("urgency") && j["urgency"].is_number_integer()) b.urgency(j["urgency"].get<uint32_t>());
  if (!str("language").empty()) b.language(str("language"));
  return b.build();
}

}  // namespace

void add_publish(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("publish", "sign and publish events; prints accepted / duplicate / rejected");
  struct Opts {
    NetworkOptions net;
    std::string topic, headline, summary, body, body_file, json_file, language = "vi", embargo, expires, kind = "news",
                                                                      refers_to, link;
    std::vector<std::string> subjects;
    uint32_t urgency = 5;
    bool html = false;
  };
  auto o = std::make_shared<Opts>();
  o->net.add_to(*cmd, false);
  cmd->add_option("--topic", o->topic, "topic, your id or below (e.g. vn.gov.press)");
  cmd->add_option("--headline", o->headline, "headline (UTF-8)");
  cmd->add_option("--summary", o->summary, "summary");
  cmd->add_option("--body", o->body, "body text");
  cmd->add_option("--body-file", o->body_file, "read the body from a file");
  cmd->add_flag("--html", o->html, "the body is HTML");
  cmd->add_option("--json", o->json_file, "a JSON file: one event or an array (Lantoa's form or IPTC ninjs)");
  cmd->add_option("--urgency", o->urgency, "1 (flash) .. 9")->capture_default_str();
  cmd->add_option("--language", o->language, "BCP 47 tag")->capture_default_str();
  cmd->add_option("--embargo", o->embargo, "not before this time (RFC 3339)");
  cmd->add_option("--expires", o->expires, "not after this time (RFC 3339)");
  cmd->add_option("--kind", o->kind, "news, correction, retraction, endorsement, reply")->capture_default_str();
  cmd->add_option("--refers-to", o->refers_to, "id (hex) of the event a correction/retraction/reply refers to");
  cmd->add_option("--subject", o->subjects, "subject code (repeatable), e.g. medtop:11000000");
  cmd->add_option("--link", o->link, "canonical URL on your portal");
  cmd->callback([o, &run] {
    run = [o] {
      auto net = load_network(o->net, false);
      if (!net) return fail(net.status());
      std::vector<v1::Event> events;
      if (!o->json_file.empty()) {
        std::ifstream in(o->json_file);
        auto j = json::parse(in, nullptr, false);
        if (j.is_discarded()) return fail(Status(v1::Error::INVALID_ARGUMENT, o->json_file + " is not valid JSON"));
        for (const json& item : j.is_array() ? j : json::array({j})) {
          auto e = event_from_json(item, net->key.member, o->topic);
          if (!e) return fail(Status(e.status().code(), o->json_file + ": " + e.status().message()));
          events.push_back(std::move(*e));
        }
      } else {
        std::string body = o->body;
        if (!o->body_file.empty()) {
          std::ifstream in(o->body_file);
          if (!in) return fail(Status(v1::Error::NOT_FOUND, "cannot read " + o->body_file));
          std::ostringstream text;
          text << in.rdbuf();
          body = text.str();
        }
        json j = {{"topic", o->topic},       {"headline", o->headline}, {"summary", o->summary},
                  {"body", body},            {"urgency", o->urgency},   {"language", o->language},
                  {"body_type", o->html ? "text/html" : "text/plain"},  {"kind", o->kind},
                  {"refers_to", o->refers_to}, {"link", o->link},       {"embargo_until", o->embargo},
                  {"expires", o->expires}};
        for (const auto& s : o->subjects) j["subjects"].push_back({{"code", s}});
        auto e = event_from_json(j, net->key.member, o->topic);
        if (!e) return fail(e.status());
        events.push_back(std::move(*e));
      }
      PublisherOptions po;
      po.broker = net->broker;
      po.connect_timeout = std::chrono::milliseconds(o->net.timeout_ms);
      po.agent = "lantoa-cli/0.1";
      auto pub = Publisher::start(std::move(net->key), std::move(net->chain), po);
      if (!pub) return fail(pub.status());
      std::vector<std::future<PublishOutcome>> futures;
      for (auto& e : events) {
        auto f = (*pub)->publish(std::move(e));
        if (!f) return fail(f.status());
        futures.push_back(std::move(*f));
      }
      int code = kOk;
      for (auto& f : futures) {
        if (f.wait_for(std::chrono::milliseconds(o->net.timeout_ms)) != std::future_status::ready) {
          std::cerr << "lantoa: TIMEOUT: no answer from the broker\n";
          return kError;
        }
        PublishOutcome r = f.get();
        const std::string what = r.status == v1::PublishResult::ACCEPTED    ? "accepted"
                                 : r.status == v1::PublishResult::DUPLICATE ? "duplicate"
                                                                            : "rejected";
        std::cout << what << "  sequence " << r.sequence << "  broker_seq " << r.broker_seq << "  id "
                  << to_hex(r.event_id);
        if (!r.ok()) {
          std::cout << "  " << r.error.to_string();
          code = kError;
        }
        std::cout << "\n";
      }
      return code;
    };
  });
}

}  // namespace lantoa::cli
