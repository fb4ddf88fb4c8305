// Access rules with a running broker: publish needs the publisher role;
// restricted namespaces are readable only by their listed members.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <set>

#include "lantoa/access.h"
#include "lantoa/encoding.h"
#include "support/broker_process.h"
#include "support/client.h"

namespace lantoa::testing {
namespace {

using E = v1::Error;
using std::chrono::milliseconds;

class Access : public ::testing::Test {
 protected:
  void SetUp() override {
    broker.start();
    Client owner(broker.address(), bqp);
    auto e = EventBuilder("vn.bqp", 1, std::string(kRestrictionTopic))
                 .headline("Hạn chế đọc vn.bqp.internal")
                 .body(R"({"namespace": "vn.bqp.internal", "readers": ["vn.bqp"]})")
                 .build();
    ASSERT_OK(e);
    auto r = owner.publish_one(*sign_event(*e, bqp.key.sign));
    ASSERT_EQ(r.status(), v1::PublishResult::ACCEPTED) << r.error().message();
  }
  std::set<std::string> topics(Client& c, size_t n) {
    std::set<std::string> out;
    for (const auto& d : c.collect(n, milliseconds(2000))) out.insert(topic_of(d));
    for (const auto& d : c.drain(milliseconds(300))) out.insert(topic_of(d));
    return out;
  }

  TrustTree tree = TrustTree::live();
  Member bqp = tree.member("vn.bqp");
  Member hanoi = tree.certify("vn.bqp.hanoi", {v1::SUBSCRIBER}, nullptr);
  Member qn = tree.member("vn.qn");
  Member inspector = [&] {
    auto key = MemberKey::generate("vn.inspector");
    CertificateRequest req{key->public_keys(), {v1::SUBSCRIBER}, unix_now_ms() - 1000, unix_now_ms() + kYearMs, 777,
                           {"vn.bqp.internal.>"}};
    Member m{std::move(*key), {}};
    *m.chain.add_certificates() = *issue_certificate("vn", tree.root_key(), req);
    return m;
  }();
  BrokerProcess broker{tree};
};

TEST_F(Access, RestrictedNamespacesAreReadOnlyByTheirReaders) {
  Client outsider(broker.address(), qn);
  auto denied = outsider.subscribe("internal", {"vn.bqp.internal.>"});
  EXPECT_EQ(denied.status().code(), E::PERMISSION_DENIED);
  EXPECT_NE(denied.status().message().find("restricted to vn.bqp"), std::string::npos) << denied.status().message();
  ASSERT_OK(outsider.subscribe("all-bqp", {"vn.bqp.>"}));  // allowed, but the restricted part is filtered out

  Client member(broker.address(), hanoi);
  ASSERT_OK(member.subscribe("internal", {"vn.bqp.internal.>"}));
  Client granted(broker.address(), inspector);
  ASSERT_OK(granted.subscribe("internal", {"vn.bqp.internal.>"}));

  Client pub(broker.address(), bqp);
  auto internal = pub.publish(make_events(bqp, "vn.bqp.internal.orders", 2, 1));
  pub.publish(make_events(bqp, "vn.bqp.notice", 3, 1));
  // The monitoring port does not tell a restricted item's headline.
  ASSERT_EQ(internal.results_size(), 1);
  httplib::Client monitor(broker.monitor_url());
  auto spread = monitor.Get("/api/v1/events/" + to_hex(internal.results(0).event_id()) + "/spread");
  ASSERT_TRUE(spread && spread->status == 200);
  EXPECT_EQ(nlohmann::json::parse(spread->body)["event"]["headline"], "(restricted)") << spread->body;

  EXPECT_EQ(topics(outsider, 1), (std::set<std::string>{"vn.bqp.notice"}));
  EXPECT_EQ(topics(member, 1), (std::set<std::string>{"vn.bqp.internal.orders"}));
  EXPECT_EQ(topics(granted, 1), (std::set<std::string>{"vn.bqp.internal.orders"}));
}

TEST_F(Access, OnlyTheOwnerMayRestrictAndRestrictionsSurviveARestart) {
  Client other(broker.address(), qn);
  auto e = EventBuilder("vn.qn", 1, std::string(kRestrictionTopic))
               .headline("x")
               .body(R"({"namespace": "vn.bqp.notice", "readers": ["vn.qn"]})")
               .build();
  EXPECT_EQ(other.publish_one(*sign_event(*e, qn.key.sign)).error().code(), E::PERMISSION_DENIED);
  auto bad = EventBuilder("vn.qn", 2, std::string(kRestrictionTopic)).headline("x").body("not json").build();
  EXPECT_EQ(other.publish_one(*sign_event(*bad, qn.key.sign)).error().code(), E::INVALID_ARGUMENT);

  ASSERT_EQ(broker.stop(), 0) << read_text(broker.log());
  broker.start();
  Client outsider(broker.address(), qn);
  EXPECT_EQ(outsider.subscribe("internal", {"vn.bqp.internal.>"}).status().code(), E::PERMISSION_DENIED);
  EXPECT_TRUE(outsider.subscribe("notice", {"vn.bqp.notice"}).ok());  // the refused declaration had no effect
}

TEST_F(Access, PublishingNeedsThePublisherRole) {
  Client reader(broker.address(), hanoi);  // subscriber only
  auto e = EventBuilder("vn.bqp.hanoi", 1, "vn.bqp.hanoi.news").headline("Tin Hà Nội").build();
  EXPECT_EQ(reader.publish_one(*sign_event(*e, hanoi.key.sign)).error().code(), E::ROLE_MISSING);
}

}  // namespace
}  // namespace lantoa::testing
