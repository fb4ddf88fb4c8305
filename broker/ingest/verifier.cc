#include "ingest/verifier.h"

#include <chrono>

#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "lantoa/internal/file_util.h"
#include "lantoa/encoding.h"
#include "lantoa/names.h"

namespace lantoa::broker {

using lantoa::v1::Error;
using lantoa::v1::PublishResult;

Verifier::Verifier(TrustStore& trust, Restrictions& restrictions, Writer& writer, Metrics& metrics,
                   VerifierOptions options)
    : trust_(trust), restrictions_(restrictions), writer_(writer), metrics_(metrics), options_(options) {
  // Declarations go into force once committed, on the writer thread.
  writer_.on_declaration(
      [this](const IngestItem& item) { apply_declaration(item, trust_, restrictions_, options_); });
  for (unsigned i = 0; i < std::max(1u, options_.threads); ++i) threads_.emplace_back([this] { run(); });
}

Verifier::~Verifier() { stop(); }

void Verifier::submit(PublishJob job) {
  queued_bytes_ += job.bytes();
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void Verifier::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

Result<IngestItem> Verifier::verify(const lantoa::v1::SignedEvent& envelope, const Identity& identity,
                                    const TrustStore& trust, const VerifierOptions& options, int64_t now_ms) {
  auto decoded = decode_event(envelope, options.limits);
  if (!decoded) return decoded.status();
  const lantoa::v1::Event& e = decoded->event;
  const VerifiedMember& who = identity.member;
  if (e.origin() != who.member()) {
    return Status(Error::ORIGIN_MISMATCH, "event claims origin \"" + e.origin() + "\" but this connection is \"" +
                                              who.member() + "\"");
  }
  if (!who.has_role(lantoa::v1::PUBLISHER)) {
    return Status(Error::ROLE_MISSING, "\"" + who.member() + "\" is not certified as a publisher");
  }
  LANTOA_RETURN_IF_ERROR(check_editorial_role(who, e));
  LANTOA_RETURN_IF_ERROR(check_event_signature(envelope, who.certificate.sign_key()));
  if (e.created_ms() > now_ms + options.max_clock_skew_ms) {
    return Status(Error::INVALID_TIME, "created_ms is " + std::to_string((e.created_ms() - now_ms) / 1000) +
                                           " s in the future (check the publisher's clock)");
  }
  // The same time rules as every receiver (TrustStore::check_event_times):
  // the whole chain valid when the event was made and unrevoked now, at
  // acceptance, however the author dated it; and still current now.
  LANTOA_RETURN_IF_ERROR(trust.check_event_times(who, e.created_ms(), EventTimes{now_ms}));
  LANTOA_RETURN_IF_ERROR(trust.check_current(who, now_ms));
  LANTOA_RETURN_IF_ERROR(trust.verify_carried(e, options.limits, EventTimes{now_ms}));
  return make_item(envelope, decoded->id, e, identity, trust, now_ms);
}

Result<IngestItem> Verifier::verify_forwarded(const lantoa::v1::SignedEvent& envelope, const TrustStore& trust,
                                              const VerifierOptions& options, int64_t now_ms) {
  if (!envelope.has_signer_chain() || envelope.signer_chain().certificates_size() == 0) {
    return Status(Error::UNKNOWN_SIGNER, "a forwarded event must carry its signer's certificate chain");
  }
  auto verified = trust.verify_event(envelope, envelope.signer_chain(), options.limits, EventTimes{now_ms});
  if (!verified) return verified.status();
  if (verified->event.created_ms() > now_ms + options.max_clock_skew_ms) {
    return Status(Error::INVALID_TIME, "created_ms is " +
                                           std::to_string((verified->event.created_ms() - now_ms) / 1000) +
                                           " s in the future (check the publisher's clock)");
  }
  Identity identity;
  identity.member = std::move(verified->signer);
  envelope.signer_chain().SerializeToString(&identity.chain);
  identity.chain_id = event_id(identity.chain);
  return make_item(envelope, verified->id, verified->event, identity, trust, now_ms);
}

Result<IngestItem> Verifier::make_item(const lantoa::v1::SignedEvent& envelope, const std::string& id,
                                       const lantoa::v1::Event& e, const Identity& identity, const TrustStore& trust,
                                       int64_t now_ms) {
  const VerifiedMember& who = identity.member;
  std::optional<v1::SignedRevocationList> revocations;
  std::optional<Restriction> restriction;
  if (e.topic() == kRevocationTopic) {
    auto list = trust.check_revocation_event(VerifiedEvent{id, e, who}, now_ms);
    if (!list) return list.status();
    revocations = std::move(*list);
  }
  if (e.topic() == kRestrictionTopic) {
    auto r = restriction_from_event(VerifiedEvent{id, e, who});
    if (!r) return r.status();
    restriction = std::move(*r);
  }
  IngestItem item;
  lantoa::v1::SignedEvent stored = envelope;
  stored.clear_signer_chain();
  stored.SerializeToString(item.record.mutable_envelope());
  item.record.set_id(id);
  item.record.set_origin(e.origin());
  item.record.set_origin_sequence(e.sequence());
  item.record.set_created_ms(e.created_ms());
  item.record.set_topic(e.topic());
  item.record.set_urgency(e.urgency());
  item.record.set_embargo_until_ms(e.embargo_until_ms());
  item.record.set_expires_ms(e.expires_ms());
  item.record.set_signer_key_id(envelope.signer_key_id());
  item.record.set_chain_id(identity.chain_id);
  if (e.kind() == lantoa::v1::CORRECTION || e.kind() == lantoa::v1::RETRACTION) item.corrects = e.refers_to();
  item.chain = identity.chain;
  item.revocations = std::move(revocations);
  item.restriction = std::move(restriction);
  return item;
}

void Verifier::apply_declaration(const IngestItem& item, TrustStore& trust, Restrictions& restrictions,
                                 const VerifierOptions& options) {
  if (item.revocations) {
    const auto& list = *item.revocations;
    auto parsed = decode_revocation_list(list);
    // Checked at verification; a list that another one overtook meanwhile
    // (two lists of one issuer key in one group) is stored but not in force.
    if (Status s = trust.add_revocation_list(list, unix_now_ms()); !s.ok()) {
      spdlog::warn("revocation list carried by event {} was committed but is not in force: {}",
                   to_hex(item.record.id()), s.to_string());
      return;
    }
    if (!options.revocations_dir.empty() && parsed.ok()) {
      std::error_code ec;
      std::filesystem::create_directories(options.revocations_dir, ec);
      // One file per issuer key and number.
      const auto path = options.revocations_dir / (parsed->issuer() + "." + to_hex(parsed->issuer_key_id()) + "." +
                                                   std::to_string(parsed->number()) + ".crl");
      if (Status s = save_revocations(path, list, true); !s.ok()) {
        spdlog::warn("cannot keep revocation list: {}", s.to_string());
      }
    }
    spdlog::info("applied revocation list {} from {} carried by {}", parsed.ok() ? parsed->number() : 0,
                 parsed.ok() ? parsed->issuer() : "?", item.record.origin());
  }
  if (item.restriction) {
    const Restriction& r = *item.restriction;
    if (!options.restrictions_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(options.restrictions_dir, ec);
      nlohmann::json j = {{"namespace", r.ns}, {"readers", r.readers}, {"owner", r.owner}};
      const auto path = options.restrictions_dir / (r.ns + "@" + r.owner + ".json");
      if (Status s = internal::write_file_atomic(path, j.dump(2) + "\n", 0644, true); !s.ok()) {
        spdlog::warn("cannot keep restriction: {}", s.to_string());
      }
    }
    spdlog::info("{} restricted {} to its listed readers", r.owner, r.ns);
    restrictions.set(r);
  }
}

void Verifier::run() {
  while (true) {
    PublishJob job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    const uint64_t job_bytes = job.bytes();
    const int64_t now = unix_now_ms();
    PublishOp op;
    op.peer = std::move(job.peer);
    op.publish_id = job.publish_id;
    op.request_id = job.request_id;
    for (size_t i = 0; i < job.events.size(); ++i) {
      const uint32_t index = job.indexes[i];
      const auto started = std::chrono::steady_clock::now();
      auto item = job.forwarded ? verify_forwarded(job.events[i], trust_, options_, now)
                                : verify(job.events[i], *job.identity, trust_, options_, now);
      metrics_.verify_seconds.observe_micros(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count()));
      if (item) {
        item->index = index;
        item->arrived_on = job.arrived_on;
        op.items.push_back(std::move(*item));
        continue;
      }
      PublishResult r;
      r.set_index(index);
      r.set_status(PublishResult::REJECTED);
      if (!job.events[i].event().empty() && job.events[i].event().size() <= options_.limits.max_signed_bytes) {
        r.set_event_id(event_id(job.events[i].event()));
      }
      *r.mutable_error() = item.status().to_proto();
      metrics_.reject(item.status().code(), job.identity->member.member());
      op.rejected.push_back(std::move(r));
    }
    writer_.submit(job.ticket, std::move(op));
    queued_bytes_ -= job_bytes;
  }
}

}  // namespace lantoa::broker
