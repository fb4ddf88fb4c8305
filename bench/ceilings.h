// The physical ceilings of Lantoa's parts, measured on this machine in the
// same run as the broker figures so that each can be read as a fraction of
// what the hardware allows.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace lantoa::bench {

struct Ceilings {
  double verify_1_thread = 0;     // Ed25519 verifications/s of 1 KB events, one thread
  double verify_2_threads = 0;    // the same on two threads
  double lmdb_commits = 0;        // fsynced LMDB commits/s (one 1 KB record each)
  double lmdb_batched_events = 0; // events/s when 100 events share each fsynced commit
  double fsync_ms = 0;            // mean latency of one fsynced commit
  double zmq_messages = 0;        // 1 KB CurveZMQ messages/s over loopback TCP, one way
  double zmq_bytes = 0;           // bytes/s with 64 KB CurveZMQ messages (what batched deliveries use)
};

// Runs each measurement for about `seconds`, using `scratch` for LMDB files.
Ceilings measure_ceilings(double seconds, const std::filesystem::path& scratch);

// What a reader needs to scale the figures: CPU model and cores, memory,
// kernel, distribution, the file system the data folders are on, the date.
nlohmann::json machine_facts(const std::filesystem::path& scratch);

}  // namespace lantoa::bench
