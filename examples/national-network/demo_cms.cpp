// lantoa-demo-cms: a stand-in for a portal's CMS in the national demo. It is
// a real HTTP server (127.0.0.1, a free port) that receives lantoa-node's
// webhooks and writes down what it got, one line per event, in
// <dir>/received.tsv:
//
//   kind  topic  signer  signature  urgency  version  event_id  refers_to  headline  note
//
// (note: an endorsement's provenance, "endorsed by vn.gov, written by
// vn.ldtbxh"; an answer's code and text, "rejected: why"; else "-")
// and says where it listens in <dir>/cms.port. With --slow-ms it answers
// slowly (a portal with a weak link).
//
//   lantoa-demo-cms --dir DIR [--slow-ms N]
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

int main(int argc, char** argv) {
  CLI::App app("stand-in CMS: records the news lantoa-node delivers by webhook");
  std::string dir;
  int slow_ms = 0;
  app.add_option("--dir", dir, "where to write cms.port and received.tsv")->required();
  app.add_option("--slow-ms", slow_ms, "answer each webhook after this long");
  CLI11_PARSE(app, argc, argv);

  std::mutex mu;
  httplib::Server server;
  server.Post("/lantoa/receive", [&](const httplib::Request& req, httplib::Response& res) {
    auto j = nlohmann::json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.contains("lantoa") || !j.contains("ninjs")) {
      res.status = 400;
      return;
    }
    if (slow_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
    const auto& m = j["lantoa"];
    const auto& n = j["ninjs"];
    auto text = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : std::string("-"); };
    std::string headline = n.contains("headlines") && !n["headlines"].empty() ? text(n["headlines"][0]["value"]) : "";
    std::string note = "-";
    if (m.contains("provenance")) note = text(m["provenance"]);
    if (m.contains("reply_code")) {
      note = text(m["reply_code"]);
      if (n.contains("bodies") && !n["bodies"].empty()) note += ": " + text(n["bodies"][0]["value"]);
    }
    for (char& c : note) {
      if (c == '\t' || c == '\n') c = ' ';
    }
    std::lock_guard lock(mu);
    std::ofstream out(dir + "/received.tsv", std::ios::app);
    out << text(m["kind"]) << '\t' << text(m["topic"]) << '\t' << text(m["signer"]) << '\t' << text(m["signature"])
        << '\t' << m.value("urgency", 0) << '\t' << text(n["version"]) << '\t' << text(m["event_id"]) << '\t'
        << text(m["refers_to"]) << '\t' << headline << '\t' << note << '\n';
    res.status = 204;
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) {
    std::cerr << "lantoa-demo-cms: cannot listen\n";
    return 1;
  }
  std::ofstream(dir + "/cms.port") << port << "\n";
  server.listen_after_bind();
  return 0;
}
