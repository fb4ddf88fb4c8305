// lantoa stats | subs | queues: the broker's monitoring figures.
#include <httplib.h>

#include <iomanip>
#include <sstream>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

#include "cli.h"
#include "monitor_client.h"

namespace lantoa::cli {
namespace {

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

// Clears the terminal and puts the cursor home (ANSI), for --watch and top.
constexpr const char* kClear = "\033[H\033[2J";

// A view of the figures: printed once, or with --watch every N seconds
// until interrupted (--count limits the rounds). Returns the subcommand so
// that admin verbs can hang under it (lantoa subs rm).
CLI::App* add_view(CLI::App& app, Runner& run, const char* name, const char* help,
                   std::function<void(const nlohmann::json&)> print) {
  auto* cmd = app.add_subcommand(name, help);
  cmd->configurable();
  auto o = std::make_shared<MonitorOptions>();
  auto json = std::make_shared<bool>(false);
  auto watch = std::make_shared<double>(0);
  auto rounds = std::make_shared<int>(0);
  o->add_to(*cmd, false);
  cmd->add_flag("--json", *json, "the raw JSON");
  cmd->add_option("--watch", *watch, "show again every SECONDS (the broker's rates are over fixed windows)")
      ->expected(0, 1)
      ->default_str("2");
  cmd->add_option("--count", *rounds, "with --watch: stop after this many rounds (0: until interrupted)");
  cmd->callback([=, &run] {
    if (!cmd->get_subcommands().empty()) return;  // an admin verb under it runs instead
    const bool watching = cmd->count("--watch") > 0;
    const double every = *watch > 0 ? *watch : 2.0;
    run = [=] {
      for (int round = 1;; ++round) {
        auto j = monitor_get(*o, "/api/v1/stats");
        if (!j) return fail(j.status());
        if (watching && !*json) std::cout << kClear;
        if (*json) {
          std::cout << j->dump(2) << "\n";
        } else {
          print(*j);
        }
        std::cout.flush();
        if (!watching || (*rounds > 0 && round >= *rounds)) return kOk;
        std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(every * 1000)));
      }
    };
  });
  return cmd;
}

// lantoa top: topics by rate and subscriptions by lag, refreshed.
void print_top(const nlohmann::json& j, size_t rows) {
  std::cout << "lantoa top — " << j.value("version", "") << "   accepted " << rate(j, "/rates/accepted"_json_pointer, "10s")
            << "  delivered " << rate(j, "/rates/delivered"_json_pointer, "10s") << "  acked "
            << rate(j, "/rates/acked"_json_pointer, "10s") << "  rejected " << rate(j, "/rates/rejected"_json_pointer, "10s")
            << "  sessions " << count(j, "/connections"_json_pointer) << "\n";
  const uint64_t used = count(j, "/store/used_bytes"_json_pointer), map = count(j, "/store/map_size_bytes"_json_pointer);
  if (map > 0) {
    std::cout << "storage " << megabytes(used) << " of " << megabytes(map) << " ("
              << fixed(100.0 * static_cast<double>(used) / static_cast<double>(map), 1) << "%)\n";
  }
  std::vector<std::pair<std::string, nlohmann::json>> topics;
  const nlohmann::json all_topics = j.value("topics", nlohmann::json::object());
  for (const auto& [k, v] : all_topics.items()) topics.emplace_back(k, v);
  auto r10 = [](const nlohmann::json& t, const char* what) {
    return number(t, nlohmann::json::json_pointer(std::string("/") + what + "/10s"));
  };
  std::sort(topics.begin(), topics.end(), [&](const auto& a, const auto& b) {
    return r10(a.second, "accepted_per_s") + r10(a.second, "delivered_per_s") >
           r10(b.second, "accepted_per_s") + r10(b.second, "delivered_per_s");
  });
  std::cout << "\n" << std::left << std::setw(40) << "TOPIC" << std::setw(13) << "IN/s" << std::setw(13) << "OUT/s"
            << std::setw(11) << "ACCEPTED" << "DELIVERED\n";
  for (size_t i = 0; i < topics.size() && i < rows; ++i) {
    const auto& t = topics[i].second;
    std::cout << std::setw(40) << topics[i].first << std::setw(13) << rate(t, "/accepted_per_s"_json_pointer, "10s")
              << std::setw(13) << rate(t, "/delivered_per_s"_json_pointer, "10s") << std::setw(11)
              << count(t, "/accepted"_json_pointer) << count(t, "/delivered"_json_pointer) << "\n";
  }
  std::vector<nlohmann::json> subs(j["subscriptions"].begin(), j["subscriptions"].end());
  std::sort(subs.begin(), subs.end(), [](const auto& a, const auto& b) {
    return number(a, "/oldest_unacked_age_s"_json_pointer) > number(b, "/oldest_unacked_age_s"_json_pointer);
  });
  std::cout << "\n" << std::setw(34) << "SUBSCRIPTION" << std::setw(9) << "DEPTH" << std::setw(10) << "IN FLIGHT"
            << std::setw(12) << "OUT/s" << std::setw(8) << "OLDEST" << std::setw(10) << "LAST ACK" << "STATE\n";
  for (size_t i = 0; i < subs.size() && i < rows; ++i) {
    const auto& s = subs[i];
    const bool connected = s.value("connected", false);
    const uint64_t depth = count(s, "/depth"_json_pointer);
    const std::string state = !connected ? (depth > 0 ? "STALLED (disconnected)" : "disconnected")
                              : number(s, "/oldest_unacked_age_s"_json_pointer) >= 10 ? "lagging"
                                                                                        : "ok";
    std::cout << std::setw(34) << (s.value("owner", "") + "/" + s.value("name", "")) << std::setw(9) << depth
              << std::setw(10) << count(s, "/in_flight"_json_pointer) << std::setw(12)
              << rate(s, "/delivered_per_s"_json_pointer, "10s") << std::setw(8)
              << age(number(s, "/oldest_unacked_age_s"_json_pointer)) << std::setw(10)
              << age(number(s, "/last_ack_age_s"_json_pointer)) << state << "\n";
  }
}

void add_top(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("top", "a live view of topics (by rate) and subscriptions (by lag), like top");
  cmd->configurable();
  auto o = std::make_shared<MonitorOptions>();
  auto every = std::make_shared<double>(2);
  auto rounds = std::make_shared<int>(0);
  auto rows = std::make_shared<size_t>(20);
  o->add_to(*cmd, false);
  cmd->add_option("--every", *every, "seconds between refreshes")->capture_default_str();
  cmd->add_option("--count", *rounds, "stop after this many refreshes (0: until interrupted)");
  cmd->add_option("--rows", *rows, "rows per table")->capture_default_str();
  cmd->callback([=, &run] {
    run = [=] {
      for (int round = 1;; ++round) {
        auto j = monitor_get(*o, "/api/v1/stats");
        if (!j) return fail(j.status());
        std::cout << kClear;
        print_top(*j, *rows);
        std::cout.flush();
        if (*rounds > 0 && round >= *rounds) return kOk;
        std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(*every * 1000)));
      }
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
  CLI::App* subs_cmd = add_view(app, run, "subs", "durable subscriptions: depth, in flight, delivered, acked, oldest, last ack",
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
  CLI::App* queues_cmd = add_view(app, run, "queues", "queue depths, deepest first", [](const nlohmann::json& j) {
    std::vector<nlohmann::json> subs(j["subscriptions"].begin(), j["subscriptions"].end());
    std::sort(subs.begin(), subs.end(), [](auto& a, auto& b) { return a["depth"] > b["depth"]; });
    for (const auto& s : subs) {
      std::cout << std::setw(9) << s["depth"].get<uint64_t>() << "  " << s["owner"].get<std::string>() << "/"
                << s["name"].get<std::string>() << "\n";
    }
  });
  add_view(app, run, "links", "links to other brokers: state, what each owes, events and bytes each way",
           [](const nlohmann::json& j) {
             const nlohmann::json links = j.value("links", nlohmann::json::array());
             if (links.empty()) {
               std::cout << "no links (docs/federation.md)\n";
               return;
             }
             std::cout << std::left << std::setw(34) << "LINK" << std::setw(22) << "PEER" << std::setw(8) << "OWED"
                       << std::setw(8) << "OLDEST" << std::setw(20) << "EVENTS OUT / IN" << std::setw(20)
                       << "BYTES OUT / IN" << "STATE\n";
             for (const auto& l : links) {
               const bool up = l.value("connected", false);
               std::string state = up ? "up" : "down";
               if (!up && !l.value("down_reason", std::string()).empty()) state += ": " + l["down_reason"].get<std::string>();
               if (!l.value("dials", false)) state += up ? " (dialed us)" : " (it dials us)";
               std::cout << std::setw(34) << l.value("name", "") << std::setw(22) << l.value("peer", "") << std::setw(8)
                         << count(l, "/owed_events"_json_pointer) << std::setw(8)
                         << age(number(l, "/oldest_owed_age_s"_json_pointer)) << std::setw(20)
                         << (std::to_string(count(l, "/events_sent"_json_pointer)) + " / " +
                             std::to_string(count(l, "/events_received"_json_pointer)))
                         << std::setw(20)
                         << (megabytes(count(l, "/bytes_sent"_json_pointer)) + " / " +
                             megabytes(count(l, "/bytes_received"_json_pointer)))
                         << state << "\n";
             }
           });
  add_top(app, run);
  add_admin(*subs_cmd, *queues_cmd, app, run);
}

}  // namespace lantoa::cli
