// The live dashboard at / of the monitoring port (issue 17), loaded in a
// real browser: headless Chromium (Debian's chromium) renders the page,
// runs its script against a real broker, and the DOM it leaves shows the
// live figures, highlights a stalled subscription, speaks Vietnamese and
// English, and shows the spread of an event.
#include <gtest/gtest.h>
#include <httplib.h>

#include <regex>

#include "lantoa/encoding.h"
#include "support/broker_process.h"
#include "support/client.h"

namespace lantoa::testing {
namespace {

using std::chrono::milliseconds;

// The DOM of `url` after its scripts ran (Chromium's --dump-dom), with
// virtual time so that the page's fetches and timers complete.
std::string rendered(const TempDir& dir, const std::string& url) {
  const std::string profile = (dir.path() / ("chromium-" + std::to_string(std::rand()))).string();
  CommandResult r = run_command(
      "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage "
      "--user-data-dir='" + profile + "' --virtual-time-budget=5000 --dump-dom '" + url + "' 2>/dev/null");
  EXPECT_EQ(r.code, 0) << "chromium failed on " << url;
  return r.out;
}

class Dashboard : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(run_command("command -v chromium").code, 0)
        << "chromium is missing: install the Debian package chromium (./lantoa.sh deps does)";
  }
  TempDir dir;
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member qn = tree.member("vn.qn");
  Member bqp = tree.member("vn.bqp");
};

TEST_F(Dashboard, ShowsTheLiveFiguresAndHighlightsAStalledSubscriptionInARealBrowser) {
  BrokerProcess broker(tree, {"--heartbeat-ms", "200"});
  broker.start();
  Client pub(broker.address(), gov);
  Client reader(broker.address(), qn);
  ASSERT_OK(reader.subscribe("press", {"vn.gov.press"}, {}, 10));
  {
    // vn.bqp subscribes, then goes away with its queue kept: it will stall.
    Client gone(broker.address(), bqp);
    ASSERT_OK(gone.subscribe("portal", {"vn.gov.>"}, {}, 0));
    ASSERT_OK(gone.unsubscribe("portal", false));
  }
  auto results = pub.publish(make_events(gov, "vn.gov.press", 1, 4));
  ASSERT_EQ(results.results_size(), 4);
  const std::string id = to_hex(results.results(3).event_id());
  auto got = reader.collect(4);
  ASSERT_EQ(got.size(), 4u);
  reader.ack(got);
  // The broker's own rates (10 s window) have seen the events.
  ASSERT_TRUE(eventually([&] {
    auto s = broker.stats();
    return s["rates"]["accepted"]["10s"].get<double>() > 0 && s["delivery"]["acks"] == 4;
  }, milliseconds(10'000))) << broker.stats().dump(2);

  // The page is the broker's own, with every asset inside.
  httplib::Client http(broker.monitor_url());
  auto page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_EQ(page->body.find("src=\"http"), std::string::npos) << "an asset loaded from elsewhere";
  EXPECT_EQ(page->body.find("href=\"http"), std::string::npos) << "an asset loaded from elsewhere";

  const std::string en = rendered(dir, broker.monitor_url() + "/?lang=en");
  ASSERT_NE(en.find("data-ready=\"1\""), std::string::npos) << "the page's script did not draw the figures:\n" << en;
  // Live figures: the events accepted, the flow graph's nodes.
  EXPECT_TRUE(std::regex_search(en, std::regex(R"(id="card-events_total"><div class="v">4<)"))) << en;
  EXPECT_NE(en.find("data-name=\"vn.gov\""), std::string::npos) << "origin missing from the flow graph";
  EXPECT_NE(en.find("data-name=\"vn.gov.press\""), std::string::npos) << "topic missing from the flow graph";
  EXPECT_NE(en.find("data-name=\"vn.qn\""), std::string::npos) << "subscriber missing from the flow graph";
  EXPECT_NE(en.find("data-name=\"vn.bqp\""), std::string::npos) << "subscriber missing from the flow graph";
  // The stalled subscription is highlighted, the healthy one is not.
  EXPECT_TRUE(std::regex_search(en, std::regex(R"(<tr class="stalled" data-sub="vn.bqp/portal">)"))) << en;
  EXPECT_TRUE(std::regex_search(en, std::regex(R"(<tr class="" data-sub="vn.qn/press">)"))) << en;
  EXPECT_NE(en.find("Subscriptions"), std::string::npos);
  EXPECT_NE(en.find("stalled"), std::string::npos);

  const std::string vi = rendered(dir, broker.monitor_url() + "/?lang=vi");
  EXPECT_NE(vi.find("lang=\"vi\""), std::string::npos);
  EXPECT_NE(vi.find("Đăng ký nhận tin"), std::string::npos) << vi;
  EXPECT_NE(vi.find("tắc"), std::string::npos) << "the stalled tag in Vietnamese";

  // The spread page of the last event: vn.qn acked it, vn.bqp has it queued.
  const std::string spread = rendered(dir, broker.monitor_url() + "/?lang=en#spread/" + id);
  EXPECT_NE(spread.find("Tin số 4 trên vn.gov.press"), std::string::npos) << spread;
  EXPECT_NE(spread.find("1/2 acked"), std::string::npos) << spread;
  EXPECT_NE(spread.find("data-state=\"acked\""), std::string::npos) << spread;
  EXPECT_NE(spread.find("data-state=\"queued\""), std::string::npos) << spread;
}

}  // namespace
}  // namespace lantoa::testing
