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

// A rate from the broker's fixed windows ({"10s": x, "1m": y}) as "x/s".
std::string rate(const nlohmann::json& j, const nlohmann::json::json_pointer& at, const char* window) {
  const double v = number(j, at / window);
  return fixed(v, v >= 100 ? 0 : v >= 10 ? 1 : 2) + "/s";
}

// A duration in seconds, short: "42s", "7m", "3h", "2d"; "-" for none.
std::string age(double seconds) {
  if (seconds <= 0) return "-";
  const auto s = static_cast<uint64_t>(seconds);
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string megabytes(uint64_t bytes) { return fixed(bytes / 1048576.0, bytes < (10u << 20) ? 1 : 0) + " MB"; }

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
  add_view(app, run, "stats", "events, sessions, deliveries, commits, storage and rates (10 s and 1 min)",
           [](const nlohmann::json& j) {
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
              << fixed(number(j, "/commits/max_ms"_json_pointer), 1) << " ms\n";
    // Rates are kept by the broker over fixed windows (the last 10 s and
    // the last minute), so they do not depend on when or how often this runs.
    std::cout << "rates     per 10 s / per 1 min: accepted " << rate(j, "/rates/accepted"_json_pointer, "10s") << " / "
              << rate(j, "/rates/accepted"_json_pointer, "1m") << ", delivered "
              << rate(j, "/rates/delivered"_json_pointer, "10s") << " / "
              << rate(j, "/rates/delivered"_json_pointer, "1m") << ", rejected "
              << rate(j, "/rates/rejected"_json_pointer, "10s") << " / "
              << rate(j, "/rates/rejected"_json_pointer, "1m") << "\n";
    const uint64_t used = count(j, "/store/used_bytes"_json_pointer), map = count(j, "/store/map_size_bytes"_json_pointer);
    if (map > 0) {
      std::cout << "storage   " << megabytes(used) << " of " << megabytes(map) << " ("
                << fixed(100.0 * static_cast<double>(used) / static_cast<double>(map), 1) << "% of map_size_mb)\n";
    }
    std::cout << "\n"
              << std::left << std::setw(40) << "topic" << std::setw(10) << "accepted" << std::setw(11) << "delivered"
              << "accepted per 10 s / 1 min\n";
    const nlohmann::json topics = j.value("topics", nlohmann::json::object());
    for (const auto& [topic, t] : topics.items()) {
      std::cout << std::setw(40) << topic << std::setw(10) << count(t, "/accepted"_json_pointer) << std::setw(11)
                << count(t, "/delivered"_json_pointer) << rate(t, "/accepted_per_s"_json_pointer, "10s") << " / "
                << rate(t, "/accepted_per_s"_json_pointer, "1m") << "\n";
    }
  });
  add_view(app, run, "subs", "durable subscriptions: depth, in flight, delivered, acked, oldest, last ack",
           [](const nlohmann::json& j) {
    std::cout << std::left << std::setw(18) << "owner" << std::setw(30) << "subscription" << std::setw(9) << "depth"
              << std::setw(11) << "in flight" << std::setw(11) << "delivered" << std::setw(9) << "acked"
              << std::setw(8) << "oldest" << std::setw(10) << "last ack" << "connected\n";
    for (const auto& s : j["subscriptions"]) {
      std::cout << std::setw(18) << s["owner"].get<std::string>() << std::setw(30) << s["name"].get<std::string>()
                << std::setw(9) << s["depth"].get<uint64_t>() << std::setw(11) << s["in_flight"].get<uint64_t>()
                << std::setw(11) << s["delivered"].get<uint64_t>() << std::setw(9) << s["acked"].get<uint64_t>()
                << std::setw(8) << age(number(s, "/oldest_unacked_age_s"_json_pointer)) << std::setw(10)
                << age(number(s, "/last_ack_age_s"_json_pointer)) << (s["connected"].get<bool>() ? "yes" : "no")
                << "\n";
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
