// NATS JetStream through cnats: a file-backed stream, async publishes with a
// window of unconfirmed ones, durable pull consumers with explicit acks.
#include <nats/nats.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "peers/peers.h"
#include "swarm.h"

namespace lantoa::bench {
namespace {

using Clock = std::chrono::steady_clock;
using E = v1::Error;

Status nats_error(natsStatus s, const std::string& what) {
  return Status(E::UNAVAILABLE, what + ": " + natsStatus_GetText(s) + " " + nats_GetLastError(nullptr));
}

struct Conn {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  ~Conn() {
    if (js) jsCtx_Destroy(js);
    if (nc) natsConnection_Destroy(nc);
  }
};

// Where the server is, and the CA its TLS certificate is checked against
// (every connection is TLS: the server requires it).
struct Target {
  std::string url, ca;
};

// Options for every connection: TLS with the run's CA, the server's name
// checked. `light` (the national scenario's thousands of connections): no
// flusher thread per connection (data is written at once), callbacks from a
// small shared pool of threads instead of one thread per subscription.
natsOptions* options(const Target& t, bool light = false) {
  natsOptions* o = nullptr;
  natsOptions_Create(&o);
  natsOptions_SetURL(o, t.url.c_str());
  natsOptions_SetTimeout(o, 30000);
  natsOptions_SetSecure(o, true);
  natsOptions_LoadCATrustedCertificates(o, t.ca.c_str());
  natsOptions_SetExpectedHostname(o, "localhost");
  if (light) {
    natsOptions_SetSendAsap(o, true);
    natsOptions_UseGlobalMessageDelivery(o, true);
  }
  return o;
}

Status connect(const Target& t, Conn& c, int64_t max_pending = 400, bool light = false) {
  natsOptions* o = options(t, light);
  natsStatus s = natsConnection_Connect(&c.nc, o);
  natsOptions_Destroy(o);
  if (s != NATS_OK) return nats_error(s, "connect to nats-server (TLS)");
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = max_pending;  // the same window as Lantoa's publishers (8 x 50)
  s = natsConnection_JetStream(&c.js, c.nc, &jo);
  return s == NATS_OK ? Status::Ok() : nats_error(s, "JetStream context");
}

// A durable pull consumer of every message in `stream`. Its ack policy is
// "all" (an ack covers every earlier message): each fetched batch is then
// acked with one message, as Lantoa's subscribers ack a batch of deliveries
// with one frame.
Result<natsSubscription*> pull_consumer(Conn& c, const std::string& stream, const std::string& durable,
                                        int64_t max_ack_pending) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Config.AckPolicy = js_AckAll;
  so.Config.DeliverPolicy = js_DeliverAll;
  so.Config.MaxAckPending = max_ack_pending;
  so.Stream = stream.c_str();
  natsSubscription* sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus st = js_PullSubscribe(&sub, c.js, (stream + ".>").c_str(), durable.c_str(), nullptr, &so, &jerr);
  if (st != NATS_OK) return nats_error(st, "pull subscribe " + durable);
  return sub;
}

// Fetches and acks until `want` messages came (or a fetch times out).
size_t drain(natsSubscription* sub, size_t want, int batch) {
  size_t got = 0;
  while (got < want) {
    natsMsgList list{};
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (natsSubscription_Fetch(&list, sub, batch, 5000, &jerr) != NATS_OK) break;
    if (list.Count > 0 && natsMsg_Ack(list.Msgs[list.Count - 1], nullptr) != NATS_OK) {
      natsMsgList_Destroy(&list);
      break;
    }
    got += static_cast<size_t>(list.Count);
    natsMsgList_Destroy(&list);
  }
  return got;
}

Status publish_all(Conn& c, const std::string& subject, const std::vector<std::string>& payloads) {
  for (const auto& m : payloads) {
    natsStatus s = js_PublishAsync(c.js, subject.c_str(), m.data(), static_cast<int>(m.size()), nullptr);
    if (s != NATS_OK) return nats_error(s, "publish");
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 120000;
  natsStatus s = js_PublishAsyncComplete(c.js, &po);
  return s == NATS_OK ? Status::Ok() : nats_error(s, "waiting for publish acks");
}

class Nats final : public Peer {
 public:
  Nats(pid_t pid, int port, std::string ca, std::string version)
      : pid_(pid), target_{"nats://127.0.0.1:" + std::to_string(port), std::move(ca)}, version_(std::move(version)) {}
  ~Nats() override {
    ::kill(pid_, SIGTERM);
    int st;
    ::waitpid(pid_, &st, 0);
  }
  std::string name() const override { return "NATS JetStream"; }
  std::string version() const override { return version_; }
  std::string durability() const override {
    return "file storage, default sync (JetStream 2.9 has no fsync before ack: weaker than Lantoa's); TLS";
  }

  Status fresh_stream(const std::string& stream) {
    Conn c;
    LANTOA_RETURN_IF_ERROR(connect(target_, c));
    js_DeleteStream(c.js, stream.c_str(), nullptr, nullptr);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream.c_str();
    const std::string subject = stream + ".>";
    const char* subjects[] = {subject.c_str()};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_AddStream(nullptr, c.js, &cfg, nullptr, &jerr);
    return s == NATS_OK ? Status::Ok() : nats_error(s, "add stream");
  }

  Result<double> ingest(const std::vector<std::vector<std::string>>& payloads) override {
    const std::string stream = "INGEST" + std::to_string(++round_);
    LANTOA_RETURN_IF_ERROR(fresh_stream(stream));
    std::vector<std::unique_ptr<Conn>> conns;
    for (size_t p = 0; p < payloads.size(); ++p) {
      conns.push_back(std::make_unique<Conn>());
      LANTOA_RETURN_IF_ERROR(connect(target_, *conns.back()));
    }
    std::atomic<int> failures{0};
    const std::string subject = stream + ".news";
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (size_t p = 0; p < payloads.size(); ++p) {
      threads.emplace_back([&, p] {
        for (const auto& m : payloads[p]) {
          if (js_PublishAsync(conns[p]->js, subject.c_str(), m.data(), static_cast<int>(m.size()), nullptr) != NATS_OK) {
            ++failures;
          }
        }
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 60000;
        if (js_PublishAsyncComplete(conns[p]->js, &po) != NATS_OK) ++failures;
      });
    }
    for (auto& t : threads) t.join();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (failures) return Status(E::UNAVAILABLE, "NATS: " + std::to_string(failures.load()) + " publishes failed");
    size_t total = 0;
    for (const auto& p : payloads) total += p.size();
    return total / secs;
  }

  Result<double> fanout(size_t subscriptions, const std::vector<std::string>& payloads) override {
    const std::string stream = "FANOUT" + std::to_string(++round_);
    LANTOA_RETURN_IF_ERROR(fresh_stream(stream));
    {
      Conn c;
      LANTOA_RETURN_IF_ERROR(connect(target_, c));
      const std::string subject = stream + ".news";
      for (const auto& m : payloads) js_PublishAsync(c.js, subject.c_str(), m.data(), static_cast<int>(m.size()), nullptr);
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MaxWait = 60000;
      if (js_PublishAsyncComplete(c.js, &po) != NATS_OK) return Status(E::UNAVAILABLE, "NATS: filling the stream failed");
    }
    const size_t connections = std::min<size_t>(8, subscriptions);
    std::vector<std::unique_ptr<Conn>> conns;
    std::vector<std::vector<natsSubscription*>> subs(connections);
    for (size_t i = 0; i < connections; ++i) {
      conns.push_back(std::make_unique<Conn>());
      LANTOA_RETURN_IF_ERROR(connect(target_, *conns.back()));
    }
    for (size_t s = 0; s < subscriptions; ++s) {  // durable consumers, created before timing
      auto sub = pull_consumer(*conns[s % connections], stream, "portal" + std::to_string(s), 1000);
      if (!sub) return sub.status();
      subs[s % connections].push_back(*sub);
    }
    std::atomic<uint64_t> delivered{0};
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (size_t i = 0; i < connections; ++i) {
      threads.emplace_back([&, i] {
        for (natsSubscription* sub : subs[i]) delivered += drain(sub, payloads.size(), 100);
      });
    }
    for (auto& t : threads) t.join();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    for (auto& per : subs) {
      for (natsSubscription* sub : per) natsSubscription_Destroy(sub);
    }
    if (delivered != subscriptions * payloads.size()) {
      return Status(E::UNAVAILABLE, "NATS: " + std::to_string(delivered.load()) + " of " +
                                        std::to_string(subscriptions * payloads.size()) + " deliveries");
    }
    return delivered / secs;
  }

  // Every portal its own TLS connection with one durable pull consumer, the
  // connections spread over client processes (exec'd: see nats_portals_main).
  Result<NationalResult> national(size_t connections, const std::vector<std::string>& payloads,
                                  double budget_s) override {
    const std::string stream = "NATIONAL" + std::to_string(++round_);
    LANTOA_RETURN_IF_ERROR(fresh_stream(stream));
    Conn pub;
    const std::string exe = self_exe();
    NationalPlan plan;
    plan.connections = connections;
    plan.children = connections >= 2000 ? 4 : 2;
    plan.budget_s = budget_s;
    plan.server = pid_;
    plan.child = [&](size_t, size_t first, size_t count, Clock::time_point deadline, ParentLink& link) {
      // A fresh program image: cnats' library threads (timers, pools) would
      // be missing in a forked copy of this process.
      std::vector<std::string> args = {exe, "--nats-portals", target_.url, target_.ca, stream, std::to_string(first),
                                       std::to_string(count), std::to_string(deadline.time_since_epoch().count()),
                                       std::to_string(payloads.size()), std::to_string(link.fd()),
                                       std::to_string(link.out_fd())};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      return 127;
    };
    Status opened = Status::Ok();
    plan.prepare = [&] { opened = connect(target_, pub); };  // once every portal is connected, before timing
    plan.publish = [&] { return opened.ok() ? publish_all(pub, stream + ".news", payloads) : opened; };
    return run_national(plan);
  }

  Result<LatencyResult> latency(size_t subscribers, double rate, const std::vector<std::string>& payloads,
                                const Identify& identify) override {
    const std::string stream = "LATENCY" + std::to_string(++round_);
    LANTOA_RETURN_IF_ERROR(fresh_stream(stream));
    struct Reader {
      const Identify* identify;
      std::vector<std::atomic<int64_t>>* sent;
      std::mutex* mu;
      std::vector<double>* samples;
    };
    std::vector<std::atomic<int64_t>> sent(payloads.size());
    std::mutex mu;
    std::vector<double> samples;
    Reader reader{&identify, &sent, &mu, &samples};
    std::vector<std::unique_ptr<Conn>> conns;
    std::vector<natsSubscription*> subs;
    for (size_t s = 0; s < subscribers; ++s) {  // push consumers: the server sends as soon as it has the message
      conns.push_back(std::make_unique<Conn>());
      LANTOA_RETURN_IF_ERROR(connect(target_, *conns.back()));
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Config.AckPolicy = js_AckExplicit;
      so.Config.DeliverPolicy = js_DeliverNew;
      so.ManualAck = true;
      so.Stream = stream.c_str();
      const std::string durable = "latency" + std::to_string(s);
      so.Config.Durable = durable.c_str();
      natsSubscription* sub = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      auto on_msg = [](natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
        auto* rd = static_cast<Reader*>(closure);
        const std::string bytes(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
        const long i = (*rd->identify)(bytes);  // verify, as a portal does
        const auto now = Clock::now();
        if (i >= 0) {
          const auto at = Clock::time_point(Clock::duration((*rd->sent)[static_cast<size_t>(i)].load()));
          std::lock_guard lock(*rd->mu);
          rd->samples->push_back(std::chrono::duration<double, std::milli>(now - at).count());
        }
        natsMsg_Ack(msg, nullptr);
        natsMsg_Destroy(msg);
      };
      natsStatus st = js_Subscribe(&sub, conns.back()->js, (stream + ".>").c_str(), on_msg, &reader, nullptr, &so, &jerr);
      if (st != NATS_OK) return nats_error(st, "subscribe " + durable);
      subs.push_back(sub);
    }
    Conn pub;
    LANTOA_RETURN_IF_ERROR(connect(target_, pub));
    const std::string subject = stream + ".flash";
    const auto start = Clock::now();
    for (size_t i = 0; i < payloads.size(); ++i) {
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(i / rate)));
      sent[i] = Clock::now().time_since_epoch().count();
      js_PublishAsync(pub.js, subject.c_str(), payloads[i].data(), static_cast<int>(payloads[i].size()), nullptr);
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 30000;
    js_PublishAsyncComplete(pub.js, &po);
    const auto until = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < until) {
      {
        std::lock_guard lock(mu);
        if (samples.size() >= payloads.size() * subscribers) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (natsSubscription* sub : subs) {
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
    std::lock_guard lock(mu);
    return summarize(samples);
  }

  Result<double> catchup(const std::vector<std::string>& payloads) override {
    const std::string stream = "CATCHUP" + std::to_string(++round_);
    LANTOA_RETURN_IF_ERROR(fresh_stream(stream));
    Conn c;
    LANTOA_RETURN_IF_ERROR(connect(target_, c));
    auto sub = pull_consumer(c, stream, "behind", 1000);
    if (!sub) return sub.status();
    LANTOA_RETURN_IF_ERROR(publish_all(c, stream + ".news", payloads));
    const auto t0 = Clock::now();
    const size_t got = drain(*sub, payloads.size(), 500);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    natsSubscription_Destroy(*sub);
    if (got != payloads.size()) {
      return Status(E::UNAVAILABLE, "NATS: caught up " + std::to_string(got) + " of " + std::to_string(payloads.size()));
    }
    return got / secs;
  }

 private:
  pid_t pid_;
  Target target_;
  std::string version_;
  int round_ = 0;
};

}  // namespace

Result<std::unique_ptr<Peer>> start_nats(const std::filesystem::path& dir) {
  const std::string binary = "/usr/sbin/nats-server";
  if (!std::filesystem::exists(binary)) return Status(E::NOT_FOUND, "nats-server is not installed (apt-get install nats-server)");
  std::filesystem::create_directories(dir);
  auto tls = make_tls(dir / "tls");
  if (!tls) return tls.status();
  const int port = free_port();
  const std::string version = run(binary + " --version");
  // TLS required of every client; the handshake may take up to 10 s (the
  // default 0.5 s drops connections when thousands arrive at once on 2 cores).
  const auto conf = dir / "nats.conf";
  std::ofstream(conf) << "listen: \"127.0.0.1:" << port << "\"\n"
                      << "jetstream { store_dir: \"" << (dir / "jetstream").string() << "\" }\n"
                      << "tls {\n  cert_file: \"" << tls->cert.string() << "\"\n  key_file: \"" << tls->key.string()
                      << "\"\n  timeout: 10\n}\n"
                      << "write_deadline: \"30s\"\n";
  pid_t pid = ::fork();
  if (pid == 0) {
    const std::string log = (dir / "nats.log").string();
    FILE* f = std::freopen(log.c_str(), "a", stdout);
    (void)f;
    ::dup2(1, 2);
    ::execl(binary.c_str(), binary.c_str(), "-c", conf.c_str(), nullptr);
    ::_exit(127);
  }
  if (!wait_for_port(port, 20)) {
    ::kill(pid, SIGKILL);
    return Status(E::UNAVAILABLE, "nats-server did not start (see " + (dir / "nats.log").string() + ")");
  }
  // Check that the traffic really is TLS: the server's greeting says
  // tls_required, and a client without TLS is refused.
  std::string info;
  {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      timeval tv{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) info.assign(buf, static_cast<size_t>(n));
    }
    ::close(fd);
  }
  natsOptions* plain = nullptr;
  natsOptions_Create(&plain);
  const std::string url = "nats://127.0.0.1:" + std::to_string(port);
  natsOptions_SetURL(plain, url.c_str());
  natsConnection* nc = nullptr;
  const natsStatus plain_status = natsConnection_Connect(&nc, plain);
  natsOptions_Destroy(plain);
  if (nc) natsConnection_Destroy(nc);
  if (info.find("\"tls_required\":true") == std::string::npos || plain_status == NATS_OK) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return Status(E::UNAVAILABLE, "nats-server does not require TLS (INFO: " + info + ")");
  }
  return std::unique_ptr<Peer>(new Nats(pid, port, tls->ca.string(),
                                        version.substr(0, version.find('\n')) +
                                            ", TLS (ECDSA P-256; checked: INFO tls_required, plain client refused: " +
                                            natsStatus_GetText(plain_status) + ")"));
}

// A client process of the national scenario (exec'd by Nats::national):
//   --nats-portals URL CA STREAM FIRST COUNT DEADLINE_TICKS EVENTS IN_FD OUT_FD
// Opens COUNT TLS connections, each with a durable pull consumer portal-N
// (ack policy "all") and an inbox subscription; on "go" each sends one pull
// request for EVENTS messages, and acks the last one (covering all).
int nats_portals_main(int argc, char** argv) {
  if (argc < 11) return 2;
  const Target target{argv[2], argv[3]};
  const std::string stream = argv[4];
  const size_t first = std::stoul(argv[5]), count = std::stoul(argv[6]);
  const Clock::time_point deadline{Clock::duration(std::stoll(argv[7]))};
  const uint64_t events = std::stoull(argv[8]);
  ParentLink link(std::stoi(argv[9]), std::stoi(argv[10]));
  nats_SetMessageDeliveryPoolSize(4);
  struct Portal {
    natsConnection* nc = nullptr;
    natsSubscription* sub = nullptr;
    std::string next, inbox;
    std::atomic<uint64_t> got{0};
    std::atomic<uint64_t>* acked = nullptr;
    std::atomic<int64_t>* last = nullptr;
    uint64_t events = 0;
  };
  std::atomic<uint64_t> acked{0};
  std::atomic<int64_t> last{0};
  std::vector<std::unique_ptr<Portal>> portals(count);
  std::mutex mu;
  std::string error;
  auto on_msg = [](natsConnection* nc, natsSubscription*, natsMsg* msg, void* closure) {
    auto* p = static_cast<Portal*>(closure);
    if (natsMsg_GetDataLength(msg) > 0) {  // not a status message (408 and the like)
      const uint64_t n = ++p->got;
      ++*p->acked;
      *p->last = Clock::now().time_since_epoch().count();
      // Ack policy "all": acking the last message of the batch acks the batch.
      if (n == p->events && natsMsg_GetReply(msg)) natsConnection_PublishString(nc, natsMsg_GetReply(msg), "+ACK");
    }
    natsMsg_Destroy(msg);
  };
  // One set of options for every connection of this process: each set loads
  // the CA into an OpenSSL context of its own, and making thousands of those
  // (OpenSSL 3) took longer than the handshakes.
  natsOptions* shared_options = options(target, true);
  // Threads open the connections (a TLS handshake and a consumer creation
  // each wait for the server).
  const size_t kOpeners = 16;
  std::vector<std::thread> openers;
  std::atomic<bool> stop{false};
  for (size_t t = 0; t < kOpeners; ++t) {
    openers.emplace_back([&, t] {
      for (size_t i = t; i < count && !stop; i += kOpeners) {
        if (Clock::now() >= deadline) {
          std::lock_guard lock(mu);
          if (error.empty()) error = "time budget";
          return;
        }
        auto p = std::make_unique<Portal>();
        p->acked = &acked;
        p->last = &last;
        p->events = events;
        natsStatus s = natsConnection_Connect(&p->nc, shared_options);
        jsCtx* js = nullptr;
        const std::string durable = "portal-" + std::to_string(first + i);
        if (s == NATS_OK) s = natsConnection_JetStream(&js, p->nc, nullptr);
        if (s == NATS_OK) {
          jsConsumerConfig cc;
          jsConsumerConfig_Init(&cc);
          cc.Durable = durable.c_str();
          cc.AckPolicy = js_AckAll;
          cc.DeliverPolicy = js_DeliverAll;
          cc.MaxAckPending = 1000;
          jsConsumerInfo* ci = nullptr;
          jsErrCode jerr = static_cast<jsErrCode>(0);
          s = js_AddConsumer(&ci, js, stream.c_str(), &cc, nullptr, &jerr);
          if (ci) jsConsumerInfo_Destroy(ci);
        }
        if (js) jsCtx_Destroy(js);
        p->next = "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + durable;
        p->inbox = "_INBOX.bench." + durable;
        if (s == NATS_OK) s = natsConnection_Subscribe(&p->sub, p->nc, p->inbox.c_str(), on_msg, p.get());
        if (s == NATS_OK) s = natsConnection_Flush(p->nc);
        if (s != NATS_OK) {
          std::lock_guard lock(mu);
          if (error.empty()) error = std::string(natsStatus_GetText(s)) + " " + nats_GetLastError(nullptr);
          stop = true;
          if (p->nc) natsConnection_Destroy(p->nc);
          return;
        }
        portals[i] = std::move(p);
      }
    });
  }
  for (auto& t : openers) t.join();
  size_t created = 0;
  for (auto& p : portals) created += p != nullptr;
  std::string ready = "ready " + std::to_string(created);
  if (created < count) {
    ready += " NATS: " + std::to_string(created) + " of " + std::to_string(count) +
             " connections with a consumer in a client process (" + error + ")";
  }
  link.say(ready);
  if (link.await({"go"}) == "go") {
    const std::string request = "{\"batch\":" + std::to_string(events) + ",\"expires\":120000000000}";
    last = Clock::now().time_since_epoch().count();
    for (auto& p : portals) {
      if (p) natsConnection_PublishRequestString(p->nc, p->next.c_str(), p->inbox.c_str(), request.c_str());
    }
    while (acked < created * events) {
      if (Clock::now() - Clock::time_point(Clock::duration(last.load())) > std::chrono::seconds(20)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    link.say("done " + std::to_string(acked.load()));
    link.await({});
  }
  // The server is stopped after the scenario: no orderly goodbye needed.
  std::fflush(nullptr);
  ::_exit(0);
}

}  // namespace lantoa::bench
