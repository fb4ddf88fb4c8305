// A store that cannot be lost or corrupted in silence (issue 14), through
// real broker processes: a store deleted, emptied, cut short, replaced or
// rolled back is refused with a clear reason (and adopted only when the
// operator says so, without handing out a broker sequence twice); damaged
// records are found by the start check and by `lantoa-broker check`; a
// backup taken while the broker runs restores.
#include <gtest/gtest.h>

#include <fstream>

#include "lantoa/internal/store.h"
#include "store/manifest.h"
#include "support/broker_process.h"
#include "support/client.h"

namespace lantoa::testing {
namespace {

namespace fs = std::filesystem;

class StoreIntegrity : public ::testing::Test {
 protected:
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");

  // Publishes `n` events from origin sequence `first`; returns the highest broker sequence.
  uint64_t publish(const BrokerProcess& broker, uint64_t first, size_t n) {
    Client c(broker.address(), gov);
    auto r = c.publish(make_events(gov, "vn.gov.press", first, n));
    EXPECT_EQ(r.results_size(), static_cast<int>(n));
    uint64_t highest = 0;
    for (const auto& x : r.results()) {
      EXPECT_EQ(x.status(), v1::PublishResult::ACCEPTED) << x.error().message();
      highest = std::max(highest, x.broker_seq());
    }
    return highest;
  }

  // Runs lantoa-broker on `data` as an operator would, where it is expected
  // to refuse; one that starts anyway is stopped after 20 s (exit 124).
  static CommandResult run_broker(const fs::path& data, const std::string& extra = {}) {
    return run_command("timeout -s INT 20 '" LANTOA_BROKER_BIN "' --data '" + data.string() +
                       "' --listen 'tcp://127.0.0.1:*' --monitor '' --open-admission " + extra + " 2>&1");
  }
  static CommandResult lantoa_broker(const std::string& args) {
    return run_command("'" LANTOA_BROKER_BIN "' " + args + " 2>&1");
  }
};

bool contains(const std::string& text, std::string_view what) { return text.find(what) != std::string::npos; }

TEST_F(StoreIntegrity, AStoreEmptiedOrDeletedIsRefusedThenAdoptedOnlyWhenTheOperatorSaysSo) {
  BrokerProcess broker(tree);
  broker.start();
  const uint64_t highest = publish(broker, 1, 30);
  ASSERT_EQ(broker.stop(), 0);

  fs::resize_file(broker.data() / "data.mdb", 0);  // truncated to zero bytes
  CommandResult emptied = run_broker(broker.data());
  EXPECT_EQ(emptied.code, 1) << emptied.out;
  EXPECT_TRUE(contains(emptied.out, "is missing or empty")) << emptied.out;
  EXPECT_TRUE(contains(emptied.out, "up to " + std::to_string(highest))) << emptied.out;

  fs::remove(broker.data() / "data.mdb");  // deleted
  CommandResult deleted = run_broker(broker.data());
  EXPECT_EQ(deleted.code, 1) << deleted.out;
  EXPECT_TRUE(contains(deleted.out, "is missing or empty")) << deleted.out;
  EXPECT_TRUE(contains(deleted.out, "--accept-store-change")) << deleted.out;

  // The operator accepts the loss: the broker starts, and its broker
  // sequences continue above any it may have handed out.
  auto manifest = broker::Manifest::load(broker.data());
  ASSERT_TRUE(manifest.ok() && manifest->has_value());
  const uint64_t reserved = (*manifest)->reserved_seq;
  EXPECT_GT(reserved, highest);
  TempDir logs;
  BrokerLauncher adopt(LANTOA_BROKER_BIN, broker.data(), logs / "adopt.log", {"--accept-store-change"});
  auto info = adopt.start();
  ASSERT_TRUE(info.ok()) << info.status().to_string() << read_text(logs / "adopt.log");
  {
    Client c(info->address, gov);
    auto r = c.publish_one(make_events(gov, "vn.gov.press", 31, 1)[0]);
    EXPECT_EQ(r.status(), v1::PublishResult::ACCEPTED);
    EXPECT_EQ(r.broker_seq(), reserved + 1);
  }
  EXPECT_EQ(adopt.stop(), 0);
  // From then on the adopted store is the folder's: no flag needed.
  broker.start();
  EXPECT_TRUE(broker.running());
}

TEST_F(StoreIntegrity, AStoreCutShortIsRefusedInsteadOfCrashing) {
  BrokerProcess broker(tree);
  broker.start();
  publish(broker, 1, 400);  // enough pages that half the file loses some
  ASSERT_EQ(broker.stop(), 0);
  const fs::path file = broker.data() / "data.mdb";
  fs::resize_file(file, fs::file_size(file) / 2);
  CommandResult r = run_broker(broker.data());
  EXPECT_EQ(r.code, 1) << r.out;  // not 135 (SIGBUS)
  EXPECT_TRUE(contains(r.out, "was cut short")) << r.out;
  CommandResult check = lantoa_broker("check --data '" + broker.data().string() + "'");
  EXPECT_EQ(check.code, 2) << check.out;
  EXPECT_TRUE(contains(check.out, "was cut short")) << check.out;
}

TEST_F(StoreIntegrity, AStoreReplacedByAnotherBrokersIsRefused) {
  BrokerProcess a(tree), b(tree);
  a.start();
  b.start();
  publish(a, 1, 5);
  publish(b, 1, 5);
  ASSERT_EQ(a.stop(), 0);
  ASSERT_EQ(b.stop(), 0);
  fs::copy_file(b.data() / "data.mdb", a.data() / "data.mdb", fs::copy_options::overwrite_existing);
  CommandResult r = run_broker(a.data());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "it was replaced")) << r.out;
}

TEST_F(StoreIntegrity, AnOnlineBackupRestoresAndARollbackNeedsTheOperatorsWord) {
  BrokerProcess broker(tree);
  broker.start();
  publish(broker, 1, 20);
  TempDir out;
  // Taken while the broker runs.
  CommandResult backup = lantoa_broker("backup --data '" + broker.data().string() + "' '" +
                                       (out / "b1").string() + "'");
  ASSERT_EQ(backup.code, 0) << backup.out;
  EXPECT_TRUE(contains(backup.out, "broker sequences up to 20")) << backup.out;
  EXPECT_TRUE(fs::exists(out / "b1" / "backup.json"));
  // A second backup into the same folder is refused rather than mixed in.
  CommandResult again = lantoa_broker("backup --data '" + broker.data().string() + "' '" +
                                      (out / "b1").string() + "'");
  EXPECT_EQ(again.code, 1) << again.out;
  EXPECT_TRUE(contains(again.out, "already holds a data.mdb")) << again.out;
  // The copy is a whole, clean store.
  CommandResult check_copy = lantoa_broker("check --data '" + (out / "b1").string() + "'");
  EXPECT_EQ(check_copy.code, 0) << check_copy.out;
  EXPECT_TRUE(contains(check_copy.out, "signatures verified: 20")) << check_copy.out;

  const uint64_t highest = publish(broker, 21, 20);
  ASSERT_EQ(broker.stop(), 0);
  fs::copy_file(out / "b1" / "data.mdb", broker.data() / "data.mdb", fs::copy_options::overwrite_existing);
  CommandResult rolled_back = run_broker(broker.data());
  EXPECT_EQ(rolled_back.code, 1) << rolled_back.out;
  EXPECT_TRUE(contains(rolled_back.out, "went back: it holds broker sequences up to 20, but had committed up to " +
                                            std::to_string(highest)))
      << rolled_back.out;

  auto manifest = broker::Manifest::load(broker.data());
  ASSERT_TRUE(manifest.ok() && manifest->has_value());
  const uint64_t reserved = (*manifest)->reserved_seq;
  TempDir logs;
  BrokerLauncher adopt(LANTOA_BROKER_BIN, broker.data(), logs / "adopt.log", {"--accept-store-change"});
  auto info = adopt.start();
  ASSERT_TRUE(info.ok()) << info.status().to_string() << read_text(logs / "adopt.log");
  {
    Client c(info->address, gov);
    // The restored store holds the first 20; the 20 after the backup are gone
    // and may be published again, under new broker sequences.
    EXPECT_EQ(c.welcome().last_sequence(), 20u);
    auto r = c.publish_one(make_events(gov, "vn.gov.press", 21, 1)[0]);
    EXPECT_EQ(r.status(), v1::PublishResult::ACCEPTED);
    EXPECT_EQ(r.broker_seq(), reserved + 1);
    EXPECT_GT(r.broker_seq(), highest);
  }
  EXPECT_EQ(adopt.stop(), 0);
  CommandResult check = lantoa_broker("check --data '" + broker.data().string() + "'");
  EXPECT_EQ(check.code, 0) << check.out;
}

// The manifest's committed mark lags the store by up to a second; what is
// acknowledged in that second must never be numbered again, even after a
// crash and the loss of the store.
TEST_F(StoreIntegrity, AfterACrashAndALossNoAcknowledgedSequenceIsHandedOutAgain) {
  BrokerProcess broker(tree);
  broker.start();
  uint64_t highest = publish(broker, 1, 5);
  highest = std::max(highest, publish(broker, 6, 5));
  broker.kill();  // at once: the manifest's highest_seq may not have caught up
  fs::remove(broker.data() / "data.mdb");
  TempDir logs;
  BrokerLauncher adopt(LANTOA_BROKER_BIN, broker.data(), logs / "adopt.log", {"--accept-store-change"});
  auto info = adopt.start();
  ASSERT_TRUE(info.ok()) << info.status().to_string() << read_text(logs / "adopt.log");
  Client c(info->address, gov);
  auto r = c.publish_one(make_events(gov, "vn.gov.press", 11, 1)[0]);
  EXPECT_EQ(r.status(), v1::PublishResult::ACCEPTED);
  EXPECT_GT(r.broker_seq(), highest);
  EXPECT_EQ(adopt.stop(), 0);
}

// Overwrites the first occurrence of `what` in `file` with `with` (same size).
bool overwrite_in_file(const fs::path& file, const std::string& what, const std::string& with) {
  std::string bytes = read_text(file);
  auto at = bytes.find(what);
  if (at == std::string::npos) return false;
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(with.data(), static_cast<std::streamsize>(with.size()));
  return static_cast<bool>(f);
}

TEST_F(StoreIntegrity, AlteredRecordsAreFoundByTheStartCheckAndByCheck) {
  BrokerProcess broker(tree);
  broker.start();
  publish(broker, 1, 10);
  ASSERT_EQ(broker.stop(), 0);
  CommandResult clean = lantoa_broker("check --data '" + broker.data().string() + "'");
  ASSERT_EQ(clean.code, 0) << clean.out;
  EXPECT_TRUE(contains(clean.out, "OK: no problem found")) << clean.out;
  EXPECT_TRUE(contains(clean.out, "signatures verified: 10")) << clean.out;

  // Someone edits a headline in place on disk: the bytes no longer hash to
  // the event's id.
  ASSERT_TRUE(overwrite_in_file(broker.data() / "data.mdb", "Tin số 7 trên", "Tin số 8 trên"));
  CommandResult check = lantoa_broker("check --data '" + broker.data().string() + "'");
  EXPECT_EQ(check.code, 1) << check.out;
  EXPECT_TRUE(contains(check.out, "is not the hash of its bytes (altered)")) << check.out;
  // The broker refuses to take the damaged store into service.
  CommandResult start = run_broker(broker.data());
  EXPECT_EQ(start.code, 1) << start.out;
  EXPECT_TRUE(contains(start.out, "is damaged")) << start.out;
}

TEST_F(StoreIntegrity, GarbageInTheMiddleOfTheFileIsRefusedNotTakenIntoService) {
  BrokerProcess broker(tree);
  broker.start();
  publish(broker, 1, 400);
  ASSERT_EQ(broker.stop(), 0);
  const fs::path file = broker.data() / "data.mdb";
  const auto size = fs::file_size(file);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    // The middle half of the file: a few pages might be free ones (LMDB
    // copies on write), half the file cannot be.
    f.seekp(static_cast<std::streamoff>(size / 4 / 4096 * 4096));
    std::string garbage(size / 2 / 4096 * 4096, '\xA5');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  CommandResult start = run_broker(broker.data());
  EXPECT_EQ(start.code, 1) << start.out;  // refused with a reason, not a crash, not a start
  EXPECT_TRUE(contains(start.out, "is damaged")) << start.out;
  CommandResult check = lantoa_broker("check --data '" + broker.data().string() + "'");
  EXPECT_NE(check.code, 0) << check.out;
}

// Index damage that no parse catches: a reference count off by one (an
// event that retention would then delete under a queue, or keep forever).
TEST_F(StoreIntegrity, CheckFindsAReferenceCountThatDisagreesWithTheQueues) {
  BrokerProcess broker(tree);
  broker.start();
  {
    Client sub(broker.address(), tree.member("vn.qn"));
    ASSERT_TRUE(sub.subscribe("press", {"vn.gov.press"}).ok());
  }
  publish(broker, 1, 3);
  ASSERT_EQ(broker.stop(), 0);
  {
    auto env = lantoa::store::Env::open(broker.data(), lantoa::store::EnvOptions{});
    ASSERT_TRUE(env.ok());
    auto refs = env->open_db("refs", false);
    ASSERT_TRUE(refs.ok());
    auto txn = lantoa::store::Txn::begin(*env, lantoa::store::Access::kWrite);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(txn->put(*refs, lantoa::store::be64(2), lantoa::store::be64(5)).ok());
    ASSERT_TRUE(txn->commit().ok());
  }
  CommandResult check = lantoa_broker("check --data '" + broker.data().string() + "'");
  EXPECT_EQ(check.code, 1) << check.out;
  EXPECT_TRUE(contains(check.out, "refs: broker sequence 2 counts 5 references, but 1 queue entries hold it"))
      << check.out;
  CommandResult start = run_broker(broker.data());
  EXPECT_EQ(start.code, 1) << start.out;
}

// The acks kept for the spread of events are read by the start check too:
// a record for an event the log does not hold, or of the wrong shape, is found.
TEST_F(StoreIntegrity, CheckReadsTheSpreadOfEvents) {
  BrokerProcess broker(tree);
  broker.start();
  {
    Client sub(broker.address(), tree.member("vn.qn"));
    ASSERT_TRUE(sub.subscribe("press", {"vn.gov.press"}, {}, 10).ok());
    publish(broker, 1, 2);
    auto got = sub.collect(2);
    ASSERT_EQ(got.size(), 2u);
    sub.ack(got);
    ASSERT_TRUE(eventually([&] { return broker.stats()["delivery"]["acks"] == 2; }));
  }
  ASSERT_EQ(broker.stop(), 0);
  CommandResult clean = lantoa_broker("check --data '" + broker.data().string() + "'");
  ASSERT_EQ(clean.code, 0) << clean.out;
  {
    auto env = lantoa::store::Env::open(broker.data(), lantoa::store::EnvOptions{});
    ASSERT_TRUE(env.ok());
    auto spread = env->open_db("spread", false);
    ASSERT_TRUE(spread.ok()) << "acks were not recorded";
    auto txn = lantoa::store::Txn::begin(*env, lantoa::store::Access::kWrite);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(txn->put(*spread, lantoa::store::be64(99) + lantoa::store::be64(1), lantoa::store::be64(1)).ok());
    ASSERT_TRUE(txn->put(*spread, "short", "x").ok());
    ASSERT_TRUE(txn->commit().ok());
  }
  CommandResult check = lantoa_broker("check --data '" + broker.data().string() + "'");
  EXPECT_EQ(check.code, 1) << check.out;
  EXPECT_TRUE(contains(check.out, "spread: an ack of broker sequence 99, which is not in events")) << check.out;
  EXPECT_TRUE(contains(check.out, "spread: a record of 5 + 1 bytes, not 16 + 8")) << check.out;
  CommandResult start = run_broker(broker.data());
  EXPECT_EQ(start.code, 1) << start.out;
}

}  // namespace
}  // namespace lantoa::testing
