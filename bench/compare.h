// The side-by-side comparison (issue 8): lantoa-broker, NATS JetStream and
// RabbitMQ quorum queues under the same workload, in several rounds of one
// run; ratios Lantoa / peer are taken within each round, then the median.
// Every scenario runs `rounds` times; the long ones (national, latency,
// catch-up) on freshly started peer servers in each round.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "peers/peers.h"

namespace lantoa::bench {

struct CompareInputs {
  // Lantoa, as the rest of lantoa-bench measures it.
  std::function<double(size_t publishers, size_t events)> lantoa_ingest;
  std::function<double(size_t subscriptions, size_t events)> lantoa_fanout;
  // `connections` portals with one durable subscription each.
  std::function<NationalResult(size_t connections, size_t events, double budget_s)> lantoa_national;
  std::function<LatencyResult(size_t subscribers, double rate, size_t events, bool verify)> lantoa_latency;
  std::function<double(size_t events)> lantoa_catchup;
  // Verifies a payload as a subscriber would and returns its index in the
  // latency payloads (-1: invalid or not one of them).
  Identify identify_latency;
  std::vector<std::string> latency_payloads;
  // The same signed envelopes for the peers: `count` per publisher p.
  std::function<std::vector<std::string>(size_t publisher, size_t count)> payloads;
  size_t ingest_events = 48'000;
  size_t rounds = 3;
  size_t national_connections = 10'000, national_events = 100;
  double national_budget_s = 120;  // peers: stop creating subscriptions after this long
  size_t catchup_events = 100'000;
  bool quick = false;
  std::vector<std::string> peers = {"nats", "rabbitmq"};
  // Which scenarios: ingest, fanout, national, latency, catchup.
  std::vector<std::string> parts = {"ingest", "fanout", "national", "latency", "catchup"};
  std::filesystem::path scratch;
};

// Events published in the fan-out to `subscriptions` (the same for every system).
size_t fanout_events(size_t subscriptions, bool quick);

// Runs the comparison; appends a Markdown section to `md`, returns the JSON.
nlohmann::json compare(const CompareInputs& in, std::ostringstream& md);

}  // namespace lantoa::bench
