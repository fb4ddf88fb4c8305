// The side-by-side comparison (issue 8): lantoa-broker, NATS JetStream and
// RabbitMQ quorum queues under the same workload, in several rounds of one
// run; ratios Lantoa / peer are taken within each round, then the median.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace lantoa::bench {

struct CompareInputs {
  // Lantoa, as the rest of lantoa-bench measures it.
  std::function<double(size_t publishers, size_t events)> lantoa_ingest;
  std::function<double(size_t subscriptions, size_t events)> lantoa_fanout;
  // The same signed envelopes for the peers: `count` per publisher p.
  std::function<std::vector<std::string>(size_t publisher, size_t count)> payloads;
  size_t ingest_events = 48'000;
  size_t rounds = 3;
  bool quick = false;
  std::vector<std::string> peers = {"nats", "rabbitmq"};
  std::filesystem::path scratch;
};

// Runs the comparison; appends a Markdown section to `md`, returns the JSON.
nlohmann::json compare(const CompareInputs& in, std::ostringstream& md);

}  // namespace lantoa::bench
