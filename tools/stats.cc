// lantoa stats | subs | queues: the broker's monitoring figures.
#include <httplib.h>

#include <iomanip>
#include <nlohmann/json.hpp>

#include "cli.h"

namespace lantoa::cli {
namespace {

Result<nlohmann::json> fetch(const std::string& monitor) {
  httplib::Client http(monitor);
  http.set_connection_timeout(5);
  auto res = http.Get("/api/v1/stats");
  if (!res) return Status(v1::Error::UNAVAILABLE, "no answer from the monitoring address " + monitor);
  if (res->status != 200) {
    return Status(v1::Error::UNAVAILABLE, monitor + " answered HTTP " + std::to_string(res->status));
  }
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded()) return Status(v1::Error::INVALID_ARGUMENT, monitor + " did not answer JSON");
  return j;
}

void add_view(CLI::App& app, Runner& run, const char* name, const char* help,
              std::function<void(const nlohmann::json&)> print) {
  auto* cmd = app.add_subcommand(name, help);
  cmd->configurable();
  auto monitor = std::make_shared<std::string>("http://127.0.0.1:7451");
  auto json = std::make_shared<bool>(false);
  cmd->add_option("--monitor", *monitor, "the broker's monitoring address")->envname("LANTOA_MONITOR")
      ->capture_default_str();
  cmd->add_flag("--json", *json, "the raw JSON");
  cmd->callback([=, &run] {
    run = [=] {
      auto j = fetch(*monitor);
      if (!j) return fail(j.status());
      if (*json) {
        std::cout << j->dump(2) << "\n";
      } else {
        print(*j);
      }
      return kOk;
    };
  });
}

}  // namespace

void add_stats(CLI::App& app, Runner& run) {
  add_view(app, run, "stats", "events, deliveries, commits and per-topic rates", [](const nlohmann::json& j) {
    std::cout << "events    accepted " << j["events"]["accepted"] << ", duplicates " << j["events"]["duplicates"]
              << ", rejected " << j["events"]["rejected"].dump() << "\n"
              << "delivery  " << j["delivery"].dump() << "\n"
              << "commits   " << j["commits"]["count"] << " (mean batch " << j["commits"]["mean_batch"] << ", mean "
              << j["commits"]["mean_ms"] << " ms)\n"
              << "sessions  " << j["connections"] << "\n\n"
              << std::left << std::setw(40) << "topic" << std::setw(12) << "accepted" << "per second\n";
    for (const auto& [topic, t] : j["topics"].items()) {
      std::cout << std::setw(40) << topic << std::setw(12) << t["accepted"].get<uint64_t>() << t["per_second"] << "\n";
    }
  });
  add_view(app, run, "subs", "durable subscriptions: depth, in flight, delivered, acked", [](const nlohmann::json& j) {
    std::cout << std::left << std::setw(18) << "owner" << std::setw(30) << "subscription" << std::setw(9) << "depth"
              << std::setw(11) << "in flight" << std::setw(11) << "delivered" << std::setw(9) << "acked"
              << "connected\n";
    for (const auto& s : j["subscriptions"]) {
      std::cout << std::setw(18) << s["owner"].get<std::string>() << std::setw(30) << s["name"].get<std::string>()
                << std::setw(9) << s["depth"].get<uint64_t>() << std::setw(11) << s["in_flight"].get<uint64_t>()
                << std::setw(11) << s["delivered"].get<uint64_t>() << std::setw(9) << s["acked"].get<uint64_t>()
                << (s["connected"].get<bool>() ? "yes" : "no") << "\n";
    }
  });
  add_view(app, run, "queues", "queue depths, deepest first", [](const nlohmann::json& j) {
    std::vector<nlohmann::json> subs(j["subscriptions"].begin(), j["subscriptions"].end());
    std::sort(subs.begin(), subs.end(), [](auto& a, auto& b) { return a["depth"] > b["depth"]; });
    for (const auto& s : subs) {
      std::cout << std::setw(9) << s["depth"].get<uint64_t>() << "  " << s["owner"].get<std::string>() << "/"
                << s["name"].get<std::string>() << "\n";
    }
  });
}

}  // namespace lantoa::cli
