// ReadyEvents and the delivery wire views: what the broker sends without
// parsing and re-encoding each envelope must be, byte for byte, what a
// subscriber parses as lantoa.v1.BrokerFrame with the event and its chain.
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/message_differencer.h>

#include "lantoa/event.h"
#include "delivery/ready_events.h"
#include "delivery/wire_views.pb.h"
#include "broker/stored_item.h"
#include "support/fixtures.h"

namespace lantoa::testing {
namespace {

using broker::ReadyEvents;
using google::protobuf::FieldDescriptor;
using google::protobuf::util::MessageDifferencer;

// The views must keep the field numbers, names and wire types of the
// messages they mirror (a message field and a bytes field share a wire type).
void expect_same_fields(const google::protobuf::Descriptor& view, const google::protobuf::Descriptor& wire) {
  ASSERT_EQ(view.field_count(), wire.field_count()) << view.full_name() << " vs " << wire.full_name();
  for (int i = 0; i < view.field_count(); ++i) {
    const FieldDescriptor* v = view.field(i);
    const FieldDescriptor* w = wire.FindFieldByNumber(v->number());
    ASSERT_NE(w, nullptr) << view.full_name() << " field " << v->number() << " is not in " << wire.full_name();
    EXPECT_EQ(v->name(), w->name());
    EXPECT_EQ(v->is_repeated(), w->is_repeated()) << v->full_name();
    const bool v_len = v->type() == FieldDescriptor::TYPE_BYTES || v->type() == FieldDescriptor::TYPE_MESSAGE;
    const bool w_len = w->type() == FieldDescriptor::TYPE_BYTES || w->type() == FieldDescriptor::TYPE_MESSAGE;
    if (v_len || w_len) {
      EXPECT_TRUE(v_len && w_len) << v->full_name();
    } else {
      EXPECT_EQ(v->type(), w->type()) << v->full_name();
    }
  }
}

TEST(WireViews, MirrorTheProtocolMessages) {
  expect_same_fields(*broker::views::DeliverView::descriptor(), *v1::Deliver::descriptor());
  expect_same_fields(*broker::views::DeliveriesFrameView::Deliveries::descriptor(), *v1::Deliveries::descriptor());
  const FieldDescriptor* body = v1::BrokerFrame::descriptor()->FindFieldByName("deliveries");
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(broker::views::DeliveriesFrameView::descriptor()->FindFieldByName("deliveries")->number(), body->number());
}

class ReadyEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = broker::Store::open(dir.path(), store::EnvOptions{});
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store = std::move(*s);
  }
  // Stores `e` as the verifier does: the envelope without its chain, the chain aside.
  uint64_t put(const v1::SignedEvent& e, int64_t expires_ms = 0) {
    broker::IngestItem item = stored_item(e, expires_ms);
    auto batch = store->begin();
    EXPECT_TRUE(batch.ok());
    auto r = batch->ingest(item, kT0 + 3'600'000);
    EXPECT_TRUE(r.ok() && r->status == v1::PublishResult::ACCEPTED) << r.status().to_string();
    EXPECT_TRUE(batch->commit().ok());
    return r->seq;
  }

  TempDir dir;
  std::unique_ptr<broker::Store> store;
  TrustTree tree;
  Member gov = tree.member("vn.gov");
};

TEST_F(ReadyEventsTest, EnvelopeWithChainAsTheSubscriberParsesIt) {
  const v1::SignedEvent original = signed_by(gov, sample_event("vn.gov", 1, "vn.gov.press"));
  ASSERT_GT(original.signer_chain().certificates_size(), 0);
  const uint64_t seq = put(original, kT0 + 7'200'000);
  auto txn = store::Txn::begin(store->env(), store::Access::kRead);
  ASSERT_TRUE(txn.ok());
  ReadyEvents events(*store, *txn);
  const broker::ReadyEvent* ready = events.get(seq);
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->expires_ms, kT0 + 7'200'000);
  v1::SignedEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(ready->bytes));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, original)) << parsed.DebugString();
  EXPECT_EQ(parsed.event(), original.event());  // the author's bytes, untouched
  // It verifies as delivered.
  EXPECT_TRUE(tree.store().verify_event(parsed).ok());
  // Read once per pass: the same entry again.
  EXPECT_EQ(events.get(seq), ready);
  // Gone: nothing.
  EXPECT_EQ(events.get(seq + 1000), nullptr);

  // A frame of views is a BrokerFrame with deliveries.
  broker::views::DeliveriesFrameView frame;
  for (uint64_t i = 0; i < 3; ++i) {
    auto* d = frame.mutable_deliveries()->add_items();
    d->set_subscription("portal-" + std::to_string(i));
    d->set_delivery_id(100 + i);
    d->set_broker_seq(seq);
    d->set_attempt(1 + static_cast<uint32_t>(i));
    d->set_event(ready->bytes);
  }
  v1::BrokerFrame wire;
  ASSERT_TRUE(wire.ParseFromString(frame.SerializeAsString()));
  ASSERT_TRUE(wire.has_deliveries());
  ASSERT_EQ(wire.deliveries().items_size(), 3);
  for (int i = 0; i < 3; ++i) {
    const auto& d = wire.deliveries().items(i);
    EXPECT_EQ(d.subscription(), "portal-" + std::to_string(i));
    EXPECT_EQ(d.delivery_id(), 100u + static_cast<uint64_t>(i));
    EXPECT_EQ(d.broker_seq(), seq);
    EXPECT_EQ(d.attempt(), 1u + static_cast<uint32_t>(i));
    EXPECT_TRUE(MessageDifferencer::Equals(d.event(), original));
  }
}

TEST_F(ReadyEventsTest, EveryEventOfAPassReadAgainIsTheSame) {
  std::vector<std::pair<uint64_t, v1::SignedEvent>> stored;
  for (uint64_t i = 1; i <= 20; ++i) {
    auto e = signed_by(gov, sample_event("vn.gov", i, "vn.gov.press"));
    stored.emplace_back(put(e), e);
  }
  auto txn = store::Txn::begin(store->env(), store::Access::kRead);
  ASSERT_TRUE(txn.ok());
  ReadyEvents events(*store, *txn);
  for (int round = 0; round < 2; ++round) {
    for (const auto& [seq, e] : stored) {
      const broker::ReadyEvent* ready = events.get(seq);
      ASSERT_NE(ready, nullptr);
      v1::SignedEvent parsed;
      ASSERT_TRUE(parsed.ParseFromString(ready->bytes));
      EXPECT_TRUE(MessageDifferencer::Equals(parsed, e)) << "seq " << seq;
    }
  }
}

}  // namespace
}  // namespace lantoa::testing
