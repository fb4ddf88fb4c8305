// examples/publish.cpp and examples/subscribe.cpp, run against a real broker.
#include <gtest/gtest.h>

#include "lantoa/encoding.h"
#include "support/broker_process.h"

namespace lantoa::testing {
namespace {

TEST(Examples, PublishThenSubscribe) {
  TempDir dir;
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member qn = tree.member("vn.qn");
  ASSERT_TRUE(gov.key.save(dir / "gov.key").ok());
  ASSERT_TRUE(save_chain(dir / "gov.cert", gov.chain).ok());
  ASSERT_TRUE(qn.key.save(dir / "qn.key").ok());
  ASSERT_TRUE(save_chain(dir / "qn.cert", qn.chain).ok());
  ASSERT_TRUE(tree.root_public().save(dir / "vn.pub").ok());
  BrokerProcess broker(tree);
  broker.start();
  const std::string target = broker.address().endpoint + " " + to_base64url(broker.address().transport_key) + " ";

  auto pub = run_command(std::string(EXAMPLE_PUBLISH) + " " + target + (dir / "gov.key").string() + " " +
                         (dir / "gov.cert").string() + " vn.gov.press 'Chính phủ họp phiên thường kỳ tháng 11'");
  ASSERT_EQ(pub.code, 0) << pub.out;
  EXPECT_NE(pub.out.find("published"), std::string::npos);

  auto sub = run_command(std::string(EXAMPLE_SUBSCRIBE) + " " + target + (dir / "qn.key").string() + " " +
                         (dir / "qn.cert").string() + " " + (dir / "vn.pub").string() + " 'vn.gov.>' 1");
  ASSERT_EQ(sub.code, 0) << sub.out;
  EXPECT_NE(sub.out.find("vn.gov.press: Chính phủ họp phiên thường kỳ tháng 11 (signed by vn.gov, verified)"),
            std::string::npos)
      << sub.out;
}

}  // namespace
}  // namespace lantoa::testing
