#include "store/sequence_window.h"

#include <algorithm>

#include "lantoa/internal/store.h"

namespace lantoa::broker {

using E = lantoa::v1::Error;

SequenceWindow SequenceWindow::decode(std::string_view value) {
  SequenceWindow w;
  if (value.size() < 8) return w;
  w.highest_ = store::read_be64(value.substr(0, 8));
  if (value.size() == 8 + kWidth / 8) {
    for (size_t i = 0; i < kWidth; ++i) {
      if (static_cast<unsigned char>(value[8 + i / 8]) & (1u << (i % 8))) w.used_.set(i);
    }
  } else {
    w.used_.set();  // only the highest is known: everything below counts as used
  }
  return w;
}

std::string SequenceWindow::encode() const {
  std::string out = store::be64(highest_);
  out.append(kWidth / 8, '\0');
  for (size_t i = 0; i < kWidth; ++i) {
    if (used_.test(i)) out[8 + i / 8] = static_cast<char>(static_cast<unsigned char>(out[8 + i / 8]) | (1u << (i % 8)));
  }
  return out;
}

uint64_t SequenceWindow::ceiling(int64_t now_ms) const {
  const uint64_t clock_start = now_ms > 0 ? static_cast<uint64_t>(now_ms) * 1000 : 0;
  return std::max(highest_, clock_start) + kMaxJump;
}

Status SequenceWindow::check(uint64_t seq, std::string_view origin, int64_t now_ms) const {
  if (seq > highest_) {
    if (seq > ceiling(now_ms)) {
      return Status(E::SEQUENCE_TOO_FAR, "sequence " + std::to_string(seq) + " of " + std::string(origin) +
                                             " is above " + std::to_string(ceiling(now_ms)) +
                                             ", the most it may be now (the highest accepted, " +
                                             std::to_string(highest_) + ", or the clock in ms x 1000, plus " +
                                             std::to_string(kMaxJump) + "); continue from Welcome.last_sequence + 1");
    }
    return Status::Ok();
  }
  // Below the window: accepted. An exact replay is refused by its id (the
  // store remembers every id until the replay horizon, and refuses events
  // created before it); what the window still refuses is a second, different
  // event with a sequence it saw used.
  const uint64_t back = highest_ - seq;
  if (back < kWidth && used_.test(back)) {
    return Status(E::STALE_SEQUENCE, "sequence " + std::to_string(seq) + " of " + std::string(origin) +
                                         " was already used by another accepted event");
  }
  return Status::Ok();
}

void SequenceWindow::accept(uint64_t seq) {
  if (seq > highest_) {
    const uint64_t shift = seq - highest_;
    used_ = shift >= kWidth ? std::bitset<kWidth>() : used_ << shift;
    highest_ = seq;
    used_.set(0);
    return;
  }
  if (highest_ - seq < kWidth) used_.set(highest_ - seq);  // below the window nothing is recorded
}

}  // namespace lantoa::broker
