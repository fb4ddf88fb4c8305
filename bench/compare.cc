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
  std::vector<std::unique_ptr<Peer>> peers;
  for (const auto& name : in.peers) {
    std::cerr << "==> starting " << name << "\n";
    auto p = name == "nats" ? start_nats(in.scratch / "nats") : start_rabbitmq(in.scratch / "rabbitmq");
    if (!p) {
      std::cerr << "    " << name << " skipped: " << p.status().to_string() << "\n";
      out["skipped"][name] = p.status().to_string();
      continue;
    }
    out["systems"][(*p)->name()] = {{"version", (*p)->version()}, {"durability", (*p)->durability()}};
    peers.push_back(std::move(*p));
  }
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
  for (auto& p : peers) md << p->name() << " | Lantoa / " << p->name() << " | ";
  md << "\n|---|---|";
  for (size_t i = 0; i < peers.size(); ++i) md << "---|---|";
  md << "\n";
  for (const auto& key : order) {
    const auto& per_system = figures[key];
    const std::string unit = key.starts_with("ingest") ? "events/s" : "deliveries/s";
    md << "| " << key << " | " << cell(per_system.at("Lantoa"), unit) << " | ";
    for (auto& p : peers) {
      auto it = per_system.find(p->name());
      md << (it == per_system.end() ? std::string("failed") : cell(it->second, unit)) << " | ";
      auto r = ratios[key].find(p->name());
      md << (r == ratios[key].end() ? std::string("—") : fmt(r->second.median(), 2) + "×") << " | ";
    }
    md << "\n";
    for (const auto& [system, s] : per_system) {
      out["figures"][key][system] = {{"median", s.median()}, {"min", s.min()}, {"max", s.max()}, {"values", s.values}};
    }
    for (const auto& [system, s] : ratios[key]) out["ratios"][key][system] = s.median();
  }
  md << "\nDurability: ";
  for (auto& [name, sys] : out["systems"].items()) md << name << " (" << sys["version"].get<std::string>() << "): " << sys["durability"].get<std::string>() << ". ";
  md << "\n";
  return out;
}

}  // namespace lantoa::bench
