// Up with review, and answers back (node/review/review_desk.h): real broker
// and node processes on 127.0.0.1. A ministry proposes two items to the
// Government portal; its editor endorses one and rejects the other; the
// provinces get the endorsed item once, both signatures verified, with its
// provenance; the ministry's CMS gets the reasons; nobody else reads
// proposals or answers; a portal without the editor role cannot decide.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/names.h"
#include "support/broker_process.h"
#include "support/client.h"
#include "support/fixtures.h"
#include "support/node_process.h"

namespace lantoa::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

ApiAnswer call(const NodeProcess& node, const std::string& method, const std::string& path, const json& body = {}) {
  return api_call(*node.client(), method, path, body.is_null() ? "" : body.dump());
}

const json kProposalA = {{"headline", "Bộ LĐTBXH hướng dẫn chi trả trợ cấp thất nghiệp trực tuyến"},
                         {"summary", "Người lao động có thể nộp hồ sơ qua Cổng Dịch vụ công quốc gia."},
                         {"body", "Từ ngày 1/12, hồ sơ hưởng trợ cấp thất nghiệp được tiếp nhận trực tuyến."},
                         {"urgency", 4}};
const json kProposalB = {{"headline", "Thông báo lịch tiếp công dân tháng 12"}, {"urgency", 6}};

class Review : public ::testing::Test {
 protected:
  void SetUp() override { broker.start(); }
  TrustTree tree = TrustTree::live();
  Member gov = tree.certify("vn.gov", {v1::PUBLISHER, v1::SUBSCRIBER, v1::EDITOR});
  Member ministry = tree.member("vn.ldtbxh");
  Member qn = tree.member("vn.qn");
  Member hn = tree.member("vn.hn");
  Member other_editor = tree.certify("vn.vpcp", {v1::PUBLISHER, v1::SUBSCRIBER, v1::EDITOR});
  BrokerProcess broker{tree};
};

std::vector<json> of_kind(const std::vector<json>& records, const std::string& kind) {
  std::vector<json> out;
  for (const json& r : records) {
    if (r["lantoa"].value("kind", "") == kind) out.push_back(r);
  }
  return out;
}

TEST_F(Review, AMinistryProposesTheEditorEndorsesOneAndRejectsOneAndTheAnswersComeBack) {
  WebhookReceiver ministry_cms, qn_cms, hn_cms;
  NodeProcess gov_node(tree, gov, broker.address(), "[review]\nendorse_topic = \"vn.gov.press\"\n");
  NodeProcess ministry_node(tree, ministry, broker.address(), webhook_toml(ministry_cms));
  NodeProcess qn_node(tree, qn, broker.address(), subscription_toml() + webhook_toml(qn_cms));
  NodeProcess hn_node(tree, hn, broker.address(), subscription_toml() + webhook_toml(hn_cms));
  for (NodeProcess* n : {&gov_node, &ministry_node, &qn_node, &hn_node}) n->start();
  // A member that tries to read what is not addressed to it.
  Client snoop(broker.address(), hn);
  auto refused = snoop.subscribe("peek", {"vn.gov.$inbox.vn.ldtbxh"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), v1::Error::PERMISSION_DENIED) << refused.status().to_string();
  v1::StartPosition earliest;
  earliest.set_earliest(true);
  ASSERT_OK(snoop.subscribe("wide", {">", "vn.gov.$inbox.>", "vn.ldtbxh.$inbox.>"}, earliest));

  // Propose: the node's API, in Lantoa's form; a proposal goes nowhere else.
  ApiAnswer a = call(ministry_node, "POST", "/v1/proposals?reviewer=vn.gov", kProposalA);
  ASSERT_EQ(a.status, 202) << a.body.dump();
  const std::string id_a = a.body["id"];
  json b_doc = kProposalB;
  b_doc["reviewer"] = "vn.gov";
  ApiAnswer b = call(ministry_node, "POST", "/v1/proposals", b_doc);
  ASSERT_EQ(b.status, 202) << b.body.dump();
  const std::string id_b = b.body["id"];
  EXPECT_EQ(call(ministry_node, "POST", "/v1/proposals?reviewer=vn.gov", json{{"headline", "x"}, {"topic", "vn.ldtbxh.news"}})
                .status,
            400);

  // The review queue at the Government portal.
  json queue;
  ASSERT_TRUE(eventually([&] {
    queue = call(gov_node, "GET", "/v1/review?state=pending").body;
    return queue["proposals"].size() == 2;
  }, 20s)) << queue.dump() << read_text(gov_node.log());
  for (const json& p : queue["proposals"]) {
    EXPECT_EQ(p["proposer"], "vn.ldtbxh");
    EXPECT_EQ(p["state"], "pending");
    EXPECT_TRUE(p.contains("age_seconds"));
    EXPECT_EQ(p["urgency"], p["id"] == id_a ? 4 : 6);
  }
  EXPECT_EQ(call(gov_node, "GET", "/v1/review?state=bogus").status, 400);
  json page = call(gov_node, "GET", "/v1/review?limit=1&offset=1").body;
  EXPECT_EQ(page["total"], 2);
  ASSERT_EQ(page["proposals"].size(), 1u);
  EXPECT_EQ(page["proposals"][0]["id"], queue["proposals"][1]["id"]);
  EXPECT_EQ(call(gov_node, "GET", "/v1/review?limit=x").status, 400);

  // Show (the proposer is told it was seen), then decide.
  ApiAnswer shown = call(gov_node, "GET", "/v1/review/" + id_a);
  ASSERT_EQ(shown.status, 200) << shown.body.dump();
  EXPECT_EQ(shown.body["event"]["lantoa"]["signature"], "verified");
  EXPECT_EQ(shown.body["event"]["ninjs"]["headlines"][0]["value"], kProposalA["headline"]);
  ApiAnswer endorsed = call(gov_node, "POST", "/v1/review/" + id_a + "/endorse", json{{"text", "Đăng trang chủ"}});
  ASSERT_EQ(endorsed.status, 200) << endorsed.body.dump() << read_text(gov_node.log());
  const std::string endorsement_id = endorsed.body["endorsement"]["id"];
  EXPECT_EQ(endorsed.body["endorsement"]["topic"], "vn.gov.press");
  EXPECT_EQ(call(gov_node, "POST", "/v1/review/" + id_a + "/endorse", json::object()).status, 409);
  EXPECT_EQ(call(gov_node, "POST", "/v1/review/" + id_b + "/reject", json{{"reason", "rejected"}}).status, 400);
  const std::string reason = "Nội dung thuộc thẩm quyền địa phương, không đăng trên Cổng Chính phủ";
  ApiAnswer rejected =
      call(gov_node, "POST", "/v1/review/" + id_b + "/reject", json{{"reason", "rejected"}, {"text", reason}});
  ASSERT_EQ(rejected.status, 200) << rejected.body.dump();

  // Every province receives the endorsed item once, both signatures
  // verified, with its provenance, in the webhook and the Atom feed.
  for (WebhookReceiver* cms : {&qn_cms, &hn_cms}) {
    auto got = cms->wait_for(1, 20s);
    ASSERT_EQ(got.size(), 1u) << read_text(qn_node.log());
    const json& r = got[0];
    EXPECT_EQ(r["lantoa"]["event_id"], endorsement_id);
    EXPECT_EQ(r["lantoa"]["kind"], "endorsement");
    EXPECT_EQ(r["lantoa"]["signer"], "vn.gov");
    EXPECT_EQ(r["lantoa"]["signature"], "verified");
    EXPECT_EQ(r["lantoa"]["provenance"], "endorsed by vn.gov, written by vn.ldtbxh");
    EXPECT_EQ(r["lantoa"]["endorsement"]["original"]["event_id"], id_a);
    EXPECT_EQ(r["lantoa"]["endorsement"]["original"]["signature"], "verified");
    EXPECT_EQ(r["lantoa"]["endorsement"]["original"]["origin"], "vn.ldtbxh");
    EXPECT_EQ(r["ninjs"]["headlines"][0]["value"], kProposalA["headline"]);
    EXPECT_EQ(r["ninjs"]["bodies"][0]["value"], kProposalA["body"]);
    bool author = false, endorser = false;
    for (const json& s : r["ninjs"]["infoSources"]) {
      author = author || (s["literal"] == "vn.ldtbxh" && s["role"] == "author");
      endorser = endorser || (s["literal"] == "vn.gov" && s["role"] == "endorser");
    }
    EXPECT_TRUE(author && endorser) << r["ninjs"].dump();
  }
  auto feed = qn_node.client()->Get("/v1/feed.atom");
  ASSERT_TRUE(feed);
  EXPECT_NE(feed->body.find("provenance=\"endorsed by vn.gov, written by vn.ldtbxh\""), std::string::npos) << feed->body;

  // The ministry's CMS: seen and accepted for A, the reason for B.
  auto answers = ministry_cms.wait_for(3, 20s);
  ASSERT_EQ(answers.size(), 3u) << read_text(ministry_node.log());
  std::map<std::string, json> by_code;
  for (const json& r : answers) {
    EXPECT_EQ(r["lantoa"]["kind"], "reply");
    EXPECT_EQ(r["lantoa"]["signer"], "vn.gov");
    EXPECT_EQ(r["lantoa"]["signature"], "verified");
    by_code[r["lantoa"]["reply_code"]] = r;
  }
  ASSERT_TRUE(by_code.count("rejected") && by_code.count("accepted") && by_code.count("seen")) << json(answers).dump();
  EXPECT_EQ(by_code["rejected"]["lantoa"]["refers_to"], id_b);
  EXPECT_EQ(by_code["rejected"]["ninjs"]["bodies"][0]["value"], reason);
  EXPECT_EQ(by_code["accepted"]["lantoa"]["refers_to"], id_a);
  // ...and the history at both ends.
  json mine = call(ministry_node, "GET", "/v1/events/" + id_b).body;
  EXPECT_EQ(mine["review"]["reviewer"], "vn.gov");
  EXPECT_EQ(mine["review"]["state"], "rejected");
  ASSERT_EQ(mine["replies"].size(), 1u);
  EXPECT_EQ(mine["replies"][0]["text"], reason);
  EXPECT_EQ(call(ministry_node, "GET", "/v1/events/" + id_a).body["review"]["state"], "endorsed");
  json history = call(gov_node, "GET", "/v1/review/" + id_a).body["history"];
  std::vector<std::string> actions;
  for (const json& h : history) actions.push_back(h["action"]);
  EXPECT_EQ(actions, (std::vector<std::string>{"proposed", "seen", "endorsed"}));

  // A correction by the author follows the endorsement to its receivers.
  ApiAnswer fix = call(ministry_node, "POST", "/v1/events",
                       json{{"kind", "correction"}, {"refers_to", id_a},
                            {"headline", "Bộ LĐTBXH hướng dẫn chi trả trợ cấp thất nghiệp trực tuyến (cập nhật)"}});
  ASSERT_EQ(fix.status, 202) << fix.body.dump();
  auto two = qn_cms.wait_for(2, 20s);
  ASSERT_EQ(two.size(), 2u) << read_text(gov_node.log());
  EXPECT_EQ(two[1]["lantoa"]["kind"], "endorsement");
  EXPECT_EQ(two[1]["lantoa"]["version"], 2);
  EXPECT_EQ(two[1]["lantoa"]["item_id"], two[0]["lantoa"]["item_id"]);
  EXPECT_EQ(two[1]["lantoa"]["endorsement"]["original"]["kind"], "correction");
  EXPECT_EQ(two[1]["ninjs"]["headlines"][0]["value"],
            "Bộ LĐTBXH hướng dẫn chi trả trợ cấp thất nghiệp trực tuyến (cập nhật)");

  // A province answers the item it received: only vn.gov gets it.
  ApiAnswer feedback = call(qn_node, "POST", "/v1/inbox/" + endorsement_id + "/reply",
                            json{{"text", "Đề nghị bổ sung số điện thoại hỗ trợ"}});
  ASSERT_EQ(feedback.status, 202) << feedback.body.dump();
  EXPECT_EQ(feedback.body["to"], "vn.gov");
  json replies;
  ASSERT_TRUE(eventually([&] {
    replies = call(gov_node, "GET", "/v1/events/" + endorsement_id).body["replies"];
    return replies.size() == 1;
  }, 20s)) << replies.dump();
  EXPECT_EQ(replies[0]["code"], "feedback");
  EXPECT_EQ(replies[0]["from"], "vn.qn");

  // Another editor's "decision" on the ministry's proposal is only an answer
  // from vn.vpcp: it changes nothing in the proposal's review.
  {
    Client vpcp(broker.address(), other_editor);
    auto forged = EventBuilder("vn.vpcp", 1, inbox_topic("vn.ldtbxh", "vn.vpcp")).kind(v1::REPLY)
                      .reply_code(v1::REJECTED).refers_to(*from_hex(id_a)).headline("Rejected").body("giả mạo").build();
    ASSERT_OK(forged);
    EXPECT_EQ(vpcp.publish_one(*sign_event(*forged, other_editor.key.sign)).status(), v1::PublishResult::ACCEPTED);
    json a_rec;
    ASSERT_TRUE(eventually([&] {
      a_rec = call(ministry_node, "GET", "/v1/events/" + id_a).body;
      return a_rec["replies"].size() == 3;  // seen, accepted, vn.vpcp's
    }, 20s)) << a_rec.dump();
    EXPECT_EQ(a_rec["review"]["state"], "endorsed");
    for (const json& h : a_rec["review"]["history"]) EXPECT_NE(h["by"], "vn.vpcp");
  }

  // A retraction by the author withdraws the endorsed item at every receiver.
  ApiAnswer withdraw = call(ministry_node, "POST", "/v1/events", json{{"kind", "retraction"}, {"refers_to", id_a}});
  ASSERT_EQ(withdraw.status, 202) << withdraw.body.dump();
  auto three = qn_cms.wait_for(3, 20s);
  ASSERT_EQ(three.size(), 3u) << read_text(gov_node.log());
  EXPECT_EQ(three[2]["lantoa"]["version"], 3);
  EXPECT_EQ(three[2]["lantoa"]["item_id"], two[0]["lantoa"]["item_id"]);
  EXPECT_EQ(three[2]["lantoa"]["endorsement"]["original"]["kind"], "retraction");
  EXPECT_EQ(three[2]["ninjs"]["pubStatus"], "canceled");
  auto feed_after = qn_node.client()->Get("/v1/feed.atom");
  ASSERT_TRUE(feed_after);
  EXPECT_EQ(feed_after->body.find("endorsed by vn.gov"), std::string::npos) << feed_after->body;
  json final_state = call(gov_node, "GET", "/v1/review/" + id_a).body;
  EXPECT_EQ(final_state["state"], "withdrawn");
  EXPECT_EQ(final_state["endorsements"].size(), 3u);

  // Nobody but the two ends read proposals and answers: the snoop saw the
  // endorsements on vn.gov.press and nothing of any inbox.
  std::this_thread::sleep_for(500ms);
  for (const auto& d : snoop.drain(2s)) {
    auto decoded = decode_event(d.event());
    ASSERT_OK(decoded);
    EXPECT_FALSE(inbox_address(decoded->event.topic())) << decoded->event.topic();
  }
  // Nor do other portals' inboxes hold them.
  EXPECT_EQ(of_kind(hn_cms.received(), "reply").size(), 0u);
  EXPECT_EQ(of_kind(qn_cms.received(), "news").size(), 0u);
}

TEST_F(Review, APortalWithoutTheEditorRoleCannotDecide) {
  NodeProcess qn_node(tree, qn, broker.address(), "[review]\nendorse_topic = \"vn.qn.news\"\n");
  NodeProcess ministry_node(tree, ministry, broker.address(), "");
  qn_node.start();
  ministry_node.start();
  ApiAnswer a = call(ministry_node, "POST", "/v1/proposals?reviewer=vn.qn", kProposalB);
  ASSERT_EQ(a.status, 202) << a.body.dump();
  const std::string id = a.body["id"];
  ASSERT_TRUE(eventually([&] { return call(qn_node, "GET", "/v1/review").body["proposals"].size() == 1; }, 20s))
      << read_text(qn_node.log());
  ApiAnswer endorse = call(qn_node, "POST", "/v1/review/" + id + "/endorse", json::object());
  EXPECT_EQ(endorse.status, 403);
  EXPECT_EQ(endorse.body["error"]["code"], "ROLE_MISSING") << endorse.body.dump();
  ApiAnswer reject = call(qn_node, "POST", "/v1/review/" + id + "/reject", json{{"text", "không"}});
  EXPECT_EQ(reject.status, 403);
  EXPECT_EQ(call(qn_node, "GET", "/v1/review/" + id).body["state"], "pending");
  // Unknown ids and malformed ones.
  EXPECT_EQ(call(qn_node, "GET", "/v1/review/" + std::string(64, '0')).status, 404);
  EXPECT_EQ(call(qn_node, "GET", "/v1/review/abc").status, 400);
}

#ifdef LANTOA_CLI_BIN
// The CLI drives the same queue through the node's API.
TEST_F(Review, TheCommandLineListsShowsEndorsesAndRejects) {
  NodeProcess gov_node(tree, gov, broker.address(), "[review]\nendorse_topic = \"vn.gov.press\"\n");
  NodeProcess ministry_node(tree, ministry, broker.address(), "");
  gov_node.start();
  ministry_node.start();
  TempDir dir;
  const auto token = dir.path() / "api.token";
  const auto ministry_token = dir.path() / "ministry.token";
  for (auto [file, text] : {std::pair{token, gov_node.token()}, {ministry_token, ministry_node.token()},
                            {dir.path() / "item.json", kProposalA.dump()}}) {
    std::ofstream(file) << text;
    std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  auto cli = [&](const std::string& node_url, const std::filesystem::path& token_file, const std::string& args) {
    return run_command("'" LANTOA_CLI_BIN "' review " + args + " --node " + node_url + " --token-file '" +
                       token_file.string() + "' 2>&1");
  };
  auto proposed = cli(ministry_node.api_url(), ministry_token,
                      "propose --reviewer vn.gov '" + (dir.path() / "item.json").string() + "'");
  ASSERT_EQ(proposed.code, 0) << proposed.out;
  const std::string id = proposed.out.substr(proposed.out.find(": ") + 2, 64);
  auto second = cli(ministry_node.api_url(), ministry_token,
                    "propose --reviewer vn.gov '" + (dir.path() / "item.json").string() + "'");
  ASSERT_EQ(second.code, 0) << second.out;
  const std::string other = second.out.substr(second.out.find(": ") + 2, 64);
  CommandResult listed;
  ASSERT_TRUE(eventually([&] {
    listed = cli(gov_node.api_url(), token, "list --state pending");
    return listed.out.find(id) != std::string::npos && listed.out.find(other) != std::string::npos;
  }, 20s)) << listed.out;
  EXPECT_NE(listed.out.find("vn.ldtbxh"), std::string::npos);
  auto shown = cli(gov_node.api_url(), token, "show " + id);
  ASSERT_EQ(shown.code, 0) << shown.out;
  EXPECT_NE(shown.out.find(kProposalA["headline"].get<std::string>()), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("seen by vn.gov"), std::string::npos) << shown.out;
  auto endorsed = cli(gov_node.api_url(), token, "endorse " + id + " --urgency 3");
  ASSERT_EQ(endorsed.code, 0) << endorsed.out;
  EXPECT_NE(endorsed.out.find("on vn.gov.press"), std::string::npos) << endorsed.out;
  // The editor's CMS may withdraw its endorsement like any item of its own.
  const std::string endorsement = endorsed.out.substr(endorsed.out.find(" as event ") + 10, 64);
  ApiAnswer withdrawn = call(gov_node, "POST", "/v1/events", json{{"kind", "retraction"}, {"refers_to", endorsement}});
  ASSERT_EQ(withdrawn.status, 202) << withdrawn.body.dump();
  json retraction = call(gov_node, "GET", "/v1/events/" + withdrawn.body["id"].get<std::string>()).body;
  EXPECT_EQ(retraction["topic"], "vn.gov.press");
  EXPECT_EQ(retraction["event"]["refers_to"], endorsement);
  auto rejected = cli(gov_node.api_url(), token, "reject " + other + " --changes --text 'Bổ sung nguồn'");
  ASSERT_EQ(rejected.code, 0) << rejected.out;
  EXPECT_NE(rejected.out.find("changes_requested"), std::string::npos) << rejected.out;
  auto again = cli(gov_node.api_url(), token, "endorse " + id);
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.out.find("ALREADY_EXISTS"), std::string::npos) << again.out;
  auto wrong_token = cli(gov_node.api_url(), ministry_token, "list");
  EXPECT_EQ(wrong_token.code, 1);
}
#endif

}  // namespace
}  // namespace lantoa::testing
