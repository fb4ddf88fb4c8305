#include "delivery/ready_events.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "lantoa/v1/event.pb.h"

namespace lantoa::broker {

const ReadyEvent* ReadyEvents::get(uint64_t seq) {
  if (auto it = events_.find(seq); it != events_.end()) return &it->second;
  auto record = store_.read_event(txn_, seq);
  if (!record) {
    spdlog::error("cannot read event {} for delivery: {}", seq, record.status().to_string());
    return nullptr;
  }
  if (!record->has_value()) return nullptr;
  const StoredEvent& rec = **record;
  // The chain as a SignedEvent holding only `signer_chain`: appending its
  // encoding to the stored envelope (which has no chain) yields the envelope
  // with the chain, because parsing concatenated encodings merges them.
  const std::string& chain_key = rec.chain_id().empty() ? rec.signer_key_id() : rec.chain_id();
  auto chain = chains_.find(chain_key);
  if (chain == chains_.end()) {
    std::string suffix;
    auto stored = store_.read_chain(txn_, chain_key);
    if (stored.ok() && stored->has_value()) {
      lantoa::v1::SignedEvent only_chain;
      if (only_chain.mutable_signer_chain()->ParseFromString(**stored)) only_chain.SerializeToString(&suffix);
    }
    chain = chains_.emplace(chain_key, std::move(suffix)).first;
  }
  if (events_.size() >= kMaxKept) events_.clear();
  ReadyEvent& ready = events_[seq];
  ready.bytes.reserve(rec.envelope().size() + chain->second.size());
  ready.bytes = rec.envelope();
  ready.bytes += chain->second;
  ready.expires_ms = rec.expires_ms();
  ready.accepted_ms = rec.accepted_ms();
  ready.released_ms = std::max(rec.accepted_ms(), rec.embargo_until_ms());
  if (flows_) {
    ready.topic_flow = &flows_->topic(rec.topic());
    ready.origin_flow = &flows_->origin(rec.origin());
  }
  return &ready;
}

}  // namespace lantoa::broker
