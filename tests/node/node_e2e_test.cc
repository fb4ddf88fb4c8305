// lantoa-node end to end: real broker and node processes on 127.0.0.1, a CMS
// stand-in receiving webhooks, the API driven over HTTP.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/publisher.h"
#include "support/broker_process.h"
#include "support/fixtures.h"
#include "support/ninjs_schema.h"
#include "support/node_process.h"

namespace lantoa::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

using Answer = ApiAnswer;

Answer call(httplib::Client& c, const std::string& method, const std::string& path, const std::string& body = "") {
  return api_call(c, method, path, body);
}

std::string status_of_event(const NodeProcess& node, const std::string& id) {
  return call(*node.client(), "GET", "/v1/events/" + id).body.value("status", "");
}

std::string headline_of(const json& record) { return record["ninjs"]["headlines"][0]["value"]; }

const std::string kReceiverToml = subscription_toml();

using NodeE2E = NodeNetworkTest;

const json kPressRelease = {
    {"topic", "vn.gov.press"},
    {"headline", "Thủ tướng Chính phủ chủ trì Hội nghị trực tuyến với các địa phương"},
    {"summary", "Hội nghị bàn giải pháp thúc đẩy tăng trưởng, giải ngân vốn đầu tư công."},
    {"body", "<p>Sáng 28/11, tại trụ sở Chính phủ, Thủ tướng chủ trì hội nghị trực tuyến toàn quốc.</p>"},
    {"body_type", "text/html"},
    {"urgency", 3},
    {"subjects", {{{"code", "medtop:11000000"}, {"name", "chính trị"}}}},
    {"link", "https://baochinhphu.vn/hoi-nghi-truc-tuyen.htm"}};

// CMS -> HTTP -> node -> broker -> another node -> webhook, spool, pull inbox
// and Atom feed; then a correction and a retraction in ninjs.
TEST_F(NodeE2E, PublishedNewsReachesAnotherPortalVerifiedThenIsCorrectedAndWithdrawn) {
  WebhookReceiver cms;
  NodeProcess gov_node(tree, gov, broker.address(), "");
  NodeProcess qn_node(tree, qn, broker.address(),
                      kReceiverToml + webhook_toml(cms) + "[spool]\ndir = \"spool\"\n");
  gov_node.start();
  qn_node.start();

  Answer a = post_event(gov_node, kPressRelease);
  ASSERT_EQ(a.status, 202) << a.body.dump();
  const std::string id = a.body["id"];
  EXPECT_EQ(id.size(), 64u);
  EXPECT_EQ(a.body["status"], "queued");
  EXPECT_TRUE(eventually([&] { return status_of_event(gov_node, id) == "accepted"; })) << read_text(gov_node.log());

  auto got = cms.wait_for(1, 20s);
  ASSERT_EQ(got.size(), 1u) << read_text(qn_node.log());
  const json& first = got[0];
  EXPECT_EQ(first["lantoa"]["event_id"], id);
  EXPECT_EQ(first["lantoa"]["signature"], "verified");
  EXPECT_EQ(first["lantoa"]["signer"], "vn.gov");
  EXPECT_EQ(first["lantoa"]["kind"], "news");
  EXPECT_EQ(first["_idempotency_key"], id);
  EXPECT_EQ(headline_of(first), kPressRelease["headline"]);  // UTF-8 intact end to end
  EXPECT_EQ(first["ninjs"]["bodies"][0]["value"], kPressRelease["body"]);
  EXPECT_EQ(first["ninjs"]["bodies"][0]["contentType"], "text/html");
  EXPECT_EQ(first["ninjs"]["urgency"], 3);
  EXPECT_EQ(first["ninjs"]["subjects"][0]["name"], "chính trị");
  EXPECT_EQ(first["ninjs"]["subjects"][0]["uri"], "medtop:11000000");  // a qcode is no unsafe URL
  EXPECT_EQ(first["ninjs"]["version"], "1");
  const std::string uri = first["ninjs"]["uri"];

  // The spool folder: one file per event, named by inbox order and id.
  const auto spool = qn_node.dir() / "spool";
  EXPECT_TRUE(eventually([&] { return std::filesystem::exists(spool / ("000000000001-" + id + ".json")); }));
  EXPECT_EQ(json::parse(read_text(spool / ("000000000001-" + id + ".json")))["lantoa"]["event_id"], id);
  EXPECT_EQ(std::filesystem::status(spool / ("000000000001-" + id + ".json")).permissions(),
            std::filesystem::perms(0640))  // [spool] mode's default: not for every user of the host
      << "spool file mode";

  // The pull inbox, and its acknowledgement.
  auto qn_api = qn_node.client();
  Answer inbox = call(*qn_api, "GET", "/v1/inbox?topic=vn.gov.>");
  ASSERT_EQ(inbox.status, 200);
  ASSERT_EQ(inbox.body["events"].size(), 1u);
  EXPECT_EQ(inbox.body["events"][0]["lantoa"]["event_id"], id);
  EXPECT_EQ(call(*qn_api, "POST", "/v1/inbox/" + id + "/ack").status, 200);
  EXPECT_EQ(call(*qn_api, "GET", "/v1/inbox").body["events"].size(), 0u);
  EXPECT_EQ(call(*qn_api, "GET", "/v1/inbox?acked=include").body["events"].size(), 1u);
  EXPECT_EQ(call(*qn_api, "POST", "/v1/inbox/" + std::string(64, 'a') + "/ack").status, 404);

  auto atom = qn_api->Get("/v1/feed.atom");
  ASSERT_TRUE(atom);
  EXPECT_EQ(atom->status, 200);
  EXPECT_NE(atom->body.find(kPressRelease["headline"].get<std::string>()), std::string::npos) << atom->body;
  EXPECT_NE(atom->body.find("signature=\"verified\""), std::string::npos);

  // A correction, sent by the CMS as ninjs: the same uri, a new version.
  json corrected = {{"uri", uri},
                    {"headlines", {{{"value", "Thủ tướng chủ trì Hội nghị trực tuyến (cập nhật số liệu)"}}}},
                    {"bodies", {{{"value", "<p>Số liệu đã được cập nhật.</p>"}, {"contentType", "text/html"}}}}};
  Answer c = post_event(gov_node, corrected, "?topic=vn.gov.press");
  ASSERT_EQ(c.status, 202) << c.body.dump();
  EXPECT_EQ(c.body["kind"], "correction");
  EXPECT_EQ(c.body["refers_to"], id);
  got = cms.wait_for(2, 20s);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1]["lantoa"]["kind"], "correction");
  EXPECT_EQ(got[1]["lantoa"]["refers_to"], id);
  EXPECT_EQ(got[1]["ninjs"]["uri"], uri);
  EXPECT_EQ(got[1]["ninjs"]["version"], "2");
  atom = qn_api->Get("/v1/feed.atom");
  EXPECT_NE(atom->body.find("cập nhật số liệu"), std::string::npos);
  EXPECT_EQ(atom->body.find(kPressRelease["headline"].get<std::string>()), std::string::npos) << "old version shown";

  // A retraction: pubStatus canceled on the same uri withdraws the latest version.
  json canceled = corrected;
  canceled["pubStatus"] = "canceled";
  Answer r = post_event(gov_node, canceled, "?topic=vn.gov.press");
  ASSERT_EQ(r.status, 202) << r.body.dump();
  EXPECT_EQ(r.body["kind"], "retraction");
  EXPECT_EQ(r.body["refers_to"], c.body["id"]);
  got = cms.wait_for(3, 20s);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2]["lantoa"]["kind"], "retraction");
  EXPECT_EQ(got[2]["ninjs"]["pubStatus"], "canceled");
  EXPECT_EQ(got[2]["ninjs"]["version"], "3");
  atom = qn_api->Get("/v1/feed.atom");
  EXPECT_EQ(atom->body.find("<entry"), std::string::npos) << atom->body;
  Answer all = call(*qn_api, "GET", "/v1/inbox?acked=include");
  ASSERT_EQ(all.body["events"].size(), 3u);
  EXPECT_EQ(all.body["events"][0]["inbox"]["state"], "corrected");
  EXPECT_EQ(all.body["events"][1]["inbox"]["state"], "withdrawn");

  // Every ninjs document the node emitted is valid against the official schema.
  std::vector<json> docs;
  for (const auto& g : got) docs.push_back(g["ninjs"]);
  for (const auto& e : ninjs_schema_errors(docs)) EXPECT_EQ(e, "");
  EXPECT_EQ(gov_node.stop(), 0) << read_text(gov_node.log());
  EXPECT_EQ(qn_node.stop(), 0) << read_text(qn_node.log());
}

// The broker is down while the CMS publishes (and the node even restarts):
// accepted into the outbox at once, delivered when the broker is back.
TEST_F(NodeE2E, OutboxHoldsEventsWhileTheBrokerIsDown) {
  WebhookReceiver cms;
  NodeProcess qn_node(tree, qn, broker.address(), kReceiverToml + webhook_toml(cms));
  qn_node.start();
  broker.pin_endpoint();
  ASSERT_EQ(broker.stop(), 0);
  NodeProcess gov_node(tree, gov, broker.address(), "");
  gov_node.start();
  std::vector<std::string> ids;
  for (int i = 1; i <= 3; ++i) {
    json doc = kPressRelease;
    doc["headline"] = "Thông cáo báo chí số " + std::to_string(i);
    Answer a = post_event(gov_node, doc);
    ASSERT_EQ(a.status, 202) << a.body.dump();
    ids.push_back(a.body["id"]);
    EXPECT_EQ(status_of_event(gov_node, ids.back()), "queued");
  }
  ASSERT_EQ(gov_node.stop(), 0);  // a restart with the broker still down
  gov_node.start();
  broker.start();
  for (const auto& id : ids) {
    EXPECT_TRUE(eventually([&] { return status_of_event(gov_node, id) == "accepted"; }, 30s)) << id;
  }
  auto got = cms.wait_for(3, 30s);
  ASSERT_EQ(got.size(), 3u) << read_text(qn_node.log());
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(got[i]["lantoa"]["event_id"], ids[i]);
}

// Issue 18: with the broker down the node answers its API at once (it used
// to wait 5 s), and /v1/status says why it is not connected; a wrong broker
// key is named as such, not as "cannot reach".
// docs/high-availability.md: a node with mirrors in [[broker.failover]]
// goes to the next one when its broker cannot be reached, and publishes there.
TEST_F(NodeE2E, AMirrorInTheFailoverListServesWhenTheBrokerCannotBeReached) {
  BrokerAddress gone = broker.address();
  gone.transport_key = TransportKey::generate().public_key();  // not that broker: it never answers as one
  NodeProcess node(tree, gov, gone,
                   "[[broker.failover]]\nendpoint = \"" + broker.address().endpoint + "\"\nkey = \"" +
                       to_base64url(broker.address().transport_key) + "\"\n");
  node.start();
  auto api = node.client();
  EXPECT_TRUE(eventually([&] { return call(*api, "GET", "/v1/status").body["broker"].value("connected", false); },
                         std::chrono::milliseconds(20000)))
      << read_text(node.log());
  const auto before = broker.stats()["events"]["accepted"].get<uint64_t>();
  Answer a = post_event(node, kPressRelease);
  ASSERT_EQ(a.status, 202) << a.body.dump();
  EXPECT_TRUE(eventually([&] { return broker.stats()["events"]["accepted"].get<uint64_t>() == before + 1; }));
}

TEST_F(NodeE2E, WithoutItsBrokerTheNodeAnswersAtOnceAndSaysWhy) {
  BrokerAddress wrong_key = broker.address();
  wrong_key.transport_key = TransportKey::generate().public_key();
  NodeProcess mistaken(tree, gov, wrong_key, "");
  mistaken.start();
  auto api = mistaken.client();
  json broker_status;
  EXPECT_TRUE(eventually([&] {
    broker_status = call(*api, "GET", "/v1/status").body["broker"];
    return !broker_status.value("reason", "").empty();
  })) << read_text(mistaken.log());
  EXPECT_EQ(broker_status["connected"], false);
  EXPECT_NE(broker_status["reason"].get<std::string>().find("not that broker's"), std::string::npos)
      << broker_status.dump();
  // A wrong key does not heal by itself: health says someone is needed.
  auto health = httplib::Client(mistaken.api_url()).Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503) << health->body;
  EXPECT_NE(health->body.find("not that broker's"), std::string::npos) << health->body;
  EXPECT_EQ(mistaken.stop(), 0);
  EXPECT_NE(read_text(mistaken.log()).find("not connected: "), std::string::npos);

  broker.pin_endpoint();
  ASSERT_EQ(broker.stop(), 0);
  NodeProcess node(tree, gov, broker.address(), "");
  const auto started = std::chrono::steady_clock::now();
  node.start();
  auto api2 = node.client();
  Answer status = call(*api2, "GET", "/v1/status");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s) << "the node waited for the broker before answering";
  EXPECT_EQ(status.status, 200);
  EXPECT_TRUE(eventually([&] {
    broker_status = call(*api2, "GET", "/v1/status").body["broker"];
    return !broker_status.value("reason", "").empty();
  }));
  EXPECT_NE(broker_status["reason"].get<std::string>().find("nothing accepted a connection"), std::string::npos)
      << broker_status.dump();
  EXPECT_EQ(httplib::Client(node.api_url()).Get("/healthz")->status, 200);  // a broker down may come back
  // Published meanwhile: waits in the outbox, and goes when the broker is back.
  Answer a = post_event(node, kPressRelease);
  ASSERT_EQ(a.status, 202) << a.body.dump();
  broker.start();
  EXPECT_TRUE(eventually([&] { return status_of_event(node, a.body["id"]) == "accepted"; }, 30s));
  EXPECT_TRUE(eventually([&] { return call(*api2, "GET", "/v1/status").body["broker"]["connected"] == true; }));
  EXPECT_EQ(call(*api2, "GET", "/v1/status").body["broker"]["reason"], "");
  EXPECT_EQ(node.stop(), 0);
}

// The CMS is down: the node retries, across its own restart, and delivers
// each event exactly once, in order, when the CMS is back.
TEST_F(NodeE2E, WebhookRetriedUntilTheCmsAnswersNothingLostOrRepeated) {
  WebhookReceiver cms;
  cms.set_failing(true);
  NodeProcess gov_node(tree, gov, broker.address(), "");
  NodeProcess qn_node(tree, qn, broker.address(), kReceiverToml + webhook_toml(cms));
  gov_node.start();
  qn_node.start();
  std::vector<std::string> ids;
  for (int i = 1; i <= 3; ++i) {
    json doc = kPressRelease;
    doc["headline"] = "Tin số " + std::to_string(i);
    ids.push_back(post_event(gov_node, doc).body.value("id", ""));
  }
  ASSERT_TRUE(eventually([&] { return cms.refused() >= 2; })) << read_text(qn_node.log());
  ASSERT_EQ(qn_node.stop(), 0);
  const size_t refused = cms.refused();
  qn_node.start();
  ASSERT_TRUE(eventually([&] { return cms.refused() > refused; }));  // still trying after the restart
  EXPECT_TRUE(cms.received().empty());
  cms.set_failing(false);
  auto got = cms.wait_for(3, 20s);
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i]["lantoa"]["event_id"], ids[i]) << got[i].dump() << "\n" << read_text(qn_node.log()) << "\nBROKER\n" << read_text(broker.log());
    EXPECT_EQ(headline_of(got[i]), "Tin số " + std::to_string(i + 1));
  }
  ASSERT_EQ(qn_node.stop(), 0);
  qn_node.start();
  // Its subscription is open again and the broker holds nothing for it: a
  // redelivery, if there were one, would already have been handed out.
  ASSERT_TRUE(eventually([&] {
    auto r = qn_node.client()->Get("/v1/status");
    const json status = r ? json::parse(r->body, nullptr, false) : json();
    if (!status.is_object() || status["subscriptions"]["open"] != status["subscriptions"]["configured"]) return false;
    const json stats = broker.stats();
    for (const auto& sub : stats["subscriptions"]) {
      if (sub["owner"] == "vn.qn" && (sub["depth"] != 0 || !sub["connected"])) return false;
    }
    return true;
  }));
  EXPECT_EQ(cms.received().size(), 3u) << "an event was delivered twice";
}

// Bad requests: a clear 4xx naming the problem, and nothing stored.
TEST_F(NodeE2E, BadRequestsAreRefusedClearlyAndNothingIsStored) {
  NodeProcess gov_node(tree, gov, broker.address(), "");
  gov_node.start();
  httplib::Client anonymous(gov_node.api_url());
  auto no_token = anonymous.Post("/v1/events", kPressRelease.dump(), "application/json");
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 401);
  EXPECT_EQ(json::parse(no_token->body)["error"]["code"], "TOKEN_MISSING");
  httplib::Client wrong(gov_node.api_url());
  wrong.set_bearer_token_auth("not-the-token-of-this-node");
  auto bad_token = wrong.Get("/v1/inbox");
  ASSERT_TRUE(bad_token);
  EXPECT_EQ(bad_token->status, 401);
  EXPECT_EQ(json::parse(bad_token->body)["error"]["code"], "TOKEN_WRONG");
  EXPECT_EQ(anonymous.Get("/healthz")->status, 200);

  auto api = gov_node.client();
  auto malformed = api->Post("/v1/events", "{\"topic\": \"vn.gov.press\", \"headline\": ", "application/json");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  EXPECT_EQ(json::parse(malformed->body)["error"]["code"], "MALFORMED_JSON");
  // Nesting 30,000 levels deep is refused before it is read (reading it
  // would take a stack frame per level), and the node keeps running.
  auto deep = api->Post("/v1/events", std::string(30'000, '[') + std::string(30'000, ']'), "application/json");
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->status, 400);
  EXPECT_NE(deep->body.find("deeper than 64"), std::string::npos) << deep->body;

  struct Case {
    json patch;
    int http;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{{{{"urgency", "khẩn"}}, 400, "urgency"},
                                         {{{"headline", 42}}, 400, "headline"},
                                         {{{"priority", 1}}, 400, "priority"},
                                         {{{"topic", "vn.bqp.notice"}}, 403, "topic"},
                                         {{{"urgency", 0}}, 422, "urgency"},
                                         {{{"kind", "retraction"}}, 422, "refers_to"}}) {
    json doc = kPressRelease;
    doc.update(c.patch);
    Answer a = post_event(gov_node, doc);
    EXPECT_EQ(a.status, c.http) << doc.dump() << " -> " << a.body.dump();
    EXPECT_EQ(a.body["error"].value("field", ""), c.field) << a.body.dump();
    EXPECT_FALSE(a.body["error"].value("message", "").empty());
  }
  Answer no_topic = post_event(gov_node, json{{"uri", "https://cms.example/1"}, {"headlines", {{{"value", "x"}}}}});
  EXPECT_EQ(no_topic.status, 422) << no_topic.body.dump();
  EXPECT_EQ(no_topic.body["error"]["field"], "topic");
  json huge = kPressRelease;
  huge["body"] = std::string(100 * 1024, 'x');  // the test node accepts 64 KiB
  Answer too_large = post_event(gov_node, huge);
  EXPECT_EQ(too_large.status, 413) << too_large.body.dump();
  EXPECT_EQ(too_large.body["error"]["code"], "BODY_TOO_LARGE");
  EXPECT_EQ(call(*api, "GET", "/v1/events/" + std::string(64, '0')).status, 404);
  EXPECT_EQ(call(*api, "GET", "/v1/nothing").status, 404);

  Answer status = call(*api, "GET", "/v1/status");
  EXPECT_EQ(status.body["outbox"]["last_sequence"], 0) << status.body.dump();  // nothing was signed
  EXPECT_EQ(status.body["outbox"]["unconfirmed"], 0);
  Answer ok = post_event(gov_node, kPressRelease);  // and the node still works
  EXPECT_EQ(ok.status, 202);
  EXPECT_EQ(gov_node.stop(), 0);
}

}  // namespace
}  // namespace lantoa::testing

namespace lantoa::testing {
namespace {

// What the broker refuses, the node reports with the broker's reason.
TEST_F(NodeE2E, TheBrokersRefusalIsReportedWithItsReason) {
  Member reader = tree.certify("vn.ldtbxh", {v1::SUBSCRIBER});  // may not publish
  NodeProcess node(tree, reader, broker.address(), "");
  node.start();
  json doc = kPressRelease;
  doc["topic"] = "vn.ldtbxh.news";
  Answer a = post_event(node, doc);
  ASSERT_EQ(a.status, 202) << a.body.dump();
  const std::string id = a.body["id"];
  Answer st;
  EXPECT_TRUE(eventually([&] {
    st = call(*node.client(), "GET", "/v1/events/" + id);
    return st.body.value("status", "") == "rejected";
  })) << st.body.dump() << read_text(node.log());
  EXPECT_EQ(st.body["error"]["code"], "ROLE_MISSING") << st.body.dump();
  EXPECT_FALSE(st.body["error"].value("message", "").empty());
  EXPECT_EQ(node.stop(), 0);
}

}  // namespace
}  // namespace lantoa::testing

namespace lantoa::testing {
namespace {

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Stored XSS attempted by a member (issue 13, item 15): an HTML body full of
// well-known vectors, attachments with javascript:/data:/vbscript: URIs. The
// receiving portal's webhook, pull inbox, spool file and Atom feed carry none
// of it, and keep the legitimate content.
TEST_F(NodeE2E, HostileHtmlAndUrisNeverReachTheCms) {
  Member hostile = tree.member("vn.hn");
  WebhookReceiver cms;
  NodeProcess hn_node(tree, hostile, broker.address(), "");
  NodeProcess qn_node(tree, qn, broker.address(),
                      "[[subscriptions]]\nname = \"hn\"\nfilters = [\"vn.hn.>\"]\nstart = \"earliest\"\n\n" +
                          webhook_toml(cms) + "[spool]\ndir = \"spool\"\n");
  hn_node.start();
  qn_node.start();
  const std::string body =
      "<p>Thông báo khẩn: người dân Hạ Long chú ý.</p>"
      "<script>alert(document.cookie)</script>"
      "<img src=x onerror=alert(1)>"
      "<a href=\"jav&#x09;ascript:alert(2)\">Xem chi tiết</a>"
      "<a href=\" JaVaScRiPt:alert(3)\">liên kết</a>"
      "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(4)\">x</a>"
      "<svg onload=alert(5)><circle r=\"1\"/></svg>"
      "<iframe src=\"https://evil.example/\"></iframe>"
      "<div style=\"width: expression(alert(6)); background:url(javascript:alert(7))\">Nội dung chính</div>"
      "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCg4KTwvc2NyaXB0Pg==\">tải về</a>"
      "<img src=\"data:image/svg+xml;base64,PHN2Zy8+\">"
      "<a href=\"vbscript:msgbox(9)\">y</a>"
      "<object data=\"javascript:alert(10)\"></object><embed src=\"javascript:alert(11)\">"
      "<form action=\"javascript:alert(12)\"><input type=\"submit\"></form>"
      "<p onmouseover=\"alert(13)\"><a href=\"https://baochinhphu.vn/tin/1.htm\">Nguồn: Báo Chính phủ</a> "
      "<img src=\"https://baochinhphu.vn/anh.jpg\" alt=\"Ảnh minh họa\"></p>";
  const json doc = {{"topic", "vn.hn.news"},
                    {"headline", "Thông báo của thành phố"},
                    {"body", body},
                    {"body_type", "text/html"},
                    {"link", "https://hanoi.gov.vn/tin/1.htm"},
                    {"attachments",
                     {{{"uri", "javascript://%0Aalert(14)"}, {"media_type", "text/html"}},
                      {{"uri", "data://text/html;base64,PHNjcmlwdD4="}, {"media_type", "text/html"}},
                      {{"uri", "vbscript://msgbox(15)"}, {"media_type", "text/html"}},
                      {{"uri", "https://hanoi.gov.vn/van-ban.pdf"}, {"media_type", "application/pdf"}}}}};
  Answer a = post_event(hn_node, doc);
  ASSERT_EQ(a.status, 202) << a.body.dump();
  const std::string id = a.body["id"];

  auto harmless = [](const std::string& where, const std::string& text) {
    const std::string l = lowercase(text);
    for (const char* bad : {"<script", "javascript", "onerror", "onload", "onmouseover", "iframe", "expression", "data:",
                            "vbscript", "svg", "<object", "<embed", "<form", "<input", "alert", "style"}) {
      EXPECT_EQ(l.find(bad), std::string::npos) << where << " carries \"" << bad << "\":\n" << text;
    }
  };
  auto got = cms.wait_for(1, 20s);
  ASSERT_EQ(got.size(), 1u) << read_text(qn_node.log());
  const json& record = got[0];
  EXPECT_EQ(record["lantoa"]["event_id"], id);
  const std::string clean = record["ninjs"]["bodies"][0]["value"];
  harmless("the webhook", record.dump());
  EXPECT_NE(clean.find("<p>Thông báo khẩn: người dân Hạ Long chú ý.</p>"), std::string::npos) << clean;
  EXPECT_NE(clean.find("<div>Nội dung chính</div>"), std::string::npos) << clean;
  EXPECT_NE(clean.find("<a href=\"https://baochinhphu.vn/tin/1.htm\">Nguồn: Báo Chính phủ</a>"), std::string::npos);
  EXPECT_NE(clean.find("<img src=\"https://baochinhphu.vn/anh.jpg\" alt=\"Ảnh minh họa\">"), std::string::npos);
  EXPECT_NE(clean.find("<a>Xem chi tiết</a>"), std::string::npos) << clean;  // the text stays, the link goes
  ASSERT_EQ(record["ninjs"]["associations"].size(), 1u) << record.dump(2);
  EXPECT_EQ(record["ninjs"]["associations"][0]["uri"], "https://hanoi.gov.vn/van-ban.pdf");

  auto api = qn_node.client();
  Answer inbox = call(*api, "GET", "/v1/inbox");
  ASSERT_EQ(inbox.body["events"].size(), 1u);
  harmless("the pull inbox", inbox.body.dump());
  EXPECT_EQ(inbox.body["events"][0]["ninjs"]["bodies"][0]["value"], clean);
  const auto spool_file = qn_node.dir() / "spool" / ("000000000001-" + id + ".json");
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(spool_file); }));
  harmless("the spool file", read_text(spool_file));
  auto atom = api->Get("/v1/feed.atom");
  ASSERT_TRUE(atom);
  harmless("the Atom feed", atom->body);
  EXPECT_NE(atom->body.find("Nội dung chính"), std::string::npos) << atom->body;
  EXPECT_NE(atom->body.find("https://hanoi.gov.vn/van-ban.pdf"), std::string::npos);
  EXPECT_NE(atom->body.find("https://baochinhphu.vn/anh.jpg"), std::string::npos);

  // The node says what it removed, and counts it.
  EXPECT_TRUE(eventually([&] { return read_text(qn_node.log()).find("unsafe content removed") != std::string::npos; }));
  const std::string log = read_text(qn_node.log());
  EXPECT_NE(log.find("javascript://%0Aalert(14)"), std::string::npos) << log;
  EXPECT_EQ(call(*api, "GET", "/v1/status").body["inbox"]["sanitized"], 1);
  EXPECT_EQ(hn_node.stop(), 0);
  EXPECT_EQ(qn_node.stop(), 0);
}

}  // namespace
}  // namespace lantoa::testing

namespace lantoa::testing {
namespace {

// Issue 18: a second node on the same data folder would share its LMDB
// state (outbox, inbox, cursors) with the first. It is refused at start.
// Issue 18: a second node on the API port of a running one (another data
// folder) stops with "the address is in use" instead of splitting the
// CMS's requests with it.
TEST_F(NodeE2E, ASecondNodeOnTheSameApiPortIsRefused) {
  NodeProcess node(tree, gov, broker.address(), "");
  node.start();
  const std::string port = node.api_url().substr(node.api_url().rfind(':') + 1);
  std::string toml = read_text(node.dir() / "config.toml");
  const std::string any = "listen = \"127.0.0.1:0\"";
  ASSERT_NE(toml.find(any), std::string::npos);
  toml.replace(toml.find(any), any.size(), "listen = \"127.0.0.1:" + port + "\"");
  const std::string data = "data = \"data\"";
  ASSERT_NE(toml.find(data), std::string::npos);
  toml.replace(toml.find(data), data.size(), "data = \"data-second\"");
  {
    std::ofstream(node.dir() / "second.toml") << toml;
  }
  ::chmod((node.dir() / "second.toml").c_str(), 0600);
  CommandResult second = run_command("timeout 20 " + std::string(LANTOA_NODE_BIN) + " --config " +
                                     (node.dir() / "second.toml").string() + " 2>&1");
  EXPECT_NE(second.code, 0) << second.out;
  EXPECT_NE(second.out.find("address is in use"), std::string::npos) << second.out;
  EXPECT_TRUE(node.running());
  EXPECT_EQ(node.stop(), 0);
}

TEST_F(NodeE2E, ASecondNodeOnTheSameDataFolderIsRefused) {
  NodeProcess node(tree, gov, broker.address(), "");
  node.start();
  CommandResult second = run_command("timeout 20 " + std::string(LANTOA_NODE_BIN) + " --config " +
                                     (node.dir() / "config.toml").string() + " 2>&1");
  EXPECT_NE(second.code, 0) << second.out;
  EXPECT_NE(second.out.find("is in use by another lantoa-node"), std::string::npos) << second.out;
  EXPECT_TRUE(node.running());
  EXPECT_EQ(node.stop(), 0);
}

// Issue 13, item 4, at the node: a commune (vn.qn.halong) publishes a
// retraction and a correction of a vn.gov press release. The receiving node
// keeps the release current and in its Atom feed, hands neither hostile
// event to its CMS, and reports the refusal (log with both origins and ids,
// /v1/status inbox.refused).
TEST_F(NodeE2E, AMemberCannotRetractOrCorrectAnotherMembersItem) {
  Member halong = tree.member("vn.qn.halong");
  WebhookReceiver cms;
  NodeProcess gov_node(tree, gov, broker.address(), "");
  NodeProcess halong_node(tree, halong, broker.address(), "");
  NodeProcess qn_node(tree, qn, broker.address(),
                      "[[subscriptions]]\nname = \"qn-inbound\"\nfilters = [\"vn.gov.press\", \"vn.qn.>\"]\n"
                      "start = \"earliest\"\n\n" + webhook_toml(cms));
  gov_node.start();
  halong_node.start();
  qn_node.start();
  Answer a = post_event(gov_node, kPressRelease);
  ASSERT_EQ(a.status, 202) << a.body.dump();
  const std::string release = a.body["id"];
  ASSERT_EQ(cms.wait_for(1, 20s).size(), 1u) << read_text(qn_node.log());

  // Through its own node, halong cannot even try: the node amends only
  // items it published itself.
  for (const char* kind : {"retraction", "correction"}) {
    Answer h = post_event(halong_node, {{"topic", "vn.qn.halong.news"},
                                        {"headline", "Thu hồi thông cáo báo chí"},
                                        {"kind", kind},
                                        {"refers_to", release}});
    EXPECT_EQ(h.status, 422) << h.body.dump();
    EXPECT_EQ(h.body["error"]["code"], "INVALID_REFERENCE");
  }
  // A hostile program with halong's key, straight to the broker: the broker,
  // which holds the release, refuses them (defence in depth: the receiving
  // node's own rule is tested in NodeStore tests, and the SDK's through a
  // hostile broker in Hostile.*).
  PublisherOptions po;
  po.broker = broker.address();
  auto hostile = Publisher::start(MemberKey{halong.key.member, *SigningKey::from_seed(halong.key.sign.seed()),
                                            *TransportKey::from_secret(halong.key.transport.secret())},
                                  halong.chain, po);
  ASSERT_TRUE(hostile.ok()) << hostile.status().to_string();
  for (v1::Kind kind : {v1::RETRACTION, v1::CORRECTION}) {
    auto event = EventBuilder("vn.qn.halong", 1, "vn.qn.halong.news")
                     .headline("Thu hồi thông cáo báo chí")
                     .kind(kind)
                     .refers_to(*from_hex(release))
                     .build();
    ASSERT_TRUE(event.ok()) << event.status().to_string();
    auto pub = (*hostile)->publish(*event);
    ASSERT_TRUE(pub.ok()) << pub.status().to_string();
    ASSERT_EQ(pub->outcome.wait_for(10s), std::future_status::ready);
    PublishOutcome outcome = pub->outcome.get();
    EXPECT_EQ(outcome.status, v1::PublishResult::REJECTED);
    EXPECT_EQ(outcome.error.code(), v1::Error::REFERENCE_NOT_ALLOWED) << outcome.error.to_string();
  }
  hostile->reset();
  auto api = qn_node.client();

  // A later, legitimate event proves the hostile ones were processed first.
  json later = kPressRelease;
  later["headline"] = "Thông cáo báo chí số 2";
  ASSERT_EQ(post_event(gov_node, later).status, 202);
  auto got = cms.wait_for(2, 20s);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(headline_of(got[1]), "Thông cáo báo chí số 2");
  Answer inbox = call(*api, "GET", "/v1/inbox?acked=include");
  ASSERT_EQ(inbox.body["events"].size(), 2u) << inbox.body.dump();
  EXPECT_EQ(inbox.body["events"][0]["lantoa"]["event_id"], release);
  EXPECT_EQ(inbox.body["events"][0]["inbox"]["state"], "current");
  EXPECT_FALSE(inbox.body["events"][0]["inbox"].contains("superseded_by"));
  auto atom = api->Get("/v1/feed.atom");
  ASSERT_TRUE(atom);
  EXPECT_NE(atom->body.find(kPressRelease["headline"].get<std::string>()), std::string::npos) << atom->body;
  EXPECT_EQ(atom->body.find("Thu hồi"), std::string::npos) << atom->body;
  EXPECT_EQ(gov_node.stop(), 0);
  EXPECT_EQ(halong_node.stop(), 0);
  EXPECT_EQ(qn_node.stop(), 0);
}

}  // namespace
}  // namespace lantoa::testing

namespace lantoa::testing {
namespace {

// Issue 13, item 17: lantoa-node refuses to start with a config that holds a
// secret and is readable by others, naming the file and the fix; [spool]
// mode sets the spool files' mode.
TEST_F(NodeE2E, SecretsInAConfigReadableByOthersStopTheNodeAndSpoolModeIsApplied) {
  WebhookReceiver cms;
  NodeProcess gov_node(tree, gov, broker.address(), "");
  NodeProcess qn_node(tree, qn, broker.address(),
                      kReceiverToml + webhook_toml(cms) + "token = \"cms-secret-0123456789\"\n" +
                          "[spool]\ndir = \"spool\"\nmode = \"0600\"\n");
  const auto config = qn_node.dir() / "config.toml";
  ::chmod(config.c_str(), 0644);
  CommandResult refused = run_command(std::string(LANTOA_NODE_BIN) + " --config " + config.string());
  EXPECT_NE(refused.code, 0);
  EXPECT_NE(refused.out.find("KEY_FILE_INSECURE"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("webhooks[0].token"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("chmod 600 " + config.string()), std::string::npos) << refused.out;

  ::chmod(config.c_str(), 0600);
  gov_node.start();
  qn_node.start();
  Answer a = post_event(gov_node, kPressRelease);
  ASSERT_EQ(a.status, 202) << a.body.dump();
  const std::string id = a.body["id"];
  const auto file = qn_node.dir() / "spool" / ("000000000001-" + id + ".json");
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(file); })) << read_text(qn_node.log());
  EXPECT_EQ(std::filesystem::status(file).permissions(), std::filesystem::perms(0600));
  EXPECT_EQ(gov_node.stop(), 0);
  EXPECT_EQ(qn_node.stop(), 0);
}

}  // namespace
}  // namespace lantoa::testing
