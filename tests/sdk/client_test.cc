// The SDK client against a real broker: Publisher (confirmations, reconnect,
// outbox, sequences) and Subscriber (verification, nack, inbox, revocations),
// plus a hostile broker stand-in that alters events in transit.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "lantoa/names.h"
#include "lantoa/publisher.h"
#include "lantoa/subscriber.h"
#include "support/broker_process.h"
#include "support/client.h"

namespace lantoa::testing {
namespace {

using E = v1::Error;
using std::chrono::milliseconds;

v1::Event news(const std::string& headline, const std::string& topic = "vn.gov.press") {
  return *EventBuilder("vn.gov", 1, topic).headline(headline).body("Nội dung chi tiết.").build();
}

// A loopback port nothing listens on (it was free a moment ago).
int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  (void)::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  (void)::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

MemberKey copy_key(const MemberKey& k) {
  return MemberKey{k.member, *SigningKey::from_seed(k.sign.seed()), *TransportKey::from_secret(k.transport.secret())};
}

class SdkClient : public ::testing::Test {
 protected:
  void SetUp() override { broker.start(); }

  std::unique_ptr<Publisher> publisher(PublisherOptions o = {}) {
    o.broker = broker.address();
    auto p = Publisher::start(copy_key(gov.key), gov.chain, std::move(o));
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    return p.ok() ? std::move(*p) : nullptr;
  }
  std::unique_ptr<Subscriber> subscriber(SubscriberOptions o) {
    o.broker = broker.address();
    if (o.name.empty()) o.name = "press";
    if (o.filters.empty()) o.filters = {"vn.gov.press"};
    auto s = Subscriber::open(copy_key(qn.key), qn.chain, tree.root(), std::move(o));
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::vector<std::string> take(Subscriber& s, size_t n, milliseconds timeout = milliseconds(5000)) {
    std::vector<std::string> got;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (got.size() < n && std::chrono::steady_clock::now() < until) {
      auto r = s.poll([&](const ReceivedEvent& e) {
                        got.push_back(e.verified.event.headline());
                        return Status::Ok();
                      },
                      milliseconds(100),
                      n - got.size());
      EXPECT_TRUE(r.ok()) << r.status().to_string();
    }
    return got;
  }

  // vn.qn revokes vn.qn.halong's key on the bus; waits (up to 5 s) until `sub` applied it.
  void revoke_halong(Subscriber& sub) {
    v1::Revocation rev;
    rev.set_member("vn.qn.halong");
    rev.set_key_id(halong.key.sign.id());
    rev.set_revoked_ms(unix_now_ms());
    auto list = issue_revocation_list("vn.qn", qn.key.sign, 1, unix_now_ms(), {rev}, qn.chain);
    auto e = EventBuilder("vn.qn", 1, std::string(kRevocationTopic)).headline("Thu hồi").body(revocations_to_text(*list)).build();
    Client authority(broker.address(), qn);
    ASSERT_EQ(authority.publish_one(*sign_event(*e, qn.key.sign)).status(), v1::PublishResult::ACCEPTED);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (sub.stats().revocations == 0 && std::chrono::steady_clock::now() < until) {
      ASSERT_OK(sub.poll([](const ReceivedEvent&) { return Status::Ok(); }, milliseconds(100)));
    }
  }

  TempDir dir;
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member qn = tree.certify("vn.qn", {v1::AUTHORITY, v1::PUBLISHER, v1::SUBSCRIBER});
  Member halong = tree.certify("vn.qn.halong", {v1::PUBLISHER}, &qn);
  BrokerProcess broker{tree, {"--heartbeat-ms", "500"}};
};

TEST_F(SdkClient, PublisherConfirmsAndSubscriberVerifies) {
  auto sub = subscriber({});
  auto pub = publisher();
  std::vector<std::future<PublishOutcome>> futures;
  for (int i = 0; i < 20; ++i) {
    auto f = pub->publish(news("Thông cáo số " + std::to_string(i)));
    ASSERT_OK(f);
    EXPECT_EQ(f->event_id.size(), 32u);
    futures.push_back(std::move(f->outcome));
  }
  std::set<uint64_t> seqs;
  for (auto& f : futures) {
    auto outcome = f.get();
    EXPECT_EQ(outcome.status, v1::PublishResult::ACCEPTED) << outcome.error.to_string();
    EXPECT_GT(outcome.broker_seq, 0u);
    seqs.insert(outcome.sequence);
  }
  EXPECT_EQ(seqs.size(), 20u);
  EXPECT_EQ(pub->last_sequence(), 20u);
  auto got = take(*sub, 20);
  ASSERT_EQ(got.size(), 20u);
  EXPECT_EQ(got[0], "Thông cáo số 0");
  EXPECT_EQ(sub->stats().rejected, 0u);
  // Invalid events are refused before anything is sent.
  v1::Event bad = news("x");
  bad.set_urgency(0);
  EXPECT_CODE(pub->publish(bad), E::URGENCY_OUT_OF_RANGE);
}

TEST_F(SdkClient, AHandlerThatFailsGetsTheEventAgain) {
  auto sub = subscriber({});
  auto pub = publisher();
  ASSERT_TRUE(pub->publish(news("Một lần lỗi"))->outcome.get().ok());
  int calls = 0;
  uint32_t last_attempt = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (sub->stats().handled == 0 && std::chrono::steady_clock::now() < until) {
    ASSERT_OK(sub->poll(
        [&](const ReceivedEvent& e) {
          last_attempt = e.attempt;
          ++calls;
          if (calls == 1) return Status(E::UNAVAILABLE, "CMS busy");  // returns an error: nacked
          if (calls == 2) throw std::runtime_error("CMS crashed");    // throws: nacked too
          return Status::Ok();
        },
        milliseconds(100)));
  }
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(last_attempt, 3u);
  EXPECT_EQ(sub->stats().failed, 2u);
  EXPECT_EQ(sub->stats().handled, 1u);
}

TEST_F(SdkClient, ReconnectsAfterABrokerRestartWithoutLossOrDuplicates) {
  broker.pin_endpoint();
  SubscriberOptions so;
  so.inbox = dir / "inbox";
  auto sub = subscriber(so);
  auto pub = publisher();
  std::vector<std::future<PublishOutcome>> futures;
  for (int i = 0; i < 10; ++i) futures.push_back(std::move(pub->publish(news("Trước " + std::to_string(i)))->outcome));
  ASSERT_OK(pub->flush(milliseconds(5000)));
  auto before = take(*sub, 5);  // the subscriber is midway
  ASSERT_EQ(broker.stop(), 0) << read_text(broker.log());
  // Both notice that the broker went away, and say why.
  EXPECT_TRUE(eventually([&] {
    (void)sub->poll(
        [&](const ReceivedEvent& e) {
          before.push_back(e.verified.event.headline());
          return Status::Ok();
        },
        milliseconds(100));
    return !sub->connected() && !pub->connected();
  }));
  EXPECT_FALSE(sub->down_reason().empty());
  for (int i = 0; i < 10; ++i) futures.push_back(std::move(pub->publish(news("Trong lúc " + std::to_string(i)))->outcome));
  broker.start();
  ASSERT_OK(pub->flush(milliseconds(20000)));
  for (auto& f : futures) EXPECT_TRUE(f.get().ok());
  auto after = take(*sub, 20 - before.size(), milliseconds(20000));
  std::set<std::string> all(before.begin(), before.end());
  all.insert(after.begin(), after.end());
  EXPECT_EQ(all.size(), 20u);
  EXPECT_EQ(before.size() + after.size(), 20u) << "the handler saw an event twice";
  EXPECT_GE(sub->stats().reconnects, 1u);
}

// A connection that fails says why: nothing listening, or a broker key
// that is not that broker's (issue 18: both used to read "cannot reach").
TEST_F(SdkClient, AFailedConnectionSaysWhy) {
  ConnectOptions co;
  co.timeout = milliseconds(1500);
  BrokerAddress wrong_key = broker.address();
  wrong_key.transport_key = TransportKey::generate().public_key();
  auto mismatch = Connection::open(wrong_key, qn.key, qn.chain, co);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_CODE(mismatch, E::UNAVAILABLE);
  EXPECT_NE(mismatch.status().message().find("not that broker's"), std::string::npos) << mismatch.status().to_string();

  BrokerAddress nobody = broker.address();
  nobody.endpoint = "tcp://127.0.0.1:" + std::to_string(unused_port());
  auto unreachable = Connection::open(nobody, qn.key, qn.chain, co);
  ASSERT_FALSE(unreachable.ok());
  EXPECT_CODE(unreachable, E::UNAVAILABLE);
  EXPECT_NE(unreachable.status().message().find("nothing accepted a connection"), std::string::npos)
      << unreachable.status().to_string();

  // The publisher reports the same reason while it waits for the broker.
  PublisherOptions o;
  o.broker = wrong_key;
  o.outbox = dir / "outbox";
  o.connect_timeout = milliseconds(1500);
  o.close_timeout = milliseconds(100);
  auto pub = Publisher::start(copy_key(gov.key), gov.chain, o);
  ASSERT_OK(pub);
  EXPECT_TRUE(eventually([&] { return !(*pub)->down_reason().empty(); }));
  EXPECT_FALSE((*pub)->connected());
  EXPECT_NE((*pub)->down_reason().find("not that broker's"), std::string::npos) << (*pub)->down_reason();
}

TEST_F(SdkClient, TheOutboxDeliversOnceTheBrokerIsBack) {
  broker.pin_endpoint();
  ASSERT_EQ(broker.stop(), 0);
  PublisherOptions o;
  o.outbox = dir / "outbox";
  o.close_timeout = milliseconds(200);
  o.connect_timeout = milliseconds(500);
  {
    auto pub = publisher(o);  // the broker is down: starts offline
    ASSERT_TRUE(pub);
    for (int i = 0; i < 5; ++i) ASSERT_OK(pub->publish(news("Lưu rồi gửi " + std::to_string(i))));
    EXPECT_EQ(pub->unconfirmed(), 5u);
  }  // the program ends; the events stay on disk
  broker.start();
  std::atomic<int> restored_ok{0};
  o.on_outcome = [&](const PublishOutcome& r) { restored_ok += r.ok(); };
  auto pub = publisher(o);
  ASSERT_OK(pub->flush(milliseconds(10000)));
  EXPECT_EQ(restored_ok, 5);
  SubscriberOptions so;
  so.start.set_earliest(true);
  auto sub = subscriber(so);
  EXPECT_EQ(take(*sub, 5).size(), 5u);
}

// An idempotency key makes publish() safe to repeat, across a restart of the
// program; the same key for another request is refused.
TEST_F(SdkClient, AnIdempotencyKeyPublishesOnceAcrossRestarts) {
  PublisherOptions o;
  o.outbox = dir / "outbox";
  std::string first_id;
  uint64_t first_seq = 0;
  {
    auto pub = publisher(o);
    ASSERT_TRUE(pub);
    auto a = pub->publish(news("Một lần thôi"), {"article-7", "v1"});
    ASSERT_OK(a);
    EXPECT_FALSE(a->repeated);
    first_id = a->event_id;
    first_seq = a->sequence;
    EXPECT_TRUE(a->outcome.get().ok());
    auto again = pub->publish(news("Một lần thôi"), {"article-7", "v1"});
    ASSERT_OK(again);
    EXPECT_TRUE(again->repeated);
    EXPECT_FALSE(again->outcome.valid());
    EXPECT_EQ(again->event_id, first_id);
    EXPECT_EQ(pub->last_sequence(), first_seq);  // nothing new was signed into the sequence
  }
  auto pub = publisher(o);  // the program restarted
  auto after = pub->publish(news("Một lần thôi"), {"article-7", "v1"});
  ASSERT_OK(after);
  EXPECT_TRUE(after->repeated);
  EXPECT_EQ(after->event_id, first_id);
  EXPECT_EQ(after->sequence, first_seq);
  auto found = pub->published_with({"article-7", "v1"});
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->event_id, first_id);
  EXPECT_CODE(pub->publish(news("Khác"), {"article-7", "v2"}), v1::Error::ALREADY_EXISTS);
  EXPECT_CODE(pub->publish(news("x"), {"", ""}), v1::Error::INVALID_ARGUMENT);
  SubscriberOptions so;
  so.start.set_earliest(true);
  auto sub = subscriber(so);
  EXPECT_EQ(take(*sub, 2, milliseconds(1500)).size(), 1u);  // one event, not three
  auto memory_only = publisher();
  EXPECT_CODE(memory_only->publish(news("x"), {"k", ""}), v1::Error::INVALID_ARGUMENT);
}

// Publishing from several threads while outcomes stream back, with an outbox
// and a callback that does its own work (a regression test: the publisher
// thread once held the outbox's write lock while waiting for the lock that
// publish() holds while it waits for the outbox).
TEST_F(SdkClient, ConcurrentPublishersWithAnOutboxDoNotDeadlock) {
  PublisherOptions o;
  o.outbox = dir / "outbox";
  std::atomic<int> outcomes{0};
  o.on_outcome = [&](const PublishOutcome& r) {
    EXPECT_TRUE(r.ok()) << r.error.to_string();
    EXPECT_EQ(r.event_id.size(), 32u);
    ++outcomes;
  };
  auto pub = publisher(o);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        auto r = pub->publish(news("Luồng " + std::to_string(t) + " tin " + std::to_string(i)));
        EXPECT_TRUE(r.ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_OK(pub->flush(milliseconds(30000)));
  EXPECT_EQ(outcomes, 600);
}

TEST_F(SdkClient, TheInboxHandsOverEachEventOnceAcrossRestarts) {
  auto pub = publisher();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pub->publish(news("Một lần thôi " + std::to_string(i)))->outcome.get().ok());
  SubscriberOptions so;
  so.inbox = dir / "inbox";
  so.start.set_earliest(true);
  so.name = "first";
  {
    auto sub = subscriber(so);
    EXPECT_EQ(take(*sub, 3).size(), 3u);
  }  // the program stops
  // After the restart the same events come again (here: a new subscription
  // replaying from the start); the inbox recognises them.
  so.name = "second";
  auto sub = subscriber(so);
  std::vector<std::string> again = take(*sub, 1, milliseconds(1500));
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(sub->stats().duplicates, 3u);
}

TEST_F(SdkClient, SequencesContinueAfterAReinstall) {
  {
    auto first = publisher();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(first->publish(news("A"))->outcome.get().ok());
  }
  auto reinstalled = publisher();  // no local state at all
  EXPECT_EQ(reinstalled->last_sequence(), 3u);
  auto r = reinstalled->publish(news("B"))->outcome.get();
  EXPECT_TRUE(r.ok()) << r.error.to_string();
  EXPECT_EQ(r.sequence, 4u);
}

TEST_F(SdkClient, TheSubscriberFollowsRevocations) {
  auto sub = subscriber({});
  revoke_halong(*sub);
  EXPECT_EQ(sub->stats().revocations, 1u);
  EXPECT_TRUE(sub->trust().is_revoked("vn.qn.halong", halong.key.sign.id(), unix_now_ms()));
}

// Issue 13, item 6: what a subscriber learned about revocations is kept in
// its inbox and holds after a restart, even before it hears the bus again.
TEST_F(SdkClient, RevocationsSurviveARestartOfTheSubscriber) {
  SubscriberOptions so;
  so.inbox = dir / "inbox";
  so.name = "keeps";
  {
    auto sub = subscriber(so);
    revoke_halong(*sub);
    ASSERT_EQ(sub->stats().revocations, 1u);
  }  // the portal's program stops
  so.follow_revocations = false;  // so it cannot learn the revocation from the bus again
  auto sub = subscriber(so);
  EXPECT_TRUE(sub->trust().is_revoked("vn.qn.halong", halong.key.sign.id(), unix_now_ms()));
  auto later = EventBuilder("vn.qn.halong", 9, "vn.qn.halong.news").headline("Giả mạo").build();
  EXPECT_CODE(sub->trust().verify_event(*sign_event(*later, halong.key.sign), halong.chain), E::CERT_REVOKED);
}

// Issue 13, item 18: events refused with RATE_LIMITED are sent again at the
// advised time, by the publisher itself: nothing lost, order kept.
TEST(RateLimitedPublisher, NothingIsLostAndOrderIsKept) {
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member qn = tree.member("vn.qn");
  BrokerProcess broker(tree, {"--rate-events", "100", "--rate-burst", "50"});
  broker.start();
  Client sub(broker.address(), qn);
  ASSERT_OK(sub.subscribe("press", {"vn.gov.press"}, {}, /*credit=*/1000));
  PublisherOptions o;
  o.broker = broker.address();
  o.max_batch = 20;
  auto pub = Publisher::start(copy_key(gov.key), gov.chain, o);
  ASSERT_OK(pub);
  constexpr int kEvents = 250;  // 2.5 s of the limit, five times the burst
  std::vector<std::future<PublishOutcome>> outcomes;
  for (int i = 0; i < kEvents; ++i) {
    auto p = (*pub)->publish(news("Tin " + std::to_string(i)));
    ASSERT_OK(p);
    outcomes.push_back(std::move(p->outcome));
  }
  ASSERT_OK((*pub)->flush(milliseconds(20000)));
  int accepted = 0;
  for (auto& f : outcomes) {
    PublishOutcome r = f.get();
    accepted += r.ok();
    EXPECT_TRUE(r.ok()) << r.error.to_string();
  }
  EXPECT_EQ(accepted, kEvents);
  std::vector<v1::Deliver> got = sub.collect(kEvents, milliseconds(20000));
  ASSERT_EQ(got.size(), static_cast<size_t>(kEvents));
  uint64_t last = 0;
  for (const auto& d : got) {
    v1::Event e;
    ASSERT_TRUE(e.ParseFromString(d.event().event()));
    EXPECT_GT(e.sequence(), last) << "delivered out of order";
    last = e.sequence();
  }
}

// Issue 13, item 14: OVERLOADED is passing too; the publisher sends again.
TEST(OverloadedBroker, ThePublisherLosesNothing) {
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  TempDir conf;
  BrokerProcess broker(tree, config_file_args(conf, "[limits]\nverify_queue_kb = 1\nrate_events_per_s = 0\n"));
  broker.start();
  PublisherOptions o;
  o.broker = broker.address();
  std::atomic<int> ok{0}, refused{0};
  o.on_outcome = [&](const PublishOutcome& r) { r.ok() ? ++ok : ++refused; };
  auto pub = Publisher::start(copy_key(gov.key), gov.chain, o);
  ASSERT_OK(pub);
  for (int i = 0; i < 1000; ++i) ASSERT_OK((*pub)->publish(news("Tin " + std::to_string(i))));
  ASSERT_OK((*pub)->flush(milliseconds(30000)));
  EXPECT_EQ(ok, 1000);
  EXPECT_EQ(refused, 0);
}

// A broker stand-in on 127.0.0.1 that speaks the real protocol over
// CurveZMQ: it welcomes every Hello (as `member`) and answers every other
// frame with what `answer` returns (nothing: no answer). The tests below use
// it to play a compromised broker and a refusing one.
class StandInBroker {
 public:
  using Answer = std::function<std::vector<v1::BrokerFrame>(const v1::ClientFrame&)>;
  StandInBroker(std::string member, Answer answer) : member_(std::move(member)), answer_(std::move(answer)) {
    const std::string secret = key_.secret();
    router_.set(zmq::sockopt::curve_server, 1);
    router_.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(secret.data(), 32));
    router_.set(zmq::sockopt::rcvtimeo, 100);
    router_.bind("tcp://127.0.0.1:*");
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
    thread_ = std::thread([this] { run(); });
  }
  ~StandInBroker() {
    done_ = true;
    thread_.join();
  }
  BrokerAddress address() const { return {endpoint_, key_.public_key()}; }

 private:
  void run() {
    while (!done_) {
      zmq::message_t id, body;
      if (!router_.recv(id)) continue;
      (void)router_.recv(body);
      v1::ClientFrame in;
      in.ParseFromArray(body.data(), static_cast<int>(body.size()));
      std::vector<v1::BrokerFrame> out;
      if (in.has_hello()) {
        v1::BrokerFrame welcome;
        welcome.mutable_welcome()->set_protocol_version(1);
        welcome.mutable_welcome()->set_member(member_);
        welcome.mutable_welcome()->set_heartbeat_ms(60000);
        out.push_back(std::move(welcome));
      } else {
        out = answer_(in);
      }
      const std::string peer = id.to_string();  // sending a message_t empties it
      for (const v1::BrokerFrame& frame : out) {
        const std::string bytes = frame.SerializeAsString();
        router_.send(zmq::buffer(peer), zmq::send_flags::sndmore);
        router_.send(zmq::buffer(bytes));
      }
    }
  }

  std::string member_;
  Answer answer_;
  zmq::context_t ctx_;
  zmq::socket_t router_{ctx_, zmq::socket_type::router};
  TransportKey key_ = TransportKey::generate();
  std::string endpoint_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// A compromised broker: it answers Subscribe and, on the subscription
// "press", delivers exactly the deliveries it was given; it records the Ack
// and Nack frames it receives.
class HostileBroker {
 public:
  explicit HostileBroker(std::vector<v1::Deliver> press) : press_(std::move(press)) {}
  BrokerAddress address() const { return broker_.address(); }
  // The Ack and Nack frames received so far.
  std::vector<v1::ClientFrame> answers() const {
    std::lock_guard lock(mu_);
    return answers_;
  }

 private:
  std::vector<v1::BrokerFrame> answer(const v1::ClientFrame& in) {
    std::vector<v1::BrokerFrame> out;
    if (in.has_subscribe()) {
      v1::BrokerFrame subscribed;
      subscribed.mutable_subscribed()->set_request_id(in.subscribe().request_id());
      subscribed.mutable_subscribed()->set_name(in.subscribe().name());
      out.push_back(std::move(subscribed));
      if (in.subscribe().name() == "press") {
        v1::BrokerFrame d;
        for (const auto& item : press_) *d.mutable_deliveries()->add_items() = item;
        out.push_back(std::move(d));
      }
    } else if (in.has_ack() || in.has_nack()) {
      std::lock_guard lock(mu_);
      answers_.push_back(in);
    }
    return out;
  }

  std::vector<v1::Deliver> press_;
  mutable std::mutex mu_;
  std::vector<v1::ClientFrame> answers_;
  StandInBroker broker_{"vn.qn", [this](const v1::ClientFrame& in) { return answer(in); }};  // last: it calls answer()
};

// Deliveries of `events` (chains attached) on "press", ids from 1.
std::vector<v1::Deliver> press(const std::vector<v1::SignedEvent>& events) {
  std::vector<v1::Deliver> out;
  for (const auto& e : events) {
    v1::Deliver d;
    d.set_subscription("press");
    d.set_delivery_id(out.size() + 1);
    d.set_broker_seq(out.size() + 1);
    *d.mutable_event() = e;
    out.push_back(std::move(d));
  }
  return out;
}

v1::SignedEvent with_chain(v1::SignedEvent e, const Member& m) {
  *e.mutable_signer_chain() = m.chain;
  return e;
}

// What a subscriber (vn.qn) behind a hostile broker hands over and refuses.
struct Outcome {
  std::vector<std::string> handled;  // headlines
  std::vector<Status> rejected;
  SubscriberStats stats;
};

Outcome receive_from(const HostileBroker& broker, const TrustTree& tree, const Member& qn, size_t expected) {
  SubscriberOptions o;
  o.broker = broker.address();
  o.name = "press";
  o.filters = {"vn.gov.press"};
  Outcome out;
  o.on_rejected = [&](const Status& why, const RejectedDelivery&) { out.rejected.push_back(why); };
  auto sub = Subscriber::open(MemberKey{qn.key.member, *SigningKey::from_seed(qn.key.sign.seed()),
                                        *TransportKey::from_secret(qn.key.transport.secret())},
                              qn.chain, tree.root(), o);
  EXPECT_TRUE(sub.ok()) << sub.status().to_string();
  if (!sub.ok()) return out;
  auto seen = [&] {
    const auto& st = (*sub)->stats();
    return st.handled + st.rejected + st.duplicates + st.held + st.expired + st.withdrawn;
  };
  for (int i = 0; i < 50 && seen() < expected; ++i) {
    EXPECT_TRUE((*sub)->poll([&](const ReceivedEvent& e) {
                               out.handled.push_back(e.verified.event.headline());
                               return Status::Ok();
                             },
                             milliseconds(100))
                    .ok());
  }
  out.stats = (*sub)->stats();
  return out;
}

class Hostile : public ::testing::Test {
 protected:
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  Member qn = tree.member("vn.qn");
};

TEST_F(Hostile, CannotForgeNews) {
  auto genuine = make_events(gov, "vn.gov.press", 1, 2);
  for (auto& e : genuine) e = with_chain(e, gov);
  v1::SignedEvent altered = genuine[0];
  (*altered.mutable_event())[altered.event().find("Tin")] = 'X';  // "Tin số 1" -> "Xin số 1"
  HostileBroker broker(press({altered, genuine[1]}));
  Outcome got = receive_from(broker, tree, qn, 2);
  EXPECT_EQ(got.handled, std::vector<std::string>{"Tin số 2 trên vn.gov.press"});
  ASSERT_EQ(got.rejected.size(), 1u);
  EXPECT_EQ(got.rejected[0].code(), E::BAD_SIGNATURE) << got.rejected[0].to_string();
}

// Issue 13, item 10: embargo and expiry are the receiver's to enforce too.
TEST_F(Hostile, CannotReleaseEmbargoedNewsEarlyNorDeliverExpiredNews) {
  auto embargoed = EventBuilder("vn.gov", 1, "vn.gov.press").headline("Cấm công bố trước giờ G")
                       .embargo_until_ms(unix_now_ms() + 3'600'000).build();
  auto stale = EventBuilder("vn.gov", 2, "vn.gov.press").headline("Hết hạn").created_ms(unix_now_ms() - 1'800'000)
                   .expires_ms(unix_now_ms() - 60'000).build();
  ASSERT_OK(embargoed);
  ASSERT_OK(stale);
  HostileBroker broker(press({with_chain(*sign_event(*embargoed, gov.key.sign), gov),
                              with_chain(*sign_event(*stale, gov.key.sign), gov)}));
  Outcome got = receive_from(broker, tree, qn, 2);
  EXPECT_TRUE(got.handled.empty());
  EXPECT_EQ(got.stats.held, 1u);
  EXPECT_EQ(got.stats.expired, 1u);
}

// Issue 13, item 10: a retraction delivered before its item leaves a
// tombstone; the item is not shown afterwards. Duplicates are removed.
TEST_F(Hostile, CannotReviveARetractedItemByReorderingNorRepeatNews) {
  auto original = make_events(gov, "vn.gov.press", 1, 1)[0];
  auto retraction = EventBuilder("vn.gov", 2, "vn.gov.press").headline("Thu hồi tin số 1")
                        .kind(v1::RETRACTION).refers_to(event_id(original.event())).build();
  ASSERT_OK(retraction);
  auto r = with_chain(*sign_event(*retraction, gov.key.sign), gov);
  auto o = with_chain(original, gov);
  HostileBroker broker(press({r, o, o, r}));
  Outcome got = receive_from(broker, tree, qn, 4);
  EXPECT_EQ(got.handled, std::vector<std::string>{"Thu hồi tin số 1"});
  EXPECT_EQ(got.stats.withdrawn, 1u);
  EXPECT_EQ(got.stats.duplicates, 2u);
}

// Issue 13, item 4: only the origin of an item may correct or retract it.
TEST_F(Hostile, CannotDeliverAnotherMembersRetractionOfAnItem) {
  Member halong = tree.member("vn.halong");
  auto original = with_chain(make_events(gov, "vn.gov.press", 1, 1)[0], gov);
  auto retraction = EventBuilder("vn.halong", 1, "vn.halong.news").headline("Thu hồi tin của Chính phủ")
                        .kind(v1::RETRACTION).refers_to(event_id(original.event())).build();
  ASSERT_OK(retraction);
  HostileBroker broker(press({original, with_chain(*sign_event(*retraction, halong.key.sign), halong)}));
  Outcome got = receive_from(broker, tree, qn, 2);
  EXPECT_EQ(got.handled, std::vector<std::string>{"Tin số 1 trên vn.gov.press"});
  ASSERT_EQ(got.rejected.size(), 1u);
  EXPECT_EQ(got.rejected[0].code(), E::REFERENCE_NOT_ALLOWED) << got.rejected[0].to_string();
}

// Issue 13, item 10: countersignatures (not covered by the author's
// signature) are refused; an endorsement's carried event is verified.
TEST_F(Hostile, CannotAddCountersignaturesNorForgeAnEndorsement) {
  auto genuine = with_chain(make_events(gov, "vn.gov.press", 1, 1)[0], gov);
  v1::SignedEvent countersigned = genuine;
  auto* cs = countersigned.add_countersignatures();
  cs->set_member("vn");
  cs->set_key_id(std::string(16, 'k'));
  cs->set_signature(std::string(64, 's'));
  Member ministry = tree.member("vn.ldtbxh");
  auto proposal = with_chain(make_events(ministry, "vn.ldtbxh.news", 1, 1)[0], ministry);
  std::string carried = proposal.SerializeAsString();
  carried[carried.find("Tin")] = 'X';  // one byte of the carried event altered
  Member desk = tree.certify("vn.desk", {v1::PUBLISHER, v1::SUBSCRIBER, v1::EDITOR});
  auto endorsement = EventBuilder("vn.desk", 2, "vn.desk.press").headline("Chính phủ đăng lại")
                         .kind(v1::ENDORSEMENT).refers_to(event_id(proposal.event())).carried_event(carried).build();
  ASSERT_OK(endorsement);
  // A true original endorsed by a member without the editor role.
  auto by_non_editor = EventBuilder("vn.gov", 3, "vn.gov.press").headline("Chính phủ đăng lại")
                           .kind(v1::ENDORSEMENT).refers_to(event_id(proposal.event()))
                           .carried_event(proposal.SerializeAsString()).build();
  ASSERT_OK(by_non_editor);
  HostileBroker broker(press({countersigned, with_chain(*sign_event(*endorsement, desk.key.sign), desk),
                              with_chain(*sign_event(*by_non_editor, gov.key.sign), gov)}));
  Outcome got = receive_from(broker, tree, qn, 3);
  EXPECT_TRUE(got.handled.empty());
  ASSERT_EQ(got.rejected.size(), 3u);
  EXPECT_EQ(got.rejected[0].code(), E::EVENT_FORMAT_UNSUPPORTED) << got.rejected[0].to_string();
  EXPECT_EQ(got.rejected[1].code(), E::BAD_SIGNATURE) << got.rejected[1].to_string();
  EXPECT_EQ(got.rejected[2].code(), E::ROLE_MISSING) << got.rejected[2].to_string();
}


// The acks of one poll() pass go together, in one frame; a handler's error
// nacks its event with the handler's reason.
TEST_F(Hostile, AcksOfOnePassTravelTogetherAndAFailingHandlerNacksWithItsReason) {
  auto events = make_events(gov, "vn.gov.press", 1, 20);
  for (auto& e : events) e = with_chain(e, gov);
  HostileBroker broker(press(events));
  SubscriberOptions o;
  o.broker = broker.address();
  o.name = "press";
  o.filters = {"vn.gov.press"};
  auto sub = Subscriber::open(copy_key(qn.key), qn.chain, tree.root(), o);
  ASSERT_OK(sub);
  size_t calls = 0;
  for (int i = 0; i < 50 && calls < 20; ++i) {
    ASSERT_OK((*sub)->poll(
        [&](const ReceivedEvent&) {
          return ++calls == 3 ? Status(E::UNAVAILABLE, "CMS đang bận") : Status::Ok();
        },
        milliseconds(100)));
  }
  ASSERT_EQ(calls, 20u);
  ASSERT_TRUE(eventually([&] { return broker.answers().size() >= 2; }));
  std::vector<uint64_t> acked, nacked;
  size_t ack_frames = 0;
  std::string reason;
  for (const auto& f : broker.answers()) {
    if (f.has_ack()) {
      ++ack_frames;
      acked.insert(acked.end(), f.ack().delivery_ids().begin(), f.ack().delivery_ids().end());
    }
    if (f.has_nack()) {
      nacked.insert(nacked.end(), f.nack().delivery_ids().begin(), f.nack().delivery_ids().end());
      reason = f.nack().reason();
    }
  }
  EXPECT_EQ(ack_frames, 1u) << "one Deliveries frame, one Ack frame";
  EXPECT_EQ(acked.size(), 19u);
  EXPECT_EQ(nacked, std::vector<uint64_t>{3});
  EXPECT_EQ(reason, "CMS đang bận");
  EXPECT_EQ((*sub)->stats().failed, 1u);
}


// A broker that refuses each publish batch with `code` `refusals` times, then
// accepts: how the publisher treats passing and permanent refusals (issue
// 18: events refused STORAGE_FULL used to be final).
class RefusingBroker {
 public:
  RefusingBroker(Code code, int refusals) : code_(code), refusals_(refusals) {}
  BrokerAddress address() const { return broker_.address(); }
  int batches() const { return batches_; }

 private:
  std::vector<v1::BrokerFrame> answer(const v1::ClientFrame& in) {
    if (!in.has_publish()) return {};
    v1::BrokerFrame out;
    const bool refuse = batches_++ < refusals_;
    auto* results = out.mutable_results();
    results->set_request_id(in.publish().request_id());
    for (int i = 0; i < in.publish().events_size(); ++i) {
      auto* r = results->add_results();
      r->set_index(static_cast<uint32_t>(i));
      r->set_event_id(event_id(in.publish().events(i).event()));
      if (refuse) {
        r->set_status(v1::PublishResult::REJECTED);
        *r->mutable_error() = Status(code_, "refused by the stand-in").to_proto();
      } else {
        r->set_status(v1::PublishResult::ACCEPTED);
        r->set_broker_seq(++seq_);
      }
    }
    return {out};
  }

  Code code_;
  int refusals_;
  std::atomic<int> batches_{0};
  uint64_t seq_ = 0;
  StandInBroker broker_{"vn.gov", [this](const v1::ClientFrame& in) { return answer(in); }};  // last: it calls answer()
};

TEST(PassingRefusals, AreSentAgainAndOnlyPermanentOnesAreFinal) {
  TrustTree tree = TrustTree::live();
  Member gov = tree.member("vn.gov");
  PublisherOptions o;
  o.min_backoff = milliseconds(10);
  o.max_backoff = milliseconds(50);
  {
    RefusingBroker broker(E::STORAGE_FULL, 3);  // the broker's disk is full, then freed
    o.broker = broker.address();
    auto pub = Publisher::start(copy_key(gov.key), gov.chain, o);
    ASSERT_OK(pub);
    auto published = (*pub)->publish(news("Khi ổ đĩa đầy"));
    ASSERT_OK(published);
    PublishOutcome outcome = published->outcome.get();
    EXPECT_EQ(outcome.status, v1::PublishResult::ACCEPTED) << outcome.error.to_string();
    EXPECT_EQ(broker.batches(), 4);
    ASSERT_OK((*pub)->flush(milliseconds(5000)));  // settled: counted
    PublisherStats stats = (*pub)->stats();
    EXPECT_EQ(stats.sent, 4u);
    EXPECT_EQ(stats.accepted, 1u);
    EXPECT_EQ(stats.held_back, (std::map<Code, uint64_t>{{E::STORAGE_FULL, 3}}));
    EXPECT_TRUE(stats.rejected.empty());
    EXPECT_EQ(stats.unconfirmed, 0u);
    EXPECT_EQ(stats.oldest_unconfirmed_ms, 0);
  }
  {
    RefusingBroker broker(E::BAD_SIGNATURE, 100);  // permanent: settled at once
    o.broker = broker.address();
    auto pub = Publisher::start(copy_key(gov.key), gov.chain, o);
    ASSERT_OK(pub);
    PublishOutcome outcome = (*pub)->publish(news("Chữ ký hỏng"))->outcome.get();
    EXPECT_EQ(outcome.status, v1::PublishResult::REJECTED);
    EXPECT_EQ(outcome.error.code(), E::BAD_SIGNATURE);
    EXPECT_EQ(broker.batches(), 1);
    ASSERT_OK((*pub)->flush(milliseconds(5000)));
    PublisherStats stats = (*pub)->stats();
    EXPECT_EQ(stats.sent, 1u);
    EXPECT_EQ(stats.accepted, 0u);
    EXPECT_EQ(stats.rejected, (std::map<Code, uint64_t>{{E::BAD_SIGNATURE, 1}}));
    EXPECT_TRUE(stats.held_back.empty());
  }
}

}  // namespace
}  // namespace lantoa::testing
