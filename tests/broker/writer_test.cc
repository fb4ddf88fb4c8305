// The writer under storage faults, in process: a commit that fails (EIO, a
// full disk, a failed fsync) acknowledges nothing it held, says why, is
// logged and counted, and the writer carries on once the disk recovers; a
// group that fails is retried one operation at a time so that only what
// cannot be stored fails.
#include <gtest/gtest.h>
#include <poll.h>

#include <cerrno>
#include <deque>

#include "lantoa/access.h"
#include "lantoa/event.h"
#include "store/check.h"
#include "store/store.h"
#include "store/writer.h"
#include "support/fixtures.h"
#include "broker/stored_item.h"

namespace lantoa::testing {
namespace {

using broker::Completion;
using E = v1::Error;

// Fails the next `n` commits with `err`.
class FailCommits : public broker::StorageFaults {
 public:
  int before_commit() override {
    if (remaining == 0) return 0;
    --remaining;
    ++failed;
    return err;
  }
  int before_manifest_write() override { return manifest_err; }
  int remaining = 0;
  int err = EIO;
  int failed = 0;
  int manifest_err = 0;
};

class WriterFaults : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void TearDown() override { close(); }

  void open() {
    auto s = broker::Store::open(dir.path(), store::EnvOptions{});
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store = std::move(*s);
    store->set_faults(&faults);
    broker::WriterOptions options;
    options.housekeeping_ms = 50;
    writer = std::make_unique<broker::Writer>(*store, completions, metrics, options);
  }
  void close() {
    if (writer) writer->stop();
    writer.reset();
    store.reset();
  }

  broker::IngestItem item(uint64_t seq) {
    broker::IngestItem it = stored_item(signed_by(gov, sample_event("vn.gov", seq, "vn.gov.press")));
    it.index = static_cast<uint32_t>(seq);
    return it;
  }
  broker::PublishOp publish(uint64_t first, size_t n) {
    broker::PublishOp op;
    op.peer = "p";
    op.publish_id = next_publish_++;
    for (size_t i = 0; i < n; ++i) op.items.push_back(item(first + i));
    return op;
  }
  void submit(broker::WriterOp op) { writer->submit(ticket_++, std::move(op)); }

  // The next completion (waiting on the eventfd, as the I/O thread does).
  Completion next() {
    while (pending_.empty()) {
      pollfd p{completions.fd(), POLLIN, 0};
      if (::poll(&p, 1, 10'000) <= 0) {
        ADD_FAILURE() << "no completion within 10 s";
        return broker::AckDone{};
      }
      for (auto& c : completions.take_all()) pending_.push_back(std::move(c));
    }
    Completion c = std::move(pending_.front());
    pending_.pop_front();
    return c;
  }
  broker::PublishDone next_publish() {
    for (int i = 0; i < 100; ++i) {
      Completion c = next();
      if (auto* p = std::get_if<broker::PublishDone>(&c)) return std::move(*p);
    }
    ADD_FAILURE() << "no PublishDone";
    return {};
  }

  uint64_t stored_events() {
    auto txn = store::Txn::begin(store->env(), store::Access::kRead);
    EXPECT_TRUE(txn.ok());
    MDB_stat st{};
    mdb_stat(txn->raw(), store->dbs().events.handle, &st);
    return st.ms_entries;
  }

  TempDir dir;
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  FailCommits faults;
  broker::Completions completions;
  broker::Metrics metrics;
  std::unique_ptr<broker::Store> store;
  std::unique_ptr<broker::Writer> writer;
  uint64_t ticket_ = 1;
  uint64_t next_publish_ = 1;
  std::deque<Completion> pending_;
};

TEST_F(WriterFaults, AFailedCommitAcknowledgesNothingAndTheWriterRecovers) {
  faults.remaining = 1000;  // the disk fails for a while
  faults.err = EIO;
  submit(publish(1, 3));
  broker::PublishDone failed = next_publish();
  ASSERT_EQ(failed.results.results_size(), 3);
  for (const auto& r : failed.results.results()) {
    EXPECT_EQ(r.status(), v1::PublishResult::REJECTED);  // never ACCEPTED
    EXPECT_EQ(r.error().code(), E::STORAGE_ERROR);
    EXPECT_NE(r.error().message().find("Input/output error"), std::string::npos) << r.error().message();
    EXPECT_EQ(r.broker_seq(), 0u);
  }
  EXPECT_TRUE(failed.routed.empty());
  EXPECT_GE(metrics.storage_errors.load(), 1u);
  EXPECT_EQ(stored_events(), 0u);

  faults.remaining = 0;  // the disk is back: the same events are taken, numbered from 1
  submit(publish(1, 3));
  broker::PublishDone ok = next_publish();
  ASSERT_EQ(ok.results.results_size(), 3);
  for (const auto& r : ok.results.results()) EXPECT_EQ(r.status(), v1::PublishResult::ACCEPTED);
  EXPECT_EQ(ok.results.results(0).broker_seq(), 1u);
  EXPECT_EQ(stored_events(), 3u);
  close();
  auto report = broker::check_store(dir.path());
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_TRUE(report->clean()) << report->to_text();
}

TEST_F(WriterFaults, AGroupThatFailsIsRetriedOneByOne) {
  // Hold the writer back so that three publishes form one group, whose
  // commit fails once (ENOSPC); each is then tried alone and stored.
  faults.remaining = 1;
  faults.err = ENOSPC;
  broker::PublishOp a = publish(1, 2), b = publish(3, 2), c = publish(5, 2);
  writer->submit(2, std::move(b));
  writer->submit(3, std::move(c));
  writer->submit(1, std::move(a));  // ticket 1 last: all three are ready together
  ticket_ = 4;
  int accepted = 0;
  for (int i = 0; i < 3; ++i) {
    broker::PublishDone done = next_publish();
    for (const auto& r : done.results.results()) accepted += r.status() == v1::PublishResult::ACCEPTED;
  }
  EXPECT_EQ(faults.failed, 1);
  EXPECT_EQ(accepted, 6);
  EXPECT_EQ(stored_events(), 6u);
  EXPECT_EQ(metrics.storage_errors.load(), 0u);  // nothing failed in the end
}

TEST_F(WriterFaults, AFailedSubscribeOrAckChangesNothing) {
  v1::Subscribe req;
  req.set_name("press");
  req.add_filters("vn.gov.press");
  req.set_request_id(7);
  faults.remaining = 1;
  submit(broker::SubscribeOp{"p", "vn.qn", {}, req});
  Completion c = next();
  auto* done = std::get_if<broker::SubscribeDone>(&c);
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->status.code(), E::STORAGE_ERROR);
  EXPECT_EQ(done->request_id, 7u);
  EXPECT_TRUE(store->subscriptions().empty());

  submit(broker::SubscribeOp{"p", "vn.qn", {}, req});
  c = next();
  done = std::get_if<broker::SubscribeDone>(&c);
  ASSERT_NE(done, nullptr);
  ASSERT_TRUE(done->status.ok()) << done->status.to_string();
  const uint64_t sub = done->result.subscription.record.id();
  submit(publish(1, 2));
  broker::PublishDone published = next_publish();
  ASSERT_EQ(published.routed.size(), 2u);
  EXPECT_EQ(store->depths().at(sub), 2u);

  // An ack whose commit fails leaves the entries queued (they are delivered
  // again: at least once), and no AckDone says otherwise.
  faults.remaining = 1;
  submit(broker::AckOp{published.routed});
  submit(publish(3, 1));  // a marker: its answer comes after the ack's
  broker::PublishDone marker = next_publish();
  for (const auto& x : pending_) EXPECT_FALSE(std::holds_alternative<broker::AckDone>(x));
  EXPECT_EQ(store->depths().at(sub), 3u);
  EXPECT_GE(metrics.storage_errors.load(), 2u);
  (void)marker;

  submit(broker::AckOp{published.routed});  // acked again once the disk is back
  bool acked = false;
  for (int i = 0; i < 10 && !acked; ++i) {
    Completion x = next();
    acked = std::holds_alternative<broker::AckDone>(x);
  }
  EXPECT_TRUE(acked);
  EXPECT_EQ(store->depths().at(sub), 1u);
}

TEST_F(WriterFaults, NothingIsCommittedAboveWhatTheManifestReserved) {
  // The manifest cannot be written: broker sequences cannot be reserved, so
  // nothing is committed (a sequence handed out but not reserved could be
  // handed out again after a loss).
  faults.manifest_err = EIO;
  submit(publish(1, 2));
  broker::PublishDone refused = next_publish();
  ASSERT_EQ(refused.results.results_size(), 2);
  EXPECT_EQ(refused.results.results(0).status(), v1::PublishResult::REJECTED);
  EXPECT_NE(refused.results.results(0).error().message().find("cannot reserve broker sequences"), std::string::npos)
      << refused.results.results(0).error().message();
  EXPECT_EQ(stored_events(), 0u);

  faults.manifest_err = 0;
  submit(publish(1, 2));
  broker::PublishDone taken = next_publish();
  EXPECT_EQ(taken.results.results(1).status(), v1::PublishResult::ACCEPTED);
  auto manifest = broker::Manifest::load(dir.path());
  ASSERT_TRUE(manifest.ok() && manifest->has_value());
  EXPECT_GE((*manifest)->reserved_seq, 2u + broker::Manifest::kReserveBlock);

  // Within the reservation, commits need no manifest write: when the
  // periodic one fails it is counted, and the manifest lags (safely).
  faults.manifest_err = EIO;
  submit(publish(3, 2));
  EXPECT_EQ(next_publish().results.results(1).status(), v1::PublishResult::ACCEPTED);
  close();  // the write at stop fails too
  EXPECT_GE(metrics.storage_errors.load(), 2u);
  manifest = broker::Manifest::load(dir.path());
  ASSERT_TRUE(manifest.ok() && manifest->has_value());
  EXPECT_LT((*manifest)->highest_seq, 4u);
  faults.manifest_err = 0;
  open();  // the store holds more than the manifest says: fine, and it catches up
  close();
  manifest = broker::Manifest::load(dir.path());
  ASSERT_TRUE(manifest.ok() && manifest->has_value());
  EXPECT_EQ((*manifest)->highest_seq, 4u);
}

// Issue 14: a revocation or restriction went into force when verified, before
// the event carrying it was committed; a commit that then failed left it in
// force (and its file written) for an event that was refused. Now it goes
// into force only after the commit.
TEST_F(WriterFaults, ADeclarationGoesIntoForceOnlyOnceCommitted) {
  std::vector<std::string> in_force;
  writer->on_declaration([&](const broker::IngestItem& item) { in_force.push_back(item.record.id()); });
  auto with_declaration = [&](uint64_t seq) {
    broker::PublishOp op = publish(seq, 1);
    op.items[0].restriction = Restriction{"vn.gov.internal", {"vn.gov"}, "vn.gov"};
    return op;
  };
  faults.remaining = 1;
  submit(with_declaration(1));
  EXPECT_EQ(next_publish().results.results(0).status(), v1::PublishResult::REJECTED);
  EXPECT_TRUE(in_force.empty());
  submit(with_declaration(1));
  broker::PublishDone ok = next_publish();
  EXPECT_EQ(ok.results.results(0).status(), v1::PublishResult::ACCEPTED);
  ASSERT_EQ(in_force.size(), 1u);
  EXPECT_EQ(in_force[0], ok.results.results(0).event_id());
}

// Within the batch that stores a restriction, the events after it are
// already routed under it (the restriction is in force for routing at once,
// for everything else after the commit).
TEST_F(WriterFaults, ARestrictionGovernsTheRoutingOfWhatFollowsItInTheSameBatch) {
  close();
  auto s = broker::Store::open(dir.path(), store::EnvOptions{});
  ASSERT_TRUE(s.ok());
  {
    auto first = (*s)->begin();
    ASSERT_TRUE(first.ok());
    v1::Subscribe req;
    req.set_name("all");
    req.add_filters("vn.gov.>");
    ASSERT_TRUE(first->subscribe("vn.qn", {}, req, unix_now_ms(), {}).ok());
    ASSERT_TRUE(first->commit().ok());
  }
  auto batch = (*s)->begin();
  ASSERT_TRUE(batch.ok());
  broker::IngestItem declaration = item(1);
  declaration.restriction = Restriction{"vn.gov.internal", {"vn.gov"}, "vn.gov"};
  broker::IngestItem restricted = item(2);
  restricted.record.set_topic("vn.gov.internal.memo");
  broker::IngestItem open_item = item(3);
  auto r1 = batch->ingest(declaration, unix_now_ms());
  auto r2 = batch->ingest(restricted, unix_now_ms());
  auto r3 = batch->ingest(open_item, unix_now_ms());
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
  EXPECT_EQ(r2->status, v1::PublishResult::ACCEPTED);
  EXPECT_TRUE(r2->routed.empty());      // vn.qn may not read vn.gov.internal
  EXPECT_EQ(r3->routed.size(), 1u);     // vn.gov.press still reaches it
  ASSERT_TRUE(batch->commit().ok());
}

}  // namespace
}  // namespace lantoa::testing
