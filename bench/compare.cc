#include "compare.h"

#include <algorithm>
#include <iostream>
#include <map>

#include "peers/peers.h"

namespace lantoa::bench {
namespace {

struct Series {
  std::vector<double> values;
  double median() const {
    if (values.empty()) return 0;
    std::vector<double> v = values;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }
  double min() const { return values.empty() ? 0 : *std::min_element(values.begin(), values.end()); }
  double max() const { return values.empty() ? 0 : *std::max_element(values.begin(), values.end()); }
};

std::string fmt(double v, int digits = 0) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(digits);
  o << v;
  return o.str();
}

std::string cell(const Series& s, const std::string& unit) {
  if (s.values.empty()) return "—";
  return fmt(s.median()) + " " + unit + " (" + fmt(s.min()) + "–" + fmt(s.max()) + ")";
}

}  // namespace

size_t fanout_events(size_t subscriptions, bool quick) {
  // Enough deliveries to take a few seconds: 80,000 to 200,000 in a full run.
  if (subscriptions >= 1000) return quick ? 20 : 200;
  if (subscriptions > 10) return quick ? 200 : 2000;
  return quick ? 1000 : 10000;
}

nlohmann::json compare(const CompareInputs& in, std::ostringstream& md) {
  nlohmann::json out;
  // Every peer server is started afresh for the rounds and again for each
  // of the long scenarios, in its own folder, and stopped after it.
  int starts = 0;
  auto start_peers = [&]() {
    std::vector<std::unique_ptr<Peer>> started;
    for (const auto& name : in.peers) {
      if (name != "nats" && name != "rabbitmq") continue;  // "none": Lantoa alone
      std::cerr << "==> starting " << name << "\n";
      const auto dir = in.scratch / (name + "-" + std::to_string(++starts));
      auto p = name == "nats" ? start_nats(dir) : start_rabbitmq(dir);
      if (!p) {
        std::cerr << "    " << name << " skipped: " << p.status().to_string() << "\n";
        out["skipped"][name] = p.status().to_string();
        continue;
      }
      out["systems"][(*p)->name()] = {{"version", (*p)->version()}, {"durability", (*p)->durability()}};
      started.push_back(std::move(*p));
    }
    return started;
  };
  const auto wants = [&](const std::string& part) {
    return std::find(in.parts.begin(), in.parts.end(), part) != in.parts.end();
  };
  std::vector<std::unique_ptr<Peer>> peers;
  if (wants("ingest") || wants("fanout")) peers = start_peers();
  std::vector<std::string> peer_names;
  for (const auto& name : in.peers) {
    if (name == "nats") peer_names.push_back("NATS JetStream");
    if (name == "rabbitmq") peer_names.push_back("RabbitMQ quorum queues");
  }
  std::vector<std::string> systems = {"Lantoa"};  // rows of the tables: Lantoa, then the peers
  systems.insert(systems.end(), peer_names.begin(), peer_names.end());
  out["systems"]["Lantoa"] = {{"version", "lantoa-broker 0.1"},
                              {"durability", "LMDB group commit, fsync before accepted; every event verified"}};
  // Measurements: key "ingest/16" -> system -> series; ratios per round.
  std::map<std::string, std::map<std::string, Series>> figures, ratios;
  std::vector<std::string> order;  // scenarios in the order they ran
  auto note = [&](const std::string& key) {
    if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
  };
  const std::vector<size_t> pubs_list = wants("ingest") ? std::vector<size_t>{1, 4, 16} : std::vector<size_t>{};
  const std::vector<size_t> subs_list = wants("fanout") ? std::vector<size_t>{8, 100, 1000} : std::vector<size_t>{};
  for (size_t round = 1; round <= in.rounds; ++round) {
    for (size_t pubs : pubs_list) {
      const std::string key = "ingest, " + std::to_string(pubs) + " publisher(s)";
      const size_t per = in.ingest_events / pubs;
      std::cerr << "==> round " << round << "/" << in.rounds << ": " << key << "\n";
      note(key);
      const double lantoa = in.lantoa_ingest(pubs, per * pubs);
      figures[key]["Lantoa"].values.push_back(lantoa);
      std::vector<std::vector<std::string>> payloads;
      for (size_t p = 0; p < pubs; ++p) payloads.push_back(in.payloads(p, per));
      for (auto& peer : peers) {
        auto r = peer->ingest(payloads);
        if (!r) {
          std::cerr << "    " << peer->name() << ": " << r.status().to_string() << "\n";
          continue;
        }
        figures[key][peer->name()].values.push_back(*r);
        ratios[key][peer->name()].values.push_back(lantoa / *r);
      }
    }
    for (size_t subs : subs_list) {
      const std::string key = "fan-out, " + std::to_string(subs) + " subscriptions";
      const size_t events = fanout_events(subs, in.quick);
      std::cerr << "==> round " << round << "/" << in.rounds << ": " << key << " (" << events << " events)\n";
      note(key);
      const double lantoa = in.lantoa_fanout(subs, events);
      figures[key]["Lantoa"].values.push_back(lantoa);
      const auto payloads = in.payloads(0, events);
      for (auto& peer : peers) {
        auto r = peer->fanout(subs, payloads);
        if (!r) {
          std::cerr << "    " << peer->name() << ": " << r.status().to_string() << "\n";
          continue;
        }
        figures[key][peer->name()].values.push_back(*r);
        ratios[key][peer->name()].values.push_back(lantoa / *r);
      }
    }
  }
  if (!order.empty()) {
    md << "\n### Side by side (" << in.rounds
       << " rounds; median, with min–max; ratio = Lantoa / peer within a round, median)\n\n";
    md << "| scenario | Lantoa | ";
    for (auto& p : peer_names) md << p << " | Lantoa / " << p << " | ";
    md << "\n|---|---|";
    for (size_t i = 0; i < peer_names.size(); ++i) md << "---|---|";
    md << "\n";
  }
  for (const auto& key : order) {
    const auto& per_system = figures[key];
    const std::string unit = key.starts_with("ingest") ? "events/s" : "deliveries/s";
    md << "| " << key << " | " << cell(per_system.at("Lantoa"), unit) << " | ";
    for (auto& p : peer_names) {
      auto it = per_system.find(p);
      md << (it == per_system.end() ? std::string("failed") : cell(it->second, unit)) << " | ";
      auto r = ratios[key].find(p);
      md << (r == ratios[key].end() ? std::string("—") : fmt(r->second.median(), 2) + "×") << " | ";
    }
    md << "\n";
    for (const auto& [system, s] : per_system) {
      out["figures"][key][system] = {{"median", s.median()}, {"min", s.min()}, {"max", s.max()}, {"values", s.values}};
    }
    for (const auto& [system, s] : ratios[key]) out["ratios"][key][system] = s.median();
  }
  peers.clear();  // stopped; fresh servers for every round of the scenarios below

  // Scenarios 3-5: each round runs Lantoa, then every peer on a freshly
  // started server (a long scenario leaves a server with thousands of queues
  // or a large backlog behind).
  auto each_round = [&](const std::string& what, const std::function<void(size_t)>& lantoa,
                        const std::function<void(Peer&, size_t)>& peer) {
    for (size_t round = 1; round <= in.rounds; ++round) {
      std::cerr << "==> round " << round << "/" << in.rounds << ": " << what << "\n";
      lantoa(round);
      auto fresh = start_peers();
      for (auto& p : fresh) {
        std::cerr << "    " << p->name() << "\n";
        peer(*p, round);
      }
    }
  };
  if (in.lantoa_national && wants("national")) {
    const size_t conns = in.national_connections;
    const uint64_t all = static_cast<uint64_t>(conns) * in.national_events;
    std::map<std::string, std::vector<NationalResult>> runs;
    std::map<std::string, std::string> failures, once;
    // Within a round, Lantoa against each peer: time to deliver (peer / Lantoa),
    // server CPU per delivery, server memory after connecting and at the end,
    // memory per idle connection (Lantoa / peer).
    std::map<std::string, std::map<std::string, Series>> per_round;
    const auto kb_per_connection = [](const NationalResult& r) {
      return r.connections ? (r.rss_created_mb - r.rss_start_mb) * 1024 / static_cast<double>(r.connections) : 0.0;
    };
    const auto cpu_per_delivery_us = [](const NationalResult& r) {
      return r.deliveries ? r.server_cpu_s * 1e6 / static_cast<double>(r.deliveries) : 0.0;
    };
    each_round(
        "national press release: " + std::to_string(conns) + " connections, one durable subscription each, " +
            std::to_string(in.national_events) + " events",
        [&](size_t) { runs["Lantoa"].push_back(in.lantoa_national(conns, in.national_events, in.national_budget_s)); },
        [&](Peer& p, size_t round) {
          // Not repeated: a peer that could not hold the workload, or whose
          // round took longer than the budget (the scenario stays bounded).
          if (failures.count(p.name()) || once.count(p.name())) return;
          auto r = p.national(conns, in.payloads(0, in.national_events), in.national_budget_s);
          if (!r) {
            failures[p.name()] = r.status().to_string();
            return;
          }
          runs[p.name()].push_back(*r);
          const auto& mine = runs["Lantoa"].back();
          auto& ratio = per_round[p.name()];
          if (r->connections && mine.connections) {
            ratio["memory per idle connection"].values.push_back(kb_per_connection(mine) / kb_per_connection(*r));
            ratio["server memory, connected"].values.push_back(mine.rss_created_mb / r->rss_created_mb);
          }
          if (r->deliveries < all) {
            failures[p.name()] = "round " + std::to_string(round) + ": " + r->note;
            return;
          }
          if (r->create_s + r->deliver_s > in.national_budget_s) {
            once[p.name()] = "one round took " + fmt(r->create_s + r->deliver_s) + " s: not repeated";
          }
          if (mine.deliveries == all && mine.deliver_s > 0) {
            ratio["Lantoa faster by (peer time / Lantoa time)"].values.push_back(r->deliver_s / mine.deliver_s);
            ratio["server CPU per delivery"].values.push_back(cpu_per_delivery_us(mine) / cpu_per_delivery_us(*r));
            ratio["server memory, end"].values.push_back(mine.rss_end_mb / r->rss_end_mb);
          }
        });
    md << "\n### National press release (" << conns << " connections, one durable subscription each, "
       << in.national_events << " events, every delivery acked; " << in.rounds
       << " rounds, each on a fresh server: median, min–max)\n\n"
       << "| system | connections subscribed | time to connect + subscribe | deliveries acked | time to deliver all | "
          "server CPU while delivering (median round) | server memory (start → connected → end, median round) | "
          "memory per idle connection | note |\n"
       << "|---|---|---|---|---|---|---|---|---|\n";
    for (const std::string& system : systems) {
      const auto& rs = runs[system];
      if (rs.empty()) {
        md << "| " << system << " | failed: " << (failures.count(system) ? failures[system] : "not run") << " | | | | | | | |\n";
        continue;
      }
      Series create, deliver, per_conn;
      for (const auto& r : rs) {
        create.values.push_back(r.create_s);
        per_conn.values.push_back(kb_per_connection(r));
        if (r.deliveries == all) deliver.values.push_back(r.deliver_s);
      }
      // The round whose delivery time is the median (or the last one, if none delivered all).
      const NationalResult* mid = &rs.back();
      for (const auto& r : rs) {
        if (r.deliveries == all && r.deliver_s == deliver.median()) mid = &r;
      }
      const std::string time = deliver.values.empty()
                                   ? "— (" + fmt(mid->deliver_s, 1) + " s in the last round)"
                                   : fmt(deliver.median(), 2) + " s (" + fmt(deliver.min(), 2) + "–" + fmt(deliver.max(), 2) +
                                         "; " + fmt(all / deliver.median()) + "/s)";
      std::string remark = mid->note;
      if (once.count(system)) remark += (remark.empty() ? "" : "; ") + once[system];
      if (failures.count(system)) remark = failures[system] + (rs.size() < in.rounds ? " (not repeated)" : "");
      md << "| " << system << " | " << mid->connections << " | " << fmt(create.median(), 1) << " s (" << fmt(create.min(), 1)
         << "–" << fmt(create.max(), 1) << ") | " << mid->deliveries << " | " << time << " | " << fmt(mid->server_cpu_s, 1)
         << " s (" << fmt(cpu_per_delivery_us(*mid), 2) << " µs per delivery) | " << fmt(mid->rss_start_mb) << " → "
         << fmt(mid->rss_created_mb) << " → " << fmt(mid->rss_end_mb) << " MB | " << fmt(per_conn.median(), 1) << " KB ("
         << fmt(per_conn.min(), 1) << "–" << fmt(per_conn.max(), 1) << ") | " << remark << " |\n";
      auto& j = out["national"][system];
      for (const auto& r : rs) {
        j["rounds"].push_back({{"connections", r.connections}, {"subscriptions", r.subscriptions}, {"create_s", r.create_s},
                               {"deliveries", r.deliveries}, {"deliver_s", r.deliver_s}, {"server_cpu_s", r.server_cpu_s},
                               {"server_cpu_us_per_delivery", cpu_per_delivery_us(r)}, {"rss_start_mb", r.rss_start_mb},
                               {"rss_created_mb", r.rss_created_mb}, {"rss_end_mb", r.rss_end_mb},
                               {"kb_per_idle_connection", kb_per_connection(r)}, {"client_processes_rss_mb", r.client_rss_mb},
                               {"delivery_frames", r.delivery_frames},
                               {"note", r.note}});
      }
      j["deliver_s_median"] = deliver.median();
      if (failures.count(system)) j["failure"] = failures[system];
    }
    if (!per_round.empty()) {
      md << "\nRatios Lantoa / peer, taken within each round (median, min–max; below 1 is better for Lantoa, except "
            "\"faster by\"):\n\n| peer | ratio | median | min–max | rounds |\n|---|---|---|---|---|\n";
      for (auto& [peer, by_what] : per_round) {
        for (auto& [what, series] : by_what) {
          md << "| " << peer << " | " << what << " | " << fmt(series.median(), 2) << "× | " << fmt(series.min(), 2) << "–"
             << fmt(series.max(), 2) << " | " << series.values.size() << " |\n";
          out["national_ratios"][peer][what] = {{"median", series.median()}, {"values", series.values}};
        }
      }
    }
  }
  if (in.lantoa_latency && !in.latency_payloads.empty() && wants("latency")) {
    const std::string kUnverified = "Lantoa, subscribers not verifying (diagnostic)";
    const double rate = 1000;
    const size_t subscribers = 10;
    std::map<std::string, std::map<std::string, Series>> lat;  // system -> p50/p99/p999/max
    std::map<std::string, std::string> failures;
    auto add = [&](const std::string& system, const LatencyResult& l) {
      lat[system]["p50"].values.push_back(l.p50_ms);
      lat[system]["p99"].values.push_back(l.p99_ms);
      lat[system]["p99.9"].values.push_back(l.p999_ms);
      lat[system]["max"].values.push_back(l.max_ms);
      lat[system]["samples"].values.push_back(static_cast<double>(l.samples));
    };
    each_round(
        "latency: 1,000 events/s, 10 subscribers verifying",
        [&](size_t) {
          add("Lantoa", in.lantoa_latency(subscribers, rate, in.latency_payloads.size(), true));
          // Diagnostic: the same without the subscribers' verification, to
          // tell the broker's share of the latency from the clients' CPU.
          add(kUnverified, in.lantoa_latency(subscribers, rate, in.latency_payloads.size(), false));
        },
        [&](Peer& p, size_t) {
          auto l = p.latency(subscribers, rate, in.latency_payloads, in.identify_latency);
          if (l) add(p.name(), *l);
          else failures[p.name()] = l.status().to_string();
        });
    md << "\n### Latency (1,000 events/s, 10 subscribers, each verifying every event; " << in.rounds
       << " rounds: median, min–max)\n\n"
       << "| system | p50 | p99 | p99.9 | max | samples per round |\n|---|---|---|---|---|---|\n";
    auto ms = [](const Series& s) { return fmt(s.median(), 2) + " ms (" + fmt(s.min(), 2) + "–" + fmt(s.max(), 2) + ")"; };
    std::vector<std::string> rows = systems;
    rows.push_back(kUnverified);
    for (const std::string& system : rows) {
      if (!lat.count(system)) {
        md << "| " << system << " | failed: " << (failures.count(system) ? failures[system] : "not run") << " | | | | |\n";
        continue;
      }
      auto& l = lat[system];
      md << "| " << system << " | " << ms(l["p50"]) << " | " << ms(l["p99"]) << " | " << ms(l["p99.9"]) << " | "
         << ms(l["max"]) << " | " << fmt(l["samples"].median()) << " |\n";
      for (auto& [k, s] : l) out["latency"][system][k] = {{"median", s.median()}, {"min", s.min()}, {"max", s.max()}, {"values", s.values}};
    }
  }
  if (in.lantoa_catchup && wants("catchup")) {
    std::map<std::string, Series> rates, ratio;
    std::map<std::string, std::string> failures;
    double lantoa = 0;
    each_round(
        "catch-up: one subscription " + std::to_string(in.catchup_events) + " events behind",
        [&](size_t) {
          lantoa = in.lantoa_catchup(in.catchup_events);
          rates["Lantoa"].values.push_back(lantoa);
        },
        [&](Peer& p, size_t) {
          auto r = p.catchup(in.payloads(0, in.catchup_events));
          if (!r) {
            failures[p.name()] = r.status().to_string();
            return;
          }
          rates[p.name()].values.push_back(*r);
          ratio[p.name()].values.push_back(lantoa / *r);
        });
    md << "\n### Catch-up (one subscription " << in.catchup_events << " events behind, acked; " << in.rounds
       << " rounds: median, min–max)\n\n| system | events/s until caught up | Lantoa / system |\n|---|---|---|\n";
    md << "| Lantoa | " << cell(rates["Lantoa"], "events/s") << " | |\n";
    for (const auto& system : peer_names) {
      if (!rates.count(system)) {
        md << "| " << system << " | failed: " << (failures.count(system) ? failures[system] : "not run") << " | |\n";
        continue;
      }
      md << "| " << system << " | " << cell(rates[system], "events/s") << " | " << fmt(ratio[system].median(), 2) << "× |\n";
    }
    for (auto& [system, s] : rates) {
      out["catchup"][system] = {{"median", s.median()}, {"min", s.min()}, {"max", s.max()}, {"values", s.values}};
      if (ratio.count(system)) out["catchup"][system]["lantoa_ratio_median"] = ratio[system].median();
    }
  }
  peers.clear();
  md << "\nDurability: ";
  for (auto& [name, sys] : out["systems"].items()) md << name << " (" << sys["version"].get<std::string>() << "): " << sys["durability"].get<std::string>() << ". ";
  md << "\n";
  return out;
}

}  // namespace lantoa::bench
