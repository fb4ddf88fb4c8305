#include "session/publish_intake.h"

#include <algorithm>

namespace lantoa::broker {
namespace {

using E = lantoa::v1::Error;

}  // namespace

PublishIntake::PublishIntake(Verifier& verifier, Metrics& metrics, Tickets& tickets, IntakeOptions options,
                             Reply reply)
    : verifier_(verifier),
      metrics_(metrics),
      tickets_(tickets),
      options_(options),
      reply_(std::move(reply)),
      rate_(options.rate) {}

Result<uint64_t> PublishIntake::open_batch(const std::string& peer, const v1::PublishBatch& batch) {
  const int n = batch.events_size();
  if (static_cast<uint32_t>(n) > options_.max_batch_events) {
    return Status(E::INVALID_ARGUMENT, "batch of " + std::to_string(n) + " events exceeds the limit of " +
                                           std::to_string(options_.max_batch_events));
  }
  const uint64_t id = next_publish_id_++;
  Pending& p = pending_[id];
  p.peer = peer;
  p.results.set_request_id(batch.request_id());
  return id;
}

Status PublishIntake::take(const std::string& peer, const std::shared_ptr<const Identity>& identity,
                           v1::PublishBatch& batch, int64_t now_ms) {
  const int n = batch.events_size();
  auto opened = open_batch(peer, batch);
  if (!opened) return opened.status();
  const uint64_t id = *opened;
  Pending& p = pending_[id];
  const std::string& member = identity->member.member();
  // Rate limits first: what is over the member's limit is refused now, with
  // the time to wait, and never reaches verification or storage.
  std::vector<std::pair<uint32_t, v1::SignedEvent>> admitted;
  for (int i = 0; i < n; ++i) {
    v1::SignedEvent& e = *batch.mutable_events(i);
    auto sequence = [&e] {  // parsed only when the order rule needs it (see RateLimiter::admit)
      v1::Event ev;
      return ev.ParseFromString(e.event()) ? ev.sequence() : uint64_t{0};
    };
    const int64_t wait = rate_.admit(member, e.event().size(), sequence, now_ms);
    if (wait == 0) {
      admitted.emplace_back(static_cast<uint32_t>(i), std::move(e));
      continue;
    }
    auto* r = p.results.add_results();
    r->set_index(static_cast<uint32_t>(i));
    r->set_status(v1::PublishResult::REJECTED);
    r->set_retry_after_ms(static_cast<uint32_t>(std::min<int64_t>(wait, UINT32_MAX)));
    const std::string retry = "; retry after " + std::to_string(wait) + " ms";
    Status why(E::RATE_LIMITED, "over the publish rate limit of " + member + retry);
    if (const uint64_t awaited = rate_.awaited(member, now_ms); awaited != 0) {
      // Held for order, not for the rate: an earlier event of this member
      // was refused (rate or verify queue) and has not come back yet.
      why = Status(rate_.enabled() ? E::RATE_LIMITED : E::OVERLOADED,
                   "sequence " + std::to_string(sequence()) + " of " + member + " waits for sequence " +
                       std::to_string(awaited) + ", refused before it, to be sent again first (order is kept)" + retry);
    }
    *r->mutable_error() = why.to_proto();
    metrics_.reject(why.code(), member);
  }
  // Back-pressure: when verification is behind, what would overflow its
  // queue is refused now, with a delay, and nothing of it is kept.
  uint64_t admitted_bytes = 0;
  for (const auto& [i, e] : admitted) admitted_bytes += e.event().size();
  if (!admitted.empty() && !verifier_.has_room(admitted_bytes)) {
    // Order is kept as for rate limits: nothing numbered above the lowest
    // refused event of this member is taken until it comes back (a batch
    // already on its way behind this one would otherwise overtake it).
    uint64_t lowest = UINT64_MAX;
    for (const auto& [i, e] : admitted) {
      v1::Event ev;
      if (ev.ParseFromString(e.event()) && ev.sequence() != 0) lowest = std::min(lowest, ev.sequence());
    }
    if (lowest != UINT64_MAX) rate_.await(member, lowest, now_ms);
    refuse_overloaded(p, admitted, member);
  }
  submit(id, peer, identity, batch.request_id(), admitted, false, 0);
  return Status::Ok();
}

Status PublishIntake::forward(const std::string& peer, const std::shared_ptr<const Identity>& identity,
                              v1::PublishBatch& batch, uint64_t arrived_on) {
  const int n = batch.events_size();
  auto opened = open_batch(peer, batch);
  if (!opened) return opened.status();
  const uint64_t id = *opened;
  Pending& p = pending_[id];
  std::vector<std::pair<uint32_t, v1::SignedEvent>> admitted;
  uint64_t bytes = 0;
  for (int i = 0; i < n; ++i) {
    bytes += batch.events(i).event().size();
    admitted.emplace_back(static_cast<uint32_t>(i), std::move(*batch.mutable_events(i)));
  }
  if (!admitted.empty() && !verifier_.has_room(bytes)) {
    refuse_overloaded(p, admitted, identity->member.member());
  }
  submit(id, peer, identity, batch.request_id(), admitted, true, arrived_on);
  return Status::Ok();
}

void PublishIntake::submit(uint64_t id, const std::string& peer, const std::shared_ptr<const Identity>& identity,
                           uint64_t request_id, std::vector<std::pair<uint32_t, v1::SignedEvent>>& admitted,
                           bool forwarded, uint64_t arrived_on) {
  Pending& p = pending_[id];
  const uint32_t chunk = std::max(1u, options_.chunk_events);
  p.chunks_left = (static_cast<uint32_t>(admitted.size()) + chunk - 1) / chunk;
  if (p.chunks_left == 0) {
    finish(id);  // nothing to verify (an empty batch, or all refused): answer at once
    return;
  }
  for (size_t first = 0; first < admitted.size(); first += chunk) {
    PublishJob job;
    job.ticket = tickets_.next();
    job.peer = peer;
    job.publish_id = id;
    job.request_id = request_id;
    job.identity = identity;
    job.forwarded = forwarded;
    job.arrived_on = arrived_on;
    const size_t last = std::min(admitted.size(), first + chunk);
    for (size_t i = first; i < last; ++i) {
      job.indexes.push_back(admitted[i].first);
      job.events.push_back(std::move(admitted[i].second));
    }
    verifier_.submit(std::move(job));
  }
}

void PublishIntake::refuse_overloaded(Pending& p, std::vector<std::pair<uint32_t, v1::SignedEvent>>& admitted,
                                      const std::string& member) {
  for (const auto& [i, e] : admitted) {
    auto* r = p.results.add_results();
    r->set_index(i);
    r->set_status(v1::PublishResult::REJECTED);
    r->set_retry_after_ms(kOverloadedRetryMs);
    *r->mutable_error() = Status(E::OVERLOADED, "the broker is verifying " +
                                                    std::to_string(verifier_.queued_bytes() >> 10) +
                                                    " KB of events already; retry after " +
                                                    std::to_string(kOverloadedRetryMs) + " ms")
                              .to_proto();
    metrics_.reject(E::OVERLOADED, member);
  }
  admitted.clear();
}

void PublishIntake::done(PublishDone& chunk) {
  auto it = pending_.find(chunk.publish_id);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  for (auto& r : *chunk.results.mutable_results()) *p.results.add_results() = std::move(r);
  if (p.chunks_left > 0 && --p.chunks_left > 0) return;
  finish(chunk.publish_id);
}

void PublishIntake::finish(uint64_t publish_id) {
  auto it = pending_.find(publish_id);
  if (it == pending_.end()) return;
  auto* results = it->second.results.mutable_results();
  std::sort(results->begin(), results->end(), [](auto& a, auto& b) { return a.index() < b.index(); });
  reply_(it->second.peer, it->second.results);
  pending_.erase(it);
}

}  // namespace lantoa::broker
