// NATS JetStream through cnats: a file-backed stream, async publishes with a
// window of unconfirmed ones, durable pull consumers with explicit acks.
#include <nats/nats.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "peers/peers.h"

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

Status connect(const std::string& url, Conn& c, int64_t max_pending = 400) {
  natsOptions* o = nullptr;
  natsOptions_Create(&o);
  natsOptions_SetURL(o, url.c_str());
  natsOptions_SetTimeout(o, 5000);
  natsStatus s = natsConnection_Connect(&c.nc, o);
  natsOptions_Destroy(o);
  if (s != NATS_OK) return nats_error(s, "connect to nats-server");
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
  Nats(pid_t pid, int port, std::string version) : pid_(pid), url_("nats://127.0.0.1:" + std::to_string(port)),
                                                   version_(std::move(version)) {}
  ~Nats() override {
    ::kill(pid_, SIGTERM);
    int st;
    ::waitpid(pid_, &st, 0);
  }
  std::string name() const override { return "NATS JetStream"; }
  std::string version() const override { return version_; }
  std::string durability() const override {
    return "file storage, default sync (JetStream 2.9 has no fsync before ack: weaker than Lantoa's)";
  }

  Status fresh_stream(const std::string& stream) {
    Conn c;
    LANTOA_RETURN_IF_ERROR(connect(url_, c));
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
      LANTOA_RETURN_IF_ERROR(connect(url_, *conns.back()));
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
      LANTOA_RETURN_IF_ERROR(connect(url_, c));
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
      LANTOA_RETURN_IF_ERROR(connect(url_, *conns.back()));
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

  Result<NationalResult> national(size_t subscriptions, size_t connections, const std::vector<std::string>& payloads,
                                  double budget_s) override {
    const std::string stream = "NATIONAL" + std::to_string(++round_);
    LANTOA_RETURN_IF_ERROR(fresh_stream(stream));
    NationalResult r;
    r.rss_start_mb = rss_mb(pid_);
    std::vector<std::unique_ptr<Conn>> conns;
    for (size_t i = 0; i < connections; ++i) {
      conns.push_back(std::make_unique<Conn>());
      LANTOA_RETURN_IF_ERROR(connect(url_, *conns.back()));
    }
    std::vector<std::vector<natsSubscription*>> subs(connections);
    const auto t0 = Clock::now();
    for (size_t s = 0; s < subscriptions; ++s) {
      if (std::chrono::duration<double>(Clock::now() - t0).count() > budget_s) {
        r.note = "stopped creating consumers at " + std::to_string(s) + " (time budget " + std::to_string(int(budget_s)) + " s)";
        break;
      }
      auto sub = pull_consumer(*conns[s % connections], stream, "portal" + std::to_string(s), 1000);
      if (!sub) {
        r.note = "stopped at " + std::to_string(s) + " consumers: " + sub.status().message();
        break;
      }
      subs[s % connections].push_back(*sub);
      ++r.subscriptions;
    }
    r.create_s = std::chrono::duration<double>(Clock::now() - t0).count();
    r.rss_created_mb = rss_mb(pid_);
    const double cpu0 = cpu_seconds(pid_);
    const auto t1 = Clock::now();
    {
      Conn c;
      LANTOA_RETURN_IF_ERROR(connect(url_, c));
      LANTOA_RETURN_IF_ERROR(publish_all(c, stream + ".news", payloads));
    }
    std::atomic<uint64_t> delivered{0};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < connections; ++i) {
      threads.emplace_back([&, i] {
        for (natsSubscription* sub : subs[i]) delivered += drain(sub, payloads.size(), 100);
      });
    }
    for (auto& t : threads) t.join();
    r.deliver_s = std::chrono::duration<double>(Clock::now() - t1).count();
    r.deliveries = delivered;
    r.rss_end_mb = rss_mb(pid_);
    r.server_cpu_s = cpu_seconds(pid_) - cpu0;
    for (auto& per : subs) {
      for (natsSubscription* sub : per) natsSubscription_Destroy(sub);
    }
    return r;
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
      LANTOA_RETURN_IF_ERROR(connect(url_, *conns.back()));
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
    LANTOA_RETURN_IF_ERROR(connect(url_, pub));
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
    LANTOA_RETURN_IF_ERROR(connect(url_, c));
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
  std::string url_, version_;
  int round_ = 0;
};

}  // namespace

Result<std::unique_ptr<Peer>> start_nats(const std::filesystem::path& dir) {
  const std::string binary = "/usr/sbin/nats-server";
  if (!std::filesystem::exists(binary)) return Status(E::NOT_FOUND, "nats-server is not installed (apt-get install nats-server)");
  std::filesystem::create_directories(dir);
  const int port = free_port();
  const std::string version = run(binary + " --version");
  pid_t pid = ::fork();
  if (pid == 0) {
    const std::string log = (dir / "nats.log").string();
    FILE* f = std::freopen(log.c_str(), "a", stdout);
    (void)f;
    ::dup2(1, 2);
    const std::string p = std::to_string(port), store = (dir / "jetstream").string();
    ::execl(binary.c_str(), binary.c_str(), "-js", "-a", "127.0.0.1", "-p", p.c_str(), "-sd", store.c_str(), nullptr);
    ::_exit(127);
  }
  if (!wait_for_port(port, 20)) {
    ::kill(pid, SIGKILL);
    return Status(E::UNAVAILABLE, "nats-server did not start (see " + (dir / "nats.log").string() + ")");
  }
  return std::unique_ptr<Peer>(new Nats(pid, port, version.substr(0, version.find('\n'))));
}

}  // namespace lantoa::bench
