#include "receive/receiver.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/names.h"

namespace lantoa::node {
namespace {

using nlohmann::json;
using E = v1::Error;

constexpr int64_t kClockMarginMs = 5 * 60 * 1000;

// Reasons that pass by themselves (the broker away, busy or restarting).
bool passing(const Status& s) {
  switch (s.code()) {
    case E::TIMEOUT: case E::UNAVAILABLE: case E::SHUTTING_DOWN: case E::STORAGE_FULL: case E::STORAGE_ERROR:
    case E::RATE_LIMITED: case E::OVERLOADED: case E::IO_ERROR: case E::INTERNAL:
      return true;
    default:
      return false;
  }
}

std::string joined(const std::vector<std::string>& filters) {
  std::string out;
  for (const auto& f : filters) out += (out.empty() ? "" : ", ") + f;
  return "[" + out + "]";
}

}  // namespace

bool is_filter_mismatch(const Status& s) {
  // The broker's words (broker/store/store.cc, Store::Batch::subscribe).
  return s.code() == E::INVALID_ARGUMENT && s.message().find("exists with other filters") != std::string::npos;
}

Receiver::Receiver(SubscriptionConfig config, Identity identity, NodeStore& store, ReceiveCounters& counters,
                   std::function<void()> on_follow_up)
    : config_(std::move(config)), identity_(std::move(identity)), store_(store), counters_(counters),
      on_follow_up_(std::move(on_follow_up)), thread_([this] { run(); }) {}

Receiver::~Receiver() { stop(); }

void Receiver::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string Receiver::problem() const {
  std::lock_guard lock(mu_);
  return refused_ ? error_ : std::string();
}

json Receiver::status() const {
  std::lock_guard lock(mu_);
  return {{"name", config_.name},
          {"filters", config_.filters},
          {"open", open_.load()},
          {"error", error_},
          {"refused", refused_},
          {"changing_filters", changing_.load()}};
}

void Receiver::sleep_for(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stopping_ && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Logged once per reason, not at every attempt.
void Receiver::report(const Status& why) {
  const std::string text = why.to_string();
  const bool refused = !passing(why);
  {
    std::lock_guard lock(mu_);
    if (text == error_) return;
    error_ = text;
    refused_ = refused;
  }
  if (refused) {
    spdlog::error("subscription {}: the broker refuses it: {}; fix [[subscriptions]] {} in the config (or the "
                  "portal's certificate) and restart the node; /healthz fails until then",
                  config_.name, text, config_.name);
  } else {
    spdlog::warn("subscription {}: {}; trying again", config_.name, text);
  }
}

Result<std::unique_ptr<Subscriber>> Receiver::open_subscriber(const SubscriberOptions& options) {
  auto key = MemberKey::load(identity_.key_file);
  if (!key) return key.status();
  return Subscriber::open(std::move(*key), identity_.chain, identity_.root, options);
}

Status Receiver::handle(const ReceivedEvent& e) {
  auto added = store_.add_received(e);
  if (!added) return added.status();  // nacked: the broker tries again
  if (added->seq) {
    ++counters_.received;
    spdlog::info("received {} on {} from {} ({}), verified", to_hex(e.verified.id), e.verified.event.topic(),
                 e.verified.signer.member(), v1::Kind_Name(e.verified.event.kind()));
  }
  if (!added->refused.empty()) {
    spdlog::warn("subscription {}: broker sequence {}: {}", config_.name, e.broker_seq, added->refused);
  }
  if (added->follow_up && on_follow_up_) on_follow_up_();
  if (added->seq && !added->removed.empty()) {
    ++counters_.sanitized;
    std::string what;
    for (const auto& note : added->removed) what += (what.empty() ? "" : "; ") + note;
    spdlog::warn("event {} from {}: unsafe content removed before it reaches the CMS: {}", to_hex(e.verified.id),
                 e.verified.event.origin(), what);
  }
  return Status::Ok();
}

Status Receiver::change_filters(const SubscriberOptions& base) {
  changing_ = true;
  const int64_t began_ms = unix_now_ms();
  SubscriberOptions resume = base;
  resume.filters.clear();  // as it stands at the broker
  auto old = open_subscriber(resume);
  if (!old) return old.status();
  spdlog::warn("subscription {} exists at the broker with other filters than the config's {}: applying the change "
               "(taking in the {} event(s) it still holds, then subscribing again with the new filters)",
               config_.name, joined(config_.filters), (*old)->pending_at_open());
  std::vector<TopicFilter> wanted;
  for (const auto& text : config_.filters) {
    if (auto f = TopicFilter::parse(text)) wanted.push_back(std::move(*f));
  }
  // 1. What it holds: kept when the new filters match it.
  uint64_t newest = 0, kept = 0, left_out = 0;
  bool failed = false;
  // Everything the broker handed over, whatever became of it (verification
  // failed, expired, withdrawn, held under embargo: not all reach the handler).
  auto seen = [&] {
    const SubscriberStats& st = (*old)->stats();
    return st.handled + st.rejected + st.expired + st.withdrawn + st.duplicates + st.held;
  };
  int quiet = 0;  // polls in a row with nothing new
  while (!stopping_) {
    const uint64_t before = seen();
    auto n = (*old)->poll(
        [&](const ReceivedEvent& e) {
          const std::string& topic = e.verified.event.topic();
          if (std::none_of(wanted.begin(), wanted.end(), [&](const TopicFilter& f) { return f.matches(topic); })) {
            ++left_out;
            newest = std::max(newest, e.broker_seq);
            return Status::Ok();
          }
          Status s = handle(e);
          if (!s.ok()) {
            failed = true;
            return s;
          }
          ++kept;
          newest = std::max(newest, e.broker_seq);
          return Status::Ok();
        },
        std::chrono::milliseconds(1000));
    if (!n) return n.status();
    if (failed) return Status(E::STORAGE_ERROR, "an event could not be stored while changing the filters");
    quiet = seen() == before ? quiet + 1 : 0;
    // Empty: a quiet second once all it held at the start came (or three in
    // a row, for what never reaches the handler nor counts, such as a
    // redelivery the broker holds back).
    if (quiet >= 1 && seen() >= (*old)->pending_at_open()) break;
    if (quiet >= 3) break;
  }
  if (stopping_) return Status::Ok();
  // 2. Where the new subscription starts: after the newest event received on it.
  auto mine = store_.inbox_newest(100, [&](const json& r) { return r["lantoa"].value("subscription", "") == config_.name; });
  if (!mine) return mine.status();
  for (const auto& entry : *mine) newest = std::max(newest, entry.record["lantoa"].value("broker_seq", uint64_t{0}));
  json note = {{"filters", config_.filters}};
  std::string from = "its configured start";
  if (newest) {
    note["start_seq"] = newest + 1;
    from = "broker sequence " + std::to_string(newest + 1);
  } else if (config_.start.new_only() || config_.start.position_case() == v1::StartPosition::POSITION_NOT_SET) {
    // Never received anything and configured for new events only: from a
    // little before the old subscription was emptied (clocks may differ), so
    // nothing accepted while it is replaced is missed.
    note["start_time_ms"] = began_ms - kClockMarginMs;
    from = format_time_ms(began_ms - kClockMarginMs) + " (5 minutes before the change began)";
  }
  LANTOA_RETURN_IF_ERROR(store_.set_subscription_state(config_.name, note));
  // 3. Removed at the broker; 4. opened again by run() with the new filters.
  LANTOA_RETURN_IF_ERROR((*old)->remove());
  spdlog::warn("subscription {}: {} event(s) taken in under the old filters ({} kept; {} left out, which the new "
               "filters do not match); removed at the broker; subscribing again with {} from {}",
               config_.name, kept + left_out, kept, left_out, joined(config_.filters), from);
  return Status::Ok();
}

void Receiver::run() {
  SubscriberOptions so;
  so.broker = identity_.broker;
  so.failover = identity_.failover;
  so.name = config_.name;
  so.filters = config_.filters;
  so.start = config_.start;
  so.agent = "lantoa-node/0.1";
  so.connect_timeout = std::chrono::milliseconds(3000);
  so.on_rejected = [this](const Status& why, const RejectedDelivery& d) {
    ++counters_.rejected;
    spdlog::warn("subscription {}: broker sequence {} failed verification and was dropped: {}", config_.name,
                 d.broker_seq, why.to_string());
  };
  std::unique_ptr<Subscriber> subscriber;
  std::chrono::milliseconds backoff(0);
  auto again = [&](const Status& why) {
    report(why);
    const auto most = passing(why) ? std::chrono::milliseconds(5000) : std::chrono::milliseconds(30000);
    backoff = std::min(most, backoff.count() ? backoff * 2 : std::chrono::milliseconds(1000));
    sleep_for(backoff);
  };
  while (!stopping_) {
    if (!subscriber) {
      auto note = store_.subscription_state(config_.name);
      if (!note) {
        again(note.status());
        continue;
      }
      SubscriberOptions options = so;
      // A filter change under way (change_filters) says where the new subscription starts.
      std::string noted;
      if (note->contains("start_seq")) {
        options.start.set_from_broker_seq((*note)["start_seq"].get<uint64_t>());
        noted = ", from broker sequence " + std::to_string((*note)["start_seq"].get<uint64_t>());
      } else if (note->contains("start_time_ms")) {
        options.start.set_from_time_ms((*note)["start_time_ms"].get<int64_t>());
        noted = ", from " + format_time_ms((*note)["start_time_ms"].get<int64_t>());
      }
      auto opened = open_subscriber(options);
      if (!opened && is_filter_mismatch(opened.status())) {
        Status changed = change_filters(so);
        if (!changed.ok()) again(Status(changed.code(), "changing its filters to " + joined(config_.filters) +
                                                            " failed: " + changed.message()));
        continue;
      }
      if (!opened) {
        again(opened.status());
        continue;
      }
      subscriber = std::move(*opened);
      backoff = std::chrono::milliseconds(0);
      if (!note->empty()) {
        Status erased = store_.set_subscription_state(config_.name, nullptr);
        if (!erased.ok()) spdlog::error("subscription {}: {}", config_.name, erased.to_string());
      }
      {
        std::lock_guard lock(mu_);
        error_.clear();
        refused_ = false;
      }
      changing_ = false;
      open_ = true;
      spdlog::info("subscription {} open with {} ({} waiting{})", config_.name, joined(config_.filters),
                   subscriber->pending_at_open(), noted);
    }
    auto r = subscriber->poll([this](const ReceivedEvent& e) { return handle(e); }, std::chrono::milliseconds(200));
    if (!r) {
      spdlog::warn("subscription {}: {}", config_.name, r.status().to_string());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  open_ = false;
}

}  // namespace lantoa::node
