#include "lantoa/names.h"

#include <gtest/gtest.h>

#include "support/fixtures.h"

namespace lantoa {
namespace {

TEST(MemberId, AcceptsTheAdministrativeTree) {
  for (const char* id : {"vn", "vn.gov", "vn.bqp", "vn.qn.halong", "vn.qn.halong.phuong-1", "a1"}) {
    EXPECT_TRUE(validate_member_id(id).ok()) << id;
  }
}

TEST(MemberId, RejectsEachRuleWithItsReason) {
  struct Case {
    std::string id;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{{"", "is empty"},
                                         {"vn..gov", "empty label"},
                                         {".vn", "empty label"},
                                         {"vn.", "empty label"},
                                         {"Vn.gov", "contains 'V'"},
                                         {"vn.g_v", "contains '_'"},
                                         {"vn.*", "contains '*'"},
                                         {"vn.-x", "starts or ends"},
                                         {std::string(129, 'a'), "longer than 128"},
                                         {"vn." + std::string(64, 'a'), "longer than 63"}}) {
    Status s = validate_member_id(c.id);
    EXPECT_EQ(s.code(), v1::Error::INVALID_MEMBER_ID) << c.id;
    EXPECT_NE(s.message().find(c.reason), std::string::npos) << s.message();
  }
}

TEST(Topic, AcceptsTopicsAndSystemTopics) {
  for (const char* t : {"vn.gov.press", "vn.bqp.notice", "vn.qn.tin_tuc", "$trust.revocations"}) {
    EXPECT_TRUE(validate_topic(t).ok()) << t;
  }
}

TEST(Topic, RejectsWildcardsAndBadLabels) {
  for (const char* t : {"", "vn.*.press", "vn.gov.>", "vn..x", "vn.Gov", "vn.gov.$x", "$", "vn gov"}) {
    EXPECT_EQ(validate_topic(t).code(), v1::Error::INVALID_TOPIC) << t;
  }
  EXPECT_EQ(validate_topic(std::string(256, 'a')).code(), v1::Error::INVALID_TOPIC);
}

TEST(Filter, AcceptsWildcardsInTheirPlaces) {
  for (const char* f : {"vn.gov.press", "vn.*.notice", "vn.qn.>", ">", "*", "*.*.press", "$trust.>"}) {
    EXPECT_TRUE(validate_filter(f).ok()) << f;
  }
}

TEST(Filter, RejectsMisplacedWildcards) {
  EXPECT_EQ(validate_filter("vn.>.press").code(), v1::Error::INVALID_FILTER);
  EXPECT_NE(validate_filter("vn.>.press").message().find("last label"), std::string::npos);
  EXPECT_EQ(validate_filter("vn.g*").code(), v1::Error::INVALID_FILTER);
  EXPECT_NE(validate_filter("vn.g*").message().find("stand alone"), std::string::npos);
  EXPECT_EQ(validate_filter("").code(), v1::Error::INVALID_FILTER);
  EXPECT_EQ(validate_filter("vn..x").code(), v1::Error::INVALID_FILTER);
}

TEST(Filter, MatchesLikeTheDesignSays) {
  EXPECT_TRUE(filter_matches("vn.gov.press", "vn.gov.press"));
  EXPECT_FALSE(filter_matches("vn.gov.press", "vn.gov.press.extra"));
  EXPECT_FALSE(filter_matches("vn.gov.press", "vn.gov"));

  EXPECT_TRUE(filter_matches("vn.*.notice", "vn.bqp.notice"));
  EXPECT_FALSE(filter_matches("vn.*.notice", "vn.bqp.x.notice"));
  EXPECT_FALSE(filter_matches("vn.*.notice", "vn.notice"));

  EXPECT_TRUE(filter_matches("vn.qn.>", "vn.qn.halong"));
  EXPECT_TRUE(filter_matches("vn.qn.>", "vn.qn.halong.news.local"));
  EXPECT_FALSE(filter_matches("vn.qn.>", "vn.qn"));  // '>' needs at least one label
  EXPECT_FALSE(filter_matches("vn.qn.>", "vn.qnx.a"));

  EXPECT_TRUE(filter_matches(">", "vn.gov.press"));
  EXPECT_TRUE(filter_matches("*", "vn"));
  EXPECT_FALSE(filter_matches("*", "vn.gov"));
  EXPECT_FALSE(filter_matches("bad..filter", "bad.filter"));
}

TEST(Filter, LeadingWildcardsDoNotMatchSystemTopics) {
  EXPECT_FALSE(filter_matches(">", "$trust.revocations"));
  EXPECT_FALSE(filter_matches("*.revocations", "$trust.revocations"));
  EXPECT_TRUE(filter_matches("$trust.>", "$trust.revocations"));
  EXPECT_TRUE(filter_matches("$trust.revocations", "$trust.revocations"));
}

TEST(Inbox, IsWhereTheSenderWritesToTheRecipientAndNoWildcardReachesIt) {
  EXPECT_TRUE(validate_topic("vn.gov.$inbox.vn.ldtbxh").ok());
  EXPECT_EQ(inbox_topic("vn.gov", "vn.qn.halong"), "vn.gov.$inbox.vn.qn.halong");
  auto a = inbox_address("vn.gov.$inbox.vn.qn.halong");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->recipient, "vn.gov");
  EXPECT_EQ(a->sender, "vn.qn.halong");
  EXPECT_FALSE(inbox_address("vn.gov.press"));
  // Two member ids around one "$inbox", nothing else.
  for (const char* t : {"vn.gov.$inbox", "$inbox.vn", "vn.gov.$inbox.vn.$inbox.x", "vn.gov.$inbox.tin_tuc",
                        "vn.gov.$inbx.vn.qn", "vn_x.$inbox.vn"}) {
    EXPECT_EQ(validate_topic(t).code(), v1::Error::INVALID_TOPIC) << t;
  }
  // Only the sender publishes there.
  EXPECT_TRUE(check_publish_topic("vn.ldtbxh", "vn.gov.$inbox.vn.ldtbxh").ok());
  EXPECT_EQ(check_publish_topic("vn.qn", "vn.gov.$inbox.vn.ldtbxh").code(), v1::Error::TOPIC_OUTSIDE_NAMESPACE);
  EXPECT_EQ(check_publish_topic("vn.gov", "vn.gov.$inbox.vn.ldtbxh").code(), v1::Error::TOPIC_OUTSIDE_NAMESPACE);
  EXPECT_TRUE(check_publish_topic("vn.gov", "vn.gov.press").ok());
  EXPECT_EQ(check_publish_topic("vn.gov", "vn.qn.press").code(), v1::Error::TOPIC_OUTSIDE_NAMESPACE);
  // No wildcard matches a '$' label: news subscriptions never pick up inboxes.
  EXPECT_FALSE(filter_matches("vn.gov.>", "vn.gov.$inbox.vn.qn"));
  EXPECT_FALSE(filter_matches(">", "vn.gov.$inbox.vn.qn"));
  EXPECT_FALSE(filter_matches("vn.gov.*.vn.qn", "vn.gov.$inbox.vn.qn"));
  EXPECT_TRUE(filter_matches("vn.gov.$inbox.>", "vn.gov.$inbox.vn.qn"));
  EXPECT_TRUE(filter_matches("*.$inbox.>", "vn.$inbox.vn.qn"));
  EXPECT_TRUE(filter_matches("vn.gov.$inbox.vn.*", "vn.gov.$inbox.vn.qn"));
  EXPECT_FALSE(filter_covers("vn.gov.>", "vn.gov.$inbox.>"));
  EXPECT_FALSE(filter_covers(">", "vn.gov.$inbox.vn.qn"));
  EXPECT_TRUE(filter_covers("vn.gov.$inbox.>", "vn.gov.$inbox.vn.qn"));
  EXPECT_FALSE(filter_intersect("vn.gov.>", "vn.gov.$inbox.>"));
  EXPECT_FALSE(filter_intersect(">", "vn.gov.$inbox.vn.qn"));
  EXPECT_EQ(filter_intersect("vn.*.$inbox.>", "vn.gov.$inbox.vn.qn"), "vn.gov.$inbox.vn.qn");
}

TEST(Namespace, IsTheIdAndEverythingBelow) {
  EXPECT_TRUE(in_namespace("vn.qn", "vn.qn"));
  EXPECT_TRUE(in_namespace("vn.qn.halong", "vn.qn"));
  EXPECT_FALSE(in_namespace("vn.qnx", "vn.qn"));
  EXPECT_FALSE(in_namespace("vn", "vn.qn"));
  EXPECT_TRUE(strictly_below("vn.qn.halong", "vn.qn"));
  EXPECT_FALSE(strictly_below("vn.qn", "vn.qn"));
  EXPECT_FALSE(strictly_below("vn.qn.", "vn.qn"));
  EXPECT_FALSE(strictly_below("vn.x", ""));
}


TEST(Names, FilterCovers) {
  EXPECT_TRUE(filter_covers("vn.qn.>", "vn.qn.*.news"));
  EXPECT_TRUE(filter_covers("vn.qn.>", "vn.qn.halong"));
  EXPECT_TRUE(filter_covers("vn.qn.>", "vn.qn.>"));
  EXPECT_TRUE(filter_covers("vn.*.news", "vn.qn.news"));
  EXPECT_TRUE(filter_covers("vn.*.news", "vn.*.news"));
  EXPECT_TRUE(filter_covers(">", "vn.bqp.internal.>"));
  EXPECT_FALSE(filter_covers("vn.qn.*", "vn.qn.>"));
  EXPECT_FALSE(filter_covers("vn.qn.>", "vn.qn"));
  EXPECT_FALSE(filter_covers("vn.qn.>", ">"));
  EXPECT_FALSE(filter_covers("vn.qn.news", "vn.qn.*"));
  EXPECT_FALSE(filter_covers("vn.qn.news", "vn.qn.news.x"));
  EXPECT_FALSE(filter_covers("vn.qn", "vn.qn.news"));
  EXPECT_FALSE(filter_covers("vn..x", "vn.x"));
}

}  // namespace
}  // namespace lantoa
