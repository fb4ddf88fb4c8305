// The systems operators would otherwise pick, driven with the same workload
// as lantoa-broker in the same run (issue 8): NATS JetStream (nats-server
// from Debian, the cnats client) and RabbitMQ quorum queues (rabbitmq-server
// from Debian, the rabbitmq-c client). Each server is started here on
// 127.0.0.1 with free ports and its data in a temporary folder, and stopped
// by PID at the end.
//
// Workload, equal for every system: the payloads are the serialized,
// Ed25519-signed Lantoa envelopes (~1.1 KB, Vietnamese text), signed before
// timing starts; storage is durable; every publish waits for the server's
// confirmation; every delivery is acknowledged explicitly. Durability:
// RabbitMQ quorum queues confirm after fsync (as Lantoa); NATS JetStream 2.9
// has no per-ack fsync setting and is run at its default (a weaker guarantee).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lantoa/status.h"

namespace lantoa::bench {

// Scenario 3, the national press release.
struct NationalResult {
  size_t subscriptions = 0;   // created (fewer than asked when the budget ran out)
  size_t connections = 0;     // open while delivering, one subscription each
  double create_s = 0;        // time to create them
  uint64_t deliveries = 0;    // acked
  double deliver_s = 0;       // from the first publish until every delivery is acked
  double rss_start_mb = 0, rss_created_mb = 0, rss_end_mb = 0;  // the server's resident memory
  double server_cpu_s = 0;    // CPU time the server used while delivering (user + system)
  double client_rss_mb = 0;   // all client processes together, after creating
  uint64_t delivery_frames = 0;  // Lantoa: Deliveries frames the portals received (0: not counted)
  std::string note;
};

// Scenario 4: publish -> deliver, subscribers verifying.
struct LatencyResult {
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
  size_t samples = 0;
};

// What a latency subscriber does with each message it receives: verify it
// (signature and chain) and say which payload it is (-1: not ours or invalid).
using Identify = std::function<long(const std::string& bytes)>;

class Peer {
 public:
  virtual ~Peer() = default;
  virtual std::string name() const = 0;
  virtual std::string version() const = 0;
  virtual std::string durability() const = 0;
  // `payloads[p]` are publisher p's messages; all publishers run at once,
  // each keeping a window of unconfirmed publishes. Confirmed events/s.
  virtual Result<double> ingest(const std::vector<std::vector<std::string>>& payloads) = 0;
  // `payloads` stored first; then `subscriptions` durable consumers (over at
  // most 8 connections) each read and ack every one. Deliveries/s.
  virtual Result<double> fanout(size_t subscriptions, const std::vector<std::string>& payloads) = 0;
  // `connections` connections with one durable subscription each, spread
  // over client processes (creation stops when `budget_s` is spent), then
  // `payloads` published and delivered to every one.
  virtual Result<NationalResult> national(size_t connections, const std::vector<std::string>& payloads,
                                          double budget_s) = 0;
  // `subscribers` durable subscriptions; `payloads` published at `rate`/s.
  virtual Result<LatencyResult> latency(size_t subscribers, double rate, const std::vector<std::string>& payloads,
                                        const Identify& identify) = 0;
  // One subscription that is `payloads.size()` events behind: events/s until caught up.
  virtual Result<double> catchup(const std::vector<std::string>& payloads) = 0;
};

// Resident memory of a process in MB (0 if unknown).
double rss_mb(pid_t pid);
// CPU time a process has used so far, user + system, in seconds (0 if unknown).
double cpu_seconds(pid_t pid);
// Percentiles of latency samples (ms).
LatencyResult summarize(std::vector<double> samples_ms);

// nullptr-free: an error says why the server could not start (not installed...).
Result<std::unique_ptr<Peer>> start_nats(const std::filesystem::path& dir);
Result<std::unique_ptr<Peer>> start_rabbitmq(const std::filesystem::path& dir);

// A TCP port that was free a moment ago on 127.0.0.1.
int free_port();
// Waits until 127.0.0.1:port accepts connections.
bool wait_for_port(int port, double seconds);
// Stops a child process: SIGTERM, then SIGKILL after 5 s; reaps it.
void stop_child(pid_t pid);
// Runs a command, returns its output (stdout and stderr).
std::string run(const std::string& command);

// TLS for the peers: a CA and a server certificate (SAN 127.0.0.1 and
// localhost) made with the openssl CLI in `dir` when the server is started.
struct TlsFiles {
  std::filesystem::path ca, cert, key;
};
Result<TlsFiles> make_tls(const std::filesystem::path& dir);
// This program's path (client processes of the NATS peer exec it: cnats keeps
// threads that a forked child would not have).
std::string self_exe();
// The entry of such a client process: lantoa-bench --nats-portals ARGS...
int nats_portals_main(int argc, char** argv);

}  // namespace lantoa::bench
