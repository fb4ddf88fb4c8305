// SequenceWindow: the per-origin sequence record kept in the `origins`
// database (FORMAT.md).
//
// Every event carries its origin's sequence number. Replays are refused by
// the event id, not here: the store remembers every id it held until the
// replay horizon and refuses events created before it (Store::Batch::ingest),
// which holds however late and by whatever path (several links between
// brokers, urgent events overtaking a backlog) an event arrives. The window
// keeps what the sequence still decides:
//  - the highest sequence accepted, told to the origin in Welcome so that a
//    publisher continues after it;
//  - a second, different event with a sequence already used (within the
//    last kWidth sequences) is refused (STALE_SEQUENCE): an origin's
//    sequence names one event;
//  - a sequence more than kMaxJump above both the highest and the
//    clock-based start (now in ms x 1000, where an SDK publisher that starts
//    offline begins) is refused, so no single event (a thief's UINT64_MAX)
//    uses up an origin's sequences, and the ceiling only grows with time.
//
// A value type: the caller reads it from the store, checks, accepts, and
// writes it back in the same transaction.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>

#include "lantoa/status.h"

namespace lantoa::broker {

class SequenceWindow {
 public:
  static constexpr uint64_t kWidth = 1024;          // sequences tracked below the highest
  static constexpr uint64_t kMaxJump = 1u << 20;    // most a sequence may exceed the highest by

  // From the stored value: 8 bytes (the highest only, as written by format
  // 1 brokers: every sequence below it counts as used) or 8 + kWidth/8.
  // An empty value is an origin never seen.
  static SequenceWindow decode(std::string_view value);
  std::string encode() const;

  uint64_t highest() const { return highest_; }
  // OK when `seq` may be accepted at `now_ms`; STALE_SEQUENCE (used by
  // another event) or SEQUENCE_TOO_FAR otherwise, naming the origin.
  Status check(uint64_t seq, std::string_view origin, int64_t now_ms) const;
  // The highest sequence acceptable at `now_ms`.
  uint64_t ceiling(int64_t now_ms) const;
  // Records `seq` as used (after check() said OK).
  void accept(uint64_t seq);

 private:
  uint64_t highest_ = 0;
  std::bitset<kWidth> used_;  // bit i: sequence highest_ - i was accepted
};

}  // namespace lantoa::broker
