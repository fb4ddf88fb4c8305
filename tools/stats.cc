// lantoa stats | subs | queues: the broker's monitoring figures.
#include <httplib.h>

#include <iomanip>
#include <sstream>
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

uint64_t count(const nlohmann::json& j, const nlohmann::json::json_pointer& at) {
  return j.contains(at) && j[at].is_number_unsigned() ? j[at].get<uint64_t>() : 0;
}

double number(const nlohmann::json& j, const nlohmann::json::json_pointer& at) {
  return j.contains(at) && j[at].is_number() ? j[at].get<double>() : 0.0;
}

std::string fixed(double v, int decimals) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(decimals) << v;
  return o.str();
}

// A count by reason (code: n) as "0", or the total and each reason:
// "2 (BAD_SIGNATURE 1, ORIGIN_MISMATCH 1)".
std::string by_reason(const nlohmann::json& j, const nlohmann::json::json_pointer& at) {
  if (!j.contains(at) || !j[at].is_object()) return "0";
  uint64_t total = 0;
  std::string reasons;
  for (const auto& [code, n] : j[at].items()) {
    const uint64_t v = n.is_number_unsigned() ? n.get<uint64_t>() : 0;
    total += v;
    reasons += (reasons.empty() ? "" : ", ") + code + " " + std::to_string(v);
  }
  return total == 0 ? "0" : std::to_string(total) + " (" + reasons + ")";
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
  add_view(app, run, "stats", "events, sessions, deliveries, commits and per-topic rates", [](const nlohmann::json& j) {
    std::cout << "events    accepted " << count(j, "/events/accepted"_json_pointer) << ", duplicates "
              << count(j, "/events/duplicates"_json_pointer) << ", rejected "
              << by_reason(j, "/events/rejected"_json_pointer) << "\n"
              << "sessions  open " << count(j, "/connections"_json_pointer) << ", connections refused "
              << by_reason(j, "/sessions_refused"_json_pointer) << "\n"
              << "delivery  delivered " << count(j, "/delivery/deliveries"_json_pointer) << ", acked "
              << count(j, "/delivery/acks"_json_pointer) << ", nacked " << count(j, "/delivery/nacks"_json_pointer)
              << ", redelivered " << count(j, "/delivery/redeliveries"_json_pointer) << ", expired "
              << count(j, "/delivery/expired"_json_pointer) << "\n"
              << "commits   " << count(j, "/commits/count"_json_pointer) << " with fsync, holding "
              << count(j, "/commits/events"_json_pointer) << " events; mean "
              << fixed(number(j, "/commits/mean_ms"_json_pointer), 1) << " ms, max "
              << fixed(number(j, "/commits/max_ms"_json_pointer), 1) << " ms\n\n"
              << std::left << std::setw(40) << "topic" << std::setw(12) << "accepted" << "per second (recent)\n";
    const nlohmann::json topics = j.value("topics", nlohmann::json::object());
    for (const auto& [topic, t] : topics.items()) {
      std::cout << std::setw(40) << topic << std::setw(12) << t.value("accepted", uint64_t{0})
                << fixed(t.value("per_second", 0.0), 1) << "\n";
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
