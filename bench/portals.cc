#include "portals.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "delivery/wire_views.pb.h"
#include "lantoa/v1/wire.pb.h"

namespace lantoa::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Shared {
  std::atomic<uint64_t> subscribed{0}, failed{0}, acked{0}, frames{0};
  std::atomic<int64_t> last_delivery{0};  // steady clock ticks
  std::atomic<size_t> done_creating{0};
  std::atomic<bool> quit{false};
  std::mutex mu;
  std::string first_error;
  void error(const std::string& text) {
    std::lock_guard lock(mu);
    if (first_error.empty()) first_error = text;
  }
};

struct Portal {
  zmq::socket_t socket;
  int state = 0;  // 0 Hello sent, 1 welcomed and Subscribe sent, 2 subscribed, -1 refused
  Clock::time_point opened, last_send;
  std::string name;
};

// One thread's share: opens its connections a window at a time, then serves
// them all (answers, deliveries, heartbeats) until told to quit.
void serve(const PortalsConfig& c, zmq::context_t& context, size_t first, size_t n, Clock::time_point deadline,
           Shared& shared) {
  std::vector<Portal> portals;
  portals.reserve(n);
  // Readiness through epoll on each socket's ZMQ_FD (zmq::poll over a
  // thousand sockets costs a system call per socket per call). ZMQ_FD only
  // says "look": a socket is read until EAGAIN whenever it fires and after
  // every send on it, as libzmq asks.
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<epoll_event> ready(512);
  size_t handshaking = 0;  // connections not yet Subscribed (nor refused)
  bool creating = true;
  auto last_sweep = Clock::now();
  auto send = [](Portal& p, const std::string& bytes, Clock::time_point now) {
    (void)p.socket.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
    p.last_send = now;
  };
  auto refuse = [&](Portal& p, const std::string& why) {
    --handshaking;
    p.state = -1;
    ++shared.failed;
    shared.error(why);
  };
  // Reads everything the socket has: answers, deliveries (acked at once).
  std::function<void(Portal&, Clock::time_point)> drain = [&](Portal& p, Clock::time_point now) {
    zmq::message_t m;
    // ZMQ_EVENTS takes the socket's pending commands (which clears ZMQ_FD);
    // a bare recv may leave them for later and ZMQ_FD readable.
    while ((p.socket.get(zmq::sockopt::events) & ZMQ_POLLIN) && p.socket.recv(m, zmq::recv_flags::dontwait)) {
      // As a portal does until it verifies: only the delivery headers are
      // read (subscription, delivery id); each event stays bytes.
      if (p.state == 2) {
        broker::views::DeliveriesFrameView headers;
        if (headers.ParseFromArray(m.data(), static_cast<int>(m.size())) && headers.has_deliveries()) {
          v1::ClientFrame ack;
          ack.mutable_ack()->set_subscription(p.name);
          for (const auto& d : headers.deliveries().items()) ack.mutable_ack()->add_delivery_ids(d.delivery_id());
          send(p, ack.SerializeAsString(), now);
          shared.acked += static_cast<uint64_t>(headers.deliveries().items_size());
          ++shared.frames;
          shared.last_delivery = now.time_since_epoch().count();
          continue;
        }
      }
      v1::BrokerFrame f;
      if (!f.ParseFromArray(m.data(), static_cast<int>(m.size()))) continue;
      if (f.has_welcome() && p.state == 0) {
        p.state = 1;
        v1::ClientFrame sub;
        sub.mutable_subscribe()->set_request_id(1);
        sub.mutable_subscribe()->set_name(p.name);
        sub.mutable_subscribe()->add_filters(c.filter);
        sub.mutable_subscribe()->set_credit(c.credit);
        send(p, sub.SerializeAsString(), now);
      } else if (f.has_subscribed() && p.state == 1) {
        p.state = 2;
        --handshaking;
        ++shared.subscribed;
      } else if (f.has_error() && p.state >= 0 && p.state < 2) {
        refuse(p, f.error().error().message());
      }
    }
  };
  while (!shared.quit) {
    auto now = Clock::now();
    if (creating) {
      while (portals.size() < n && handshaking < c.handshakes_in_flight && now < deadline) {
        Portal p;
        p.socket = zmq::socket_t(context, zmq::socket_type::dealer);
        p.socket.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(c.server_key.data(), 32));
        p.socket.set(zmq::sockopt::curve_publickey, zmq::const_buffer(c.public_key.data(), 32));
        p.socket.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(c.secret_key.data(), 32));
        p.socket.set(zmq::sockopt::maxmsgsize, int64_t{64} << 20);
        p.socket.set(zmq::sockopt::linger, 0);
        p.socket.connect(c.endpoint);
        p.name = c.prefix + "-" + std::to_string(first + portals.size());
        p.opened = now;
        send(p, c.hello, now);  // queued until the Curve handshake is done
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.u64 = portals.size();
        ::epoll_ctl(ep, EPOLL_CTL_ADD, p.socket.get(zmq::sockopt::fd), &e);
        portals.push_back(std::move(p));
        ++handshaking;
        drain(portals.back(), now);
      }
      for (Portal& p : portals) {  // a handshake that never ends counts as refused
        if ((p.state == 0 || p.state == 1) && now - p.opened > std::chrono::seconds(60)) {
          refuse(p, "no Welcome and Subscribed within 60 s");
        }
      }
      if ((portals.size() == n || now >= deadline) && handshaking == 0) {
        creating = false;
        ++shared.done_creating;
      }
    }
    const int got = ::epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), 20);
    now = Clock::now();
    for (int i = 0; i < got; ++i) drain(portals[ready[static_cast<size_t>(i)].data.u64], now);
    // Heartbeats: the broker drops a connection silent for 3 of its intervals (5 s).
    if (now - last_sweep > std::chrono::milliseconds(500)) {
      last_sweep = now;
      v1::ClientFrame hb;
      hb.mutable_heartbeat()->set_time_ms(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
      const std::string bytes = hb.SerializeAsString();
      for (Portal& p : portals) {
        if (p.state >= 1 && now - p.last_send > std::chrono::seconds(2)) {
          send(p, bytes, now);
          drain(p, now);
        }
      }
    }
  }
  ::close(ep);
}

}  // namespace

int run_portals(const PortalsConfig& c, size_t first, size_t count, Clock::time_point deadline, ParentLink& link) {
  Shared shared;
  zmq::context_t context(1);
  context.set(zmq::ctxopt::max_sockets, static_cast<int>(count + 64));
  const size_t threads = std::max<size_t>(1, std::min(c.threads, count));
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    const size_t n = share(count, threads, t), at = first + first_of(count, threads, t);
    workers.emplace_back([&, n, at] { serve(c, context, at, n, deadline, shared); });
  }
  while (shared.done_creating < threads) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::string ready = "ready " + std::to_string(shared.subscribed.load());
  if (shared.subscribed < count) {
    ready += " Lantoa: " + std::to_string(shared.subscribed.load()) + " of " + std::to_string(count) +
             " connections subscribed in a client process (" +
             (shared.first_error.empty() ? std::string("time budget") : shared.first_error) + ")";
  }
  link.say(ready);
  if (link.await({"go"}) == "go") {
    const uint64_t expected = shared.subscribed * c.events;
    const auto go = Clock::now();
    shared.last_delivery = go.time_since_epoch().count();
    while (shared.acked < expected) {
      const auto last = Clock::time_point(Clock::duration(shared.last_delivery.load()));
      if (Clock::now() - last > std::chrono::duration<double>(c.idle_s)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    link.say("done " + std::to_string(shared.acked.load()) + " " + std::to_string(shared.frames.load()));
    link.await({});
  }
  shared.quit = true;
  for (auto& w : workers) w.join();
  context.close();
  return 0;
}

}  // namespace lantoa::bench
