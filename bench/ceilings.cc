#include "ceilings.h"

#include <sodium.h>
#include <sys/statfs.h>
#include <sys/utsname.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "lantoa/event.h"
#include "lantoa/keys.h"
#include "lantoa/internal/store.h"

namespace lantoa::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double verify_rate(unsigned threads, double seconds) {
  SigningKey key = SigningKey::generate();
  const std::string message = signing_input(SignDomain::kEvent, std::string(1024, 'x'));
  const std::string signature = key.sign_raw(message);
  std::atomic<uint64_t> total{0};
  std::vector<std::thread> pool;
  const auto start = Clock::now();
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      uint64_t n = 0;
      while (seconds_since(start) < seconds) {
        for (int i = 0; i < 64; ++i) n += ed25519_verify(key.public_key(), message, signature) ? 1 : 0;
      }
      total += n;
    });
  }
  for (auto& t : pool) t.join();
  return static_cast<double>(total) / seconds_since(start);
}

void lmdb_rates(double seconds, const std::filesystem::path& dir, Ceilings& out) {
  auto env = store::Env::open(dir);
  if (!env) return;
  auto db = env->open_db("bench");
  const std::string value(1100, 'v');
  uint64_t key = 0, commits = 0;
  auto start = Clock::now();
  while (seconds_since(start) < seconds / 2) {
    auto txn = store::Txn::begin(*env, store::Access::kWrite);
    (void)txn->put(*db, store::be64(++key), value);
    if (txn->commit().ok()) ++commits;
  }
  double elapsed = seconds_since(start);
  out.lmdb_commits = commits / elapsed;
  out.fsync_ms = elapsed * 1000 / static_cast<double>(commits);
  uint64_t events = 0;
  start = Clock::now();
  while (seconds_since(start) < seconds / 2) {
    auto txn = store::Txn::begin(*env, store::Access::kWrite);
    for (int i = 0; i < 100; ++i) (void)txn->put(*db, store::be64(++key), value);
    if (txn->commit().ok()) events += 100;
  }
  out.lmdb_batched_events = events / seconds_since(start);
}

// Messages/s of `size` bytes, one way, over CurveZMQ on loopback TCP.
double zmq_rate(double seconds, size_t size) {
  zmq::context_t ctx(1);
  TransportKey server_key = TransportKey::generate(), client_key = TransportKey::generate();
  zmq::socket_t server(ctx, zmq::socket_type::router), client(ctx, zmq::socket_type::dealer);
  const std::string ss = server_key.secret(), cs = client_key.secret();
  server.set(zmq::sockopt::curve_server, 1);
  server.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(ss.data(), 32));
  server.set(zmq::sockopt::rcvhwm, 100000);
  server.bind("tcp://127.0.0.1:*");
  const std::string endpoint = server.get(zmq::sockopt::last_endpoint);
  client.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server_key.public_key().data(), 32));
  client.set(zmq::sockopt::curve_publickey, zmq::const_buffer(client_key.public_key().data(), 32));
  client.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(cs.data(), 32));
  client.set(zmq::sockopt::sndhwm, 100000);
  client.connect(endpoint);
  const std::string payload(size, 'p');
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0};
  std::thread sender([&] {
    while (!stop) {
      for (int i = 0; i < 16; ++i) {
        if (client.send(zmq::buffer(payload), zmq::send_flags::dontwait)) sent++;
      }
    }
  });
  uint64_t received = 0;
  zmq::message_t id, msg;
  // Warm up the handshake, then count for `seconds`.
  (void)server.recv(id);
  (void)server.recv(msg);
  const auto start = Clock::now();
  server.set(zmq::sockopt::rcvtimeo, 200);
  while (seconds_since(start) < seconds) {
    if (!server.recv(id)) continue;
    (void)server.recv(msg);
    ++received;
  }
  const double rate = received / seconds_since(start);
  stop = true;
  sender.join();
  client.set(zmq::sockopt::linger, 0);
  server.set(zmq::sockopt::linger, 0);
  return rate;
}

}  // namespace

Ceilings measure_ceilings(double seconds, const std::filesystem::path& scratch) {
  Ceilings c;
  c.verify_1_thread = verify_rate(1, seconds);
  c.verify_2_threads = verify_rate(2, seconds);
  lmdb_rates(seconds, scratch / "lmdb-ceiling", c);
  c.zmq_messages = zmq_rate(seconds / 2, 1100);
  c.zmq_bytes = zmq_rate(seconds / 2, 64 << 10) * (64 << 10);
  return c;
}

nlohmann::json machine_facts(const std::filesystem::path& scratch) {
  nlohmann::json m;
  m["cores"] = std::thread::hardware_concurrency();
  auto first_value = [](const std::string& file, const std::string& key) -> std::string {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(key, 0) != 0) continue;
      auto at = line.find_first_of(":=", key.size());
      if (at == std::string::npos) continue;
      std::string v = line.substr(at + 1);
      v.erase(0, v.find_first_not_of(" \t\""));
      while (!v.empty() && (v.back() == '"' || v.back() == ' ')) v.pop_back();
      return v;
    }
    return "";
  };
  m["cpu"] = first_value("/proc/cpuinfo", "model name");
  m["memory"] = first_value("/proc/meminfo", "MemTotal");
  m["os"] = first_value("/etc/os-release", "PRETTY_NAME");
  utsname u{};
  if (::uname(&u) == 0) m["kernel"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  struct statfs fs{};
  if (::statfs(scratch.c_str(), &fs) == 0) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(fs.f_type));
    const auto type = static_cast<unsigned long>(fs.f_type);
    m["data_filesystem"] = type == 0x01021994 ? "tmpfs (fsync does not reach a disk)"
                           : type == 0xEF53   ? "ext4"
                           : type == 0x58465342 ? "xfs"
                           : type == 0x9123683E ? "btrfs"
                           : type == 0x794C7630 ? "overlayfs"
                                                : std::string("type ") + hex;
  }
  m["data_folder"] = scratch.string();
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  m["date"] = date;
  return m;
}

}  // namespace lantoa::bench
