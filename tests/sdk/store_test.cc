#include "lantoa/internal/store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/fixtures.h"

namespace lantoa::store {
namespace {

using testing::TempDir;

TEST(Store, PutGetEraseAndPersistAcrossReopen) {
  TempDir dir;
  {
    auto env = Env::open(dir.path());
    ASSERT_OK(env);
    auto db = env->open_db("events");
    ASSERT_OK(db);
    auto txn = Txn::begin(*env, Access::kWrite);
    ASSERT_OK(txn);
    ASSERT_TRUE(txn->put(*db, "id-1", "Thủ tướng").ok());
    ASSERT_TRUE(txn->put(*db, "id-2", "two").ok());
    EXPECT_EQ(txn->insert(*db, "id-1", "again").code(), v1::Error::ALREADY_EXISTS);
    auto erased = txn->erase(*db, "id-2");
    ASSERT_OK(erased);
    EXPECT_TRUE(*erased);
    EXPECT_FALSE(*txn->erase(*db, "nope"));
    ASSERT_TRUE(txn->commit().ok());
    EXPECT_FALSE(txn->active());
  }
  auto env = Env::open(dir.path());
  ASSERT_OK(env);
  auto db = env->open_db("events", /*create=*/false);
  ASSERT_OK(db);
  auto txn = Txn::begin(*env, Access::kRead);
  auto v = txn->get(*db, "id-1");
  ASSERT_OK(v);
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ(**v, "Thủ tướng");
  EXPECT_FALSE(txn->get(*db, "id-2")->has_value());
}

TEST(Store, AbortedTransactionsLeaveNoTrace) {
  TempDir dir;
  auto env = Env::open(dir.path());
  auto db = env->open_db("q");
  {
    auto txn = Txn::begin(*env, Access::kWrite);
    ASSERT_TRUE(txn->put(*db, "k", "v").ok());
    // destroyed without commit
  }
  auto txn = Txn::begin(*env, Access::kRead);
  EXPECT_FALSE(txn->get(*db, "k")->has_value());
}

TEST(Store, MissingDatabaseIsNotFound) {
  TempDir dir;
  auto env = Env::open(dir.path());
  EXPECT_CODE(env->open_db("absent", /*create=*/false), v1::Error::NOT_FOUND);
}

TEST(Store, CursorWalksBigEndianKeysInNumericOrder) {
  TempDir dir;
  auto env = Env::open(dir.path());
  auto db = env->open_db("log");
  auto txn = Txn::begin(*env, Access::kWrite);
  for (uint64_t seq : {300u, 2u, 70000u, 1u, 256u}) ASSERT_TRUE(txn->put(*db, be64(seq), std::to_string(seq)).ok());
  ASSERT_TRUE(txn->commit().ok());

  auto read = Txn::begin(*env, Access::kRead);
  auto cursor = Cursor::open(*read, *db);
  ASSERT_OK(cursor);
  std::vector<uint64_t> seen;
  for (auto e = cursor->first(); e.ok() && e->has_value(); e = cursor->next()) seen.push_back(read_be64((*e)->first));
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 256, 300, 70000}));

  auto at = cursor->seek(be64(257));
  ASSERT_TRUE(at.ok() && at->has_value());
  EXPECT_EQ((*at)->second, "300");
  auto back = cursor->prev();
  EXPECT_EQ((*back)->second, "256");
  EXPECT_EQ((*cursor->last())->second, "70000");
  EXPECT_FALSE(cursor->next()->has_value());
  EXPECT_FALSE(cursor->seek(be64(70001))->has_value());
}

TEST(Store, CursorErasesInWriteTransactions) {
  TempDir dir;
  auto env = Env::open(dir.path());
  auto db = env->open_db("q");
  auto txn = Txn::begin(*env, Access::kWrite);
  for (uint64_t i = 1; i <= 5; ++i) ASSERT_TRUE(txn->put(*db, be64(i), "x").ok());
  {
    auto cursor = Cursor::open(*txn, *db);
    ASSERT_TRUE(cursor->seek(be64(3))->has_value());
    ASSERT_TRUE(cursor->erase_current().ok());
  }
  ASSERT_TRUE(txn->commit().ok());
  auto read = Txn::begin(*env, Access::kRead);
  EXPECT_FALSE(read->get(*db, be64(3))->has_value());
  EXPECT_TRUE(read->get(*db, be64(4))->has_value());
}

TEST(Store, MapFullIsStorageFullAndEarlierDataSurvives) {
  TempDir dir;
  EnvOptions tiny;
  tiny.map_size = 256 * 1024;  // 64 pages
  auto env = Env::open(dir.path(), tiny);
  ASSERT_OK(env);
  auto db = env->open_db("events");
  ASSERT_OK(db);

  const std::string value(2000, 'v');
  uint64_t stored = 0;
  Status failure;
  for (uint64_t i = 1; i < 10'000 && failure.ok(); ++i) {
    auto txn = Txn::begin(*env, Access::kWrite);
    ASSERT_OK(txn);
    failure = txn->put(*db, be64(i), value);
    if (failure.ok()) failure = txn->commit();
    if (failure.ok()) stored = i;
  }
  ASSERT_EQ(failure.code(), v1::Error::STORAGE_FULL) << failure.to_string();
  EXPECT_NE(failure.message().find("storage full"), std::string::npos);
  EXPECT_GT(stored, 10u);

  // Everything committed before is still readable, and the environment is
  // still usable: deleting frees room for a new write.
  auto read = Txn::begin(*env, Access::kRead);
  for (uint64_t i = 1; i <= stored; ++i) {
    auto v = read->get(*db, be64(i));
    ASSERT_TRUE(v.ok() && v->has_value()) << i;
    EXPECT_EQ(**v, value);
  }
  read->abort();
  auto txn = Txn::begin(*env, Access::kWrite);
  for (uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(txn->erase(*db, be64(i)).ok());
  ASSERT_TRUE(txn->commit().ok());
  auto again = Txn::begin(*env, Access::kWrite);
  ASSERT_TRUE(again->put(*db, be64(1), "small").ok());
  EXPECT_TRUE(again->commit().ok());
}

TEST(Store, ErrorsAreMappedWithContext) {
  EXPECT_EQ(from_mdb(MDB_MAP_FULL, "x").code(), v1::Error::STORAGE_FULL);
  EXPECT_EQ(from_mdb(MDB_CORRUPTED, "reading").code(), v1::Error::STORAGE_ERROR);
  EXPECT_NE(from_mdb(MDB_CORRUPTED, "reading").message().find("reading"), std::string::npos);
  EXPECT_TRUE(from_mdb(0, "x").ok());

  TempDir dir;
  std::ofstream(dir / "file") << "not a folder";
  EXPECT_FALSE(Env::open(dir / "file").ok());

  auto env = Env::open(dir / "db");
  auto db = env->open_db("d");
  auto read = Txn::begin(*env, Access::kRead);
  Status s = read->put(*db, "k", "v");
  EXPECT_EQ(s.code(), v1::Error::STORAGE_ERROR) << s.to_string();
  read->abort();
  EXPECT_EQ(read->commit().code(), v1::Error::INTERNAL);
}

TEST(Store, Be64RoundTrips) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{0x0102030405060708}, ~uint64_t{0}}) {
    EXPECT_EQ(read_be64(be64(v)), v);
  }
  EXPECT_LT(be64(255), be64(256));
}

}  // namespace
}  // namespace lantoa::store
