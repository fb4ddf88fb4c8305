// ThreadOwner: asserts, in debug builds (the sanitizer run of the suite),
// that an object said to belong to one thread (broker/THREADS.md) is only
// ever used from that thread. The first use binds it; a use from another
// thread aborts with what was touched. Free in release builds.
#pragma once

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace lantoa::internal {

class ThreadOwner {
 public:
  void check([[maybe_unused]] const char* what) const {
#ifndef NDEBUG
    const std::thread::id me = std::this_thread::get_id();
    std::thread::id expected{};
    if (owner_.compare_exchange_strong(expected, me) || expected == me) return;
    std::fprintf(stderr, "lantoa: %s used from a thread that does not own it (see broker/THREADS.md)\n", what);
    std::abort();
#endif
  }
  // Hands the object over: the next use binds it again.
  void release() { owner_.store(std::thread::id{}); }

 private:
  mutable std::atomic<std::thread::id> owner_{};
};

}  // namespace lantoa::internal
