// RabbitMQ quorum queues through rabbitmq-c: publisher confirms (a quorum
// queue confirms once a majority has fsynced: here the one node), a window of
// unconfirmed publishes, consumers with manual acks and a prefetch.
#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include "peers/peers.h"
#include "swarm.h"

namespace lantoa::bench {
namespace {

using Clock = std::chrono::steady_clock;
using E = v1::Error;
constexpr amqp_channel_t kChannel = 1;
constexpr size_t kWindow = 400;  // unconfirmed publishes, as Lantoa's publishers (8 batches x 50)

struct Conn {
  amqp_connection_state_t c = amqp_new_connection();
  ~Conn() {
    amqp_channel_close(c, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
  }
};

Status reply_ok(amqp_connection_state_t c, const std::string& what) {
  amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return Status::Ok();
  return Status(E::UNAVAILABLE, "RabbitMQ: " + what + " failed (reply type " + std::to_string(r.reply_type) + ")");
}

// The server's TLS listener and the CA its certificate is checked against.
struct Target {
  int port = 0;
  std::string ca;
};

// Every connection is TLS (amqp_ssl_socket), the server's certificate checked
// against the run's CA and its name ("localhost"); `plain` only to check that
// the server refuses a connection without TLS.
Status open(Conn& conn, const Target& t, bool plain = false) {
  amqp_socket_t* socket = nullptr;
  if (plain) {
    socket = amqp_tcp_socket_new(conn.c);
  } else {
    socket = amqp_ssl_socket_new(conn.c);
    if (!socket || amqp_ssl_socket_set_cacert(socket, t.ca.c_str()) != AMQP_STATUS_OK) {
      return Status(E::UNAVAILABLE, "RabbitMQ: cannot set up TLS");
    }
    amqp_ssl_socket_set_verify_peer(socket, 1);
    amqp_ssl_socket_set_verify_hostname(socket, 1);
  }
  timeval connect_timeout{30, 0};
  if (!socket || amqp_socket_open_noblock(socket, "localhost", t.port, &connect_timeout) != AMQP_STATUS_OK) {
    return Status(E::UNAVAILABLE, "RabbitMQ: cannot connect (TLS)");
  }
  timeval handshake{60, 0};  // a busy server (thousands of quorum queues) is slow to accept
  amqp_set_handshake_timeout(conn.c, &handshake);
  amqp_rpc_reply_t r = amqp_login(conn.c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest");
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    return Status(E::UNAVAILABLE, std::string("RabbitMQ: login failed: ") + amqp_error_string2(r.library_error));
  }
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    return Status(E::UNAVAILABLE, "RabbitMQ: login refused (reply type " + std::to_string(r.reply_type) + ")");
  }
  amqp_channel_open(conn.c, kChannel);
  return reply_ok(conn.c, "channel.open");
}

Status declare_quorum_queue(Conn& conn, const std::string& name) {
  amqp_table_entry_t entry;
  entry.key = amqp_cstring_bytes("x-queue-type");
  entry.value.kind = AMQP_FIELD_KIND_UTF8;
  entry.value.value.bytes = amqp_cstring_bytes("quorum");
  amqp_table_t args{1, &entry};
  amqp_queue_declare(conn.c, kChannel, amqp_cstring_bytes(name.c_str()), 0, 1, 0, 0, args);
  return reply_ok(conn.c, "queue.declare " + name);
}

// Publishes every payload to `exchange`/`key`, waiting for confirms with a window.
Status publish_confirmed(Conn& conn, const std::string& exchange, const std::string& key,
                         const std::vector<std::string>& payloads) {
  amqp_confirm_select(conn.c, kChannel);
  LANTOA_RETURN_IF_ERROR(reply_ok(conn.c, "confirm.select"));
  amqp_basic_properties_t props;
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = 2;  // persistent
  uint64_t sent = 0, confirmed = 0, nacked = 0;
  auto wait_one = [&]() -> Status {
    amqp_frame_t frame;
    if (amqp_simple_wait_frame(conn.c, &frame) != AMQP_STATUS_OK) return Status(E::UNAVAILABLE, "RabbitMQ: lost");
    if (frame.frame_type != AMQP_FRAME_METHOD) return Status::Ok();
    if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      confirmed = ack->multiple ? ack->delivery_tag : confirmed + 1;
    } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
      ++nacked;
      confirmed = nack->multiple ? nack->delivery_tag : confirmed + 1;
    }
    return Status::Ok();
  };
  for (const auto& m : payloads) {
    while (sent - confirmed >= kWindow) LANTOA_RETURN_IF_ERROR(wait_one());
    amqp_bytes_t body{m.size(), const_cast<char*>(m.data())};
    if (amqp_basic_publish(conn.c, kChannel, amqp_cstring_bytes(exchange.c_str()), amqp_cstring_bytes(key.c_str()), 0,
                           0, &props, body) != AMQP_STATUS_OK) {
      return Status(E::UNAVAILABLE, "RabbitMQ: publish failed");
    }
    ++sent;
  }
  while (confirmed < sent) LANTOA_RETURN_IF_ERROR(wait_one());
  if (nacked) return Status(E::UNAVAILABLE, "RabbitMQ: " + std::to_string(nacked) + " publishes nacked");
  return Status::Ok();
}

class Rabbit final : public Peer {
 public:
  Rabbit(std::filesystem::path dir, Target target, pid_t epmd, std::string version)
      : dir_(std::move(dir)), target_(std::move(target)), epmd_(epmd), version_(std::move(version)) {}
  ~Rabbit() override {
    // The broker's Erlang VM by the PID it wrote, then our epmd by its PID.
    std::ifstream pidfile(dir_ / "rabbitmq.pid");
    pid_t pid = 0;
    pidfile >> pid;
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      for (int i = 0; i < 300 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (::kill(pid, 0) == 0) ::kill(pid, SIGKILL);
    }
    stop_child(epmd_);
  }
  std::string name() const override { return "RabbitMQ quorum queues"; }
  std::string version() const override { return version_; }
  std::string durability() const override {
    return "quorum queues, publisher confirms (fsync before confirm, as Lantoa); TLS";
  }

  Result<double> ingest(const std::vector<std::vector<std::string>>& payloads) override {
    const std::string queue = "ingest" + std::to_string(++round_);
    std::vector<std::unique_ptr<Conn>> conns;
    for (size_t p = 0; p < payloads.size(); ++p) {
      conns.push_back(std::make_unique<Conn>());
      LANTOA_RETURN_IF_ERROR(open(*conns.back(), target_));
    }
    LANTOA_RETURN_IF_ERROR(declare_quorum_queue(*conns[0], queue));
    std::vector<Status> results(payloads.size());
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (size_t p = 0; p < payloads.size(); ++p) {
      threads.emplace_back([&, p] { results[p] = publish_confirmed(*conns[p], "", queue, payloads[p]); });
    }
    for (auto& t : threads) t.join();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    for (const auto& r : results) LANTOA_RETURN_IF_ERROR(r);
    amqp_queue_delete(conns[0]->c, kChannel, amqp_cstring_bytes(queue.c_str()), 0, 0);
    size_t total = 0;
    for (const auto& p : payloads) total += p.size();
    return total / secs;
  }

  Result<double> fanout(size_t subscriptions, const std::vector<std::string>& payloads) override {
    const std::string exchange = "fanout" + std::to_string(++round_);
    {
      Conn c;
      LANTOA_RETURN_IF_ERROR(open(c, target_));
      LANTOA_RETURN_IF_ERROR(make_queues(c, exchange, subscriptions));  // one durable quorum queue per subscription
      LANTOA_RETURN_IF_ERROR(publish_confirmed(c, exchange, "", payloads));
    }
    const size_t connections = std::min<size_t>(8, subscriptions);
    std::vector<std::unique_ptr<Conn>> conns;
    for (size_t i = 0; i < connections; ++i) {
      conns.push_back(std::make_unique<Conn>());
      LANTOA_RETURN_IF_ERROR(open(*conns.back(), target_));
      amqp_basic_qos(conns.back()->c, kChannel, 0, 100, 0);  // prefetch per consumer, as Lantoa's credit
      LANTOA_RETURN_IF_ERROR(reply_ok(conns.back()->c, "basic.qos"));
    }
    std::vector<size_t> expected(connections, 0);
    for (size_t s = 0; s < subscriptions; ++s) {
      const std::string q = exchange + ".portal" + std::to_string(s);
      amqp_basic_consume(conns[s % connections]->c, kChannel, amqp_cstring_bytes(q.c_str()), amqp_empty_bytes, 0, 0, 0,
                         amqp_empty_table);
      LANTOA_RETURN_IF_ERROR(reply_ok(conns[s % connections]->c, "basic.consume"));
      expected[s % connections] += payloads.size();
    }
    std::atomic<uint64_t> delivered{0};
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (size_t i = 0; i < connections; ++i) {
      threads.emplace_back([&, i] { delivered += consume(*conns[i], expected[i]); });
    }
    for (auto& t : threads) t.join();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    delete_queues(exchange, subscriptions);
    if (delivered != subscriptions * payloads.size()) {
      return Status(E::UNAVAILABLE, "RabbitMQ: " + std::to_string(delivered.load()) + " of " +
                                        std::to_string(subscriptions * payloads.size()) + " deliveries");
    }
    return delivered / secs;
  }

  pid_t server_pid() const {
    std::ifstream pidfile(dir_ / "rabbitmq.pid");
    pid_t pid = 0;
    pidfile >> pid;
    return pid;
  }

  // A fanout exchange with `count` quorum queues bound to it.
  static Status make_queues(Conn& c, const std::string& exchange, size_t count) {
    amqp_exchange_declare(c.c, kChannel, amqp_cstring_bytes(exchange.c_str()), amqp_cstring_bytes("fanout"), 0, 1, 0, 0,
                          amqp_empty_table);
    LANTOA_RETURN_IF_ERROR(reply_ok(c.c, "exchange.declare"));
    for (size_t s = 0; s < count; ++s) {
      const std::string q = exchange + ".portal" + std::to_string(s);
      LANTOA_RETURN_IF_ERROR(declare_quorum_queue(c, q));
      amqp_queue_bind(c.c, kChannel, amqp_cstring_bytes(q.c_str()), amqp_cstring_bytes(exchange.c_str()),
                      amqp_empty_bytes, amqp_empty_table);
      LANTOA_RETURN_IF_ERROR(reply_ok(c.c, "queue.bind"));
    }
    return Status::Ok();
  }

  void delete_queues(const std::string& exchange, size_t count) {
    Conn c;
    if (!open(c, target_).ok()) return;
    for (size_t s = 0; s < count; ++s) {
      const std::string q = exchange + ".portal" + std::to_string(s);
      amqp_queue_delete(c.c, kChannel, amqp_cstring_bytes(q.c_str()), 0, 0);
    }
  }

  // Consumes and acks `want` messages on a connection already consuming. As
  // Lantoa's subscribers ack each batch of deliveries with one frame, acks
  // are sent "multiple" (everything up to this tag) once the connection has
  // nothing more buffered: one ack per burst rather than per message.
  static size_t consume(Conn& c, size_t want, const std::function<void(const amqp_envelope_t&)>& each = {}) {
    size_t got = 0;
    while (got < want) {
      amqp_envelope_t envelope;
      timeval timeout{10, 0};
      // Frees the connection's frame memory now and then: per message, with
      // hundreds of consumers on a connection, this call was most of the
      // harness's CPU (seen: 8 threads at ~25% each in amqp_release_buffers).
      if (got % 256 == 0) amqp_maybe_release_buffers(c.c);
      amqp_rpc_reply_t r = amqp_consume_message(c.c, &envelope, &timeout, 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) break;
      if (each) each(envelope);
      ++got;
      if (got == want || (!amqp_data_in_buffer(c.c) && !amqp_frames_enqueued(c.c))) {
        amqp_basic_ack(c.c, kChannel, envelope.delivery_tag, 1);
      }
      amqp_destroy_envelope(&envelope);
    }
    return got;
  }

  // Every portal its own TLS connection that declares, binds and consumes
  // one quorum queue; the connections spread over forked client processes
  // (rabbitmq-c keeps no threads), each consuming on a thread per connection.
  Result<NationalResult> national(size_t connections, const std::vector<std::string>& payloads,
                                  double budget_s) override {
    const std::string exchange = "national" + std::to_string(++round_);
    Conn pub;
    LANTOA_RETURN_IF_ERROR(open(pub, target_));
    amqp_exchange_declare(pub.c, kChannel, amqp_cstring_bytes(exchange.c_str()), amqp_cstring_bytes("fanout"), 0, 1, 0,
                          0, amqp_empty_table);
    LANTOA_RETURN_IF_ERROR(reply_ok(pub.c, "exchange.declare"));
    NationalPlan plan;
    plan.connections = connections;
    plan.children = connections >= 2000 ? 4 : 2;
    plan.budget_s = budget_s;
    plan.server = server_pid();
    plan.child = [&](size_t, size_t first, size_t count, Clock::time_point deadline, ParentLink& link) {
      std::vector<std::unique_ptr<Conn>> conns;
      std::string why;
      for (size_t i = 0; i < count; ++i) {
        if (Clock::now() >= deadline) {
          why = "time budget";
          break;
        }
        auto c = std::make_unique<Conn>();
        const std::string q = exchange + ".portal" + std::to_string(first + i);
        Status st = open(*c, target_);
        if (st.ok()) {
          amqp_basic_qos(c->c, kChannel, 0, 100, 0);  // prefetch, as Lantoa's credit
          st = reply_ok(c->c, "basic.qos");
        }
        if (st.ok()) st = declare_quorum_queue(*c, q);
        if (st.ok()) {
          amqp_queue_bind(c->c, kChannel, amqp_cstring_bytes(q.c_str()), amqp_cstring_bytes(exchange.c_str()),
                          amqp_empty_bytes, amqp_empty_table);
          st = reply_ok(c->c, "queue.bind");
        }
        if (st.ok()) {
          amqp_basic_consume(c->c, kChannel, amqp_cstring_bytes(q.c_str()), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
          st = reply_ok(c->c, "basic.consume");
        }
        if (!st.ok()) {
          why = st.message();
          break;
        }
        conns.push_back(std::move(c));
      }
      std::string ready = "ready " + std::to_string(conns.size());
      if (conns.size() < count) {
        ready += " RabbitMQ: " + std::to_string(conns.size()) + " of " + std::to_string(count) +
                 " connections with a quorum queue in a client process (" + why + ")";
      }
      link.say(ready);
      if (link.await({"go"}) == "go") {
        std::atomic<uint64_t> delivered{0};
        std::vector<std::thread> threads;
        for (auto& c : conns) threads.emplace_back([&, conn = c.get()] { delivered += consume(*conn, payloads.size()); });
        for (auto& t : threads) t.join();
        link.say("done " + std::to_string(delivered.load()));
        link.await({});
      }
      // The server is stopped after the scenario: no orderly goodbye needed.
      std::fflush(nullptr);
      ::_exit(0);
      return 0;
    };
    plan.publish = [&] { return publish_confirmed(pub, exchange, "", payloads); };
    NationalResult r = run_national(plan);
    if (r.deliveries < r.subscriptions * payloads.size()) {
      r.note += std::string(r.note.empty() ? "" : "; ") + "deliveries stopped at " + std::to_string(r.deliveries) +
                " (a consumer waited 10 s for the next one)";
    }
    // The queues are left: the comparison stops this server after the scenario.
    return r;
  }

  Result<LatencyResult> latency(size_t subscribers, double rate, const std::vector<std::string>& payloads,
                                const Identify& identify) override {
    const std::string exchange = "latency" + std::to_string(++round_);
    {
      Conn c;
      LANTOA_RETURN_IF_ERROR(open(c, target_));
      LANTOA_RETURN_IF_ERROR(make_queues(c, exchange, subscribers));
    }
    std::vector<std::atomic<int64_t>> sent(payloads.size());
    std::mutex mu;
    std::vector<double> samples;
    std::vector<std::unique_ptr<Conn>> conns;
    for (size_t s = 0; s < subscribers; ++s) {
      conns.push_back(std::make_unique<Conn>());
      LANTOA_RETURN_IF_ERROR(open(*conns.back(), target_));
      amqp_basic_qos(conns.back()->c, kChannel, 0, 100, 0);
      const std::string q = exchange + ".portal" + std::to_string(s);
      amqp_basic_consume(conns.back()->c, kChannel, amqp_cstring_bytes(q.c_str()), amqp_empty_bytes, 0, 0, 0,
                         amqp_empty_table);
      LANTOA_RETURN_IF_ERROR(reply_ok(conns.back()->c, "basic.consume"));
    }
    std::vector<std::thread> readers;
    for (size_t s = 0; s < subscribers; ++s) {
      readers.emplace_back([&, s] {
        consume(*conns[s], payloads.size(), [&](const amqp_envelope_t& e) {
          const std::string bytes(static_cast<const char*>(e.message.body.bytes), e.message.body.len);
          const long i = identify(bytes);  // verify, as a portal does
          const auto now = Clock::now();
          if (i < 0) return;
          const auto at = Clock::time_point(Clock::duration(sent[static_cast<size_t>(i)].load()));
          std::lock_guard lock(mu);
          samples.push_back(std::chrono::duration<double, std::milli>(now - at).count());
        });
      });
    }
    // The publisher: confirms are read as they come, between sends at the steady rate.
    Conn pub;
    LANTOA_RETURN_IF_ERROR(open(pub, target_));
    amqp_confirm_select(pub.c, kChannel);
    LANTOA_RETURN_IF_ERROR(reply_ok(pub.c, "confirm.select"));
    amqp_basic_properties_t props;
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.delivery_mode = 2;
    const auto start = Clock::now();
    for (size_t i = 0; i < payloads.size(); ++i) {
      const auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(i / rate));
      for (;;) {  // take confirmations until it is time to send
        const auto left = std::chrono::duration_cast<std::chrono::microseconds>(due - Clock::now()).count();
        if (left <= 0) break;
        timeval tv{0, static_cast<suseconds_t>(left)};
        amqp_frame_t frame;
        if (amqp_simple_wait_frame_noblock(pub.c, &frame, &tv) != AMQP_STATUS_OK) continue;
      }
      sent[i] = Clock::now().time_since_epoch().count();
      amqp_bytes_t body{payloads[i].size(), const_cast<char*>(payloads[i].data())};
      amqp_basic_publish(pub.c, kChannel, amqp_cstring_bytes(exchange.c_str()), amqp_empty_bytes, 0, 0, &props, body);
    }
    for (auto& t : readers) t.join();
    conns.clear();
    delete_queues(exchange, subscribers);
    std::lock_guard lock(mu);
    return summarize(samples);
  }

  Result<double> catchup(const std::vector<std::string>& payloads) override {
    const std::string queue = "catchup" + std::to_string(++round_);
    Conn c;
    LANTOA_RETURN_IF_ERROR(open(c, target_));
    LANTOA_RETURN_IF_ERROR(declare_quorum_queue(c, queue));
    LANTOA_RETURN_IF_ERROR(publish_confirmed(c, "", queue, payloads));
    Conn reader;
    LANTOA_RETURN_IF_ERROR(open(reader, target_));
    amqp_basic_qos(reader.c, kChannel, 0, 1000, 0);
    amqp_basic_consume(reader.c, kChannel, amqp_cstring_bytes(queue.c_str()), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    LANTOA_RETURN_IF_ERROR(reply_ok(reader.c, "basic.consume"));
    const auto t0 = Clock::now();
    const size_t got = consume(reader, payloads.size());
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    amqp_queue_delete(c.c, kChannel, amqp_cstring_bytes(queue.c_str()), 0, 0);
    if (got != payloads.size()) {
      return Status(E::UNAVAILABLE, "RabbitMQ: caught up " + std::to_string(got) + " of " + std::to_string(payloads.size()));
    }
    return got / secs;
  }

 private:
  std::filesystem::path dir_;
  Target target_;
  pid_t epmd_;
  std::string version_;
  int round_ = 0;
};

}  // namespace

Result<std::unique_ptr<Peer>> start_rabbitmq(const std::filesystem::path& dir) {
  if (!std::filesystem::exists("/usr/sbin/rabbitmq-server")) {
    return Status(E::NOT_FOUND, "rabbitmq-server is not installed (apt-get install rabbitmq-server)");
  }
  std::filesystem::create_directories(dir / "mnesia");
  std::filesystem::create_directories(dir / "log");
  auto tls = make_tls(dir / "tls");
  if (!tls) return tls.status();
  const int port = free_port(), dist = free_port(), epmd = free_port();
  // Erlang's port mapper, started here (on 127.0.0.1, by PID) rather than
  // left to rabbitmq-server, whose `epmd -daemon` outlives it.
  const pid_t epmd_pid = ::fork();
  if (epmd_pid == 0) {
    const std::string p = std::to_string(epmd);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl("/usr/bin/epmd", "epmd", "-port", p.c_str(), "-address", "127.0.0.1", nullptr);
    ::_exit(127);
  }
  if (epmd_pid < 0 || !wait_for_port(epmd, 10)) {
    stop_child(epmd_pid);
    return Status(E::UNAVAILABLE, "epmd (Erlang's port mapper) did not start");
  }
  // AMQP over TLS only: no plain listener.
  std::ofstream(dir / "rabbitmq.conf") << "loopback_users = none\nlog.console = false\nlisteners.tcp = none\n"
                                       << "listeners.ssl.default = 127.0.0.1:" << port << "\n"
                                       << "ssl_options.cacertfile = " << tls->ca.string() << "\n"
                                       << "ssl_options.certfile = " << tls->cert.string() << "\n"
                                       << "ssl_options.keyfile = " << tls->key.string() << "\n"
                                       << "ssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n";
  std::ofstream(dir / "enabled_plugins") << "[].\n";
  const std::string d = dir.string();
  const std::string env = "HOME=" + d + " RABBITMQ_NODENAME=lantoa-bench@localhost" +
                          " RABBITMQ_DIST_PORT=" + std::to_string(dist) +
                          " ERL_EPMD_PORT=" + std::to_string(epmd) + " RABBITMQ_MNESIA_BASE=" + d + "/mnesia" +
                          " RABBITMQ_LOG_BASE=" + d + "/log RABBITMQ_CONFIG_FILE=" + d + "/rabbitmq" +
                          " RABBITMQ_ENABLED_PLUGINS_FILE=" + d + "/enabled_plugins RABBITMQ_PID_FILE=" + d +
                          "/rabbitmq.pid RABBITMQ_FEATURE_FLAGS_FILE=" + d + "/feature_flags" +
                          // Erlang distribution on loopback only, as every listener here.
                          " RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'";
  // As Debian's wrapper does, the server runs as the rabbitmq user when we are
  // root; its open-file limit is raised to the hard limit first, as RabbitMQ's
  // production checklist asks (every quorum queue holds files open; at the
  // default 1024 the server stops accepting connections after a few hundred).
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  const std::string start = "ulimit -n " + std::to_string(files.rlim_max) + "; exec /usr/lib/rabbitmq/bin/rabbitmq-server >" +
                            d + "/server.log 2>&1";
  if (::geteuid() == 0) {
    run("chown -R rabbitmq:rabbitmq '" + d + "'; chmod 755 '" + d + "'");
    run("env " + env + " su rabbitmq -s /bin/sh -c '" + start + "' >/dev/null 2>&1 &");
  } else {
    run("env " + env + " sh -c '" + start + "' >/dev/null 2>&1 &");
  }
  if (!wait_for_port(port, 90)) {
    stop_child(epmd_pid);
    return Status(E::UNAVAILABLE, "rabbitmq-server did not start (logs in " + d + "/log)");
  }
  // The package's version (rabbitmqctl would start an epmd of its own).
  std::string version = run("dpkg-query -W -f='${Version}' rabbitmq-server");
  version = "RabbitMQ " + version.substr(0, version.find('\n'));
  // Check that the traffic really is TLS: a plain AMQP client is refused.
  const Target target{port, tls->ca.string()};
  std::unique_ptr<Peer> peer(new Rabbit(dir, target, epmd_pid, version + ", AMQPS (ECDSA P-256; checked: plain AMQP login refused)"));
  {
    Conn plain;
    if (open(plain, target, true).ok()) {  // the server is stopped as `peer` goes
      return Status(E::UNAVAILABLE, "RabbitMQ accepted a plain AMQP login on its TLS port");
    }
  }
  return peer;
}

}  // namespace lantoa::bench
