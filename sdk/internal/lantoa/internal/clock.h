// The two clocks Lantoa reads. Wall time (unix_now_ms in lantoa/event.h) is
// for what is compared with times written in events, certificates and
// revocation lists, and for what is stored. Monotonic time (here) is for
// timers and rates: heartbeats, ack deadlines, redelivery, rate limits,
// rescans; a step of the wall clock (NTP, an operator) must neither fire
// nor stall any of them.
//
// Components take the time as a parameter (`now_ms`) from the one loop that
// owns them, rather than reading a clock themselves: that parameter is the
// seam tests use to move time (TokenBucket, Dispatcher, Store::Batch).
#pragma once

#include <chrono>
#include <cstdint>

namespace lantoa::internal {

inline int64_t mono_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace lantoa::internal
