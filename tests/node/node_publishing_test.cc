// lantoa-node as a CMS publishes through it, end to end with real broker and
// node processes on 127.0.0.1: ninjs documents arrive as written, corrections
// and retractions amend the latest version of an item this node published,
// and a POST repeated with the same Idempotency-Key makes one event, also
// when the node is killed in between.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "lantoa/event.h"
#include "lantoa/publisher.h"
#include "sanitize/html_sanitizer.h"
#include "support/broker_process.h"
#include "support/fixtures.h"
#include "support/ninjs_schema.h"
#include "support/node_process.h"

namespace lantoa::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

using Answer = ApiAnswer;

const std::string kReceiver = subscription_toml();

using NodePublishing = NodeNetworkTest;

// Every official IPTC ninjs 3.1 example, posted by one portal's CMS, reaches
// another portal's CMS with every field it had, unchanged (uri, version,
// versionCreated, copyright, people, places, organisations, located,
// profile, roles...; HTML bodies after the receiver's sanitiser), and what
// arrives validates against the 3.1 schema,
// "format" checks included.
TEST_F(NodePublishing, EveryOfficialNinjsExampleArrivesAsWritten) {
  WebhookReceiver cms;
  NodeProcess gov_node(tree, gov, broker.address(), "");
  NodeProcess qn_node(tree, qn, broker.address(), kReceiver + webhook_toml(cms));
  gov_node.start();
  qn_node.start();
  std::map<std::string, json> sent;  // by uri
  for (const auto& entry : std::filesystem::directory_iterator(testdata("ninjs"))) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json" || name.starts_with("ninjs-schema")) continue;
    json doc = json::parse(std::ifstream(entry.path()));
    Answer a = post_event(gov_node, doc, "?topic=vn.gov.press");
    ASSERT_EQ(a.status, 202) << name << ": " << a.body.dump();
    EXPECT_EQ(a.body["kind"], "news") << name;
    sent[doc["uri"]] = doc;
  }
  ASSERT_EQ(sent.size(), 6u);
  auto got = cms.wait_for(sent.size(), 30s);
  ASSERT_EQ(got.size(), sent.size()) << read_text(qn_node.log());
  std::vector<json> docs;
  for (const json& record : got) {
    const json& doc = record["ninjs"];
    ASSERT_TRUE(sent.contains(doc.value("uri", ""))) << doc.dump(2);
    // Receivers sanitise HTML bodies (docs: "Received content is
    // sanitised"): the expected document is the original after that.
    json original = sent[doc["uri"]];
    (void)node::sanitize_ninjs(original);
    for (const auto& [key, value] : original.items()) {
      EXPECT_EQ(doc.value(key, json()), value) << doc["uri"] << ": field " << key;
    }
    EXPECT_EQ(record["lantoa"]["signature"], "verified");
    docs.push_back(doc);
  }
  for (const auto& e : ninjs_schema_errors(docs)) EXPECT_EQ(e, "");
}

const json kPressRelease = {
    {"topic", "vn.gov.press"},
    {"headline", "Thủ tướng Chính phủ chủ trì Hội nghị trực tuyến với các địa phương"},
    {"summary", "Hội nghị bàn giải pháp thúc đẩy tăng trưởng."},
    {"body", "<p>Sáng 28/11, tại trụ sở Chính phủ, Thủ tướng chủ trì hội nghị trực tuyến toàn quốc.</p>"},
    {"body_type", "text/html"},
    {"urgency", 3},
    {"link", "https://baochinhphu.vn/hoi-nghi-truc-tuyen.htm"}};

// A correction in Lantoa's form states what changes; the rest comes from the
// version it corrects. It always amends the item's latest version, a
// retraction needs no headline, and corrections of unknown or withdrawn
// items are refused with the reason.
TEST_F(NodePublishing, CorrectionsAmendTheLatestVersionAndUnknownItemsAreRefused) {
  WebhookReceiver cms;
  NodeProcess gov_node(tree, gov, broker.address(), "");
  NodeProcess qn_node(tree, qn, broker.address(), kReceiver + webhook_toml(cms));
  gov_node.start();
  qn_node.start();
  Answer first = post_event(gov_node, kPressRelease);
  ASSERT_EQ(first.status, 202) << first.body.dump();
  const std::string v1 = first.body["id"];

  // A headline-only correction keeps the body, link and urgency.
  Answer fix = post_event(gov_node, {{"kind", "correction"}, {"refers_to", v1}, {"headline", "Hội nghị trực tuyến (đã sửa)"}});
  ASSERT_EQ(fix.status, 202) << fix.body.dump();
  EXPECT_EQ(fix.body["refers_to"], v1);
  const std::string v2 = fix.body["id"];
  auto got = cms.wait_for(2, 20s);
  ASSERT_EQ(got.size(), 2u) << read_text(qn_node.log());
  const json& corrected = got[1]["ninjs"];
  EXPECT_EQ(got[1]["lantoa"]["kind"], "correction");
  EXPECT_EQ(corrected["headlines"][0]["value"], "Hội nghị trực tuyến (đã sửa)");
  EXPECT_EQ(corrected["bodies"][0]["value"], kPressRelease["body"]);
  EXPECT_EQ(corrected["descriptions"][0]["value"], kPressRelease["summary"]);
  EXPECT_EQ(corrected["urgency"], 3);
  EXPECT_EQ(got[1]["lantoa"]["topic"], "vn.gov.press");
  EXPECT_EQ(corrected["altIds"][1]["value"], kPressRelease["link"]);
  EXPECT_EQ(corrected["version"], "2");

  // Naming the first version again amends the latest one; "" clears a field.
  Answer again = post_event(gov_node, {{"kind", "correction"}, {"refers_to", v1}, {"summary", ""}});
  ASSERT_EQ(again.status, 202) << again.body.dump();
  EXPECT_EQ(again.body["refers_to"], v2);
  const std::string v3 = again.body["id"];
  got = cms.wait_for(3, 20s);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_FALSE(got[2]["ninjs"].contains("descriptions"));
  EXPECT_EQ(got[2]["ninjs"]["headlines"][0]["value"], "Hội nghị trực tuyến (đã sửa)");

  // A correction that changes nothing is refused.
  Answer same = post_event(gov_node, {{"kind", "correction"}, {"refers_to", v1}});
  EXPECT_EQ(same.status, 400) << same.body.dump();
  EXPECT_NE(same.body["error"]["message"].get<std::string>().find("changes nothing"), std::string::npos);

  // Unknown ids are refused, and nothing is published.
  Answer unknown = post_event(gov_node, {{"kind", "correction"}, {"refers_to", std::string(64, 'a')}, {"headline", "x"}});
  EXPECT_EQ(unknown.status, 422) << unknown.body.dump();
  EXPECT_EQ(unknown.body["error"]["code"], "INVALID_REFERENCE");
  EXPECT_EQ(unknown.body["error"]["field"], "refers_to");
  EXPECT_NE(unknown.body["error"]["message"].get<std::string>().find("published no event"), std::string::npos);

  // A retraction needs only what it withdraws.
  Answer withdraw = post_event(gov_node, {{"kind", "retraction"}, {"refers_to", v1}});
  ASSERT_EQ(withdraw.status, 202) << withdraw.body.dump();
  EXPECT_EQ(withdraw.body["refers_to"], v3);
  got = cms.wait_for(4, 20s);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3]["lantoa"]["kind"], "retraction");
  EXPECT_EQ(got[3]["ninjs"]["pubStatus"], "canceled");
  EXPECT_EQ(got[3]["ninjs"]["headlines"][0]["value"], "Hội nghị trực tuyến (đã sửa)");  // the withdrawn headline

  // A withdrawn item cannot be corrected or withdrawn again.
  Answer late = post_event(gov_node, {{"kind", "correction"}, {"refers_to", v2}, {"headline", "y"}});
  EXPECT_EQ(late.status, 422) << late.body.dump();
  EXPECT_NE(late.body["error"]["message"].get<std::string>().find("was withdrawn"), std::string::npos);

  // ninjs: a canceled document needs no headline; withheld and unknown statuses are refused.
  Answer n1 = post_event(gov_node, {{"uri", "https://chinhphu.vn/tin/1"}, {"headlines", {{{"value", "Tin 1"}}}}},
                   "?topic=vn.gov.press");
  ASSERT_EQ(n1.status, 202) << n1.body.dump();
  Answer cancel = post_event(gov_node, {{"uri", "https://chinhphu.vn/tin/1"}, {"pubStatus", "canceled"}}, "?topic=vn.gov.press");
  ASSERT_EQ(cancel.status, 202) << cancel.body.dump();
  EXPECT_EQ(cancel.body["kind"], "retraction");
  Answer recancel = post_event(gov_node, {{"uri", "https://chinhphu.vn/tin/1"}, {"pubStatus", "canceled"}}, "?topic=vn.gov.press");
  EXPECT_EQ(recancel.status, 422) << recancel.body.dump();
  EXPECT_EQ(recancel.body["error"]["field"], "uri");
  for (const char* status : {"withheld", "published"}) {
    Answer a = post_event(gov_node, {{"uri", std::string("https://chinhphu.vn/tin/") + status},
                               {"headlines", {{{"value", "h"}}}}, {"pubStatus", status}},
                    "?topic=vn.gov.press");
    EXPECT_EQ(a.status, 400) << status << ": " << a.body.dump();
    EXPECT_EQ(a.body["error"]["field"], "pubStatus") << status;
  }
  got = cms.wait_for(6, 20s);
  EXPECT_EQ(got.size(), 6u);  // news 3x, retraction, ninjs news, its retraction: nothing else
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(cms.received().size(), 6u);
}

// Attackers are users too: a member's program (not a node) signs events
// whose carried ninjs "document" is nested a hundred thousand deep, or full
// of script URLs. The receiving node keeps running, hands the first over
// with the document made from the event, and removes every script URL from
// the second (its own uri included, replaced by Lantoa's).
TEST_F(NodePublishing, AHostileAuthorsDocumentCannotHurtTheReceiver) {
  WebhookReceiver cms;
  NodeProcess qn_node(tree, qn, broker.address(), kReceiver + webhook_toml(cms));
  qn_node.start();
  PublisherOptions po;
  po.broker = broker.address();
  auto hostile = Publisher::start(MemberKey{gov.key.member, *SigningKey::from_seed(gov.key.sign.seed()),
                                            *TransportKey::from_secret(gov.key.transport.secret())},
                                  gov.chain, po);
  ASSERT_TRUE(hostile.ok()) << hostile.status().to_string();
  const json scripted = {{"uri", "javascript:alert(1)"},
                         {"people", {{{"name", "Người lạ"}, {"uri", "javascript:alert(2)"}}}},
                         {"renditions", {{{"href", "JaVaScRiPt:alert(3)"}}}},
                         {"associations", {{{"name", "x"}, {"uri", "data:text/html,<script>alert(4)</script>"}}}},
                         {"bodies", {{{"contentType", "text/html"}}}}};
  for (const std::string& document : {std::string(100'000, '[') + std::string(100'000, ']'), scripted.dump()}) {
    auto event = EventBuilder("vn.gov", 1, "vn.gov.press")
                     .headline("Tin có tài liệu độc hại")
                     .body("<p>nội dung</p><script>alert(5)</script>", "text/html")
                     .ninjs(document)
                     .build();
    ASSERT_TRUE(event.ok()) << event.status().to_string();
    auto pub = (*hostile)->publish(*event);
    ASSERT_TRUE(pub.ok()) << pub.status().to_string();
    EXPECT_TRUE(pub->outcome.get().ok());
  }
  auto got = cms.wait_for(2, 20s);
  ASSERT_EQ(got.size(), 2u) << read_text(qn_node.log());
  EXPECT_TRUE(qn_node.running());
  EXPECT_EQ(got[0]["ninjs"]["headlines"][0]["value"], "Tin có tài liệu độc hại");  // the made document
  const std::string second = got[1].dump();
  EXPECT_EQ(second.find("alert("), std::string::npos) << got[1].dump(2);
  EXPECT_TRUE(got[1]["ninjs"]["uri"].get<std::string>().starts_with("urn:lantoa:vn.gov:")) << got[1].dump(2);
  EXPECT_EQ(got[1]["ninjs"]["people"][0]["name"], "Người lạ");
  EXPECT_EQ(got[1]["ninjs"]["bodies"][0]["value"], "<p>nội dung</p>");
  EXPECT_EQ(ninjs_schema_errors({got[0]["ninjs"]})[0], "");  // (the second is as invalid as its author made it)
}

// The measurement from the issue as a test: a CMS posts 20 items, each with
// its own Idempotency-Key, the node is killed mid-way, and the CMS retries
// every post whose answer it may have lost. Each item exists once.
TEST_F(NodePublishing, RetriedPostsWithTheSameIdempotencyKeyMakeOneEventEachAcrossACrash) {
  WebhookReceiver cms;
  NodeProcess gov_node(tree, gov, broker.address(), "");
  NodeProcess qn_node(tree, qn, broker.address(), kReceiver + webhook_toml(cms));
  gov_node.start();
  qn_node.start();
  auto item = [](int i) {
    json doc = kPressRelease;
    doc["headline"] = "Tin số " + std::to_string(i);
    return doc;
  };
  // The same key and request again: the same event, marked as a replay.
  Answer a = post_event(gov_node, item(0), "", "cms-article-0");
  ASSERT_EQ(a.status, 202) << a.body.dump();
  EXPECT_EQ(a.replayed, "");
  Answer b = post_event(gov_node, item(0), "", "cms-article-0");
  ASSERT_EQ(b.status, 202) << b.body.dump();
  EXPECT_EQ(b.body["id"], a.body["id"]);
  EXPECT_EQ(b.body["sequence"], a.body["sequence"]);
  EXPECT_EQ(b.replayed, "true");
  // The same key for another request is refused.
  Answer other = post_event(gov_node, item(99), "", "cms-article-0");
  EXPECT_EQ(other.status, 422) << other.body.dump();
  EXPECT_EQ(other.body["error"]["code"], "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(post_event(gov_node, item(0), "", std::string(300, 'k')).status, 400);

  // Posts 1..20 race a SIGKILL; then every one is sent again.
  std::thread killer([&] {
    std::this_thread::sleep_for(20ms);
    gov_node.kill();
  });
  for (int i = 1; i <= 20; ++i) (void)post_event(gov_node, item(i), "", "cms-article-" + std::to_string(i));
  killer.join();
  gov_node.start();
  std::set<std::string> ids;
  for (int i = 1; i <= 20; ++i) {
    Answer r = post_event(gov_node, item(i), "", "cms-article-" + std::to_string(i));
    ASSERT_EQ(r.status, 202) << i << ": " << r.body.dump();
    ids.insert(r.body["id"]);
  }
  EXPECT_EQ(ids.size(), 20u);
  auto got = cms.wait_for(21, 30s);
  ASSERT_EQ(got.size(), 21u) << read_text(qn_node.log());
  std::this_thread::sleep_for(500ms);
  std::map<std::string, int> per_headline;
  for (const json& r : cms.received()) per_headline[r["ninjs"]["headlines"][0]["value"]]++;
  EXPECT_EQ(per_headline.size(), 21u);
  for (const auto& [headline, n] : per_headline) EXPECT_EQ(n, 1) << headline << " arrived " << n << " times";
}

}  // namespace
}  // namespace lantoa::testing
