// lantoa review: the review queue of a portal's node, and proposals to a
// reviewer, through the node's HTTP API (node/README.md, "Review"). The node
// holds the portal's key and signs; this verb only asks it.
//
//   lantoa review list [--state pending]
//   lantoa review show ID
//   lantoa review endorse ID [--topic vn.gov.press] [--urgency 3] [--text "..."]
//   lantoa review reject ID --text "why" [--changes]
//   lantoa review propose --reviewer vn.gov item.json   (Lantoa's JSON form or ninjs; - for stdin)
//   lantoa review reply EVENT_ID --text "..."          (feedback on a received item to its origin)
//
// --node (LANTOA_NODE): the node's API address, or the path of its
// node.ready.json; --token-file (LANTOA_NODE_TOKEN_FILE): its API token.
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.h"
#include "lantoa/internal/file_util.h"
#include "lantoa/encoding.h"

namespace lantoa::cli {
namespace {

using nlohmann::json;
using E = v1::Error;

struct NodeApi {
  std::string node = "http://127.0.0.1:8470";
  std::string token_file;

  void add_to(CLI::App& cmd) {
    cmd.add_option("--node", node, "the node's API address (http://host:port), or the path of its node.ready.json")
        ->envname("LANTOA_NODE")
        ->capture_default_str();
    cmd.add_option("--token-file", token_file, "the file holding the node's API token")
        ->envname("LANTOA_NODE_TOKEN_FILE")
        ->required();
  }

  Result<json> call(const std::string& method, const std::string& path, const std::string& body = "") const {
    std::string url = node;
    std::error_code ec;
    if (!url.starts_with("http") && std::filesystem::is_regular_file(url, ec)) {
      auto f = internal::read_file(url, 1 << 16);
      if (!f) return f.status();
      auto j = json::parse(f->data, nullptr, false);
      if (j.is_discarded() || !j.contains("api") || !j["api"].is_string()) {
        return Status(E::INVALID_ARGUMENT, node + " has no \"api\" address (is it a node.ready.json?)");
      }
      url = j["api"].get<std::string>();
    }
    if (!url.starts_with("http://") && !url.starts_with("https://")) url = "http://" + url;
    auto token = internal::read_secret_file(token_file, "API token");
    if (!token) return token.status();
    httplib::Client c(url);
    c.set_bearer_token_auth(*token);
    c.set_connection_timeout(5);
    c.set_read_timeout(30);
    httplib::Result res = method == "GET" ? c.Get(path) : c.Post(path, body, "application/json");
    if (!res) return Status(E::UNAVAILABLE, "no answer from the node at " + url + " (is lantoa-node running?)");
    auto j = json::parse(res->body, nullptr, false);
    if (res->status >= 200 && res->status < 300 && !j.is_discarded()) return j;
    if (!j.is_discarded() && j.contains("error") && j["error"].is_object()) {
      v1::Error::Code code;
      if (!v1::Error::Code_Parse(j["error"].value("code", ""), &code)) code = E::INVALID_ARGUMENT;
      return Status(code, j["error"].value("message", "") + " (HTTP " + std::to_string(res->status) + ")");
    }
    return Status(E::UNAVAILABLE, url + " answered HTTP " + std::to_string(res->status));
  }
};

std::string age_text(int64_t seconds) {
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m";
  if (seconds < 172800) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

void print_history(const json& history) {
  for (const json& h : history) {
    std::cout << "  " << h.value("at", "") << "  " << h.value("action", "") << " by " << h.value("by", "");
    if (h.contains("topic")) std::cout << " on " << h.value("topic", "");
    std::cout << "  (event " << h.value("event_id", "") << ", signature " << h.value("signature", "") << ")\n";
    if (h.contains("text")) std::cout << "      " << h.value("text", "") << "\n";
  }
}

}  // namespace

void add_review(CLI::App& app, Runner& run) {
  auto* review = app.add_subcommand("review", "proposals to review at a portal's node, and proposals to a reviewer");
  review->require_subcommand(1);
  auto api = std::make_shared<NodeApi>();

  auto* list = review->add_subcommand("list", "the review queue: id, state, proposer, urgency, age, headline");
  auto state = std::make_shared<std::string>();
  list->add_option("--state", *state, "pending, endorsed, rejected, changes_requested or withdrawn (default: all)");
  api->add_to(*list);
  list->callback([&run, api, state] {
    run = [api, state] {
      auto r = api->call("GET", "/v1/review" + (state->empty() ? "" : "?state=" + *state));
      if (!r) return fail(r.status());
      const json& all = (*r)["proposals"];
      if (all.empty()) {
        std::cout << "no proposals" << (state->empty() ? "" : " " + *state) << "\n";
        return kOk;
      }
      for (const json& p : all) {
        std::cout << p.value("id", "") << "  " << p.value("state", "") << "  " << p.value("proposer", "")
                  << "  urgency " << p.value("urgency", 5) << "  " << age_text(p.value("age_seconds", int64_t{0}))
                  << "  " << p.value("headline", "") << "\n";
      }
      return kOk;
    };
  });

  auto* show = review->add_subcommand("show", "one proposal: its latest version and history (tells the proposer it was seen)");
  auto id = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  show->add_option("id", *id, "the proposal's id (its first version's event id)")->required();
  show->add_flag("--json", *as_json, "print the node's answer as JSON");
  api->add_to(*show);
  show->callback([&run, api, id, as_json] {
    run = [api, id, as_json] {
      auto r = api->call("GET", "/v1/review/" + *id);
      if (!r) return fail(r.status());
      if (*as_json) {
        std::cout << r->dump(2) << "\n";
        return kOk;
      }
      const json& p = *r;
      std::cout << p.value("headline", "") << "\n"
                << "proposed by " << p.value("proposer", "") << " to " << p.value("reviewer", "") << ", "
                << p.value("state", "") << ", version " << p.value("version", 1) << ", urgency "
                << p.value("urgency", 5) << "\n";
      if (p.contains("event")) {
        const json& ev = p["event"];
        std::cout << "signed by " << ev["lantoa"].value("signer", "") << " (key " << ev["lantoa"].value("signer_key", "")
                  << "), signature " << ev["lantoa"].value("signature", "") << "\n";
        const json& n = ev["ninjs"];
        if (n.contains("descriptions") && !n["descriptions"].empty()) {
          std::cout << "\n" << n["descriptions"][0].value("value", "") << "\n";
        }
        if (n.contains("bodies") && !n["bodies"].empty()) std::cout << "\n" << n["bodies"][0].value("value", "") << "\n";
      }
      std::cout << "\nhistory:\n";
      print_history(p["history"]);
      return kOk;
    };
  });

  auto* endorse = review->add_subcommand("endorse", "endorse a proposal: republish it on your topic, both signatures kept");
  auto e_id = std::make_shared<std::string>();
  auto topic = std::make_shared<std::string>();
  auto urgency = std::make_shared<int>(0);
  auto e_text = std::make_shared<std::string>();
  endorse->add_option("id", *e_id, "the proposal's id")->required();
  endorse->add_option("--topic", *topic, "where the endorsement goes (default: the node's [review] endorse_topic)");
  endorse->add_option("--urgency", *urgency, "1 (flash) .. 9 (default: the proposal's)")->check(CLI::Range(1, 9));
  endorse->add_option("--text", *e_text, "a note for the proposer");
  api->add_to(*endorse);
  endorse->callback([&run, api, e_id, topic, urgency, e_text] {
    run = [api, e_id, topic, urgency, e_text] {
      json body = json::object();
      if (!topic->empty()) body["topic"] = *topic;
      if (*urgency) body["urgency"] = *urgency;
      if (!e_text->empty()) body["text"] = *e_text;
      auto r = api->call("POST", "/v1/review/" + *e_id + "/endorse", body.dump());
      if (!r) return fail(r.status());
      std::cout << "endorsed " << *e_id << " on " << (*r)["endorsement"].value("topic", "") << " as event "
                << (*r)["endorsement"].value("id", "") << "; the proposer is told (event " << r->value("reply", "")
                << ")\n";
      return kOk;
    };
  });

  auto* reject = review->add_subcommand("reject", "reject a proposal, or ask for changes, with the reason");
  auto r_id = std::make_shared<std::string>();
  auto r_text = std::make_shared<std::string>();
  auto changes = std::make_shared<bool>(false);
  reject->add_option("id", *r_id, "the proposal's id")->required();
  reject->add_option("--text", *r_text, "why (the proposer's CMS receives it)")->required();
  reject->add_flag("--changes", *changes, "ask for changes instead: the corrected item is reviewed again");
  api->add_to(*reject);
  reject->callback([&run, api, r_id, r_text, changes] {
    run = [api, r_id, r_text, changes] {
      json body = {{"reason", *changes ? "changes_requested" : "rejected"}, {"text", *r_text}};
      auto r = api->call("POST", "/v1/review/" + *r_id + "/reject", body.dump());
      if (!r) return fail(r.status());
      std::cout << r->value("state", "") << " " << *r_id << "; the proposer is told (event " << r->value("reply", "")
                << ")\n";
      return kOk;
    };
  });

  auto* propose = review->add_subcommand("propose", "propose an item to a reviewer (only the two portals read it)");
  auto reviewer = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  propose->add_option("--reviewer", *reviewer, "the reviewing portal's member id, e.g. vn.gov")->required();
  propose->add_option("file", *file, "the item: Lantoa's JSON form or a ninjs document (- for stdin)")->required();
  api->add_to(*propose);
  propose->callback([&run, api, reviewer, file] {
    run = [api, reviewer, file] {
      std::stringstream text;
      if (*file == "-") {
        text << std::cin.rdbuf();
      } else {
        std::ifstream in(*file);
        if (!in) return fail(Status(E::IO_ERROR, "cannot read " + *file));
        text << in.rdbuf();
      }
      auto r = api->call("POST", "/v1/proposals?reviewer=" + *reviewer, text.str());
      if (!r) return fail(r.status());
      std::cout << "proposed to " << *reviewer << ": " << r->value("id", "") << " (" << r->value("status", "")
                << ")\n";
      return kOk;
    };
  });

  auto* reply = review->add_subcommand("reply", "answer a received item: feedback to its origin (only the two read it)");
  auto a_id = std::make_shared<std::string>();
  auto a_text = std::make_shared<std::string>();
  reply->add_option("id", *a_id, "the received event's id")->required();
  reply->add_option("--text", *a_text, "the answer")->required();
  api->add_to(*reply);
  reply->callback([&run, api, a_id, a_text] {
    run = [api, a_id, a_text] {
      auto r = api->call("POST", "/v1/inbox/" + *a_id + "/reply", json{{"text", *a_text}}.dump());
      if (!r) return fail(r.status());
      std::cout << "answered " << *a_id << " to " << r->value("to", "") << " (event " << r->value("id", "") << ")\n";
      return kOk;
    };
  });
}

}  // namespace lantoa::cli
