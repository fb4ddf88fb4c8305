#include "lantoa/access.h"

#include <gtest/gtest.h>

#include "support/fixtures.h"

namespace lantoa {
namespace {

TEST(Restrictions, ReadersGrantsAndFilters) {
  Restrictions r;
  r.set({"vn.bqp.internal", {"vn.bqp"}, "vn.bqp"});
  EXPECT_TRUE(r.may_read("vn.qn", {}, "vn.bqp.notice"));
  EXPECT_FALSE(r.may_read("vn.qn", {}, "vn.bqp.internal.orders"));
  EXPECT_FALSE(r.may_read("vn.qn", {}, "vn.bqp.internal"));
  EXPECT_TRUE(r.may_read("vn.bqp", {}, "vn.bqp.internal.orders"));
  EXPECT_TRUE(r.may_read("vn.bqp.hanoi", {}, "vn.bqp.internal.orders"));
  EXPECT_FALSE(r.may_read("vn.bqpx", {}, "vn.bqp.internal.orders"));
  EXPECT_TRUE(r.may_read("vn.qn", {"vn.bqp.internal.>"}, "vn.bqp.internal.orders"));
  EXPECT_FALSE(r.may_read("vn.qn", {"vn.bqp.internal.public"}, "vn.bqp.internal.orders"));

  EXPECT_EQ(r.check_filter("vn.qn", {}, "vn.bqp.internal.>").code(), v1::Error::PERMISSION_DENIED);
  EXPECT_EQ(r.check_filter("vn.qn", {}, "vn.bqp.internal.orders").code(), v1::Error::PERMISSION_DENIED);
  EXPECT_TRUE(r.check_filter("vn.qn", {}, "vn.bqp.>").ok());       // overlaps only: filtered at routing
  EXPECT_TRUE(r.check_filter("vn.qn", {}, "vn.*.internal").ok());
  EXPECT_TRUE(r.check_filter("vn.bqp.hanoi", {}, "vn.bqp.internal.>").ok());
  EXPECT_TRUE(r.check_filter("vn.qn", {"vn.bqp.internal.>"}, "vn.bqp.internal.>").ok());
}

TEST(Inbox, OnlyItsTwoEndsReadItAndOnlyTheirBrokersCarryIt) {
  Restrictions r;
  const std::string topic = "vn.gov.$inbox.vn.ldtbxh";
  EXPECT_TRUE(r.may_read("vn.gov", {}, topic));
  EXPECT_TRUE(r.may_read("vn.ldtbxh", {}, topic));
  EXPECT_FALSE(r.may_read("vn.qn", {}, topic));
  EXPECT_FALSE(r.may_read("vn", {}, topic));               // not even the root's member
  EXPECT_FALSE(r.may_read("vn.gov.desk", {}, topic));      // nor one below the recipient
  EXPECT_FALSE(r.may_read("vn.qn", {"vn.gov.>", ">"}, topic));  // read grants do not open it
  EXPECT_EQ(r.check_filter("vn.qn", {}, topic).code(), v1::Error::PERMISSION_DENIED);
  EXPECT_TRUE(r.check_filter("vn.ldtbxh", {}, topic).ok());
  EXPECT_TRUE(r.check_filter("vn.gov", {}, "vn.gov.$inbox.>").ok());
  EXPECT_TRUE(r.check_filter("vn.qn", {}, "vn.gov.$inbox.>").ok());  // what vn.qn sent there, no more
  auto inbox = inbox_address(topic);
  ASSERT_TRUE(inbox);
  EXPECT_TRUE(may_carry_inbox(*inbox, "vn"));
  EXPECT_TRUE(may_carry_inbox(*inbox, broker_namespace("vn.ldtbxh.broker")));
  EXPECT_FALSE(may_carry_inbox(*inbox, broker_namespace("vn.qn.broker")));
  EXPECT_EQ(broker_namespace("vn.centre"), "vn");
  // Mail inside a restricted namespace stays with its readers: a broker that
  // could carry the inbox must also pass the declarations (its two ends read
  // it whatever they say).
  r.set({"vn.bqp", {"vn.bqp"}, "vn.bqp"});
  const std::string internal = "vn.bqp.$inbox.vn.bqp.cuc";
  auto mail = inbox_address(internal);
  ASSERT_TRUE(mail);
  EXPECT_TRUE(may_carry_inbox(*mail, broker_namespace("vn.centre")));
  EXPECT_FALSE(r.allowed_by_declarations("vn.centre", {}, internal));
  EXPECT_TRUE(r.allowed_by_declarations("vn.bqp.broker", {}, internal));
  EXPECT_TRUE(r.may_read("vn.bqp.cuc", {}, internal));
  EXPECT_TRUE(r.check_filter("vn.gov", {}, "vn.bqp.$inbox.vn.gov").ok());  // a sender from outside names its own
}

TEST(Restrictions, DeclarationsComeFromTheOwner) {
  testing::TrustTree tree;
  testing::Member bqp = tree.member("vn.bqp");
  auto make = [&](const std::string& origin, const std::string& body) {
    v1::Event e = testing::sample_event(origin, 1, std::string(kRestrictionTopic));
    e.set_body(body);
    VerifiedEvent v{"id", e, {}};
    v.signer.certificate.set_member(origin);
    return v;
  };
  auto ok = restriction_from_event(make("vn.bqp", R"({"namespace": "vn.bqp.internal", "readers": ["vn.bqp.hanoi"]})"));
  ASSERT_OK(ok);
  EXPECT_EQ(ok->ns, "vn.bqp.internal");
  EXPECT_EQ(ok->readers, (std::vector<std::string>{"vn.bqp.hanoi", "vn.bqp"}));  // the owner always reads
  EXPECT_CODE(restriction_from_event(make("vn.qn", R"({"namespace": "vn.bqp.internal", "readers": []})")),
              v1::Error::PERMISSION_DENIED);
  EXPECT_CODE(restriction_from_event(make("vn.bqp", R"({"namespace": "vn.bqp.*", "readers": []})")),
              v1::Error::INVALID_TOPIC);
  EXPECT_CODE(restriction_from_event(make("vn.bqp", R"({"namespace": "vn.bqp.x", "readers": ["Bad Id"]})")),
              v1::Error::INVALID_MEMBER_ID);
  EXPECT_CODE(restriction_from_event(make("vn.bqp", "[]")), v1::Error::INVALID_ARGUMENT);
}

// Issue 13, item 2: a member below the declarer cannot reopen what its
// parent restricted by declaring the same namespace more openly.
TEST(Restrictions, AChildCannotReopenWhatItsParentRestricted) {
  Restrictions r;
  r.set({"vn.bqp.internal", {"vn.bqp"}, "vn.bqp"});
  r.set({"vn.bqp.internal", {"vn", "vn.bqp.internal"}, "vn.bqp.internal"});  // the child's "open to all"
  r.set({"vn.bqp.internal.plans", {"vn"}, "vn.bqp.internal"});
  EXPECT_FALSE(r.may_read("vn.qn", {}, "vn.bqp.internal.plans"));
  EXPECT_FALSE(r.may_read("vn.qn", {}, "vn.bqp.internal"));
  EXPECT_TRUE(r.may_read("vn.bqp.hanoi", {}, "vn.bqp.internal.plans"));
  EXPECT_STATUS(r.check_filter("vn.qn", {}, "vn.bqp.internal.>"), v1::Error::PERMISSION_DENIED);
  EXPECT_EQ(r.all().size(), 3u);  // kept per declarer: the child's did not replace the parent's
}

}  // namespace
}  // namespace lantoa
