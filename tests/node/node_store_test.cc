// NodeStore on a real LMDB folder.
#include "state/node_store.h"

#include <gtest/gtest.h>

#include "lantoa/encoding.h"
#include "support/fixtures.h"

namespace lantoa::node {
namespace {

using lantoa::testing::TempDir;
using nlohmann::json;

// Keys chosen by others (a feed's guid, a CMS's item uri) may be longer than
// LMDB's 511-byte key limit: they are hashed, consistently.
TEST(NodeStore, KeysLongerThanLmdbAllowsAreHashedConsistently) {
  TempDir dir;
  auto store = NodeStore::open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  const std::string guid = "item\nportal\nhttps://portal.example/tin?id=" + std::string(2000, 'x');
  ASSERT_TRUE((*store)->set_feed_state(guid, {{"event_id", "ab"}, {"digest", "cd"}}).ok());
  auto back = (*store)->feed_state(guid);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)["digest"], "cd");
  auto other = (*store)->feed_state(guid + "y");  // a different long key is a different entry
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty());
  const std::string uri = "https://cms.example/" + std::string(3000, 'u');
  ASSERT_TRUE((*store)->record_queued(std::string(32, '\x07'), v1::Event(), uri).ok());
  EXPECT_EQ((*store)->latest_for_item(uri).value(), std::string(32, '\x07'));
  ASSERT_TRUE((*store)->set_cursor(std::string(600, 'c'), 9).ok());
  EXPECT_EQ((*store)->cursor(std::string(600, 'c')).value(), 9u);
  // Short keys are stored as they are (what earlier versions wrote stays readable).
  EXPECT_EQ(NodeStore::key_for("item\nportal\nguid-1"), "item\nportal\nguid-1");
  EXPECT_EQ(NodeStore::key_for(std::string(511, 'k')), std::string(511, 'k'));
  EXPECT_NE(NodeStore::key_for(std::string(512, 'k')), NodeStore::key_for(std::string(513, 'k')));
  EXPECT_LE(NodeStore::key_for(std::string(100000, 'k')).size(), 511u);
}

ReceivedEvent received(const std::string& origin, char id, v1::Kind kind = v1::NEWS, char refers_to = 0) {
  ReceivedEvent r;
  r.verified.id = std::string(32, id);
  r.verified.event = lantoa::testing::sample_event(origin, static_cast<uint64_t>(id));
  r.verified.event.set_kind(kind);
  if (refers_to) r.verified.event.set_refers_to(std::string(32, refers_to));
  r.verified.signer.certificate.set_member(origin);
  r.broker_seq = static_cast<uint64_t>(id);
  r.subscription = "inbound";
  return r;
}

// Issue 13, item 4: only the origin of an item may correct or retract it.
TEST(NodeStore, AnotherOriginCannotCorrectOrRetractAnItem) {
  TempDir dir;
  auto store = NodeStore::open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  NodeStore& s = **store;
  auto release = s.add_received(received("vn.gov", 1));
  ASSERT_TRUE(release.ok() && release->seq);
  for (auto [id, kind] : {std::pair{'\x02', v1::RETRACTION}, {'\x03', v1::CORRECTION}}) {
    auto hostile = s.add_received(received("vn.qn.halong", id, kind, '\x01'));
    ASSERT_TRUE(hostile.ok()) << hostile.status().to_string();
    EXPECT_FALSE(hostile->seq) << "the hostile event went into the inbox";
    const std::string& why = hostile->refused;
    EXPECT_NE(why.find("vn.qn.halong may not"), std::string::npos) << why;
    EXPECT_NE(why.find("of vn.gov"), std::string::npos) << why;
    EXPECT_NE(why.find(to_hex(std::string(32, '\x01'))), std::string::npos) << why;
    EXPECT_NE(why.find(to_hex(std::string(32, id))), std::string::npos) << why;
  }
  auto again = s.add_received(received("vn.qn.halong", '\x02', v1::RETRACTION, '\x01'));  // redelivered
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->seq);
  EXPECT_TRUE(again->refused.empty()) << "reported twice";
  EXPECT_EQ(s.refused_count().value(), 2u);
  auto inbox = s.inbox_after(0, 10);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ((*inbox)[0].record["inbox"]["state"], "current");
  EXPECT_FALSE((*inbox)[0].record["inbox"].contains("superseded_by"));
  // The origin itself still can.
  auto own = s.add_received(received("vn.gov", '\x04', v1::RETRACTION, '\x01'));
  ASSERT_TRUE(own.ok());
  EXPECT_TRUE(own->seq);
  EXPECT_TRUE(own->refused.empty());
  inbox = s.inbox_after(0, 10);
  ASSERT_EQ(inbox->size(), 2u);
  EXPECT_EQ((*inbox)[0].record["inbox"]["state"], "withdrawn");
  // What /metrics reads: LMDB's own counts, in one read transaction.
  auto figures = s.figures();
  ASSERT_TRUE(figures.ok()) << figures.status().to_string();
  EXPECT_EQ(figures->inbox_entries, 2u);
  EXPECT_EQ(figures->refused, 2u);
  EXPECT_GT(figures->inbox_bytes, 0u);
  EXPECT_GE(figures->used_bytes, figures->inbox_bytes);
  EXPECT_EQ(figures->map_bytes, uint64_t{4} << 30);
}

// Records stored by a node version without the sanitiser are sanitised when
// read (webhooks, pull, Atom and spool all read through inbox_after/newest).
TEST(NodeStore, RecordsStoredBeforeTheSanitiserAreSanitisedWhenRead) {
  TempDir dir;
  {
    store::EnvOptions o;
    o.map_size = size_t{64} << 20;
    auto env = store::Env::open(dir.path(), o);
    ASSERT_TRUE(env.ok()) << env.status().to_string();
    auto inbox = env->open_db("inbox");
    ASSERT_TRUE(inbox.ok());
    auto txn = store::Txn::begin(*env, store::Access::kWrite);
    ASSERT_TRUE(txn.ok());
    json old = {{"lantoa", {{"event_id", std::string(64, 'a')}, {"origin", "vn.hn"}, {"kind", "news"}}},
                {"ninjs", {{"bodies", {{{"value", "<p>Tin cũ</p><script>alert(1)</script>"}, {"contentType", "text/html"}}}},
                           {"associations", {{{"uri", "javascript://%0Aalert(2)"}}}}}},
                {"inbox", {{"seq", 1}, {"state", "current"}, {"acked", false}}}};
    ASSERT_TRUE(txn->put(*inbox, store::be64(1), old.dump()).ok());
    ASSERT_TRUE(txn->commit().ok());
  }
  auto store = NodeStore::open(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  for (int pass = 0; pass < 2; ++pass) {  // also after a reopen: the boundary is stored
    auto entries = (*store)->inbox_after(0, 10);
    ASSERT_TRUE(entries.ok());
    ASSERT_EQ(entries->size(), 1u);
    const json& ninjs = (*entries)[0].record["ninjs"];
    EXPECT_EQ(ninjs["bodies"][0]["value"], "<p>Tin cũ</p>");
    EXPECT_FALSE(ninjs.contains("associations")) << ninjs.dump();
    auto newest = (*store)->inbox_newest(10, {});
    ASSERT_TRUE(newest.ok());
    EXPECT_EQ((*newest)[0].record["ninjs"]["bodies"][0]["value"], "<p>Tin cũ</p>");
    store->reset();  // closes the environment before it is opened again
    store = NodeStore::open(dir.path());
    ASSERT_TRUE(store.ok());
  }
}

}  // namespace
}  // namespace lantoa::node

namespace lantoa::node {
namespace {

// A delivery target's position: the base and the topics beyond it, written
// together; topics at or below the base are not kept; an old cursor (base
// only) reads as a base without lanes.
TEST(NodeStore, ATargetsProgressIsItsBaseAndTheTopicsBeyondIt) {
  lantoa::testing::TempDir dir;
  {
    auto store = NodeStore::open(dir.path());
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    ASSERT_TRUE((*store)->set_cursor("webhook:old", 12).ok());
    auto old = (*store)->progress("webhook:old");
    ASSERT_TRUE(old.ok());
    EXPECT_EQ(old->base, 12u);
    EXPECT_TRUE(old->lanes.empty());
    TargetProgress p;
    p.base = 4;
    p.lanes = {{"vn.gov.notice", 9}, {"vn.gov.press", 3}, {"vn.bqp.notice", 7}};
    ASSERT_TRUE((*store)->set_progress("webhook:cms", p).ok());
  }
  auto store = NodeStore::open(dir.path());  // across a restart
  ASSERT_TRUE(store.ok());
  auto p = (*store)->progress("webhook:cms");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->base, 4u);
  EXPECT_EQ(p->lanes, (std::map<std::string, uint64_t>{{"vn.bqp.notice", 7}, {"vn.gov.notice", 9}}));
  ASSERT_TRUE((*store)->set_progress("webhook:cms", TargetProgress{9, {{"vn.gov.notice", 9}}}).ok());
  p = (*store)->progress("webhook:cms");
  EXPECT_EQ(p->base, 9u);
  EXPECT_TRUE(p->lanes.empty());
  EXPECT_EQ(*(*store)->cursor("webhook:cms"), 9u);  // the base is the cursor older versions read
}

}  // namespace
}  // namespace lantoa::node
