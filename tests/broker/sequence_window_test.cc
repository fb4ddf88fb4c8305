#include "store/sequence_window.h"

#include <gtest/gtest.h>

namespace lantoa::broker {
namespace {

using E = lantoa::v1::Error;

TEST(SequenceWindow, AcceptsOutOfOrderOnceAndRefusesFarJumps) {
  SequenceWindow w;
  EXPECT_EQ(w.check(UINT64_MAX, "vn.gov").code(), E::SEQUENCE_TOO_FAR);
  ASSERT_TRUE(w.check(5, "vn.gov").ok());
  w.accept(5);
  EXPECT_TRUE(w.check(3, "vn.gov").ok());
  w.accept(3);
  EXPECT_EQ(w.check(3, "vn.gov").code(), E::STALE_SEQUENCE);
  EXPECT_EQ(w.check(5, "vn.gov").code(), E::STALE_SEQUENCE);
  EXPECT_TRUE(w.check(4, "vn.gov").ok());
  // Survives encoding, and an old 8-byte record counts everything below as used.
  SequenceWindow back = SequenceWindow::decode(w.encode());
  EXPECT_EQ(back.highest(), 5u);
  EXPECT_TRUE(back.check(4, "vn.gov").ok());
  EXPECT_EQ(back.check(3, "vn.gov").code(), E::STALE_SEQUENCE);
  SequenceWindow old = SequenceWindow::decode(std::string("\0\0\0\0\0\0\0\x05", 8));
  EXPECT_EQ(old.check(4, "vn.gov").code(), E::STALE_SEQUENCE);
  EXPECT_TRUE(old.check(6, "vn.gov").ok());
  // Far below the window: refused.
  back.accept(5000);
  EXPECT_EQ(back.check(4, "vn.gov").code(), E::STALE_SEQUENCE);
  EXPECT_TRUE(back.check(4999, "vn.gov").ok());
}

}  // namespace
}  // namespace lantoa::broker
