#include "store/sequence_window.h"

#include <gtest/gtest.h>

namespace lantoa::broker {
namespace {

using E = lantoa::v1::Error;
constexpr int64_t kNow = 1'800'000'000'000;

TEST(SequenceWindow, AcceptsOutOfOrderAndRefusesAReusedSequenceAndFarJumps) {
  SequenceWindow w;
  EXPECT_EQ(w.check(UINT64_MAX, "vn.gov", kNow).code(), E::SEQUENCE_TOO_FAR);
  ASSERT_TRUE(w.check(5, "vn.gov", kNow).ok());
  w.accept(5);
  EXPECT_TRUE(w.check(3, "vn.gov", kNow).ok());
  w.accept(3);
  EXPECT_EQ(w.check(3, "vn.gov", kNow).code(), E::STALE_SEQUENCE);
  EXPECT_EQ(w.check(5, "vn.gov", kNow).code(), E::STALE_SEQUENCE);
  EXPECT_TRUE(w.check(4, "vn.gov", kNow).ok());
  // Survives encoding, and an old 8-byte record counts everything below as used.
  SequenceWindow back = SequenceWindow::decode(w.encode());
  EXPECT_EQ(back.highest(), 5u);
  EXPECT_TRUE(back.check(4, "vn.gov", kNow).ok());
  EXPECT_EQ(back.check(3, "vn.gov", kNow).code(), E::STALE_SEQUENCE);
  SequenceWindow old = SequenceWindow::decode(std::string("\0\0\0\0\0\0\0\x05", 8));
  EXPECT_EQ(old.check(4, "vn.gov", kNow).code(), E::STALE_SEQUENCE);
  EXPECT_TRUE(old.check(6, "vn.gov", kNow).ok());
  // Far below the window: accepted (a replay is refused by its id: the
  // store remembers ids until the replay horizon).
  back.accept(5000);
  EXPECT_TRUE(back.check(4, "vn.gov", kNow).ok());
  EXPECT_TRUE(back.check(4999, "vn.gov", kNow).ok());
  // An SDK publisher that starts offline numbers from the clock (ms x 1000).
  const uint64_t clock_start = static_cast<uint64_t>(kNow) * 1000;
  EXPECT_TRUE(back.check(clock_start + 1, "vn.gov", kNow).ok());
  EXPECT_EQ(back.check(clock_start + SequenceWindow::kMaxJump + 1, "vn.gov", kNow).code(), E::SEQUENCE_TOO_FAR);
}

}  // namespace
}  // namespace lantoa::broker
