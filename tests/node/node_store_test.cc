// NodeStore on a real LMDB folder.
#include "state/node_store.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace lantoa::node
