// Client processes for the national press release: 10,000 connections do not
// fit in one process here (the open-file hard limit is 20,000 and cannot be
// raised; a ZeroMQ socket takes two descriptors, a cnats or rabbitmq-c
// connection one plus its threads), so the harness forks children, each
// holding a share of the connections, and talks to them over pipes, one line
// per message.
//
// Phases, the same for every system:
//   child:  connects and subscribes its share, then says "ready <created> [note]"
//   parent: measures the server, says "go", publishes
//   child:  counts and acks deliveries, says "done <acked>" when it has them all
//           (or when no delivery came for `idle` seconds)
//   parent: measures the server, says "quit"; the child closes and exits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lantoa::bench {

// Raises this process's soft open-file limit to the hard limit (children and
// servers started afterwards inherit it). Returns the new soft limit.
unsigned long raise_open_files();

// A child's end of the pipes.
class ParentLink {
 public:
  ParentLink(int from_parent, int to_parent) : in_(from_parent), out_(to_parent) {}
  void say(const std::string& line);
  // The next line from the parent; nullopt when none came within `timeout`
  // (0: do not wait) or the parent is gone ("quit" is returned then).
  std::optional<std::string> hear(std::chrono::milliseconds timeout);
  // Waits for one of `words` ("quit" always ends the wait) and returns it.
  std::string await(const std::vector<std::string>& words);
  int fd() const { return in_; }  // readable when the parent said something
  int out_fd() const { return out_; }

 private:
  int in_, out_;
  std::string buffer_;
};

// Splits `total` connections over `children` processes: the share of child i.
size_t share(size_t total, size_t children, size_t i);
// The first global index of child i's share.
size_t first_of(size_t total, size_t children, size_t i);

class Swarm {
 public:
  // Forks `children` processes; child i runs body(i, link) and _exits with its
  // return value (no destructors of the parent's objects run in a child).
  Swarm(size_t children, const std::function<int(size_t, ParentLink&)>& body);
  ~Swarm();  // "quit", then waits (SIGKILL after 10 s)
  Swarm(const Swarm&) = delete;
  Swarm& operator=(const Swarm&) = delete;

  void tell_all(const std::string& line);
  // One line from every child (nullopt for a child that said nothing within
  // `timeout_s` or died).
  std::vector<std::optional<std::string>> hear_all(double timeout_s);
  size_t size() const { return kids_.size(); }
  // Resident memory of all children together, MB.
  double rss_mb() const;

 private:
  struct Kid {
    pid_t pid = -1;
    int to = -1, from = -1;
    std::string buffer;
  };
  std::vector<Kid> kids_;
};

}  // namespace lantoa::bench

#include "peers/peers.h"

namespace lantoa::bench {

// The national press release driven through a Swarm: `connections` spread
// over `children` processes, each connection with one durable subscription.
struct NationalPlan {
  size_t connections = 0;
  size_t children = 4;
  double budget_s = 120;   // children stop creating after this long (from the fork)
  pid_t server = -1;       // whose CPU and memory are measured
  // Child `index` opens connections [first, first + count) and subscribes
  // each; stops creating at `deadline`; then follows the protocol above.
  std::function<int(size_t index, size_t first, size_t count, std::chrono::steady_clock::time_point deadline,
                    ParentLink& link)>
      child;
  std::function<void()> prepare;    // after every child is ready, before timing (opens the publisher)
  std::function<Status()> publish;  // after "go"
  double deliver_timeout_s = 600;
};
NationalResult run_national(const NationalPlan& plan);

}  // namespace lantoa::bench
