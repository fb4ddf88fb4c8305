// lantoa trace: the spread of one event. lantoa subs rm, queues purge,
// sessions close: the operator's admin verbs (the broker's admin token).
#include <chrono>
#include <iomanip>
#include <thread>

#include "cli.h"
#include "monitor_client.h"

namespace lantoa::cli {
namespace {

std::string when(int64_t ms) {
  if (ms <= 0) return "";
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(buf) + millis;
}

// What a publisher wrote, without control characters (no terminal escapes).
std::string printable(std::string s) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return s;
}

void print_spread(const nlohmann::json& j) {
  const auto& e = j["event"];
  const auto& s = j["summary"];
  std::cout << "event     " << e.value("id", "") << "\n"
            << "headline  " << printable(e.value("headline", "")) << "\n"
            << "topic     " << e.value("topic", "") << "   origin " << e.value("origin", "") << "   broker_seq "
            << e.value("broker_seq", uint64_t{0}) << "\n"
            << "accepted  " << when(e.value("accepted_ms", int64_t{0})) << "\n"
            << "spread    " << s.value("acked", uint64_t{0}) << " of " << s.value("subscriptions", uint64_t{0})
            << " subscriptions acked, " << s.value("in_flight", uint64_t{0}) << " in flight, "
            << s.value("redelivery_due", uint64_t{0}) << " redelivery due, " << s.value("queued", uint64_t{0})
            << " queued, " << s.value("not_queued", uint64_t{0}) << " not queued (queue full)\n\n";
  std::cout << std::left << std::setw(42) << "SUBSCRIPTION" << std::setw(16) << "STATE" << std::setw(26) << "ACKED AT"
            << std::setw(10) << "ATTEMPTS" << "CONNECTED\n";
  for (const auto& d : j["deliveries"]) {
    std::cout << std::setw(42) << (d.value("owner", "") + "/" + d.value("subscription", "")) << std::setw(16)
              << d.value("state", "") << std::setw(26) << when(d.value("acked_ms", int64_t{0})) << std::setw(10)
              << (d.contains("attempts") ? std::to_string(d["attempts"].get<uint64_t>()) : "") 
              << (d.value("connected", false) ? "yes" : "no") << "\n";
  }
}

bool all_acked(const nlohmann::json& j) {
  const auto& s = j["summary"];
  return s.value("acked", uint64_t{0}) == s.value("subscriptions", uint64_t{0});
}

// An admin verb: `method` on `path`, its JSON answer printed.
void add_admin_verb(CLI::App& parent, Runner& run, const char* name, const char* help, const char* method,
                    std::function<std::string(const std::vector<std::string>&)> path,
                    std::vector<std::string> arg_names) {
  auto* cmd = parent.add_subcommand(name, help);
  cmd->configurable();
  auto o = std::make_shared<MonitorOptions>();
  auto args = std::make_shared<std::vector<std::string>>(arg_names.size());
  for (size_t i = 0; i < arg_names.size(); ++i) cmd->add_option(arg_names[i], (*args)[i], arg_names[i])->required();
  o->add_to(*cmd, true);
  cmd->callback([=, &run] {
    run = [=] {
      auto r = monitor_admin(*o, method, path(*args));
      if (!r) return fail(r.status());
      std::cout << r->dump(2) << "\n";
      return kOk;
    };
  });
}

}  // namespace

void add_admin(CLI::App& subs, CLI::App& queues, CLI::App& app, Runner& run) {
  auto* trace = app.add_subcommand("trace", "the spread of an event: which subscriptions have it, acked or pending");
  trace->configurable();
  auto o = std::make_shared<MonitorOptions>();
  auto id = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto wait = std::make_shared<double>(0);
  trace->add_option("ID", *id, "the event id (64 hex digits, as lantoa publish and the node's API print it)")->required();
  o->add_to(*trace, false);
  trace->add_flag("--json", *json, "the raw JSON");
  trace->add_option("--wait", *wait,
                    "wait up to SECONDS for every subscription to ack it; exit 1 if some have not by then");
  trace->callback([=, &run] {
    run = [=] {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(*wait * 1000));
      while (true) {
        auto j = monitor_get(*o, "/api/v1/events/" + *id + "/spread");
        if (!j) return fail(j.status());
        const bool done = all_acked(*j);
        if (done || std::chrono::steady_clock::now() >= deadline) {
          if (*json) std::cout << j->dump(2) << "\n";
          else print_spread(*j);
          if (*wait > 0 && !done) {
            return fail(Status(v1::Error::TIMEOUT, "not every subscription acked the event within " +
                                                       std::to_string(static_cast<int>(*wait)) + " s"));
          }
          return kOk;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
      }
    };
  });

  add_admin_verb(subs, run, "rm",
                 "remove a subscription and its queue (its holder's session is ended with CLOSED_BY_OPERATOR)",
                 "DELETE", [](const auto& a) { return "/api/v1/subscriptions/" + a[0] + "/" + a[1]; },
                 {"OWNER", "NAME"});
  add_admin_verb(queues, run, "purge", "empty a subscription's queue (the subscription stays)", "POST",
                 [](const auto& a) { return "/api/v1/subscriptions/" + a[0] + "/" + a[1] + "/purge"; },
                 {"OWNER", "NAME"});
  auto* sessions = app.add_subcommand("sessions", "the broker's sessions (admin verbs)");
  sessions->require_subcommand(1);
  add_admin_verb(*sessions, run, "close", "close every session of a member (it may connect again)", "DELETE",
                 [](const auto& a) { return "/api/v1/sessions/" + a[0]; }, {"MEMBER"});
}

}  // namespace lantoa::cli
