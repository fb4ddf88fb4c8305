// Links between brokers (docs/federation.md), through real broker processes
// on loopback: what crosses a link is what the other side asked for; a
// triangle of brokers delivers each event once to each portal and stops; a
// peer stopped for a while loses nothing; a gateway passes only what its
// filters name; only certified brokers may link.
#include <gtest/gtest.h>
#include <httplib.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <mutex>
#include <thread>

#include "lantoa/access.h"
#include "lantoa/encoding.h"
#include "lantoa/publisher.h"
#include "lantoa/subscriber.h"
#include "lantoa/event.h"
#include "lantoa/trust.h"
#include "support/broker_process.h"
#include "support/client.h"
#include "support/tcp_proxy.h"

namespace lantoa::testing {
namespace {

using E = v1::Error;
using std::chrono::milliseconds;
using R = v1::PublishResult;

struct LinkTo {
  std::string name;
  const BrokerProcess* peer;
  const Member* peer_cert;
  std::vector<std::string> exports, imports;
  std::string key = {};  // instead of the peer's certified key: a key or a broker.ready.json
  std::string endpoint = {};  // instead of the peer's own (a proxy in between)
};

std::string toml_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", \"" : "\"") + v[i] + "\"";
  return out + "]";
}

class Federation : public ::testing::Test {
 protected:
  // A broker certified as `id` (role broker) that dials `links`.
  Member broker_cert(const std::string& id) { return tree.certify(id, {v1::BROKER}); }
  std::unique_ptr<BrokerProcess> broker(const std::string& id, const Member& cert, const std::vector<LinkTo>& links = {},
                                        const std::string& heartbeat_ms = "300", std::string more_toml = {}) {
    auto dir = std::make_unique<TempDir>();
    const auto chain_file = dir->path() / (id + ".cert");
    EXPECT_TRUE(save_chain(chain_file, cert.chain).ok());
    std::string toml = "certificate = \"" + chain_file.string() + "\"\n" + more_toml;
    for (const auto& l : links) {
      toml += "[[links]]\nname = \"" + l.name + "\"\nendpoint = \"" +
              (l.endpoint.empty() ? l.peer->address().endpoint : l.endpoint) + "\"\nkey = \"" +
              (l.key.empty() ? to_base64url(l.peer_cert->key.transport.public_key()) : l.key) + "\"\n";
      if (!l.exports.empty()) toml += "export = " + toml_list(l.exports) + "\n";
      if (!l.imports.empty()) toml += "import = " + toml_list(l.imports) + "\n";
    }
    auto args = config_file_args(*dir, toml);
    args.insert(args.end(), {"--heartbeat-ms", heartbeat_ms});
    auto b = std::make_unique<BrokerProcess>(tree, args);
    EXPECT_TRUE(cert.key.save(b->data() / "broker.key").ok());
    dirs.push_back(std::move(dir));
    b->start();
    return b;
  }

  // True once every link of `b` is up and has told and heard interest
  // covering `filters` (each side has subscribed by then).
  static bool links_up(const BrokerProcess& b, size_t n) {
    const nlohmann::json stats = b.stats();
    if (!stats.contains("links")) return false;
    size_t up = 0;
    for (const auto& l : stats["links"]) up += l["connected"].get<bool>() && l["dials"].get<bool>();
    return up == n;
  }
  static bool asks(const BrokerProcess& b, const std::string& filter) {
    const nlohmann::json stats = b.stats();
    for (const auto& l : stats["links"]) {
      for (const auto& f : l["interest_in"]) {
        if (f == filter) return true;
      }
    }
    return false;
  }
  static std::multiset<std::string> ids(const std::vector<v1::Deliver>& ds) {
    std::multiset<std::string> out;
    for (const auto& d : ds) out.insert(event_id(d.event().event()));
    return out;
  }
  // Every delivery verifies on its own (the author's chain travels with it).
  void expect_verified(const std::vector<v1::Deliver>& ds) {
    TrustStore store = tree.store();
    for (const auto& d : ds) {
      auto v = store.verify_event(d.event(), d.event().signer_chain(), EventLimits{}, EventTimes{unix_now_ms()});
      EXPECT_TRUE(v.ok()) << v.status().to_string();
    }
  }
  // Receives until `n` arrived and then a quiet moment; acks everything.
  static std::vector<v1::Deliver> receive(Client& c, size_t n, milliseconds timeout = milliseconds(10000)) {
    auto got = c.collect(n, timeout);
    auto more = c.drain(milliseconds(500));
    got.insert(got.end(), more.begin(), more.end());
    c.ack(got);
    return got;
  }

  TrustTree tree = TrustTree::live();
  std::vector<std::unique_ptr<TempDir>> dirs;
  Member gov = tree.member("vn.gov");
  Member qn = tree.member("vn.qn");
  Member halong = tree.member("vn.qn.halong");
  Member hn = tree.member("vn.hn");
};

TEST_F(Federation, EachSideGetsWhatItAskedForVerifiedAndNothingElse) {
  Member central_cert = broker_cert("vn.central"), province_cert = broker_cert("vn.qn.broker");
  auto central = broker("vn.central", central_cert);
  auto province = broker("vn.qn.broker", province_cert, {{"central", central.get(), &central_cert, {}, {}}});

  Client portal(province->address(), halong);  // at the province broker
  ASSERT_OK(portal.subscribe("press", {"vn.gov.press"}));
  Client capital(central->address(), hn);  // at the centre
  ASSERT_OK(capital.subscribe("province", {"vn.qn.>"}));
  ASSERT_TRUE(eventually([&] { return links_up(*province, 1); }, milliseconds(10000))) << province->stats().dump(2);
  ASSERT_TRUE(eventually([&] { return asks(*central, "vn.gov.press") && asks(*province, "vn.qn.>"); },
                         milliseconds(10000)))
      << central->stats()["links"].dump(2) << province->stats()["links"].dump(2);

  // Down: the centre's press release reaches the province's portal, once, verified.
  Client gov_pub(central->address(), gov);
  for (const auto& e : make_events(gov, "vn.gov.press", 1, 5)) ASSERT_EQ(gov_pub.publish_one(e).status(), R::ACCEPTED);
  ASSERT_EQ(gov_pub.publish_one(make_events(gov, "vn.gov.other", 6, 1)[0]).status(), R::ACCEPTED);
  auto down = receive(portal, 5);
  EXPECT_EQ(down.size(), 5u);
  EXPECT_EQ(ids(down).size(), 5u);
  expect_verified(down);
  for (const auto& d : down) EXPECT_EQ(topic_of(d), "vn.gov.press");

  // Up: a commune's news reaches the centre's subscriber.
  Client halong_pub(province->address(), halong);
  for (const auto& e : make_events(halong, "vn.qn.halong.news", 1, 3)) {
    ASSERT_EQ(halong_pub.publish_one(e).status(), R::ACCEPTED);
  }
  auto up = receive(capital, 3);
  EXPECT_EQ(up.size(), 3u);
  expect_verified(up);

  // What nobody at the province asked for never crossed.
  const auto topics = province->stats()["topics"];
  EXPECT_FALSE(topics.contains("vn.gov.other")) << topics.dump(2);
  EXPECT_TRUE(topics.contains("vn.gov.press"));
  // The figures of the link, on both sides and in /metrics.
  const auto link = province->stats()["links"][0];
  EXPECT_EQ(link["name"], "central");
  EXPECT_EQ(link["peer"], "vn.central");
  EXPECT_EQ(link["events_received"], 5);
  EXPECT_EQ(link["events_sent"], 3);
  EXPECT_EQ(link["owed_events"], 0);
  EXPECT_GT(link["bytes_received"].get<uint64_t>(), 0u);
  EXPECT_NE(province->metrics().find("lantoa_link_connected{link=\"central\"} 1"), std::string::npos);
  // The spread of a press release names the link it went over.
  {
    httplib::Client http(central->monitor_url());
    auto r = http.Get("/api/v1/events/" + to_hex(event_id(down[0].event().event())) + "/spread");
    ASSERT_TRUE(r && r->status == 200);
    const auto spread = nlohmann::json::parse(r->body);
    ASSERT_EQ(spread["links"].size(), 1u) << spread.dump(2);
    EXPECT_EQ(spread["links"][0]["peer"], "vn.qn.broker");
    EXPECT_EQ(spread["links"][0]["state"], "acked");
  }
  // lantoa links, as an operator reads it.
  const CommandResult shown = run_command(std::string(LANTOA_CLI_BIN) + " links --monitor " + province->monitor_url());
  EXPECT_EQ(shown.code, 0) << shown.out;
  EXPECT_NE(shown.out.find("central"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("vn.central"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("3 / 5"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find(" up"), std::string::npos) << shown.out;
  EXPECT_NE(central->metrics().find("lantoa_link_connected{link=\"vn.qn.broker@"), std::string::npos);
}

TEST_F(Federation, ATriangleDeliversEachEventOnceToEachPortalAndStops) {
  Member a_cert = broker_cert("vn.central"), b_cert = broker_cert("vn.qn.broker"), c_cert = broker_cert("vn.hn.broker");
  auto a = broker("vn.central", a_cert);
  auto b = broker("vn.qn.broker", b_cert, {{"to-a", a.get(), &a_cert, {}, {}}});
  auto c = broker("vn.hn.broker", c_cert, {{"to-a", a.get(), &a_cert, {}, {}}, {"to-b", b.get(), &b_cert, {}, {}}});
  Client at_b(b->address(), halong);
  Client at_c(c->address(), hn);
  Client at_a(a->address(), gov);
  ASSERT_OK(at_a.subscribe("all", {"vn.qn.>", "vn.hn.>"}));
  ASSERT_OK(at_b.subscribe("all", {"vn.gov.>", "vn.hn.>"}));
  ASSERT_OK(at_c.subscribe("all", {"vn.gov.>", "vn.qn.>"}));
  ASSERT_TRUE(eventually([&] { return links_up(*b, 1) && links_up(*c, 2); }, milliseconds(10000)));
  ASSERT_TRUE(eventually([&] { return asks(*a, "vn.gov.>") && asks(*b, "vn.qn.>") && asks(*c, "vn.hn.>"); },
                         milliseconds(10000)));

  Client pub_a(a->address(), gov), pub_b(b->address(), halong), pub_c(c->address(), hn);
  for (const auto& e : make_events(gov, "vn.gov.press", 1, 10)) ASSERT_EQ(pub_a.publish_one(e).status(), R::ACCEPTED);
  for (const auto& e : make_events(halong, "vn.qn.halong.news", 1, 10)) {
    ASSERT_EQ(pub_b.publish_one(e).status(), R::ACCEPTED);
  }
  for (const auto& e : make_events(hn, "vn.hn.news", 1, 10)) ASSERT_EQ(pub_c.publish_one(e).status(), R::ACCEPTED);

  for (Client* c_ : {&at_a, &at_b, &at_c}) {
    auto got = receive(*c_, 20);
    auto unique = ids(got);
    EXPECT_EQ(got.size(), 20u);
    EXPECT_EQ(std::set<std::string>(unique.begin(), unique.end()).size(), 20u) << "an event arrived twice";
    expect_verified(got);
  }
  // Forwarding stopped: after a quiet moment nothing more arrives anywhere,
  // and the second copies were answered as duplicates by the brokers.
  for (Client* c_ : {&at_a, &at_b, &at_c}) EXPECT_TRUE(c_->drain(milliseconds(700)).empty());
  uint64_t duplicates = 0;
  for (auto* br : {a.get(), b.get(), c.get()}) {
    const auto stats = br->stats();
    for (const auto& l : stats["links"]) EXPECT_EQ(l["owed_events"], 0) << l.dump(2);
    duplicates += stats["events"]["duplicates"].get<uint64_t>();
  }
  EXPECT_GT(duplicates, 0u) << "a triangle carries second copies, answered as duplicates";
}

TEST_F(Federation, APeerStoppedForAWhileLosesNothingAndGetsItInOrder) {
  Member central_cert = broker_cert("vn.central"), province_cert = broker_cert("vn.qn.broker");
  auto central = broker("vn.central", central_cert);
  central->pin_endpoint();
  auto province = broker("vn.qn.broker", province_cert, {{"central", central.get(), &central_cert, {}, {}}});
  province->pin_endpoint();
  {
    Client portal(province->address(), halong);
    ASSERT_OK(portal.subscribe("press", {"vn.gov.press"}));
  }
  Client capital(central->address(), hn);
  ASSERT_OK(capital.subscribe("province", {"vn.qn.>"}));
  ASSERT_TRUE(eventually([&] { return asks(*central, "vn.gov.press") && asks(*province, "vn.qn.>"); },
                         milliseconds(10000)));

  // The province is down: what the centre publishes waits at the centre.
  province->kill();
  Client gov_pub(central->address(), gov);
  auto press = make_events(gov, "vn.gov.press", 1, 40);
  ASSERT_EQ(gov_pub.publish(press).results_size(), 40);
  ASSERT_TRUE(eventually([&] {
    const auto links = central->stats()["links"];
    for (const auto& l : links) {
      if (l["owed_events"] == 40) return true;
    }
    return false;
  })) << central->stats()["links"].dump(2);
  province->start();
  Client portal(province->address(), halong);
  ASSERT_OK(portal.subscribe("press", {}));
  auto got = receive(portal, 40, milliseconds(20000));
  ASSERT_EQ(got.size(), 40u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(event_id(got[i].event().event()), event_id(press[i].event()));

  // The centre is down: what the province publishes waits at the province.
  ASSERT_EQ(central->stop(), 0);
  Client halong_pub(province->address(), halong);
  auto news = make_events(halong, "vn.qn.halong.news", 1, 30);
  ASSERT_EQ(halong_pub.publish(news).results_size(), 30);
  central->start();
  Client capital2(central->address(), hn);
  ASSERT_OK(capital2.subscribe("province", {}));
  auto up = receive(capital2, 30, milliseconds(20000));
  ASSERT_EQ(up.size(), 30u);
  for (size_t i = 0; i < up.size(); ++i) EXPECT_EQ(event_id(up[i].event().event()), event_id(news[i].event()));
}

int port_of(const std::string& endpoint) { return std::stoi(endpoint.substr(endpoint.rfind(':') + 1)); }

// A partition nobody notices at the TCP level (the network drops everything
// while connections stay open), while news flows both ways; then healed.
TEST_F(Federation, APartitionByTheNetworkHealsWithNothingLostOrDoubled) {
  Member central_cert = broker_cert("vn.central"), province_cert = broker_cert("vn.qn.broker");
  auto central = broker("vn.central", central_cert);
  TcpProxy network(port_of(central->address().endpoint));
  auto province = broker("vn.qn.broker", province_cert,
                         {{"central", central.get(), &central_cert, {}, {}, {}, network.endpoint()}});
  Client portal(province->address(), halong);
  ASSERT_OK(portal.subscribe("press", {"vn.gov.press"}));
  Client capital(central->address(), hn);
  ASSERT_OK(capital.subscribe("province", {"vn.qn.>"}));
  ASSERT_TRUE(eventually([&] { return asks(*central, "vn.gov.press") && asks(*province, "vn.qn.>"); },
                         milliseconds(10000)));

  network.black_hole(true);
  Client gov_pub(central->address(), gov);
  Client halong_pub(province->address(), halong);
  auto press = make_events(gov, "vn.gov.press", 1, 20);
  auto news = make_events(halong, "vn.qn.halong.news", 1, 20);
  for (size_t i = 0; i < 20; ++i) {
    ASSERT_EQ(gov_pub.publish_one(press[i]).status(), R::ACCEPTED);
    ASSERT_EQ(halong_pub.publish_one(news[i]).status(), R::ACCEPTED);
  }
  // The province notices the silence and says so.
  ASSERT_TRUE(eventually([&] { return !links_up(*province, 1); }, milliseconds(10000)));
  EXPECT_TRUE(portal.drain(milliseconds(300)).empty());

  network.black_hole(false);
  network.cut();  // the connections the black hole kept
  // (The portals' own sessions timed out meanwhile: this test client sends no
  // heartbeats while the test publishes. They come back as a portal would.)
  Client portal_again(province->address(), halong);
  ASSERT_OK(portal_again.subscribe("press", {}));
  Client capital_again(central->address(), hn);
  ASSERT_OK(capital_again.subscribe("province", {}));
  // Both at once (a client of these tests answers heartbeats only while it receives).
  std::vector<v1::Deliver> down, up;
  ASSERT_TRUE(eventually([&] {
    for (auto [c, into] : {std::pair{&portal_again, &down}, std::pair{&capital_again, &up}}) {
      auto more = c->drain(milliseconds(50));
      c->ack(more);
      into->insert(into->end(), more.begin(), more.end());
    }
    return down.size() >= 20 && up.size() >= 20;
  }, milliseconds(20000))) << down.size() << " down, " << up.size() << " up";
  ASSERT_EQ(down.size(), 20u) << read_text(province->log()).substr(0, 20000);
  ASSERT_EQ(up.size(), 20u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(event_id(down[i].event().event()), event_id(press[i].event()));
    EXPECT_EQ(event_id(up[i].event().event()), event_id(news[i].event()));
  }
  EXPECT_TRUE(portal_again.drain(milliseconds(500)).empty());
  EXPECT_TRUE(capital_again.drain(milliseconds(100)).empty());
}

// A link throttled to 50 kbit/s: it stays up (no reconnect loop), and a flash
// event published after a backlog overtakes most of it.
TEST_F(Federation, ASlowLinkStaysUpAndAFlashEventOvertakesTheBacklog) {
  Member central_cert = broker_cert("vn.central"), province_cert = broker_cert("vn.qn.broker");
  // A small link window (16 KB: 2.6 s of this link) so that the backlog is bigger than it.
  const std::string window = "[delivery]\nlink_window_kb = 16\n";
  auto central = broker("vn.central", central_cert, {}, "2000", window);
  TcpProxy network(port_of(central->address().endpoint));
  network.throttle(50'000 / 8);
  auto province = broker("vn.qn.broker", province_cert,
                         {{"central", central.get(), &central_cert, {}, {}, {}, network.endpoint()}}, "2000", window);
  Client portal(province->address(), halong);
  ASSERT_OK(portal.subscribe("press", {"vn.gov.press"}));
  ASSERT_TRUE(eventually([&] { return asks(*central, "vn.gov.press"); }, milliseconds(20000)));

  Client gov_pub(central->address(), gov);
  auto backlog = make_events(gov, "vn.gov.press", 1, 60);
  ASSERT_EQ(gov_pub.publish(backlog).results_size(), 60);
  const auto flash = make_events(gov, "vn.gov.press", 61, 1, /*urgency=*/1)[0];
  ASSERT_EQ(gov_pub.publish_one(flash).status(), R::ACCEPTED);
  const auto started = std::chrono::steady_clock::now();
  std::vector<v1::Deliver> got;
  while (got.size() < 61 && std::chrono::steady_clock::now() - started < std::chrono::seconds(60)) {
    auto more = portal.collect(1, milliseconds(1000));
    portal.ack(more);
    got.insert(got.end(), more.begin(), more.end());
    EXPECT_TRUE(links_up(*province, 1)) << "the slow link went down: " << province->stats()["links"].dump(2);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(got.size(), 61u);
  size_t flash_at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (event_id(got[i].event().event()) == event_id(flash.event())) flash_at = i;
  }
  const auto link = province->stats()["links"][0];
  RecordProperty("seconds_for_61_events", std::to_string(seconds));
  RecordProperty("flash_arrived_as", std::to_string(flash_at + 1));
  RecordProperty("bytes_received", std::to_string(link["bytes_received"].get<uint64_t>()));
  std::cout << "slow link (50 kbit/s): 61 events in " << seconds << " s, " << link["bytes_received"]
            << " bytes; the flash event arrived as number " << flash_at + 1 << "; connects " << link["connects"]
            << "\n";
  EXPECT_LT(flash_at, 50u) << "the flash event should overtake the backlog beyond the link's window";
  EXPECT_EQ(link["connects"], 1) << "the link reconnected: " << link.dump(2);
}

// A restricted namespace stays restricted across links: a broker never
// forwards what its peer's certificate may not read, whatever the peer asks.
TEST_F(Federation, ARestrictedNamespaceIsNotForwardedToABrokerThatMayNotReadIt) {
  Member central_cert = broker_cert("vn.central"), province_cert = broker_cert("vn.qn.broker");
  auto central = broker("vn.central", central_cert);
  Member bqp = tree.member("vn.bqp");
  Client owner(central->address(), bqp);
  auto declaration = EventBuilder("vn.bqp", 1, std::string(kRestrictionTopic))
                         .headline("Hạn chế đọc vn.bqp.internal")
                         .body(R"({"namespace": "vn.bqp.internal", "readers": ["vn.bqp"]})")
                         .build();
  ASSERT_OK(declaration);
  ASSERT_EQ(owner.publish_one(*sign_event(*declaration, bqp.key.sign)).status(), R::ACCEPTED);
  auto province = broker("vn.qn.broker", province_cert, {{"central", central.get(), &central_cert, {}, {}}});
  Client portal(province->address(), qn);
  ASSERT_OK(portal.subscribe("bqp", {"vn.bqp.>"}));  // it asks for all of vn.bqp; the broker's link asks too
  ASSERT_TRUE(eventually([&] { return asks(*central, "vn.bqp.>"); }, milliseconds(10000)));
  ASSERT_EQ(owner.publish_one(make_events(bqp, "vn.bqp.internal.orders", 2, 1)[0]).status(), R::ACCEPTED);
  ASSERT_EQ(owner.publish_one(make_events(bqp, "vn.bqp.news", 3, 1)[0]).status(), R::ACCEPTED);
  auto got = receive(portal, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(topic_of(got[0]), "vn.bqp.news");
  const auto topics = province->stats()["topics"];
  EXPECT_FALSE(topics.contains("vn.bqp.internal.orders")) << "the restricted event reached the province's broker";
}

TEST_F(Federation, AGatewayPassesOnlyWhatItsFiltersNameInEitherDirection) {
  Member central_cert = broker_cert("vn.central"), military_cert = broker_cert("vn.bqp.broker"),
         gateway_cert = broker_cert("vn.gateway");
  auto central = broker("vn.central", central_cert);
  auto military = broker("vn.bqp.broker", military_cert);
  auto gateway = broker("vn.gateway", gateway_cert,
                        {{"military", military.get(), &military_cert, {"vn.gov.press"}, {"vn.bqp.public.>"}},
                         {"central", central.get(), &central_cert, {"vn.bqp.public.>"}, {"vn.gov.press"}}});
  Member bqp = tree.member("vn.bqp");
  Client at_central(central->address(), hn);
  ASSERT_OK(at_central.subscribe("bqp", {"vn.bqp.>"}));
  Client at_military(military->address(), bqp);
  ASSERT_OK(at_military.subscribe("gov", {"vn.gov.>"}));
  ASSERT_TRUE(eventually([&] { return links_up(*gateway, 2); }, milliseconds(10000)));
  ASSERT_TRUE(eventually([&] { return asks(*central, "vn.gov.press") && asks(*military, "vn.bqp.public.>"); },
                         milliseconds(10000)))
      << gateway->stats()["links"].dump(2);

  Client pub_bqp(military->address(), bqp);
  ASSERT_EQ(pub_bqp.publish_one(make_events(bqp, "vn.bqp.public.news", 1, 1)[0]).status(), R::ACCEPTED);
  ASSERT_EQ(pub_bqp.publish_one(make_events(bqp, "vn.bqp.internal.orders", 2, 1)[0]).status(), R::ACCEPTED);
  Client pub_gov(central->address(), gov);
  ASSERT_EQ(pub_gov.publish_one(make_events(gov, "vn.gov.press", 1, 1)[0]).status(), R::ACCEPTED);
  ASSERT_EQ(pub_gov.publish_one(make_events(gov, "vn.gov.cabinet", 2, 1)[0]).status(), R::ACCEPTED);

  auto out = receive(at_central, 1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(topic_of(out[0]), "vn.bqp.public.news");
  auto in = receive(at_military, 1);
  ASSERT_EQ(in.size(), 1u);
  EXPECT_EQ(topic_of(in[0]), "vn.gov.press");
  const auto topics = gateway->stats()["topics"];
  EXPECT_FALSE(topics.contains("vn.bqp.internal.orders")) << topics.dump(2);
  EXPECT_FALSE(topics.contains("vn.gov.cabinet")) << topics.dump(2);
}

TEST_F(Federation, OnlyCertifiedBrokersLinkOrForward) {
  Member central_cert = broker_cert("vn.central");
  auto central = broker("vn.central", central_cert);
  // A member without the broker role cannot tell interest or forward.
  Client portal(central->address(), qn);
  v1::ClientFrame interest;
  interest.mutable_interest()->add_entries()->set_filter("vn.>");
  ASSERT_OK(portal.connection().send(interest));
  auto refused = portal.next_error();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->error().code(), E::ROLE_MISSING);
  v1::ClientFrame forward;
  forward.mutable_forward()->set_request_id(7);
  *forward.mutable_forward()->add_events() = make_events(gov, "vn.gov.press", 1, 1)[0];
  ASSERT_OK(portal.connection().send(forward));
  refused = portal.next_error();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->error().code(), E::ROLE_MISSING);

  // A certified broker forwards; a forged event (one byte changed) or one
  // without its signer chain is refused, a genuine one taken once.
  Member rogue = tree.certify("vn.rogue", {v1::BROKER});
  Client linked(central->address(), rogue);
  auto genuine = make_events(gov, "vn.gov.press", 1, 1)[0];
  *genuine.mutable_signer_chain() = gov.chain;  // as a broker delivers it
  auto forged = genuine;
  forged.mutable_signature()->back() ^= 1;
  auto altered = genuine;
  altered.mutable_event()->back() ^= 1;
  auto bare = make_events(gov, "vn.gov.press", 2, 1)[0];
  bare.clear_signer_chain();
  forward.mutable_forward()->clear_events();
  for (const auto& e : {forged, bare, genuine, genuine, altered}) *forward.mutable_forward()->add_events() = e;
  ASSERT_OK(linked.connection().send(forward));
  std::optional<v1::PublishResults> results;
  ASSERT_TRUE(eventually([&] {
    auto f = linked.connection().receive(milliseconds(100));
    if (f.ok() && f->has_value() && (*f)->has_results()) results = (*f)->results();
    return results.has_value();
  }));
  ASSERT_EQ(results->results_size(), 5);
  EXPECT_EQ(results->results(4).status(), R::REJECTED);
  EXPECT_EQ(results->results(0).status(), R::REJECTED);
  EXPECT_EQ(results->results(1).status(), R::REJECTED);
  EXPECT_EQ(results->results(1).error().code(), E::UNKNOWN_SIGNER);
  EXPECT_EQ(results->results(0).error().code(), E::BAD_SIGNATURE) << results->results(0).error().message();
  EXPECT_EQ(results->results(2).status(), R::ACCEPTED) << results->results(2).error().message();
  EXPECT_EQ(results->results(3).status(), R::DUPLICATE);

  // A link to a broker that is not certified as one stays down, saying why;
  // so does a link that names another key than the peer's.
  BrokerProcess plain(tree);
  plain.start();
  Member not_a_broker_cert = broker_cert("vn.qn.broker");
  Member other = tree.certify("vn.other", {v1::BROKER});
  auto dialer = broker("vn.qn.broker", not_a_broker_cert,
                       {{"plain", &plain, &other, {}, {}, (plain.data() / "broker.ready.json").string()},
                        {"wrong-key", central.get(), &other, {}, {}}});
  auto reason = [&](size_t i) {
    const auto stats = dialer->stats();
    return stats.contains("links") && stats["links"].size() == 2 ? stats["links"][i]["down_reason"].get<std::string>()
                                                                 : std::string();
  };
  // (links are listed by name: "plain", then "wrong-key")
  ASSERT_TRUE(eventually([&] { return reason(0).find("no broker certificate") != std::string::npos; },
                         milliseconds(10000)))
      << reason(0);
  ASSERT_TRUE(eventually([&] { return reason(1).find("no Welcome") != std::string::npos; }, milliseconds(15000)))
      << reason(1);
  const auto stats = dialer->stats();
  for (const auto& l : stats["links"]) EXPECT_FALSE(l["connected"].get<bool>());
}

// High availability (docs/high-availability.md): two central brokers
// mirrored by one link; a publisher and a subscriber with both in their
// list. The active one is killed under load: publishing and receiving go on
// through the other; once the killed one is back, what only it had reaches
// the subscriber too. Nothing acknowledged is lost, nothing is handed over twice.
TEST_F(Federation, MirroredCentralBrokersKeepNewsFlowingWhenTheActiveOneIsKilled) {
  Member a_cert = broker_cert("vn.central-a"), b_cert = broker_cert("vn.central-b");
  auto a = broker("vn.central-a", a_cert);
  a->pin_endpoint();
  auto b = [&] {
    auto dir = std::make_unique<TempDir>();
    const auto chain_file = dir->path() / "b.cert";
    EXPECT_TRUE(save_chain(chain_file, b_cert.chain).ok());
    const std::string toml = "certificate = \"" + chain_file.string() + "\"\n[[links]]\nname = \"mirror\"\n" +
                             "endpoint = \"" + a->address().endpoint + "\"\nkey = \"" +
                             to_base64url(a_cert.key.transport.public_key()) + "\"\nmirror = true\n";
    auto args = config_file_args(*dir, toml);
    args.insert(args.end(), {"--heartbeat-ms", "300"});
    auto p = std::make_unique<BrokerProcess>(tree, args);
    EXPECT_TRUE(b_cert.key.save(p->data() / "broker.key").ok());
    dirs.push_back(std::move(dir));
    p->start();
    return p;
  }();
  ASSERT_TRUE(eventually([&] { return links_up(*b, 1); }, milliseconds(10000)));

  std::mutex mu;
  std::map<std::string, int> shown;      // event id -> times handed to the subscriber
  std::set<std::string> acknowledged;    // confirmed to the publisher
  std::atomic<bool> done{false};
  std::thread reader([&] {
    SubscriberOptions o;
    o.broker = a->address();
    o.failover = {b->address()};
    o.name = "press";
    o.filters = {"vn.gov.press"};
    o.start.set_earliest(true);
    o.connect_timeout = milliseconds(1500);
    auto sub = Subscriber::open(MemberKey{hn.key.member, *SigningKey::from_seed(hn.key.sign.seed()),
                                          *TransportKey::from_secret(hn.key.transport.secret())},
                                hn.chain, tree.root(), o);
    ASSERT_TRUE(sub.ok()) << sub.status().to_string();
    while (!done) {
      (void)(*sub)->poll(
          [&](const ReceivedEvent& e) {
            std::lock_guard lock(mu);
            shown[e.verified.id]++;
            return Status::Ok();
          },
          milliseconds(100));
    }
  });

  PublisherOptions po;
  po.broker = a->address();
  po.failover = {b->address()};
  po.connect_timeout = milliseconds(1500);
  po.on_outcome = [&](const PublishOutcome& out) {
    std::lock_guard lock(mu);
    if (out.ok()) acknowledged.insert(out.event_id);
  };
  auto pub = Publisher::start(MemberKey{gov.key.member, *SigningKey::from_seed(gov.key.sign.seed()),
                                        *TransportKey::from_secret(gov.key.transport.secret())},
                              gov.chain, po);
  ASSERT_TRUE(pub.ok()) << pub.status().to_string();
  constexpr int kEvents = 300;
  for (int i = 0; i < kEvents; ++i) {
    auto e = EventBuilder("vn.gov", 1, "vn.gov.press").headline("Thông cáo báo chí số " + std::to_string(i)).build();
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE((*pub)->publish(*e).ok());
    if (i == 100) {
      ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(mu);
        return acknowledged.size() >= 90;
      }));
      a->kill();  // the active central broker's machine is lost, under load
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return acknowledged.size() == kEvents;
  }, milliseconds(30000))) << acknowledged.size() << " of " << kEvents << " acknowledged";
  // While it is down, the subscriber gets the news through the mirror.
  size_t shown_while_down = 0;
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    shown_while_down = shown.size();
    return shown_while_down >= kEvents - 110;
  }, milliseconds(20000))) << shown_while_down << " shown while the active broker was down";
  a->start();  // back: what only it had goes to its mirror, and on to the subscriber
  const bool all = eventually([&] {
    std::lock_guard lock(mu);
    for (const auto& id : acknowledged) {
      if (!shown.count(id)) return false;
    }
    return true;
  }, milliseconds(30000));
  std::this_thread::sleep_for(milliseconds(500));
  done = true;
  reader.join();
  std::lock_guard lock(mu);
  size_t missing = 0, twice = 0;
  for (const auto& id : acknowledged) missing += !shown.count(id);
  for (const auto& [id, n] : shown) twice += n > 1;
  EXPECT_TRUE(all);
  EXPECT_EQ(missing, 0u) << "acknowledged events the subscriber never got";
  EXPECT_EQ(twice, 0u) << "events handed over more than once";
  EXPECT_EQ(shown.size(), acknowledged.size());
  std::cout << "high availability: " << kEvents << " published, the active broker killed after 100; "
            << shown_while_down << " shown before it came back, " << shown.size() << " in the end, " << twice
            << " twice, " << missing << " missing\n";
}

}  // namespace
}  // namespace lantoa::testing
