#include "delivery/delivery.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "lantoa/internal/file_util.h"

namespace lantoa::node {
namespace {

using E = v1::Error;

class WebhookTarget final : public Target {
 public:
  explicit WebhookTarget(WebhookConfig c) : config_(std::move(c)), name_("webhook:" + config_.name) {
    // "http://host:port/path?q" -> client "http://host:port", path "/path?q"
    const size_t scheme_end = config_.url.find("://") + 3;
    const size_t path_at = config_.url.find('/', scheme_end);
    origin_ = config_.url.substr(0, path_at);
    path_ = path_at == std::string::npos ? "/" : config_.url.substr(path_at);
  }
  const std::string& name() const override { return name_; }

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
      return Status(E::UNAVAILABLE, config_.url + " answered HTTP " + std::to_string(res->status));
    }
    return Status::Ok();
  }

 private:
  WebhookConfig config_;
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
    : store_(store), target_(std::move(target)), max_backoff_(max_backoff), thread_([this] { run(); }) {}

DeliveryWorker::~DeliveryWorker() { stop(); }

void DeliveryWorker::stop() {
  stopping_ = true;
  store_.wake_all();
  if (thread_.joinable()) thread_.join();
}

void DeliveryWorker::run() {
  using namespace std::chrono;
  auto cursor = store_.cursor(target_->name());
  if (!cursor) {
    spdlog::error("delivery {}: cannot read its cursor: {}", target_->name(), cursor.status().to_string());
    return;
  }
  uint64_t at = *cursor;
  stats_.cursor = at;
  milliseconds backoff{0};
  auto pause = [&](milliseconds d) {  // sleeps, waking early on stop()
    const auto until = steady_clock::now() + d;
    while (!stopping_ && steady_clock::now() < until) std::this_thread::sleep_for(milliseconds(20));
  };
  while (!stopping_) {
    auto batch = store_.inbox_after(at, 64);
    if (!batch) {
      spdlog::error("delivery {}: cannot read the inbox: {}", target_->name(), batch.status().to_string());
      pause(seconds(1));
      continue;
    }
    if (batch->empty()) {
      store_.wait_for_inbox(at, milliseconds(500));
      continue;
    }
    for (const InboxEntry& entry : *batch) {
      if (stopping_) break;
      Status s = target_->deliver(entry);
      if (!s.ok()) {
        ++stats_.failures;
        backoff = std::min(max_backoff_, backoff.count() ? backoff * 2 : milliseconds(500));
        spdlog::warn("delivery {}: event {} not delivered ({}); again in {} ms", target_->name(),
                     entry.record["lantoa"].value("event_id", ""), s.to_string(), backoff.count());
        pause(backoff);
        break;  // the same entry again: order is kept
      }
      backoff = milliseconds(0);
      Status saved = store_.set_cursor(target_->name(), entry.seq);
      if (!saved.ok()) {
        spdlog::error("delivery {}: cannot save its cursor: {}", target_->name(), saved.to_string());
        pause(seconds(1));
        break;
      }
      at = entry.seq;
      stats_.cursor = at;
      ++stats_.delivered;
      spdlog::debug("delivery {}: event {} delivered", target_->name(), entry.record["lantoa"].value("event_id", ""));
    }
  }
}

}  // namespace lantoa::node
