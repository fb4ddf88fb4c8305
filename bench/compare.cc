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

nlohmann::json compare(const CompareInputs& in, std::ostringstream& md) {
  nlohmann::json out;
  // Every peer server is started afresh for the rounds and again for each
  // of the long scenarios, in its own folder, and stopped after it.
  int starts = 0;
  auto start_peers = [&]() {
    std::vector<std::unique_ptr<Peer>> started;
    for (const auto& name : in.peers) {
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
  std::vector<std::unique_ptr<Peer>> peers = start_peers();
  std::vector<std::string> peer_names;
  for (auto& p : peers) peer_names.push_back(p->name());
  out["systems"]["Lantoa"] = {{"version", "lantoa-broker 0.1"},
                              {"durability", "LMDB group commit, fsync before accepted; every event verified"}};
  // Measurements: key "ingest/16" -> system -> series; ratios per round.
  std::map<std::string, std::map<std::string, Series>> figures, ratios;
  std::vector<std::string> order;  // scenarios in the order they ran
  auto note = [&](const std::string& key) {
    if (std::find(order.begin(), order.end(), key) == order.end()) order.push_back(key);
  };
  const std::vector<size_t> pubs_list = {1, 4, 16};
  const std::vector<size_t> subs_list = {8, 100};
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
      const size_t events = in.quick ? (subs > 10 ? 200 : 1000) : (subs > 10 ? 2000 : 10000);
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
  md << "\n### Side by side (" << in.rounds << " rounds; median, with min–max; ratio = Lantoa / peer within a round, median)\n\n";
  md << "| scenario | Lantoa | ";
  for (auto& p : peer_names) md << p << " | Lantoa / " << p << " | ";
  md << "\n|---|---|";
  for (size_t i = 0; i < peers.size(); ++i) md << "---|---|";
  md << "\n";
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
  peers.clear();  // stopped; fresh servers for each scenario below
  // Scenarios 3-5, once each (they are long); the same workload for every system.
  auto national_row = [&](const std::string& system, const NationalResult& r) {
    const double per_s = r.deliver_s > 0 ? r.deliveries / r.deliver_s : 0;
    md << "| " << system << " | " << r.subscriptions << " | " << fmt(r.create_s, 1) << " s | " << r.deliveries << " | "
       << fmt(r.deliver_s, 2) << " s (" << fmt(per_s) << "/s) | " << fmt(r.rss_start_mb) << " → " << fmt(r.rss_created_mb)
       << " → " << fmt(r.rss_end_mb) << " MB | " << r.note << " |\n";
    out["national"][system] = {{"subscriptions", r.subscriptions}, {"create_s", r.create_s}, {"deliveries", r.deliveries},
                               {"deliver_s", r.deliver_s}, {"rss_start_mb", r.rss_start_mb},
                               {"rss_created_mb", r.rss_created_mb}, {"rss_end_mb", r.rss_end_mb}, {"note", r.note}};
  };
  if (in.lantoa_national) {
    std::cerr << "==> national press release: " << in.national_subscriptions << " subscriptions over "
              << in.national_connections << " connections, " << in.national_events << " events\n";
    md << "\n### National press release (" << in.national_subscriptions << " durable subscriptions over "
       << in.national_connections << " connections, " << in.national_events << " events, every delivery acked)\n\n"
       << "| system | subscriptions | time to create | deliveries acked | time to deliver all | server memory (start → created → end) | note |\n"
       << "|---|---|---|---|---|---|---|\n";
    national_row("Lantoa", in.lantoa_national(in.national_subscriptions, in.national_connections, in.national_events));
    peers.clear();
    peers = start_peers();
    const auto payloads = in.payloads(0, in.national_events);
    for (auto& peer : peers) {
      std::cerr << "    " << peer->name() << "\n";
      auto r = peer->national(in.national_subscriptions, in.national_connections, payloads, in.national_budget_s);
      if (r) national_row(peer->name(), *r);
      else md << "| " << peer->name() << " | failed: " << r.status().to_string() << " | | | | | |\n";
    }
  }
  if (in.lantoa_latency && !in.latency_payloads.empty()) {
    std::cerr << "==> latency: 1,000 events/s, 10 subscribers verifying\n";
    md << "\n### Latency (1,000 events/s, 10 subscribers, each verifying every event)\n\n"
       << "| system | p50 | p99 | p99.9 | max | samples |\n|---|---|---|---|---|---|\n";
    auto row = [&](const std::string& system, const LatencyResult& l) {
      md << "| " << system << " | " << fmt(l.p50_ms, 2) << " ms | " << fmt(l.p99_ms, 2) << " ms | " << fmt(l.p999_ms, 2)
         << " ms | " << fmt(l.max_ms, 2) << " ms | " << l.samples << " |\n";
      out["latency"][system] = {{"p50_ms", l.p50_ms}, {"p99_ms", l.p99_ms}, {"p999_ms", l.p999_ms},
                                {"max_ms", l.max_ms}, {"samples", l.samples}};
    };
    row("Lantoa", in.lantoa_latency(10, 1000, in.latency_payloads.size()));
    peers.clear();
    peers = start_peers();
    for (auto& peer : peers) {
      std::cerr << "    " << peer->name() << "\n";
      auto l = peer->latency(10, 1000, in.latency_payloads, in.identify_latency);
      if (l) row(peer->name(), *l);
      else md << "| " << peer->name() << " | failed: " << l.status().to_string() << " | | | | |\n";
    }
  }
  if (in.lantoa_catchup) {
    std::cerr << "==> catch-up: one subscription " << in.catchup_events << " events behind\n";
    md << "\n### Catch-up (one subscription " << in.catchup_events << " events behind, acked)\n\n"
       << "| system | events/s until caught up | Lantoa / system |\n|---|---|---|\n";
    const double lantoa = in.lantoa_catchup(in.catchup_events);
    peers.clear();
    peers = start_peers();
    md << "| Lantoa | " << fmt(lantoa) << " | |\n";
    out["catchup"]["Lantoa"] = lantoa;
    const auto payloads = in.payloads(0, in.catchup_events);
    for (auto& peer : peers) {
      std::cerr << "    " << peer->name() << "\n";
      auto r = peer->catchup(payloads);
      if (r) {
        md << "| " << peer->name() << " | " << fmt(*r) << " | " << fmt(lantoa / *r, 2) << "× |\n";
        out["catchup"][peer->name()] = *r;
      } else {
        md << "| " << peer->name() << " | failed: " << r.status().to_string() << " | |\n";
      }
    }
  }
  peers.clear();
  md << "\nDurability: ";
  for (auto& [name, sys] : out["systems"].items()) md << name << " (" << sys["version"].get<std::string>() << "): " << sys["durability"].get<std::string>() << ". ";
  md << "\n";
  return out;
}

}  // namespace lantoa::bench
