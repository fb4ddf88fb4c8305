// The operator's side of the monitoring port (issue 17): the spread of an
// event (GET /api/v1/events/{id}/spread) and the admin verbs (remove a
// subscription, purge a queue, close a member's sessions), authorised by the
// admin token, logged and counted. Real broker processes.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "lantoa/encoding.h"
#include "lantoa/keys.h"
#include "support/broker_process.h"
#include "support/client.h"

namespace lantoa::testing {
namespace {

using E = v1::Error;
using std::chrono::milliseconds;

struct Answer {
  int status = 0;
  nlohmann::json body;
};

Answer http(const std::string& url, const std::string& method, const std::string& path, const std::string& token = "",
            const httplib::Headers& headers = {}) {
  httplib::Client c(url);
  c.set_read_timeout(15);
  if (!token.empty()) c.set_bearer_token_auth(token);
  auto r = method == "GET" ? c.Get(path, headers) : method == "POST" ? c.Post(path, headers, "", "") : c.Delete(path, headers);
  if (!r) return {};
  return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
}

std::map<std::string, nlohmann::json> by_subscription(const nlohmann::json& spread) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& d : spread["deliveries"]) out[d["owner"].get<std::string>() + "/" + d["subscription"].get<std::string>()] = d;
  return out;
}

class Operate : public ::testing::Test {
 protected:
  // The admin token file, mode 0600 (the broker refuses anything looser).
  std::filesystem::path token_file(const std::string& token, mode_t mode = 0600) {
    auto p = dir.path() / "admin.token";
    std::ofstream(p) << token << "\n";
    ::chmod(p.c_str(), mode);
    return p;
  }

  TempDir dir;
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member qn = tree.member("vn.qn");
  Member bqp = tree.member("vn.bqp");
  Member hn = tree.member("vn.hn");
};

TEST_F(Operate, TheSpreadOfAnEventTellsWhoAckedWhoHasItAndWhoCouldNotQueueIt) {
  // Queues of at most 2 entries: vn.hn's is full (two events it never
  // took) when the press release comes.
  BrokerProcess broker(tree, {"--max-queue-depth", "2"});
  broker.start();
  Client pub(broker.address(), gov);
  {
    Client away(broker.address(), hn);
    ASSERT_OK(away.subscribe("press", {"vn.gov.press"}, {}, 0));
    ASSERT_OK(away.unsubscribe("press", false));  // keeps its queue
  }
  ASSERT_EQ(pub.publish(make_events(gov, "vn.gov.press", 1, 2)).results_size(), 2);
  // Two who subscribe from now on.
  Client acker(broker.address(), qn);
  ASSERT_OK(acker.subscribe("press", {"vn.gov.press"}, {}, 10));
  Client holder(broker.address(), bqp);
  ASSERT_OK(holder.subscribe("press", {"vn.gov.>"}, {}, 10));
  auto r = pub.publish_one(make_events(gov, "vn.gov.press", 3, 1)[0]);
  ASSERT_EQ(r.status(), v1::PublishResult::ACCEPTED);
  const std::string id = to_hex(r.event_id());
  // vn.qn acks it; vn.bqp takes it and does not ack.
  auto got = acker.collect(1);
  ASSERT_EQ(got.size(), 1u);
  acker.ack(got);
  ASSERT_EQ(holder.collect(1).size(), 1u);

  nlohmann::json spread;
  ASSERT_TRUE(eventually([&] {
    auto a = http(broker.monitor_url(), "GET", "/api/v1/events/" + id + "/spread");
    spread = a.body;
    return a.status == 200 && spread["summary"]["acked"] == 1;
  })) << spread.dump(2);
  EXPECT_EQ(spread["event"]["id"], id);
  EXPECT_EQ(spread["event"]["topic"], "vn.gov.press");
  EXPECT_EQ(spread["event"]["origin"], "vn.gov");
  EXPECT_EQ(spread["event"]["headline"], "Tin số 3 trên vn.gov.press");
  auto d = by_subscription(spread);
  ASSERT_EQ(d.size(), 3u) << spread.dump(2);
  EXPECT_EQ(d["vn.qn/press"]["state"], "acked");
  EXPECT_GT(d["vn.qn/press"]["acked_ms"].get<int64_t>(), spread["event"]["accepted_ms"].get<int64_t>() - 1);
  EXPECT_EQ(d["vn.bqp/press"]["state"], "in_flight");
  EXPECT_EQ(d["vn.bqp/press"]["attempts"], 1);
  EXPECT_EQ(d["vn.bqp/press"]["connected"], true);
  EXPECT_EQ(d["vn.hn/press"]["state"], "not_queued");
  EXPECT_EQ(spread["summary"]["subscriptions"], 3);
  EXPECT_EQ(spread["summary"]["in_flight"], 1);
  EXPECT_EQ(spread["summary"]["not_queued"], 1);

  // What was acked is on disk: after a restart it still says so, and what
  // was in flight is queued again.
  ASSERT_EQ(broker.stop(), 0);
  broker.start();
  auto again = http(broker.monitor_url(), "GET", "/api/v1/events/" + id + "/spread");
  ASSERT_EQ(again.status, 200) << again.body.dump(2);
  auto d2 = by_subscription(again.body);
  EXPECT_EQ(d2["vn.qn/press"]["state"], "acked");
  EXPECT_EQ(d2["vn.qn/press"]["acked_ms"], d["vn.qn/press"]["acked_ms"]);
  EXPECT_EQ(d2["vn.bqp/press"]["state"], "queued");
  EXPECT_EQ(d2["vn.bqp/press"]["connected"], false);

  // Unknown and malformed ids: specific errors.
  auto unknown = http(broker.monitor_url(), "GET", "/api/v1/events/" + std::string(64, 'a') + "/spread");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body["error"]["code"], "NOT_FOUND");
  auto bad = http(broker.monitor_url(), "GET", "/api/v1/events/xyz/spread");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["code"], "INVALID_ARGUMENT");
}

TEST_F(Operate, AdminVerbsNeedTheTokenAndAreLoggedAndCounted) {
  const std::string token = "s3cret-admin-token-of-the-operator";
  BrokerProcess broker(tree, {"--monitor-admin-token-file", token_file(token).string()});
  broker.start();
  const std::string url = broker.monitor_url();
  Client pub(broker.address(), gov);
  {
    Client abandoned(broker.address(), qn);
    ASSERT_OK(abandoned.subscribe("old", {"vn.gov.press"}, {}, 0));
    ASSERT_OK(abandoned.unsubscribe("old", false));
  }
  ASSERT_EQ(pub.publish(make_events(gov, "vn.gov.press", 1, 5)).results_size(), 5);
  ASSERT_TRUE(eventually([&] {
    const nlohmann::json stats = broker.stats();
    for (const auto& s : stats["subscriptions"]) {
      if (s["name"] == "old" && s["depth"] == 5) return true;
    }
    return false;
  })) << broker.stats().dump(2);

  // Without the token, or with a wrong one: refused, nothing changes.
  auto none = http(url, "POST", "/api/v1/subscriptions/vn.qn/old/purge");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body["error"]["code"], "PERMISSION_DENIED");
  auto wrong = http(url, "POST", "/api/v1/subscriptions/vn.qn/old/purge", token + "x");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.body["error"]["message"], "wrong admin token");
  auto missing = http(url, "POST", "/api/v1/subscriptions/vn.qn/nope/purge", token);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["error"]["code"], "SUBSCRIPTION_NOT_FOUND");

  // Purge: the queue is emptied, the subscription stays.
  auto purged = http(url, "POST", "/api/v1/subscriptions/vn.qn/old/purge", token);
  ASSERT_EQ(purged.status, 200) << purged.body.dump();
  EXPECT_EQ(purged.body["entries_purged"], 5);
  ASSERT_TRUE(eventually([&] {
    const nlohmann::json stats = broker.stats();
    for (const auto& s : stats["subscriptions"]) {
      if (s["name"] == "old") return s["depth"] == 0;
    }
    return false;
  })) << broker.stats().dump(2);
  // Its owner comes back to an empty queue and gets only what is new.
  {
    Client back(broker.address(), qn);
    ASSERT_OK(back.subscribe("old", {"vn.gov.press"}, {}, 10));
    EXPECT_TRUE(back.drain(milliseconds(300)).empty());
    ASSERT_EQ(pub.publish_one(make_events(gov, "vn.gov.press", 6, 1)[0]).status(), v1::PublishResult::ACCEPTED);
    auto d = back.next();
    ASSERT_TRUE(d);
    EXPECT_EQ(headline_of(*d), "Tin số 6 trên vn.gov.press");
  }

  // Remove a subscription its owner holds: gone, and the holder is told.
  Client live(broker.address(), bqp);
  ASSERT_OK(live.subscribe("notice", {"vn.gov.press"}, {}, 10));
  auto removed = http(url, "DELETE", "/api/v1/subscriptions/vn.bqp/notice", token);
  ASSERT_EQ(removed.status, 200) << removed.body.dump();
  EXPECT_EQ(removed.body["session_closed"], true);
  auto told = live.next_error();
  ASSERT_TRUE(told);
  EXPECT_EQ(told->error().code(), E::CLOSED_BY_OPERATOR);
  EXPECT_TRUE(told->fatal());
  EXPECT_TRUE(eventually([&] {
    const nlohmann::json stats = broker.stats();
    for (const auto& s : stats["subscriptions"]) {
      if (s["name"] == "notice") return false;
    }
    return true;
  }));
  EXPECT_EQ(http(url, "DELETE", "/api/v1/subscriptions/vn.bqp/notice", token).status, 404);

  // Close a member's sessions: it is told, and may connect again.
  Client closing(broker.address(), hn);
  auto closed = http(url, "DELETE", "/api/v1/sessions/vn.hn", token);
  ASSERT_EQ(closed.status, 200) << closed.body.dump();
  EXPECT_EQ(closed.body["sessions_closed"], 1);
  auto bye = closing.next_error();
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->error().code(), E::CLOSED_BY_OPERATOR);
  EXPECT_EQ(http(url, "DELETE", "/api/v1/sessions/vn.hn", token).status, 404);
  Client again(broker.address(), hn);
  EXPECT_EQ(again.publish_one(make_events(hn, "vn.hn.news", 1, 1)[0]).status(), v1::PublishResult::ACCEPTED);

  // Every attempt is counted and logged; the token never is.
  const std::string metrics = broker.metrics();
  EXPECT_NE(metrics.find("lantoa_admin_actions_total{action=\"queue_purge\",outcome=\"refused\"} 2"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("lantoa_admin_actions_total{action=\"queue_purge\",outcome=\"failed\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("lantoa_admin_actions_total{action=\"queue_purge\",outcome=\"done\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("lantoa_admin_actions_total{action=\"subscription_remove\",outcome=\"done\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.find("lantoa_admin_actions_total{action=\"sessions_close\",outcome=\"done\"} 1"), std::string::npos);
  const std::string log = read_text(broker.log());
  EXPECT_NE(log.find("admin: queue_purge vn.qn/old from 127.0.0.1 refused: wrong admin token"), std::string::npos) << log;
  EXPECT_NE(log.find("admin: queue_purge vn.qn/old from 127.0.0.1 by admin token done"), std::string::npos) << log;
  EXPECT_NE(log.find("admin: subscription_remove vn.bqp/notice from 127.0.0.1 by admin token done"), std::string::npos) << log;
  EXPECT_EQ(log.find(token), std::string::npos) << "the admin token was logged";
}

TEST_F(Operate, WithoutATokenAdminVerbsAreOffAndALooseTokenFileStopsTheBroker) {
  BrokerProcess off(tree);
  off.start();
  auto a = http(off.monitor_url(), "DELETE", "/api/v1/sessions/vn.gov", "anything-at-all-long-enough");
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.body["error"]["code"], "PERMISSION_DENIED");
  EXPECT_NE(a.body["error"]["message"].get<std::string>().find("monitor_admin_token_file"), std::string::npos);
  off.stop();

  // A token file others can read: the broker does not start, and says why.
  const auto loose = token_file("a-token-that-is-long-enough", 0644);
  CommandResult r = run_command(std::string("timeout 20 '" LANTOA_BROKER_BIN "' --data '") + (dir.path() / "d").string() +
                                "' --monitor-admin-token-file '" + loose.string() + "' 2>&1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("KEY_FILE_INSECURE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chmod 600"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "d")) << "the broker created its data folder before refusing";
}

// A request signed by `m` as the CLI signs it: "METHOD PATH\nTIME_MS".
httplib::Headers signed_by(const Member& m, const std::string& method, const std::string& path,
                           const std::string& broker_key, int64_t at_ms = unix_now_ms()) {
  const std::string time = std::to_string(at_ms);
  return {{"X-Lantoa-Chain", to_base64url(m.chain.SerializeAsString())},
          {"X-Lantoa-Time", time},
          {"X-Lantoa-Signature", to_base64url(m.key.sign.sign(SignDomain::kAdminRequest, method + " " + path + "\n" + time + "\n" + broker_key))}};
}

TEST_F(Operate, AnOperatorOrAuthorityCertificateMaySignAdminVerbsForItsOwnNamespaceOnly) {
  BrokerProcess broker(tree);  // no admin token: only signed requests
  broker.start();
  const std::string url = broker.monitor_url();
  const std::string key = broker.stats()["transport_key"];
  ASSERT_FALSE(key.empty());
  Member halong = tree.member("vn.qn.halong");
  Member operator_qn = tree.certify("vn.qn", {v1::OPERATOR});
  Member authority_bqp = tree.certify("vn.bqp", {v1::AUTHORITY});
  for (const Member* m : {&halong, &bqp}) {
    Client c(broker.address(), *m);
    ASSERT_OK(c.subscribe("portal", {"vn.gov.press"}, {}, 0));
    ASSERT_OK(c.unsubscribe("portal", false));
  }
  Client pub(broker.address(), gov);
  ASSERT_EQ(pub.publish(make_events(gov, "vn.gov.press", 1, 3)).results_size(), 3);
  const std::string halong_purge = "/api/v1/subscriptions/vn.qn.halong/portal/purge";
  const std::string bqp_purge = "/api/v1/subscriptions/vn.bqp/portal/purge";
  ASSERT_TRUE(eventually([&] {
    const nlohmann::json stats = broker.stats();
    int full = 0;
    for (const auto& s : stats["subscriptions"]) full += s["depth"] == 3;
    return full == 2;
  }));

  // vn.qn's operator, below its own id: done.
  auto h = signed_by(operator_qn, "POST", halong_purge, key);
  auto done = http(url, "POST", halong_purge, "", h);
  ASSERT_EQ(done.status, 200) << done.body.dump();
  EXPECT_EQ(done.body["entries_purged"], 3);
  // The same signed request again: refused.
  auto replayed = http(url, "POST", halong_purge, "", h);
  EXPECT_EQ(replayed.status, 401);
  EXPECT_NE(replayed.body["error"]["message"].get<std::string>().find("used already"), std::string::npos);
  // Outside its namespace: refused, and vn.bqp's queue is untouched.
  auto outside = http(url, "POST", bqp_purge, "", signed_by(operator_qn, "POST", bqp_purge, key));
  EXPECT_EQ(outside.status, 403);
  EXPECT_EQ(outside.body["error"]["code"], "PERMISSION_DENIED");
  // A signature for another request, an old one, a member without the role.
  auto other_path = http(url, "POST", bqp_purge, "", signed_by(authority_bqp, "POST", halong_purge, key));
  EXPECT_EQ(other_path.status, 401);
  EXPECT_EQ(other_path.body["error"]["code"], "BAD_SIGNATURE");
  auto old = http(url, "POST", bqp_purge, "", signed_by(authority_bqp, "POST", bqp_purge, key, unix_now_ms() - 120'000));
  EXPECT_EQ(old.status, 401);
  EXPECT_EQ(old.body["error"]["code"], "INVALID_TIME");
  auto no_role = http(url, "POST", bqp_purge, "", signed_by(bqp, "POST", bqp_purge, key));
  EXPECT_EQ(no_role.status, 403);
  EXPECT_EQ(no_role.body["error"]["code"], "ROLE_MISSING");
  // A chain the root never issued.
  TrustTree stranger_tree = TrustTree::live();
  Member stranger = stranger_tree.certify("vn.bqp", {v1::AUTHORITY});
  auto forged = http(url, "POST", bqp_purge, "", signed_by(stranger, "POST", bqp_purge, key));
  EXPECT_EQ(forged.status, 403) << forged.body.dump();
  const nlohmann::json stats = broker.stats();
  for (const auto& s : stats["subscriptions"]) {
    if (s["owner"] == "vn.bqp") {
      EXPECT_EQ(s["depth"], 3) << "a refused request changed the queue";
    }
  }
  // A request signed for another broker (another key) is refused here.
  auto elsewhere = http(url, "POST", bqp_purge, "", signed_by(authority_bqp, "POST", bqp_purge, "another-broker"));
  EXPECT_EQ(elsewhere.status, 401);
  EXPECT_EQ(elsewhere.body["error"]["code"], "BAD_SIGNATURE");
  // Names that are not names are refused before anything else (and never logged).
  auto injected = http(url, "DELETE", "/api/v1/sessions/vn.x%0Aforged%20line");
  EXPECT_EQ(injected.status, 400);
  EXPECT_EQ(injected.body["error"]["code"], "INVALID_ARGUMENT");
  auto bad_time = signed_by(authority_bqp, "POST", bqp_purge, key);
  for (auto& [k, v] : bad_time) {
    if (k == "X-Lantoa-Time") v = "-9223372036854775808";
  }
  EXPECT_EQ(http(url, "POST", bqp_purge, "", bad_time).body["error"]["code"], "INVALID_TIME");
  // vn.bqp's own authority may.
  auto own = http(url, "POST", bqp_purge, "", signed_by(authority_bqp, "POST", bqp_purge, key));
  EXPECT_EQ(own.status, 200) << own.body.dump();
  const std::string log = read_text(broker.log());
  EXPECT_NE(log.find("admin: queue_purge vn.qn.halong/portal from 127.0.0.1 by vn.qn done"), std::string::npos) << log;
  EXPECT_NE(log.find("admin: queue_purge vn.bqp/portal from 127.0.0.1 refused: vn.qn may act only on members at or "
                     "below it"), std::string::npos) << log;
}

}  // namespace
}  // namespace lantoa::testing
