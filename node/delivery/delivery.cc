#include "delivery/delivery.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "lantoa/event.h"
#include "lantoa/internal/file_util.h"
#include "lantoa/names.h"

namespace lantoa::node {
namespace {

using E = v1::Error;

// HTTP answers that say the CMS as a whole cannot take events now (a wrong
// token or URL, overloaded, down behind a proxy): every lane waits. Any other
// non-2xx answer refuses this one event: only its topic's lane waits.
bool whole_target_answer(int http) {
  switch (http) {
    case 401: case 403: case 404: case 405: case 407: case 408: case 429: case 502: case 503: case 504:
      return true;
    default:
      return false;
  }
}

class WebhookTarget final : public Target {
 public:
  explicit WebhookTarget(WebhookConfig c) : config_(std::move(c)), name_("webhook:" + config_.name) {
    for (const auto& text : config_.topics) {
      if (auto f = TopicFilter::parse(text)) topics_.push_back(std::move(*f));  // checked at config load
    }
    // "http://host:port/path?q" -> client "http://host:port", path "/path?q"
    const size_t scheme_end = config_.url.find("://") + 3;
    const size_t path_at = config_.url.find('/', scheme_end);
    origin_ = config_.url.substr(0, path_at);
    path_ = path_at == std::string::npos ? "/" : config_.url.substr(path_at);
  }
  const std::string& name() const override { return name_; }
  bool wants(const std::string& topic) const override {
    if (topics_.empty()) return true;
    for (const auto& f : topics_) {
      if (f.matches(topic)) return true;
    }
    return false;
  }

  Status deliver(const InboxEntry& entry) override {
    httplib::Client client(origin_);
    client.set_connection_timeout(config_.timeout);
    client.set_read_timeout(config_.timeout);
    client.set_write_timeout(config_.timeout);
    const auto& meta = entry.record["lantoa"];
    httplib::Headers headers = {{"Idempotency-Key", meta.value("event_id", "")},
                                {"X-Lantoa-Event-Id", meta.value("event_id", "")},
                                {"X-Lantoa-Kind", meta.value("kind", "")},
                                {"X-Lantoa-Topic", meta.value("topic", "")},
                                {"User-Agent", "lantoa-node/0.1"}};
    if (!config_.token.empty()) headers.emplace("Authorization", "Bearer " + config_.token);
    auto res = client.Post(path_, headers, entry.record.dump(), "application/json; charset=utf-8");
    if (!res) {
      return Status(E::UNAVAILABLE, config_.url + ": " + httplib::to_string(res.error()));
    }
    if (res->status < 200 || res->status > 299) {
      const std::string what = config_.url + " answered HTTP " + std::to_string(res->status);
      if (whole_target_answer(res->status)) return Status(E::UNAVAILABLE, what);
      return Status(res->status < 500 ? E::INVALID_ARGUMENT : E::INTERNAL, what + " to this event");
    }
    return Status::Ok();
  }

 private:
  WebhookConfig config_;
  std::vector<TopicFilter> topics_;
  std::string name_, origin_, path_;
};

class SpoolTarget final : public Target {
 public:
  SpoolTarget(std::filesystem::path dir, mode_t mode) : dir_(std::move(dir)), mode_(mode), name_("spool") {}
  const std::string& name() const override { return name_; }

  Status deliver(const InboxEntry& entry) override {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return Status(E::IO_ERROR, "cannot create spool folder " + dir_.string() + ": " + ec.message());
    char seq[24];
    std::snprintf(seq, sizeof seq, "%012llu", static_cast<unsigned long long>(entry.seq));
    const std::string file = std::string(seq) + "-" + entry.record["lantoa"].value("event_id", "") + ".json";
    return internal::write_file_atomic(dir_ / file, entry.record.dump(2) + "\n", mode_, true);
  }

 private:
  std::filesystem::path dir_;
  mode_t mode_;
  std::string name_;
};

}  // namespace

std::unique_ptr<Target> make_webhook_target(const WebhookConfig& config) {
  return std::make_unique<WebhookTarget>(config);
}

std::unique_ptr<Target> make_spool_target(const std::filesystem::path& dir, mode_t mode) {
  return std::make_unique<SpoolTarget>(dir, mode);
}

DeliveryWorker::DeliveryWorker(NodeStore& store, std::unique_ptr<Target> target, std::chrono::milliseconds max_backoff)
    : store_(store),
      target_(std::move(target)),
      max_backoff_(max_backoff),
      last_success_ms_(unix_now_ms()),
      thread_([this] { run(); }) {}

DeliveryWorker::~DeliveryWorker() { stop(); }

void DeliveryWorker::stop() {
  stopping_ = true;
  store_.wake_all();
  if (thread_.joinable()) thread_.join();
}

namespace {

std::chrono::milliseconds grow(std::chrono::milliseconds backoff, std::chrono::milliseconds max) {
  using std::chrono::milliseconds;
  return std::min(max, backoff.count() ? backoff * 2 : milliseconds(500));
}

}  // namespace

void DeliveryWorker::pause(std::chrono::milliseconds d) {  // sleeps, waking early on stop()
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stopping_ && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(20), until - std::chrono::steady_clock::now()));
  }
}

// The base once the lanes are as they are now: the entry before the oldest
// one waiting, or all that was read. Called with mu_ held (or by the worker).
uint64_t DeliveryWorker::base_after_delivery() const {
  uint64_t base = scanned_;
  for (const auto& [topic, lane] : lanes_) {
    if (!lane.waiting.empty()) base = std::min(base, lane.waiting.front() - 1);
  }
  return base;
}

bool DeliveryWorker::read_inbox() {
  while (!stopping_ && waiting_ < kMaxWaiting) {
    const size_t want = std::min<size_t>(256, kMaxWaiting - waiting_);
    auto batch = store_.inbox_after(scanned_, want);
    if (!batch) {
      spdlog::error("delivery {}: cannot read the inbox: {}", name(), batch.status().to_string());
      return false;
    }
    {
      std::lock_guard lock(mu_);
      for (const InboxEntry& e : *batch) {
        scanned_ = e.seq;
        const std::string topic = e.record["lantoa"].value("topic", "");
        if (!target_->wants(topic)) continue;
        auto done = progress_.lanes.find(topic);
        if (done != progress_.lanes.end() && done->second >= e.seq) continue;  // delivered before a restart
        lanes_[topic].waiting.push_back(e.seq);
        ++waiting_;
      }
    }
    if (batch->size() < want) break;
  }
  // Entries no lane waits for (not wanted) move the base on by themselves.
  TargetProgress next;
  {
    std::lock_guard lock(mu_);
    const uint64_t base = base_after_delivery();
    if (base <= progress_.base) return true;
    next = progress_;
    next.base = base;
    std::erase_if(next.lanes, [&](const auto& l) { return l.second <= base; });
  }
  Status saved = store_.set_progress(name(), next);
  if (!saved.ok()) {
    spdlog::error("delivery {}: cannot save its position: {}", name(), saved.to_string());
    return true;  // read again from the old base after a restart: nothing is lost
  }
  std::lock_guard lock(mu_);
  progress_ = std::move(next);
  return true;
}

bool DeliveryWorker::deliver_one(const std::string& topic, Lane& lane) {
  using namespace std::chrono;
  const uint64_t seq = lane.waiting.front();
  auto got = store_.inbox_after(seq - 1, 1);
  if (!got) {
    spdlog::error("delivery {}: cannot read inbox entry {}: {}", name(), seq, got.status().to_string());
    return false;
  }
  const bool there = !got->empty() && got->front().seq == seq;
  const std::string event_id = there ? got->front().record["lantoa"].value("event_id", "") : std::string();
  Status s = there ? target_->deliver(got->front()) : Status::Ok();  // an entry gone has nothing to deliver
  const auto now = steady_clock::now();
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    ++failures_;
    if (s.code() == v1::Error::UNAVAILABLE || s.code() == v1::Error::TIMEOUT) {
      target_backoff_ = grow(target_backoff_, max_backoff_);
      target_next_try_ = now + target_backoff_;
      unreachable_ = s.message();
      spdlog::warn("delivery {}: event {} not delivered ({}); every topic waits, again in {} ms", name(), event_id,
                   s.to_string(), target_backoff_.count());
    } else {
      ++lane.failures;
      lane.error = s.to_string();
      lane.backoff = grow(lane.backoff, max_backoff_);
      lane.next_try = now + lane.backoff;
      spdlog::warn("delivery {}: event {} on {} not delivered ({}); again in {} ms; the later events of {} wait, "
                   "other topics go on ({} waiting on it)",
                   name(), event_id, topic, s.to_string(), lane.backoff.count(), topic, lane.waiting.size());
    }
    return true;
  }
  TargetProgress next;
  {
    std::lock_guard lock(mu_);
    lane.waiting.pop_front();
    --waiting_;
    next = progress_;
    next.lanes[topic] = seq;
    next.base = base_after_delivery();
    std::erase_if(next.lanes, [&](const auto& l) { return l.second <= next.base; });
  }
  Status saved = store_.set_progress(name(), next);
  std::lock_guard lock(mu_);
  if (!saved.ok()) {  // delivered, but not remembered: it goes again (at least once)
    lane.waiting.push_front(seq);
    ++waiting_;
    spdlog::error("delivery {}: cannot save its position: {}", name(), saved.to_string());
    return false;
  }
  progress_ = std::move(next);
  ++delivered_;
  last_success_ms_ = unix_now_ms();
  if (!unreachable_.empty()) spdlog::info("delivery {}: reachable again", name());
  target_backoff_ = milliseconds(0);
  unreachable_.clear();
  if (lane.failures) {
    spdlog::info("delivery {}: {} flows again after {} failed attempt(s)", name(), topic, lane.failures);
  }
  lane.failures = 0;
  lane.error.clear();
  lane.backoff = milliseconds(0);
  if (there) spdlog::debug("delivery {}: event {} on {} delivered", name(), event_id, topic);
  if (lane.waiting.empty()) lanes_.erase(topic);  // `lane` is gone from here on
  return true;
}

void DeliveryWorker::run() {
  using namespace std::chrono;
  auto progress = store_.progress(name());
  if (!progress) {
    spdlog::error("delivery {}: cannot read its position: {}", name(), progress.status().to_string());
    return;
  }
  {
    std::lock_guard lock(mu_);
    progress_ = std::move(*progress);
    scanned_ = progress_.base;
  }
  while (!stopping_) {
    if (!read_inbox()) {
      pause(seconds(1));
      continue;
    }
    auto now = steady_clock::now();
    if (now < target_next_try_) {
      pause(std::min<milliseconds>(duration_cast<milliseconds>(target_next_try_ - now) + milliseconds(1),
                                   milliseconds(500)));
      continue;
    }
    // The ready lane whose next entry is the oldest: healthy lanes go in inbox order.
    const std::string* topic = nullptr;
    Lane* lane = nullptr;
    auto earliest = steady_clock::time_point::max();
    for (auto& [t, l] : lanes_) {  // only this thread changes lanes_
      if (l.waiting.empty()) continue;
      if (l.next_try > now) {
        earliest = std::min(earliest, l.next_try);
      } else if (!lane || l.waiting.front() < lane->waiting.front()) {
        topic = &t;
        lane = &l;
      }
    }
    if (lane) {
      const std::string t = *topic;  // deliver_one may erase the lane
      if (!deliver_one(t, *lane)) pause(seconds(1));
      continue;
    }
    milliseconds wait(500);
    if (earliest != steady_clock::time_point::max()) {
      wait = std::min(wait, duration_cast<milliseconds>(earliest - now) + milliseconds(1));
    }
    if (waiting_ >= kMaxWaiting) {
      pause(wait);  // nothing more is read until some are delivered
    } else {
      store_.wait_for_inbox(scanned_, wait);
    }
  }
}

DeliveryWorker::Figures DeliveryWorker::figures() const {
  const uint64_t last = store_.last_inbox_seq();
  std::lock_guard lock(mu_);
  Figures f;
  f.target = name();
  f.delivered = delivered_;
  f.failures = failures_;
  f.base = progress_.base;
  f.backlog = waiting_ + (last > scanned_ ? last - scanned_ : 0);
  f.last_success_ms = last_success_ms_;
  f.unreachable = unreachable_;
  for (const auto& [topic, lane] : lanes_) {
    if (lane.failures) f.held.push_back({topic, lane.waiting.size(), lane.failures, lane.error});
  }
  return f;
}

nlohmann::json DeliveryWorker::status() const {
  const Figures f = figures();
  nlohmann::json held = nlohmann::json::array();
  for (const auto& h : f.held) {
    held.push_back({{"topic", h.topic}, {"waiting", h.waiting}, {"failures", h.failures}, {"error", h.error}});
  }
  nlohmann::json out = {{"target", f.target},     {"delivered", f.delivered}, {"failures", f.failures},
                        {"cursor", f.base},       {"backlog", f.backlog},     {"held", held}};
  if (!f.unreachable.empty()) out["unreachable"] = f.unreachable;
  return out;
}

}  // namespace lantoa::node
