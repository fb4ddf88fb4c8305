// lantoa-bench: measures lantoa-broker against the ceilings of its parts, in
// one run on one machine, and prints each figure as a fraction of the
// ceiling that bounds it (see bench/README.md).
//
//   lantoa-bench [--scenario all|ingest|fanout|latency|compare] [--quick]
//                [--rounds N] [--peers nats,rabbitmq|none]
//                [--parts ingest,fanout,national,latency,catchup]
//                [--national-connections N] [--broker PATH] [--out DIR]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "ceilings.h"
#include "peers/peers.h"
#include "compare.h"
#include "portals.h"
#include "swarm.h"
#include "lantoa/connection.h"
#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/trust.h"
#include "lantoa/internal/connection_access.h"
#include "delivery/wire_views.pb.h"
#include "support/broker_launcher.h"
#include <httplib.h>

namespace fs = std::filesystem;
using namespace lantoa;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void progress(const std::string& text) {
  std::cerr << "  .. " << text << std::endl;
}

// A trust tree for the benchmark: root "vn", members certified for a day.
struct Identities {
  MemberKey root = std::move(*MemberKey::generate("vn"));
  struct Member {
    MemberKey key;
    v1::CertificateChain chain;
  };
  std::vector<Member> publishers;
  std::vector<Member> subscribers;
  uint64_t serial = 1;

  Member make(const std::string& id, std::vector<v1::Role> roles) {
    MemberKey key = std::move(*MemberKey::generate(id));
    const int64_t now = unix_now_ms();
    CertificateRequest req{key.public_keys(), std::move(roles), now - 3'600'000, now + 86'400'000, serial++, {}};
    Member m{std::move(key), {}};
    *m.chain.add_certificates() = *issue_certificate("vn", root.sign, req);
    return m;
  }
};

// About 1 KB of realistic Vietnamese news text.
const std::string& news_body() {
  static const std::string body = [] {
    std::string b =
        "Sáng 12/8, tại Hà Nội, Cổng Thông tin điện tử Chính phủ tổ chức Hội nghị đầu tiên giữa các Cổng "
        "Thông tin điện tử Bộ, ngành. Hội nghị nhằm tăng cường phối hợp, chia sẻ thông tin chính thống, "
        "lan tỏa thông tin tích cực, góp phần định hướng dư luận xã hội. ";
    while (b.size() < 800) b += b;
    b.resize(800);
    while (!is_valid_utf8(b)) b.pop_back();
    return b;
  }();
  return body;
}

std::vector<v1::SignedEvent> presign(const Identities::Member& m, const std::string& topic, uint64_t first_seq,
                                     size_t count) {
  std::vector<v1::SignedEvent> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto e = EventBuilder(m.key.member, first_seq + i, topic)
                 .headline("Thông cáo báo chí số " + std::to_string(first_seq + i))
                 .body(news_body())
                 .build();
    out.push_back(*sign_event(*e, m.key.sign));
  }
  return out;
}

struct Broker {
  fs::path dir;
  std::unique_ptr<testing::BrokerLauncher> launcher;
  testing::BrokerInfo info;
};

Broker start_broker(const fs::path& binary, const fs::path& dir, const Identities& ids,
                    std::vector<std::string> more_args = {}) {
  fs::create_directories(dir / "data");
  (void)ids.root.public_keys().save(dir / "data" / "trust-root.pub", true);
  std::vector<std::string> args{"--log-level", "warn", "--verify-threads", "2",
                                // one bench member stands for every portal
                                "--max-subscriptions-per-member", "0", "--rate-events", "0"};
  args.insert(args.end(), more_args.begin(), more_args.end());
  Broker b{dir, std::make_unique<testing::BrokerLauncher>(binary, dir / "data", dir / "broker.log", std::move(args)),
           {}};
  auto info = b.launcher->start();
  if (!info) {
    std::cerr << "cannot start the broker: " << info.status().to_string() << "\n";
    std::exit(1);
  }
  b.info = *info;
  return b;
}

Connection connect(const Broker& b, const Identities::Member& m) {
  auto c = Connection::open(b.info.address, m.key, m.chain);
  if (!c) {
    std::cerr << "cannot connect as " << m.key.member << ": " << c.status().to_string() << "\n";
    std::exit(1);
  }
  return std::move(*c);
}

// --- scenarios ---

// N publishers, each sending pre-signed batches with a window of batches in
// flight, waiting for every durable confirmation. Returns events/s; when
// `broker_cores` is given, the broker's CPU time over the wall time.
double ingest(const Broker& b, const Identities& ids, size_t publishers, size_t total_events,
              double* broker_cores = nullptr) {
  const size_t per = total_events / publishers;
  constexpr size_t kBatch = 50, kWindow = 8;
  std::vector<std::vector<v1::SignedEvent>> events(publishers);
  static std::map<std::string, uint64_t> next_seq;  // per member, across rounds
  for (size_t p = 0; p < publishers; ++p) {
    const auto& m = ids.publishers[p];
    uint64_t& seq = next_seq[m.key.member];
    if (seq == 0) seq = 1;
    events[p] = presign(m, m.key.member + ".news", seq, per);
    seq += per;
  }
  // Frames are encoded before timing too: the clock measures the broker,
  // not the benchmark's own protobuf work.
  std::vector<std::vector<std::string>> frames(publishers);
  for (size_t p = 0; p < publishers; ++p) {
    uint64_t request = 1;
    for (size_t first = 0; first < per; first += kBatch) {
      v1::ClientFrame f;
      f.mutable_publish()->set_request_id(request++);
      for (size_t i = first; i < std::min(per, first + kBatch); ++i) *f.mutable_publish()->add_events() = events[p][i];
      frames[p].push_back(f.SerializeAsString());
    }
  }
  std::vector<Connection> conns;
  for (size_t p = 0; p < publishers; ++p) conns.push_back(connect(b, ids.publishers[p]));
  std::atomic<uint64_t> accepted{0};
  std::vector<std::thread> threads;
  const double cpu0 = bench::cpu_seconds(b.launcher->pid());
  const auto start = Clock::now();
  for (size_t p = 0; p < publishers; ++p) {
    threads.emplace_back([&, p] {
      Connection& c = conns[p];
      size_t next = 0, in_flight = 0;
      while (next < frames[p].size() || in_flight > 0) {
        while (in_flight < kWindow && next < frames[p].size()) {
          (void)internal::ConnectionAccess::send_raw(c, {frames[p][next++]});
          ++in_flight;
        }
        auto r = c.receive(milliseconds(10000));
        if (!r.ok() || !r->has_value()) break;
        if (!(*r)->has_results()) continue;
        --in_flight;
        for (const auto& x : (*r)->results().results()) accepted += x.status() == v1::PublishResult::ACCEPTED;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double wall = seconds_since(start);
  const double rate = accepted / wall;
  if (broker_cores) *broker_cores = (bench::cpu_seconds(b.launcher->pid()) - cpu0) / wall;
  if (accepted != per * publishers) std::cerr << "  !! only " << accepted << " of " << per * publishers << " accepted\n";
  return rate;
}

// `subs` durable subscriptions filled with `events` events each, then
// drained by subscribers that ack everything. Returns acked deliveries/s.
// Subscribes `count` durable subscriptions named prefix-N (vn.bench.>) over
// one connection, a window of requests at a time.
void create_subscriptions(Connection& conn, const std::string& prefix, size_t count) {
  size_t sent = 0, answered = 0;
  while (answered < count) {
    while (sent < count && sent - answered < 256) {
      v1::ClientFrame f;
      auto* sub = f.mutable_subscribe();
      sub->set_request_id(sent + 1);
      sub->set_name(prefix + "-" + std::to_string(sent));
      sub->add_filters("vn.bench.>");
      sub->set_credit(1);
      (void)conn.send(f);
      ++sent;
    }
    auto r = conn.receive(milliseconds(30000));
    if (!r.ok() || !r->has_value()) {
      std::cerr << "  !! subscribing stopped at " << answered << "\n";
      return;
    }
    if ((*r)->has_subscribed() || (*r)->has_error()) ++answered;
  }
}

// Publishes pre-signed events in batches of 100 and waits for every result.
void publish_batches(Connection& pub, const std::vector<v1::SignedEvent>& all) {
  size_t sent = 0, answered = 0;
  const size_t batches = (all.size() + 99) / 100;
  while (answered < batches) {
    while (sent < batches && sent - answered < 8) {
      v1::ClientFrame f;
      f.mutable_publish()->set_request_id(sent + 1);
      for (size_t k = sent * 100; k < std::min(all.size(), sent * 100 + 100); ++k) *f.mutable_publish()->add_events() = all[k];
      (void)pub.send(f);
      ++sent;
    }
    auto r = pub.receive(milliseconds(30000));
    if (!r.ok() || !r->has_value()) return;
    if ((*r)->has_results() || (*r)->has_error()) ++answered;
  }
}

// Resumes the subscriptions prefix-N with N = first, first + step... on `conn`
// and acks deliveries until `expected` arrived.
uint64_t drain(Connection& conn, const std::string& prefix, size_t first, size_t step, size_t subs, uint64_t expected,
               uint32_t credit, std::atomic<double>* bytes_per_delivery = nullptr) {
  for (size_t s = first; s < subs; s += step) {
    v1::ClientFrame f;
    f.mutable_subscribe()->set_request_id(s + 1);
    f.mutable_subscribe()->set_name(prefix + "-" + std::to_string(s));
    f.mutable_subscribe()->set_credit(credit);
    (void)conn.send(f);
  }
  uint64_t got = 0;
  auto last_delivery = Clock::now();
  while (got < expected) {
    // Gives up after 10 s without a delivery (heartbeats keep arriving).
    if (Clock::now() - last_delivery > std::chrono::seconds(10)) break;
    // As NATS and RabbitMQ clients get opaque message bodies, the drain reads
    // only the delivery headers and leaves each event as bytes (a portal
    // parses and verifies the event on its own machine; not measured here).
    auto r = conn.receive_raw(milliseconds(1000));
    if (!r.ok()) break;
    if (!r->has_value()) continue;
    broker::views::DeliveriesFrameView headers;
    if (!headers.ParseFromString(**r) || !headers.has_deliveries()) continue;
    last_delivery = Clock::now();
    const auto& items = headers.deliveries().items();
    if (bytes_per_delivery && *bytes_per_delivery == 0 && items.size() > 0) {
      *bytes_per_delivery = static_cast<double>((*r)->size()) / items.size();
    }
    std::map<std::string, v1::ClientFrame> acks;
    for (const auto& d : items) {
      auto& a = acks[d.subscription()];
      a.mutable_ack()->set_subscription(d.subscription());
      a.mutable_ack()->add_delivery_ids(d.delivery_id());
      ++got;
    }
    for (auto& [name, frame] : acks) (void)conn.send(frame);
  }
  return got;
}

struct Fanout {
  double deliveries_per_s = 0;
  double bytes_per_delivery = 0;  // on the wire, in batched frames
};

Fanout fanout(const fs::path& binary, const fs::path& dir, Identities& ids, size_t subs, size_t events) {
  Broker b = start_broker(binary, dir, ids);
  const size_t connections = std::min<size_t>(subs, 8);
  {
    Connection setup = connect(b, ids.subscribers[0]);
    create_subscriptions(setup, "portal", subs);
  }
  {
    Connection pub = connect(b, ids.publishers[0]);
    publish_batches(pub, presign(ids.publishers[0], "vn.bench.p0.press", 1, events));
  }
  std::vector<Connection> conns;
  for (size_t c = 0; c < connections; ++c) conns.push_back(connect(b, ids.subscribers[0]));
  const uint64_t expected = static_cast<uint64_t>(subs) * events;
  std::atomic<uint64_t> acked{0};
  std::atomic<double> bytes_per_delivery{0};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (size_t c = 0; c < connections; ++c) {
    const uint64_t mine = static_cast<uint64_t>((subs - c + connections - 1) / connections) * events;
    threads.emplace_back(
        [&, c, mine] { acked += drain(conns[c], "portal", c, connections, subs, mine, 2000, &bytes_per_delivery); });
  }
  for (auto& t : threads) t.join();
  const double rate = acked / seconds_since(start);
  if (acked != expected) std::cerr << "  !! only " << acked << " of " << expected << " deliveries acked\n";
  b.launcher->stop();
  return {rate, bytes_per_delivery};
}

// Scenario 3: the national press release at its real shape: `connections`
// portals, each its own connection with one durable subscription, held by
// client processes (see swarm.h, portals.h); then `events` published and
// delivered to every one, each delivery acked.
bench::NationalResult national(const fs::path& binary, const fs::path& dir, Identities& ids, size_t connections,
                               size_t events, double budget_s) {
  Broker b = start_broker(binary, dir, ids);
  const auto& portal = ids.subscribers[0];
  bench::PortalsConfig config;
  config.endpoint = b.info.address.endpoint;
  config.server_key = b.info.address.transport_key;
  config.public_key = portal.key.transport.public_key();
  config.secret_key = portal.key.transport.secret();
  v1::ClientFrame hello;
  hello.mutable_hello()->set_protocol_version(v1::PROTOCOL_V1);
  *hello.mutable_hello()->mutable_chain() = portal.chain;
  hello.mutable_hello()->set_agent("lantoa-bench/portal");
  config.hello = hello.SerializeAsString();
  config.events = events;
  auto all = presign(ids.publishers[0], "vn.bench.p0.press", 1, events);
  std::optional<Connection> pub;
  bench::NationalPlan plan;
  plan.connections = connections;
  plan.children = connections >= 2000 ? 4 : 2;
  plan.budget_s = budget_s;
  plan.server = b.launcher->pid();
  plan.child = [&](size_t, size_t first, size_t count, Clock::time_point deadline, bench::ParentLink& link) {
    return bench::run_portals(config, first, count, deadline, link);
  };
  // Opened once every portal is connected, before timing (a connection
  // opened earlier and left silent would be dropped after three heartbeats).
  plan.prepare = [&] { pub.emplace(connect(b, ids.publishers[0])); };
  plan.publish = [&] {
    publish_batches(*pub, all);
    return Status::Ok();
  };
  bench::NationalResult r = bench::run_national(plan);
  secure_wipe(config.secret_key);
  if (r.deliveries != static_cast<uint64_t>(r.subscriptions) * events) {
    r.note += std::string(r.note.empty() ? "" : "; ") + "only " + std::to_string(r.deliveries) + " acked";
  }
  pub.reset();
  b.launcher->stop();
  return r;
}

// Scenario 5: one subscription `events` behind; events/s until caught up.
double catchup(const fs::path& binary, const fs::path& dir, Identities& ids, size_t events) {
  Broker b = start_broker(binary, dir, ids);
  {
    Connection setup = connect(b, ids.subscribers[0]);
    create_subscriptions(setup, "behind", 1);
  }
  {
    Connection pub = connect(b, ids.publishers[0]);
    publish_batches(pub, presign(ids.publishers[0], "vn.bench.p0.archive", 1, events));
  }
  Connection reader = connect(b, ids.subscribers[0]);
  const auto start = Clock::now();
  const uint64_t got = drain(reader, "behind", 0, 1, 1, events, 1000);
  const double rate = got / seconds_since(start);
  if (got != events) std::cerr << "  !! caught up " << got << " of " << events << "\n";
  b.launcher->stop();
  return rate;
}

// A steady `rate` events/s for `seconds`, delivered to `subscribers`
// subscriptions that verify every event (unless `verify` is false: a
// diagnostic that leaves the subscribers' CPU out); publish->deliver latency.
bench::LatencyResult latency(const Broker& b, const Identities& ids, double rate, double seconds, size_t subscribers,
                bool verify = true, const Broker* publish_at = nullptr) {
  std::vector<Connection> subs;
  for (size_t s = 0; s < subscribers; ++s) {
    subs.push_back(connect(b, ids.subscribers[0]));
    v1::ClientFrame f;
    f.mutable_subscribe()->set_request_id(1);
    f.mutable_subscribe()->set_name("latency-" + std::to_string(s) + "-" + std::to_string(::getpid()));
    f.mutable_subscribe()->add_filters("vn.bench.p1.flash");
    f.mutable_subscribe()->set_credit(1000);
    (void)subs.back().send(f);
    (void)subs.back().receive(milliseconds(5000));
  }
  // Settled before measuring; published at another broker, the subscription's
  // interest has to reach it over the links first.
  std::this_thread::sleep_for(milliseconds(publish_at ? 2000 : 500));
  const size_t count = static_cast<size_t>(rate * seconds);
  auto events = presign(ids.publishers[1], "vn.bench.p1.flash", 1'000'000, count);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < count; ++i) index[event_id(events[i].event())] = i;
  std::vector<std::atomic<int64_t>> sent(count);  // send time, steady clock ticks
  std::mutex mu;
  std::vector<double> samples;
  std::atomic<bool> done{false};
  TrustStore trust(RootKey{"vn", ids.root.sign.public_key()});
  std::vector<std::thread> readers;
  for (size_t s = 0; s < subscribers; ++s) {
    readers.emplace_back([&, s] {
      size_t got = 0;
      while (got < count && !done) {
        auto r = subs[s].receive(milliseconds(200));
        if (!r.ok() || !r->has_value() || !(*r)->has_deliveries()) continue;
        v1::ClientFrame ack;
        for (const auto& d : (*r)->deliveries().items()) {
          std::string id;
          if (verify) {
            auto v = trust.verify_event(d.event());  // subscribers verify, as in real use
            if (!v) continue;
            id = v->id;
          } else {
            id = event_id(d.event().event());
          }
          const auto now = Clock::now();
          auto it = index.find(id);
          if (it == index.end()) continue;
          std::lock_guard lock(mu);
          const auto at = Clock::time_point(Clock::duration(sent[it->second].load()));
          samples.push_back(std::chrono::duration<double, std::milli>(now - at).count());
          ack.mutable_ack()->set_subscription(d.subscription());
          ack.mutable_ack()->add_delivery_ids(d.delivery_id());
          ++got;
        }
        if (ack.has_ack()) (void)subs[s].send(ack);
      }
    });
  }
  Connection sender = connect(publish_at ? *publish_at : b, ids.publishers[1]);
  const auto start = Clock::now();
  for (size_t i = 0; i < count; ++i) {
    const auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(i / rate));
    std::this_thread::sleep_until(due);
    v1::ClientFrame f;
    f.mutable_publish()->set_request_id(i + 1);
    *f.mutable_publish()->add_events() = events[i];
    sent[i] = Clock::now().time_since_epoch().count();
    (void)sender.send(f);
    for (;;) {  // take the confirmations that have arrived, without waiting
      auto r = sender.receive(milliseconds(0));
      if (!r.ok() || !r->has_value()) break;
    }
  }
  std::this_thread::sleep_for(milliseconds(1500));
  done = true;
  for (auto& t : readers) t.join();
  return bench::summarize(std::move(samples));
}

// --- federation (docs/federation.md) ---

// A broker certified as `member` (role broker) that dials `links` (name, peer).
Broker start_linked(const fs::path& binary, const fs::path& dir, Identities& ids, const std::string& member,
                    const std::vector<std::pair<std::string, const Broker*>>& links) {
  Identities::Member cert = ids.make(member, {v1::BROKER});
  fs::create_directories(dir / "data");
  (void)cert.key.save(dir / "data" / "broker.key", true);
  (void)save_chain(dir / "broker.cert", cert.chain, true);
  std::ofstream toml(dir / "broker.toml");
  toml << "certificate = \"" << (dir / "broker.cert").string() << "\"\n";
  for (const auto& [name, peer] : links) {
    toml << "[[links]]\nname = \"" << name << "\"\nendpoint = \"" << peer->info.address.endpoint << "\"\nkey = \""
         << to_base64url(peer->info.address.transport_key) << "\"\n";
  }
  toml.close();
  return start_broker(binary, dir, ids, {"--config", (dir / "broker.toml").string()});
}

nlohmann::json broker_stats(const Broker& b) {
  httplib::Client http(b.info.monitor_url);
  auto r = http.Get("/api/v1/stats");
  return r && r->status == 200 ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
}

uint64_t owed_by_links(const Broker& b) {
  const nlohmann::json stats = broker_stats(b);
  uint64_t owed = 0;
  for (const auto& l : stats.value("links", nlohmann::json::array())) owed += l.value("owed_events", uint64_t{0});
  return owed;
}

struct FederationResult {
  bench::LatencyResult one, path;
  double tree_rate = 0, one_rate = 0;  // deliveries/s
  double catchup_rate = 0;             // events/s
  uint64_t catchup_events = 0;
};

// Issue 15's three figures, each against its one-broker baseline in the same run.
FederationResult federation(const fs::path& binary, const fs::path& scratch, Identities& ids, bool quick) {
  FederationResult out;
  const double seconds = quick ? 2 : 5;
  {  // 1. latency at 1,000/s: one broker, then province -> centre -> another province
    progress("federation: latency on one broker, at 1,000 events/s");
    Broker one = start_broker(binary, scratch / "fed-one", ids);
    out.one = latency(one, ids, 1000, seconds, 1);
    one.launcher->stop();
    progress("federation: latency through three brokers (province -> centre -> province)");
    Broker centre = start_linked(binary, scratch / "fed-centre", ids, "vn.bench-centre", {});
    Broker from = start_linked(binary, scratch / "fed-from", ids, "vn.bench-from", {{"centre", &centre}});
    Broker to = start_linked(binary, scratch / "fed-to", ids, "vn.bench-to", {{"centre", &centre}});
    out.path = latency(to, ids, 1000, seconds, 1, true, &from);
    to.launcher->stop();
    from.launcher->stop();
    centre.launcher->stop();
  }
  const size_t provinces = 10, subs = quick ? 1000 : 10'000, events = quick ? 20 : 100;
  {  // 2. a press release to every subscription: one broker, then a tree of 1 + 10
    progress("federation: " + std::to_string(events) + " events to " + std::to_string(subs) +
             " subscriptions on one broker");
    out.one_rate = fanout(binary, scratch / "fed-fanout", ids, subs, events).deliveries_per_s;
    progress("federation: the same over a tree of 1 central + 10 province brokers");
    Broker centre = start_linked(binary, scratch / "tree-centre", ids, "vn.bench-tree", {});
    std::vector<Broker> tree;
    for (size_t p = 0; p < provinces; ++p) {
      tree.push_back(start_linked(binary, scratch / ("tree-" + std::to_string(p)), ids,
                                  "vn.bench-tree" + std::to_string(p), {{"centre", &centre}}));
      Connection setup = connect(tree.back(), ids.subscribers[0]);
      create_subscriptions(setup, "portal", subs / provinces);
    }
    std::this_thread::sleep_for(milliseconds(1500));  // interest reaches the centre
    std::vector<Connection> conns;
    for (auto& t : tree) conns.push_back(connect(t, ids.subscribers[0]));
    {
      Connection pub = connect(centre, ids.publishers[0]);
      publish_batches(pub, presign(ids.publishers[0], "vn.bench.p0.press", 1, events));
    }
    std::atomic<uint64_t> acked{0};
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (size_t p = 0; p < provinces; ++p) {
      threads.emplace_back([&, p] { acked += drain(conns[p], "portal", 0, 1, subs / provinces, (subs / provinces) * events, 2000); });
    }
    for (auto& t : threads) t.join();
    out.tree_rate = acked / seconds_since(start);
    if (acked != subs * events) std::cerr << "  !! tree: " << acked << " of " << subs * events << " acked\n";
    for (auto& t : tree) t.launcher->stop();
    centre.launcher->stop();
  }
  {  // 3. a link's catch-up after a partition left it owing many events
    out.catchup_events = quick ? 10'000 : 100'000;
    progress("federation: a province back after a partition that left " + std::to_string(out.catchup_events) +
             " events owed");
    Broker centre = start_linked(binary, scratch / "catch-centre", ids, "vn.bench-catch", {});
    Broker province = start_linked(binary, scratch / "catch-province", ids, "vn.bench-catch-p", {{"centre", &centre}});
    {
      Connection setup = connect(province, ids.subscribers[0]);
      create_subscriptions(setup, "archive", 1);
    }
    std::this_thread::sleep_for(milliseconds(1500));
    province.launcher->stop();
    {
      Connection pub = connect(centre, ids.publishers[0]);
      publish_batches(pub, presign(ids.publishers[0], "vn.bench.p0.archive", 1, out.catchup_events));
    }
    const auto start = Clock::now();
    auto info = province.launcher->start();
    if (!info) std::cerr << "  !! the province did not start again: " << info.status().to_string() << "\n";
    while (owed_by_links(centre) > 0 && seconds_since(start) < 600) std::this_thread::sleep_for(milliseconds(100));
    out.catchup_rate = out.catchup_events / seconds_since(start);
    province.launcher->stop();
    centre.launcher->stop();
  }
  return out;
}

std::string fmt(double v, int digits = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  // A client process of the NATS national scenario (see peers/nats.cc).
  if (argc > 1 && std::string(argv[1]) == "--nats-portals") return bench::nats_portals_main(argc, argv);
  CLI::App app{"lantoa-bench: lantoa-broker against the ceilings of its parts"};
  std::string scenario = "all";
  bool quick = false;
  std::string broker_bin = LANTOA_BROKER_BIN;
  std::string out_dir = "bench/results";
  app.add_option("--scenario", scenario,
                 "all, ingest, fanout, latency, compare (with NATS JetStream and RabbitMQ) or federation (links "
                 "between brokers; not part of all)");
  size_t rounds = 3;
  std::vector<std::string> peers = {"nats", "rabbitmq"};
  app.add_option("--rounds", rounds, "compare: rounds (median and spread are reported)")->capture_default_str();
  app.add_option("--peers", peers, "compare: which peers (nats, rabbitmq; none: Lantoa alone)")
      ->delimiter(',')
      ->check(CLI::IsMember({"nats", "rabbitmq", "none"}));
  std::vector<std::string> parts = {"ingest", "fanout", "national", "latency", "catchup"};
  app.add_option("--parts", parts, "compare: which scenarios (ingest, fanout, national, latency, catchup)")
      ->delimiter(',')
      ->check(CLI::IsMember({"ingest", "fanout", "national", "latency", "catchup"}));
  app.add_flag("--quick", quick, "smaller workloads (for CI smoke runs)");
  size_t national_connections = 0;
  app.add_option("--national-connections", national_connections,
                 "compare, national: connections (default 10,000; 500 with --quick)");
  app.add_option("--broker", broker_bin, "path of lantoa-broker");
  app.add_option("--out", out_dir, "where to write results.md and results.json");
  CLI11_PARSE(app, argc, argv);
  // 10,000 portals need 10,000+ descriptors in the broker and 20,000 over the
  // client processes: the soft limit goes to the hard one (children and the
  // servers started from here inherit it).
  const unsigned long files = bench::raise_open_files();
  if (files < 12'000) std::cerr << "  !! open-file limit " << files << ": the national scenario needs ~12,000\n";
  const bool all = scenario == "all";
  if (!all && scenario != "ingest" && scenario != "fanout" && scenario != "latency" && scenario != "compare" &&
      scenario != "federation") {
    std::cerr << "unknown scenario " << scenario << "\n";
    return 2;
  }

  const fs::path scratch = fs::temp_directory_path() / ("lantoa-bench-" + std::to_string(::getpid()));
  fs::create_directories(scratch);
  Identities ids;
  for (int p = 0; p < 16; ++p) {
    ids.publishers.push_back(ids.make("vn.bench.p" + std::to_string(p), {v1::PUBLISHER}));
  }
  ids.subscribers.push_back(ids.make("vn.bench.portals", {v1::SUBSCRIBER}));

  nlohmann::json results;
  std::ostringstream md;
  progress("measuring the ceilings of the parts");
  bench::Ceilings c = bench::measure_ceilings(quick ? 0.5 : 1.5, scratch);
  results["ceilings"] = {{"verify_per_s_1_thread", c.verify_1_thread},
                         {"verify_per_s_2_threads", c.verify_2_threads},
                         {"lmdb_fsync_commits_per_s", c.lmdb_commits},
                         {"lmdb_batched_events_per_s", c.lmdb_batched_events},
                         {"fsync_commit_ms", c.fsync_ms},
                         {"zmq_curve_1kb_msgs_per_s", c.zmq_messages},
                         {"zmq_curve_bytes_per_s", c.zmq_bytes}};
  md << "| measurement | result | ceiling | fraction |\n|---|---|---|---|\n";
  md << "| Ed25519 verify, 1 thread | " << fmt(c.verify_1_thread) << " /s | | |\n";
  md << "| Ed25519 verify, 2 threads | " << fmt(c.verify_2_threads) << " /s | | |\n";
  md << "| LMDB fsynced commits | " << fmt(c.lmdb_commits) << " /s (" << fmt(c.fsync_ms, 3) << " ms each) | | |\n";
  md << "| LMDB, 100 events per fsynced commit | " << fmt(c.lmdb_batched_events) << " events/s | | |\n";
  md << "| ZeroMQ CurveZMQ 1 KB messages, loopback | " << fmt(c.zmq_messages) << " /s | | |\n";
  md << "| ZeroMQ CurveZMQ 64 KB messages, loopback | " << fmt(c.zmq_bytes / 1e6) << " MB/s | | |\n";

  if (all || scenario == "ingest") {
    Broker b = start_broker(broker_bin, scratch / "ingest", ids);
    for (size_t pubs : {1u, 4u, 16u}) {
      progress("ingest with " + std::to_string(pubs) + " publisher(s)");
      double cores = 0;
      const double rate = ingest(b, ids, pubs, quick ? 8'000 : 48'000, &cores);
      const double frac = rate / c.verify_2_threads;
      results["ingest"][std::to_string(pubs)] = {
          {"events_per_s", rate}, {"fraction_of_verify_2t", frac}, {"broker_cores", cores}};
      md << "| ingest, " << pubs << " publisher(s), durable | " << fmt(rate) << " events/s (broker on "
         << fmt(cores, 2) << " of " << std::thread::hardware_concurrency() << " cores) | verify 2t "
         << fmt(c.verify_2_threads) << " | " << fmt(frac * 100, 1) << "% |\n";
    }
    b.launcher->stop();
  }
  if (all || scenario == "fanout") {
    for (size_t subs : {8u, 100u, 1000u}) {
      progress("fan-out to " + std::to_string(subs) + " subscriptions");
      const size_t events = bench::fanout_events(subs, quick);
      Fanout f = fanout(broker_bin, scratch / ("fanout-" + std::to_string(subs)), ids, subs, events);
      // Deliveries travel batched, so the bound is ZeroMQ's byte rate.
      const double frac = f.deliveries_per_s * f.bytes_per_delivery / c.zmq_bytes;
      results["fanout"][std::to_string(subs)] = {{"deliveries_per_s", f.deliveries_per_s}, {"events", events},
                                                 {"bytes_per_delivery", f.bytes_per_delivery},
                                                 {"fraction_of_zmq_bytes", frac}};
      md << "| fan-out, " << events << " events to " << subs << " subscriptions, acked | " << fmt(f.deliveries_per_s)
         << " deliveries/s (" << fmt(f.bytes_per_delivery) << " B each) | ZeroMQ " << fmt(c.zmq_bytes / 1e6)
         << " MB/s | " << fmt(frac * 100, 1) << "% |\n";
    }
  }
  if (all || scenario == "latency") {
    Broker b = start_broker(broker_bin, scratch / "latency", ids);
    progress("latency at a steady 1,000 events/s");
    bench::LatencyResult l = latency(b, ids, 1000, quick ? 2 : 5, 1);
    results["latency"] = {{"rate", 1000}, {"samples", l.samples}, {"p50_ms", l.p50_ms}, {"p99_ms", l.p99_ms},
                          {"p999_ms", l.p999_ms}, {"max_ms", l.max_ms}};
    md << "| latency publish->deliver at 1,000/s, subscriber verifies | p50 " << fmt(l.p50_ms, 2) << " ms, p99 "
       << fmt(l.p99_ms, 2) << " ms, p99.9 " << fmt(l.p999_ms, 2) << " ms (" << l.samples
       << " samples) | fsync " << fmt(c.fsync_ms, 3) << " ms | |\n";
    b.launcher->stop();
  }
  if (scenario == "federation") {
    const FederationResult f = federation(broker_bin, scratch, ids, quick);
    results["federation"] = {
        {"latency_one_broker", {{"p50_ms", f.one.p50_ms}, {"p99_ms", f.one.p99_ms}, {"samples", f.one.samples}}},
        {"latency_three_brokers", {{"p50_ms", f.path.p50_ms}, {"p99_ms", f.path.p99_ms}, {"samples", f.path.samples}}},
        {"press_release_one_broker_deliveries_per_s", f.one_rate},
        {"press_release_tree_deliveries_per_s", f.tree_rate},
        {"catchup_events", f.catchup_events},
        {"catchup_events_per_s", f.catchup_rate}};
    md << "| latency at 1,000/s, one broker | p50 " << fmt(f.one.p50_ms, 2) << " ms, p99 " << fmt(f.one.p99_ms, 2)
       << " ms | | |\n";
    md << "| latency at 1,000/s, province -> centre -> province | p50 " << fmt(f.path.p50_ms, 2) << " ms, p99 "
       << fmt(f.path.p99_ms, 2) << " ms | ratio to one broker: p50 " << fmt(f.path.p50_ms / f.one.p50_ms, 2)
       << "x, p99 " << fmt(f.path.p99_ms / f.one.p99_ms, 2) << "x | |\n";
    md << "| press release to every subscription, one broker | " << fmt(f.one_rate) << " deliveries/s | | |\n";
    md << "| the same over 1 central + 10 province brokers | " << fmt(f.tree_rate)
       << " deliveries/s | ratio to one broker: " << fmt(f.tree_rate / f.one_rate, 2) << "x | |\n";
    md << "| a link catching up " << f.catchup_events << " owed events | " << fmt(f.catchup_rate)
       << " events/s | | |\n";
  }
  if (all || scenario == "compare") {
    bench::CompareInputs in;
    in.scratch = scratch / "peers";
    in.rounds = quick ? 1 : rounds;
    in.quick = quick;
    in.peers = peers;
    in.parts = parts;
    in.ingest_events = quick ? 8'000 : 48'000;
    Broker b = start_broker(broker_bin, scratch / "compare", ids);
    size_t fan_round = 0, long_round = 0;
    in.lantoa_ingest = [&](size_t pubs, size_t events) { return ingest(b, ids, pubs, events); };
    in.lantoa_fanout = [&](size_t subs, size_t events) {
      return fanout(broker_bin, scratch / ("compare-fanout-" + std::to_string(++fan_round)), ids, subs, events)
          .deliveries_per_s;
    };
    in.payloads = [&](size_t publisher, size_t count) {
      std::vector<std::string> out;
      // With the signer's chain, as Lantoa delivers them: what a subscriber needs to verify.
      for (auto& e : presign(ids.publishers[publisher], "vn.bench.p" + std::to_string(publisher) + ".news", 1, count)) {
        *e.mutable_signer_chain() = ids.publishers[publisher].chain;
        out.push_back(e.SerializeAsString());
      }
      return out;
    };
    in.national_connections = national_connections ? national_connections : quick ? 500 : 10'000;
    in.national_budget_s = quick ? 30 : 120;
    in.catchup_events = quick ? 5'000 : 100'000;
    in.lantoa_national = [&](size_t conns, size_t events, double budget_s) {
      // A fresh broker and data folder for every round (a folder that saw round 1
      // would refuse its events as already accepted).
      return national(broker_bin, scratch / ("national-" + std::to_string(++long_round)), ids, conns, events, budget_s);
    };
    in.lantoa_catchup = [&](size_t events) {
      return catchup(broker_bin, scratch / ("catchup-" + std::to_string(++long_round)), ids, events);
    };
    in.lantoa_latency = [&](size_t subs, double rate, size_t events, bool verify) {
      Broker lb = start_broker(broker_bin, scratch / ("latency-" + std::to_string(++long_round)), ids);
      bench::LatencyResult l = latency(lb, ids, rate, events / rate, subs, verify);
      lb.launcher->stop();
      return l;
    };
    // The peers' latency payloads, and how their subscribers verify them.
    auto latency_events = presign(ids.publishers[1], "vn.bench.p1.flash", 2'000'000, quick ? 2'000 : 5'000);
    auto latency_index = std::make_shared<std::map<std::string, long>>();
    for (size_t i = 0; i < latency_events.size(); ++i) {
      (*latency_index)[event_id(latency_events[i].event())] = static_cast<long>(i);
      *latency_events[i].mutable_signer_chain() = ids.publishers[1].chain;
      in.latency_payloads.push_back(latency_events[i].SerializeAsString());
    }
    auto trust = std::make_shared<TrustStore>(RootKey{"vn", ids.root.sign.public_key()});
    in.identify_latency = [trust, latency_index](const std::string& bytes) -> long {
      v1::SignedEvent e;
      if (!e.ParseFromString(bytes)) return -1;
      auto v = trust->verify_event(e);
      if (!v) return -1;
      auto it = latency_index->find(v->id);
      return it == latency_index->end() ? -1 : it->second;
    };
    results["compare"] = bench::compare(in, md);
    b.launcher->stop();
  }
  results["machine"] = bench::machine_facts(scratch);
  results["machine"]["fsync_commit_ms"] = c.fsync_ms;
  fs::remove_all(scratch);
  md << "\nMachine: " << results["machine"].value("cpu", "?") << ", " << results["machine"]["cores"]
     << " cores, " << results["machine"].value("memory", "?") << ", "
     << results["machine"].value("os", "?") << ", data on "
     << results["machine"].value("data_filesystem", "?") << "; one fsynced LMDB commit "
     << fmt(c.fsync_ms, 3) << " ms.\n";
  std::cout << "\n" << md.str();
  fs::create_directories(out_dir);
  std::ofstream(fs::path(out_dir) / "results.json") << results.dump(2) << "\n";
  std::ofstream(fs::path(out_dir) / "results.md") << md.str();
  return 0;
}
