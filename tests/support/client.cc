#include "support/client.h"

#include <chrono>

#include "lantoa/internal/connection_access.h"

namespace lantoa::testing {

using Clock = std::chrono::steady_clock;

namespace {

Connection must_open(const BrokerAddress& broker, const Member& m) {
  auto c = Connection::open(broker, m.key, m.chain);
  if (!c) {
    ADD_FAILURE() << "connect as " << m.key.member << ": " << c.status().to_string();
    std::abort();
  }
  return std::move(*c);
}

}  // namespace

Client::Client(const BrokerAddress& broker, const Member& m) : conn_(must_open(broker, m)) {}

Result<Connection> Client::raw(const BrokerAddress& broker, const Member& m) {
  return internal::ConnectionAccess::open_without_hello(broker, m.key);
}

Status Client::send_raw(const std::vector<std::string>& parts) {
  return internal::ConnectionAccess::send_raw(conn_, parts);
}

void Client::pump(milliseconds timeout) {
  auto frame = conn_.receive(timeout);
  if (!frame.ok() || !frame->has_value()) return;
  v1::BrokerFrame& f = **frame;
  switch (f.body_case()) {
    case v1::BrokerFrame::kResults:
      results_[f.results().request_id()] = f.results();
      break;
    case v1::BrokerFrame::kDeliver:
      deliveries_.push_back(f.deliver());
      break;
    case v1::BrokerFrame::kDeliveries:
      for (auto& d : *f.mutable_deliveries()->mutable_items()) deliveries_.push_back(std::move(d));
      break;
    case v1::BrokerFrame::kSubscribed:
      answers_[f.subscribed().request_id()] = f;
      break;
    case v1::BrokerFrame::kUnsubscribed:
      answers_[f.unsubscribed().request_id()] = f;
      break;
    case v1::BrokerFrame::kError:
      if (f.error().request_id() != 0) answers_[f.error().request_id()] = f;
      errors_.push_back(f.error());
      break;
    default:
      break;
  }
}

v1::PublishResults Client::publish(const std::vector<v1::SignedEvent>& events, milliseconds timeout) {
  const uint64_t id = next_request_++;
  v1::ClientFrame f;
  f.mutable_publish()->set_request_id(id);
  for (const auto& e : events) *f.mutable_publish()->add_events() = e;
  EXPECT_TRUE(conn_.send(f).ok());
  const auto until = Clock::now() + timeout;
  while (!results_.count(id) && Clock::now() < until) {
    if (answers_.count(id)) break;  // an error frame for the whole request
    pump(milliseconds(50));
  }
  auto it = results_.find(id);
  if (it == results_.end()) return {};
  v1::PublishResults r = std::move(it->second);
  results_.erase(it);
  return r;
}

Result<v1::BrokerFrame> Client::await_answer(uint64_t request_id) {
  const auto until = Clock::now() + milliseconds(10000);
  while (!answers_.count(request_id) && Clock::now() < until) pump(milliseconds(50));
  auto it = answers_.find(request_id);
  if (it == answers_.end()) return Status(v1::Error::TIMEOUT, "no answer to request " + std::to_string(request_id));
  v1::BrokerFrame a = std::move(it->second);
  answers_.erase(it);
  if (a.has_error()) return Status::from_proto(a.error().error());
  return a;
}

Result<v1::Subscribed> Client::subscribe(const std::string& name, const std::vector<std::string>& filters,
                                         v1::StartPosition start, uint32_t credit, uint32_t ack_timeout_ms) {
  const uint64_t id = next_request_++;
  v1::ClientFrame f;
  auto* s = f.mutable_subscribe();
  s->set_request_id(id);
  s->set_name(name);
  for (const auto& x : filters) s->add_filters(x);
  *s->mutable_start() = start;
  s->set_credit(credit);
  s->set_ack_timeout_ms(ack_timeout_ms);
  EXPECT_TRUE(conn_.send(f).ok());
  auto a = await_answer(id);
  if (!a) return a.status();
  return a->subscribed();
}

Result<v1::Unsubscribed> Client::unsubscribe(const std::string& name, bool remove) {
  const uint64_t id = next_request_++;
  v1::ClientFrame f;
  f.mutable_unsubscribe()->set_request_id(id);
  f.mutable_unsubscribe()->set_name(name);
  f.mutable_unsubscribe()->set_remove(remove);
  EXPECT_TRUE(conn_.send(f).ok());
  auto a = await_answer(id);
  if (!a) return a.status();
  return a->unsubscribed();
}

std::optional<v1::Deliver> Client::next(milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  while (deliveries_.empty() && Clock::now() < until) pump(milliseconds(20));
  if (deliveries_.empty()) return std::nullopt;
  v1::Deliver d = std::move(deliveries_.front());
  deliveries_.pop_front();
  return d;
}

std::vector<v1::Deliver> Client::collect(size_t n, milliseconds timeout) {
  std::vector<v1::Deliver> out;
  const auto until = Clock::now() + timeout;
  while (out.size() < n && Clock::now() < until) {
    auto d = next(std::chrono::duration_cast<milliseconds>(until - Clock::now()));
    if (d) out.push_back(std::move(*d));
  }
  return out;
}

std::vector<v1::Deliver> Client::drain(milliseconds window) {
  std::vector<v1::Deliver> out;
  const auto until = Clock::now() + window;
  while (Clock::now() < until) {
    pump(milliseconds(20));
    while (!deliveries_.empty()) {
      out.push_back(std::move(deliveries_.front()));
      deliveries_.pop_front();
    }
  }
  return out;
}

void Client::ack(const std::string& sub, const std::vector<uint64_t>& ids) {
  v1::ClientFrame f;
  f.mutable_ack()->set_subscription(sub);
  for (auto id : ids) f.mutable_ack()->add_delivery_ids(id);
  EXPECT_TRUE(conn_.send(f).ok());
}

void Client::ack(const std::vector<v1::Deliver>& ds) {
  std::map<std::string, std::vector<uint64_t>> by_sub;
  for (const auto& d : ds) by_sub[d.subscription()].push_back(d.delivery_id());
  for (const auto& [sub, ids] : by_sub) ack(sub, ids);
}

void Client::nack(const std::string& sub, const std::vector<uint64_t>& ids) {
  v1::ClientFrame f;
  f.mutable_nack()->set_subscription(sub);
  for (auto id : ids) f.mutable_nack()->add_delivery_ids(id);
  EXPECT_TRUE(conn_.send(f).ok());
}

void Client::credit(const std::string& sub, uint32_t max_in_flight) {
  v1::ClientFrame f;
  f.mutable_credit()->set_subscription(sub);
  f.mutable_credit()->set_max_in_flight(max_in_flight);
  EXPECT_TRUE(conn_.send(f).ok());
}

std::optional<v1::ErrorFrame> Client::next_error(milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  while (errors_.empty() && Clock::now() < until) pump(milliseconds(20));
  if (errors_.empty()) return std::nullopt;
  v1::ErrorFrame e = std::move(errors_.front());
  errors_.pop_front();
  return e;
}

static v1::Event event_of(const v1::Deliver& d) {
  v1::Event e;
  e.ParseFromString(d.event().event());
  return e;
}

std::string headline_of(const v1::Deliver& d) { return event_of(d).headline(); }
std::string topic_of(const v1::Deliver& d) { return event_of(d).topic(); }
uint32_t urgency_of(const v1::Deliver& d) { return event_of(d).urgency(); }

std::vector<v1::SignedEvent> make_events(const Member& m, const std::string& topic, uint64_t first_seq, size_t count,
                                         uint32_t urgency) {
  std::vector<v1::SignedEvent> out;
  for (size_t i = 0; i < count; ++i) {
    auto e = EventBuilder(m.key.member, first_seq + i, topic)
                 .headline("Tin số " + std::to_string(first_seq + i) + " trên " + topic)
                 .body("Nội dung thông cáo báo chí của Chính phủ.")
                 .urgency(urgency)
                 .build();
    EXPECT_TRUE(e.ok()) << e.status().to_string();
    auto s = sign_event(*e, m.key.sign);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    out.push_back(*s);
  }
  return out;
}

v1::StartPosition earliest() {
  v1::StartPosition p;
  p.set_earliest(true);
  return p;
}

v1::StartPosition from_seq(uint64_t seq) {
  v1::StartPosition p;
  p.set_from_broker_seq(seq);
  return p;
}

}  // namespace lantoa::testing
