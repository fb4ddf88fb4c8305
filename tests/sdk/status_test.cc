#include "lantoa/status.h"

#include <gtest/gtest.h>

namespace lantoa {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.to_string(), "OK");
}

TEST(Status, CarriesCodeNameAndMessage) {
  Status s(v1::Error::BAD_SIGNATURE, "signature does not verify");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(code_name(s.code()), "BAD_SIGNATURE");
  EXPECT_EQ(s.to_string(), "BAD_SIGNATURE: signature does not verify");
}

TEST(Status, RoundTripsThroughTheWireForm) {
  Status s(v1::Error::STORAGE_FULL, "no room");
  Status back = Status::from_proto(s.to_proto());
  EXPECT_EQ(back.code(), v1::Error::STORAGE_FULL);
  EXPECT_EQ(back.message(), "no room");
  EXPECT_TRUE(Status::from_proto(v1::Error()).ok());
}

TEST(Status, UnknownCodeHasAName) {
  EXPECT_EQ(code_name(static_cast<Code>(9999)), "UNKNOWN_CODE");
}

TEST(Result, HoldsValueOrStatus) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  EXPECT_TRUE(good.status().ok());

  Result<int> bad = Status(v1::Error::NOT_FOUND, "nope");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), v1::Error::NOT_FOUND);
}

Status fails_at_second(int* reached) {
  LANTOA_RETURN_IF_ERROR(Status::Ok());
  *reached = 1;
  LANTOA_RETURN_IF_ERROR(Status(v1::Error::TIMEOUT, "late"));
  *reached = 2;
  return Status::Ok();
}

TEST(Status, ReturnIfErrorStopsAtTheFirstFailure) {
  int reached = 0;
  EXPECT_EQ(fails_at_second(&reached).code(), v1::Error::TIMEOUT);
  EXPECT_EQ(reached, 1);
}

}  // namespace
}  // namespace lantoa
