// lantoa publish: sign and publish events from flags or a JSON file (Lantoa's
// own JSON form, or an IPTC ninjs document), printing each one's fate.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.h"
#include "json_form/json_form.h"
#include "ninjs/ninjs.h"
#include "lantoa/encoding.h"
#include "lantoa/publisher.h"

namespace lantoa::cli {
namespace {

using nlohmann::json;

// One JSON object (Lantoa's form or ninjs) into an event on `topic`.
Result<v1::Event> event_from_json(const json& j, const std::string& member, const std::string& default_topic) {
  if (!node::looks_like_ninjs(j)) return node::event_from_json_form(j, member, default_topic);
  if (default_topic.empty()) return Status(v1::Error::INVALID_TOPIC, "a ninjs document needs --topic");
  return node::from_ninjs(j, member, default_topic);
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
        futures.push_back(std::move(f->outcome));
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
