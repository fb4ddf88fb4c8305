#include "store/writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "lantoa/event.h"

namespace lantoa::broker {
namespace {

using lantoa::v1::PublishResult;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

int64_t micros_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

// --- Writer ---

Writer::Writer(Store& store, Completions& completions, Metrics& metrics, WriterOptions options)
    : store_(store), completions_(completions), metrics_(metrics), flows_(metrics), options_(options) {
  publish_depths();
  thread_ = std::thread([this] { run(); });
}

Writer::~Writer() { stop(); }

void Writer::submit(uint64_t ticket, WriterOp op) {
  {
    std::lock_guard lock(mu_);
    ready_.emplace(ticket, std::move(op));
  }
  cv_.notify_one();
}

void Writer::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Writer::run() {
  auto next_housekeeping = std::chrono::steady_clock::now();
  while (true) {
    std::vector<WriterOp> ops;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_housekeeping, [&] {
        return stopping_ || ready_.count(next_ticket_);
      });
      size_t events = 0;
      while (events < options_.max_group_events) {
        auto it = ready_.find(next_ticket_);
        if (it == ready_.end()) break;
        if (auto* p = std::get_if<PublishOp>(&it->second)) events += p->items.size();
        ++events;
        ops.push_back(std::move(it->second));
        ready_.erase(it);
        ++next_ticket_;
      }
      // Stop only once every handed-in ticket has been applied. Tickets still
      // in the verify pool arrive before the pool is joined (see Broker).
      if (stopping_ && ops.empty() && !ready_.count(next_ticket_)) break;
    }
    if (!ops.empty()) process(ops);
    if (std::chrono::steady_clock::now() >= next_housekeeping) {
      housekeeping(unix_now_ms());
      if (Status s = store_.save_manifest(unix_now_ms(), 1000); !s.ok()) manifest_error(s);
      if (depths_changed_) publish_depths();
      next_housekeeping = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.housekeeping_ms);
    }
  }
  last_depths_ms_ = 0;
  publish_depths();
  if (Status s = store_.save_manifest(unix_now_ms(), 0); !s.ok()) manifest_error(s);
}

// The answer to a publish operation, holding the results decided before
// storage; the caller adds the others. (The I/O thread puts the results of a
// whole batch in order once all its chunks are back.)
PublishDone Writer::publish_done(const PublishOp& p) {
  PublishDone done{p.peer, p.publish_id, {}, {}};
  done.results.set_request_id(p.request_id);
  for (const auto& r : p.rejected) *done.results.add_results() = r;
  return done;
}

void Writer::storage_error(std::string_view what, const Status& status, std::string_view consequence) {
  metrics_.storage_errors++;
  const int64_t now = unix_now_ms();
  if (now - last_storage_log_ms_ < 1000) {
    ++storage_errors_unlogged_;
    return;
  }
  last_storage_log_ms_ = now;
  const bool full = status.code() == lantoa::v1::Error::STORAGE_FULL;
  spdlog::error("storage failure while {}: {} ({}; {}){}", what, status.to_string(), consequence,
                full ? "raise map_size_mb or let retention free space"
                     : "check the disk: space, permissions, errors in the kernel log",
                storage_errors_unlogged_ ? " [" + std::to_string(storage_errors_unlogged_) +
                                               " more since the last message]"
                                         : std::string());
  storage_errors_unlogged_ = 0;
}

void Writer::manifest_error(const Status& s) {
  storage_error("writing the manifest", s, "it lags the store, which is safe; tried again in a second");
}

void Writer::fail(WriterOp& op, const Status& status) {
  storage_error(std::holds_alternative<PublishOp>(op)     ? "storing published events"
                : std::holds_alternative<SubscribeOp>(op) ? "storing a subscription"
                : std::holds_alternative<AckOp>(op)       ? "removing acknowledged entries"
                : std::holds_alternative<PurgeOp>(op)     ? "purging a queue"
                                                          : "removing a subscription",
                status,
                std::holds_alternative<AckOp>(op) ? "the entries stay queued and are delivered again"
                                                  : "nothing in it was acknowledged; the client is told");
  std::visit(Overloaded{
                 [&](PublishOp& p) {
                   PublishDone done = publish_done(p);
                   for (const auto& item : p.items) {
                     PublishResult* r = done.results.add_results();
                     r->set_index(item.index);
                     r->set_status(PublishResult::REJECTED);
                     r->set_event_id(item.record.id());
                     *r->mutable_error() = status.to_proto();
                     metrics_.reject(status.code(), item.record.origin());
                   }
                   completions_.push(std::move(done));
                 },
                 [&](SubscribeOp& s) {
                   completions_.push(SubscribeDone{s.peer, s.request.request_id(), status, {}});
                 },
                 [&](UnsubscribeOp& u) { completions_.push(UnsubscribeDone{u.peer, u.request, status, 0, u.control}); },
                 [&](PurgeOp& p) { completions_.push(PurgeDone{p.control, status, {}}); },
                 [&](AckOp&) {
                   // The entries stay in their queues and will be delivered again
                   // (at-least-once); nothing else to do.
                 },
             },
             op);
}

bool Writer::apply(std::vector<WriterOp*>& ops, Status* failure) {
  const auto started = std::chrono::steady_clock::now();
  const int64_t now = unix_now_ms();
  auto batch = store_.begin();
  if (!batch) {
    *failure = batch.status();
    return false;
  }
  std::vector<Completion> done;
  std::vector<const IngestItem*> declarations;  // accepted, put in force after the commit
  uint64_t accepted_events = 0;
  std::vector<const StoredEvent*> accepted_records;  // for the counts by topic and origin
  std::vector<std::pair<Code, const std::string*>> rejections;  // reason, origin
  uint64_t duplicates = 0;
  for (WriterOp* op : ops) {
    Status applied = std::visit(
        Overloaded{
            [&](PublishOp& p) -> Status {
              PublishDone out = publish_done(p);
              for (const auto& item : p.items) {
                const uint32_t index = item.index;
                const std::string& id = item.record.id();
                auto r = batch->ingest(item, now);
                if (!r) return r.status();
                PublishResult* res = out.results.add_results();
                res->set_index(index);
                res->set_event_id(id);
                res->set_status(r->status);
                res->set_broker_seq(r->seq);
                if (r->status == PublishResult::REJECTED) {
                  *res->mutable_error() = r->error.to_proto();
                  rejections.emplace_back(r->error.code(), &item.record.origin());
                } else if (r->status == PublishResult::ACCEPTED) {
                  ++accepted_events;
                  accepted_records.push_back(&item.record);
                  if (item.declares()) declarations.push_back(&item);
                } else {
                  ++duplicates;
                }
                out.routed.insert(out.routed.end(), r->routed.begin(), r->routed.end());
              }
              done.push_back(std::move(out));
              return Status::Ok();
            },
            [&](SubscribeOp& s) -> Status {
              auto r = batch->subscribe(s.owner, s.grants, s.request, now, options_.subscribe, s.link);
              if (!r) {
                if (r.status().code() == lantoa::v1::Error::STORAGE_FULL ||
                    r.status().code() == lantoa::v1::Error::STORAGE_ERROR) {
                  return r.status();
                }
                done.push_back(SubscribeDone{s.peer, s.request.request_id(), r.status(), {}});
                return Status::Ok();
              }
              done.push_back(SubscribeDone{s.peer, s.request.request_id(), Status::Ok(), std::move(*r)});
              return Status::Ok();
            },
            [&](UnsubscribeOp& u) -> Status {
              auto r = batch->unsubscribe(u.owner, u.request.name(), u.request.remove());
              if (!r && r.status().code() != lantoa::v1::Error::SUBSCRIPTION_NOT_FOUND) return r.status();
              done.push_back(UnsubscribeDone{u.peer, u.request, r.status(), r.ok() ? *r : 0, u.control});
              return Status::Ok();
            },
            [&](PurgeOp& p) -> Status {
              auto r = batch->purge(p.owner, p.name);
              if (!r && r.status().code() != lantoa::v1::Error::SUBSCRIPTION_NOT_FOUND) return r.status();
              done.push_back(PurgeDone{p.control, r.status(), r.ok() ? *r : Store::Batch::Purged{}});
              return Status::Ok();
            },
            [&](AckOp& a) -> Status {
              // An ack is recorded for the spread of its event unless the store
              // is too full for it (then acks must still free space).
              const bool record = !a.expired && !spread_paused_;
              for (const auto& ref : a.refs) LANTOA_RETURN_IF_ERROR(batch->ack(ref, record ? now : 0));
              done.push_back(AckDone{a.refs});
              return Status::Ok();
            },
        },
        *op);
    if (!applied.ok()) {
      *failure = applied;
      return false;
    }
  }
  if (Status s = batch->commit(); !s.ok()) {
    *failure = s;
    return false;
  }
  for (const IngestItem* item : declarations) {
    if (on_declaration_) on_declaration_(*item);
  }
  metrics_.commit_took(static_cast<uint64_t>(micros_since(started)), accepted_events);
  metrics_.accepted += accepted_events;
  metrics_.not_queued = store_.not_queued_total();
  metrics_.duplicates += duplicates;
  for (const auto& [code, origin] : rejections) metrics_.reject(code, *origin);
  for (const StoredEvent* r : accepted_records) {
    flows_.topic(r->topic()).accepted.fetch_add(1, std::memory_order_relaxed);
    flows_.origin(r->origin()).accepted.fetch_add(1, std::memory_order_relaxed);
  }
  for (auto& c : done) completions_.push(std::move(c));
  return true;
}

void Writer::process(std::vector<WriterOp>& ops) {
  // Acks first, in their own transaction: they free space, and must not fail
  // because publishes in the same group filled the store.
  std::vector<std::vector<WriterOp*>> groups(2);  // [0]: the acks; then the rest, in order
  for (auto& op : ops) {
    if (std::holds_alternative<AckOp>(op)) {
      groups[0].push_back(&op);
      continue;
    }
    groups.back().push_back(&op);
    // A declaration goes into force when its group commits: the operations
    // after it form the next group.
    const auto* p = std::get_if<PublishOp>(&op);
    if (p && std::any_of(p->items.begin(), p->items.end(), [](const IngestItem& i) { return i.declares(); })) {
      groups.emplace_back();
    }
  }
  for (auto& g : groups) {
    auto* group = &g;
    if (group->empty()) continue;
    Status failure;
    if (apply(*group, &failure)) continue;
    if (group == &groups[0] && !spread_paused_ && failure.code() == lantoa::v1::Error::STORAGE_FULL) {
      // Acks must free space even in a full store: once more without
      // recording them for the spread of events, which stays paused until
      // retention has freed room (housekeeping).
      spread_paused_ = true;
      spdlog::warn("the store is too full to record acks for the spread of events ({}); acks are applied without "
                   "them until retention frees room", failure.to_string());
      if (apply(*group, &failure)) continue;
    }
    if (group->size() == 1) {
      fail(*group->front(), failure);
      continue;
    }
    // Retry one by one so that only what does not fit fails.
    for (WriterOp* op : *group) {
      std::vector<WriterOp*> one{op};
      Status single;
      if (!apply(one, &single)) fail(*op, single);
    }
  }
  publish_depths();
}

void Writer::housekeeping(int64_t now) {
  // A reader that died (a killed `lantoa-broker check` or backup) would pin
  // the pages it saw, and the store would only grow.
  if (int dead = 0; mdb_reader_check(store_.env().raw(), &dead) == 0 && dead > 0) {
    spdlog::warn("cleared {} stale LMDB reader slot(s) left by a process that ended while reading", dead);
  }
  auto batch = store_.begin();
  if (!batch) return storage_error("starting housekeeping", batch.status(), "tried again at the next pass");
  auto released = batch->release_embargoes(now);
  uint64_t removed = 0;
  bool retention = now - last_retention_ms_ >= options_.retention_every_ms;
  if (released.ok() && retention) {
    auto r = batch->apply_retention(now, options_.retention);
    if (!r) {
      return storage_error("applying retention", r.status(), "tried again at the next pass");
    }
    removed = *r;
    last_retention_ms_ = now;
  }
  if (!released) {
    return storage_error("releasing embargoes", released.status(), "tried again at the next pass");
  }
  if (released->empty() && removed == 0) return;  // nothing changed: the batch aborts
  if (Status s = batch->commit(); !s.ok()) {
    return storage_error("committing housekeeping", s, "tried again at the next pass");
  }
  metrics_.retained_removed += removed;
  if (removed) spdlog::info("retention removed {} events", removed);
  if (removed && spread_paused_) {
    spread_paused_ = false;
    spdlog::info("retention freed room: acks are recorded for the spread of events again");
  }
  if (!released->empty()) completions_.push(Released{std::move(*released)});
  publish_depths();
}

void Writer::publish_depths() {
  depths_changed_ = true;
  const int64_t now = unix_now_ms();
  if (now - last_depths_ms_ < 100) return;  // at most ten times a second; housekeeping catches up
  last_depths_ms_ = now;
  depths_changed_ = false;
  for (const auto& [id, sub] : store_.subscriptions()) {
    auto d = store_.depths().find(id);
    metrics_.subscription(id, sub.record.owner(), sub.record.name(), sub.record.filters())
        ->depth.store(d == store_.depths().end() ? 0 : d->second, std::memory_order_relaxed);
  }
}

}  // namespace lantoa::broker
