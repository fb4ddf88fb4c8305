#include "lantoa/trust.h"

#include <algorithm>
#include <mutex>
#include <set>

#include "lantoa/internal/file_util.h"
#include "lantoa/encoding.h"
#include "lantoa/names.h"
#include "proto_scan.h"

namespace lantoa {
namespace {

using E = v1::Error;

Status malformed(std::string message) { return Status(E::CERT_MALFORMED, std::move(message)); }

std::string describe_time(int64_t ms) { return format_time_ms(ms); }

// Rules shared by issuing and decoding a certificate.
Status check_certificate_fields(const v1::Certificate& c) {
  if (c.format() != 1) return malformed("certificate format " + std::to_string(c.format()) + " is not supported");
  if (Status s = validate_member_id(c.member()); !s.ok()) return malformed("certified " + s.message());
  if (Status s = validate_member_id(c.issuer()); !s.ok()) return malformed("issuer " + s.message());
  if (!strictly_below(c.member(), c.issuer())) {
    return Status(E::CERT_OUTSIDE_NAMESPACE, "issuer \"" + c.issuer() + "\" may only certify ids below \"" +
                                                 c.issuer() + ".\", not \"" + c.member() + "\"");
  }
  if (c.sign_key().size() != kSignPublicKeySize) return malformed("sign_key of " + c.member() + " is not 32 bytes");
  if (c.transport_key().size() != kTransportKeySize) {
    return malformed("transport_key of " + c.member() + " is not 32 bytes");
  }
  if (c.issuer_key_id().size() != kKeyIdSize) return malformed("issuer_key_id is not 16 bytes");
  if (c.roles_size() == 0) return malformed("certificate of " + c.member() + " grants no role");
  std::set<int> seen;
  for (int r : c.roles()) {
    if (r == v1::ROLE_UNSPECIFIED || !v1::Role_IsValid(r)) return malformed("unknown role " + std::to_string(r));
    if (!seen.insert(r).second) return malformed("role " + v1::Role_Name(r) + " is listed twice");
  }
  if (c.not_before_ms() < 0 || c.not_after_ms() <= c.not_before_ms()) {
    return malformed("validity of " + c.member() + " must have not_after_ms after not_before_ms");
  }
  if (c.serial() == 0) return malformed("serial must be at least 1");
  for (const std::string& grant : c.read_grants()) LANTOA_RETURN_IF_ERROR(validate_filter(grant));
  return Status::Ok();
}

// May a certificate issued by `issuer` (nullptr: the root) carry `grant`?
bool grant_allowed(const v1::Certificate* issuer, const std::string& grant) {
  if (!issuer) return true;  // the root reads everything and may grant anything
  if (filter_covers(issuer->member() + ".>", grant) || grant == issuer->member()) return true;
  for (const auto& own : issuer->read_grants()) {
    if (filter_covers(own, grant)) return true;
  }
  return false;
}

std::string roles_text(const v1::Certificate& c);

Status parse_list(const v1::SignedRevocationList& signed_list, v1::RevocationList& list) {
  LANTOA_RETURN_IF_ERROR(internal::parse_protobuf(list, signed_list.list(), E::CERT_MALFORMED));
  if (list.format() != 1) return malformed("revocation list format " + std::to_string(list.format()) + " is not supported");
  if (Status s = validate_member_id(list.issuer()); !s.ok()) return malformed("revocation list issuer " + s.message());
  if (list.issuer_key_id().size() != kKeyIdSize) return malformed("revocation list issuer_key_id is not 16 bytes");
  if (list.number() == 0) return malformed("revocation list number must be at least 1");
  if (signed_list.signature().size() != kSignatureSize) return malformed("revocation list signature is not 64 bytes");
  for (const auto& r : list.revocations()) {
    if (!strictly_below(r.member(), list.issuer())) {
      return Status(E::CERT_OUTSIDE_NAMESPACE, "issuer \"" + list.issuer() + "\" cannot revoke a key of \"" +
                                                   r.member() + "\" (not below it)");
    }
    if (r.key_id().size() != kKeyIdSize) return malformed("revoked key_id of " + r.member() + " is not 16 bytes");
    if (r.revoked_ms() <= 0) {
      return malformed("revocation of " + r.member() + " key " + key_id_fingerprint(r.key_id()) +
                       " needs revoked_ms, a positive time (from when its signatures stop counting)");
    }
  }
  return Status::Ok();
}

}  // namespace

bool VerifiedMember::has_role(v1::Role role) const {
  const auto& roles = certificate.roles();
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

Result<v1::SignedCertificate> issue_certificate(std::string_view issuer_id, const SigningKey& issuer_key,
                                                const CertificateRequest& request) {
  v1::Certificate c;
  c.set_format(1);
  c.set_member(request.keys.member);
  c.set_sign_key(request.keys.sign);
  c.set_transport_key(request.keys.transport);
  for (v1::Role role : request.roles) c.add_roles(role);
  c.set_not_before_ms(request.not_before_ms);
  c.set_not_after_ms(request.not_after_ms);
  c.set_issuer(std::string(issuer_id));
  c.set_issuer_key_id(issuer_key.id());
  c.set_serial(request.serial);
  for (const std::string& grant : request.read_grants) c.add_read_grants(grant);
  LANTOA_RETURN_IF_ERROR(check_certificate_fields(c));

  v1::SignedCertificate out;
  if (!c.SerializeToString(out.mutable_certificate())) return Status(E::INTERNAL, "cannot serialize certificate");
  out.set_signature(issuer_key.sign(SignDomain::kCertificate, out.certificate()));
  return out;
}

Status check_issuer(const v1::CertificateChain& issuer_chain, const CertificateRequest& request) {
  if (issuer_chain.certificates_size() == 0) return Status::Ok();  // the root: anything below it
  auto issuer = decode_certificate(issuer_chain.certificates(0));
  if (!issuer) return issuer.status();
  const auto& roles = issuer->roles();
  if (std::find(roles.begin(), roles.end(), v1::AUTHORITY) == roles.end()) {
    return Status(E::CERT_NOT_AUTHORITY, "\"" + issuer->member() + "\" is not certified as an authority (its roles: " +
                                             roles_text(*issuer) + "); what it certifies would not verify");
  }
  for (const auto& grant : request.read_grants) {
    if (!grant_allowed(&*issuer, grant)) {
      return Status(E::CERT_OUTSIDE_NAMESPACE, "\"" + issuer->member() + "\" may not grant reading \"" + grant +
                                                   "\": only filters inside its namespace (" + issuer->member() +
                                                   ".>) or covered by its own read grants");
    }
  }
  if (request.not_before_ms >= issuer->not_after_ms()) {
    return Status(E::CERT_EXPIRED, "the certificate of \"" + issuer->member() + "\" ends at " +
                                       format_time_ms(issuer->not_after_ms()) + ", before the new one would start");
  }
  return Status::Ok();
}

Result<v1::Certificate> decode_certificate(const v1::SignedCertificate& signed_cert) {
  if (signed_cert.signature().size() != kSignatureSize) return malformed("certificate signature is not 64 bytes");
  v1::Certificate c;
  LANTOA_RETURN_IF_ERROR(internal::parse_protobuf(c, signed_cert.certificate(), E::CERT_MALFORMED));
  LANTOA_RETURN_IF_ERROR(check_certificate_fields(c));
  return c;
}

Result<v1::SignedRevocationList> issue_revocation_list(std::string_view issuer_id, const SigningKey& issuer_key,
                                                       uint64_t number, int64_t issued_ms,
                                                       const std::vector<v1::Revocation>& revocations,
                                                       const v1::CertificateChain& issuer_chain) {
  v1::RevocationList list;
  list.set_format(1);
  list.set_issuer(std::string(issuer_id));
  list.set_issuer_key_id(issuer_key.id());
  list.set_number(number);
  list.set_issued_ms(issued_ms);
  for (const auto& r : revocations) *list.add_revocations() = r;

  v1::SignedRevocationList out;
  if (!list.SerializeToString(out.mutable_list())) return Status(E::INTERNAL, "cannot serialize revocation list");
  out.set_signature(issuer_key.sign(SignDomain::kRevocation, out.list()));
  *out.mutable_issuer_chain() = issuer_chain;
  v1::RevocationList check;
  LANTOA_RETURN_IF_ERROR(parse_list(out, check));
  return out;
}

// --- TrustStore ---

TrustStore::TrustStore(RootKey root) : root_(std::move(root)), root_key_id_(key_id(root_.sign_key)) {}

bool TrustStore::is_revoked(std::string_view member, std::string_view id, int64_t at_ms) const {
  std::shared_lock lock(mu_);
  auto it = revoked_.find({std::string(member), std::string(id)});
  return it != revoked_.end() && at_ms >= it->second;
}

void TrustStore::remember_keys(const std::vector<ChainLink>& links) const {
  constexpr size_t kMaxKnownKeys = 1 << 16;
  std::unique_lock lock(mu_);
  for (const auto& l : links) {
    if (known_keys_.size() >= kMaxKnownKeys && !known_keys_.count(l.key_id)) continue;
    auto& members = known_keys_[l.key_id];
    if (members.size() < 8) members.insert(l.member);
  }
}

Result<VerifiedMember> TrustStore::verify_chain(const v1::CertificateChain& chain, int64_t at_ms) const {
  const int n = chain.certificates_size();
  if (n == 0) return Status(E::UNKNOWN_SIGNER, "no certificate chain was given");
  if (static_cast<size_t>(n) > kMaxChainLength) {
    return Status(E::CERT_CHAIN_TOO_LONG, "certificate chain has " + std::to_string(n) + " links, limit " +
                                              std::to_string(kMaxChainLength));
  }
  std::vector<v1::Certificate> certs(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto c = decode_certificate(chain.certificates(i));
    if (!c) return c.status();
    certs[static_cast<size_t>(i)] = std::move(*c);
  }
  // From the root down to the leaf: each link is checked against a key that
  // is already trusted.
  for (int i = n - 1; i >= 0; --i) {
    const v1::Certificate& c = certs[static_cast<size_t>(i)];
    const v1::Certificate* issuer = i == n - 1 ? nullptr : &certs[static_cast<size_t>(i + 1)];
    std::string issuer_key;
    if (!issuer) {
      if (c.issuer() != root_.member || c.issuer_key_id() != root_key_id_) {
        return Status(E::CERT_WRONG_ISSUER, "chain of " + c.member() + " ends at issuer \"" + c.issuer() + "\" key " +
                                                key_id_fingerprint(c.issuer_key_id()) + ", not the pinned root \"" +
                                                root_.member + "\" key " + key_id_fingerprint(root_key_id_));
      }
      issuer_key = root_.sign_key;
    } else {
      if (c.issuer() != issuer->member() || c.issuer_key_id() != key_id(issuer->sign_key())) {
        return Status(E::CERT_WRONG_ISSUER, "certificate of " + c.member() + " names issuer \"" + c.issuer() +
                                                "\" key " + key_id_fingerprint(c.issuer_key_id()) +
                                                " but the next link is \"" + issuer->member() + "\" key " +
                                                fingerprint(issuer->sign_key()));
      }
      const auto& roles = issuer->roles();
      if (std::find(roles.begin(), roles.end(), v1::AUTHORITY) == roles.end()) {
        return Status(E::CERT_NOT_AUTHORITY, "\"" + issuer->member() + "\" is not an authority and cannot certify \"" +
                                                 c.member() + "\"");
      }
      issuer_key = issuer->sign_key();
    }
    if (Status s = check_link(issuer_key, chain.certificates(i).certificate(), chain.certificates(i).signature());
        !s.ok()) {
      return Status(E::CERT_BAD_SIGNATURE, "certificate of " + c.member() + ": " + s.message());
    }
    for (const auto& grant : c.read_grants()) {
      if (!grant_allowed(issuer, grant)) {
        return Status(E::CERT_OUTSIDE_NAMESPACE, "certificate of " + c.member() + " grants reading \"" + grant +
                                                     "\", beyond what its issuer \"" + issuer->member() +
                                                     "\" may grant (its own namespace and its own grants)");
      }
    }
    if (at_ms < c.not_before_ms()) {
      return Status(E::CERT_NOT_YET_VALID, "certificate of " + c.member() + " is valid from " +
                                               describe_time(c.not_before_ms()) + ", checked at " + describe_time(at_ms));
    }
    if (at_ms >= c.not_after_ms()) {
      return Status(E::CERT_EXPIRED, "certificate of " + c.member() + " expired at " + describe_time(c.not_after_ms()) +
                                         ", checked at " + describe_time(at_ms));
    }
    if (is_revoked(c.member(), key_id(c.sign_key()), at_ms)) {
      return Status(E::CERT_REVOKED, "key " + fingerprint(c.sign_key()) + " of " + c.member() + " is revoked");
    }
  }
  VerifiedMember out;
  for (const auto& c : certs) {
    out.links.push_back({c.member(), key_id(c.sign_key()), c.not_before_ms(), c.not_after_ms()});
  }
  remember_keys(out.links);
  out.key_id = out.links[0].key_id;
  out.certificate = std::move(certs[0]);
  return out;
}

Status TrustStore::check_current(const VerifiedMember& member, int64_t now_ms) const {
  for (const auto& l : member.links) {
    if (now_ms >= l.not_after_ms) {
      return Status(E::CERT_EXPIRED, "the certificate of " + l.member + " (in the chain of " + member.member() +
                                         ") expired at " + describe_time(l.not_after_ms));
    }
    if (is_revoked(l.member, l.key_id, now_ms)) {
      return Status(E::CERT_REVOKED, "the key " + key_id_fingerprint(l.key_id) + " of " + l.member +
                                         (l.member == member.member() ? "" : " (in the chain of " + member.member() + ")") +
                                         " is revoked");
    }
  }
  return Status::Ok();
}

Status TrustStore::check_event_times(const VerifiedMember& signer, int64_t created_ms, EventTimes times) const {
  for (const auto& l : signer.links) {
    if (created_ms < l.not_before_ms) {
      return Status(E::CERT_NOT_YET_VALID, "the event was created at " + describe_time(created_ms) +
                                               ", before the certificate of " + l.member + " was valid (from " +
                                               describe_time(l.not_before_ms) + ")");
    }
    if (created_ms >= l.not_after_ms) {
      return Status(E::CERT_EXPIRED, "the event was created at " + describe_time(created_ms) +
                                         ", after the certificate of " + l.member + " expired (at " +
                                         describe_time(l.not_after_ms) + ")");
    }
    for (int64_t at : {created_ms, times.judged_ms}) {
      if (at > 0 && is_revoked(l.member, l.key_id, at)) {
        return Status(E::CERT_REVOKED, "the key " + key_id_fingerprint(l.key_id) + " of " + l.member +
                                           " is revoked (checked at " + describe_time(at) + ")");
      }
    }
  }
  return Status::Ok();
}

std::vector<v1::SignedRevocationList> TrustStore::applied_lists() const {
  std::shared_lock lock(mu_);
  std::vector<v1::SignedRevocationList> out;
  for (const auto& [key, list] : lists_) out.push_back(list);
  return out;
}

uint64_t TrustStore::last_list_number(std::string_view issuer_key_id) const {
  std::shared_lock lock(mu_);
  auto it = list_numbers_.find(std::string(issuer_key_id));
  return it == list_numbers_.end() ? 0 : it->second;
}

Status TrustStore::check_link(const std::string& issuer_key, const std::string& certificate,
                              const std::string& signature) const {
  constexpr size_t kMaxRememberedLinks = 4096;
  const bool cacheable = issuer_key.size() == 32 && signature.size() == 64;  // then the triple is unambiguous
  std::string link;
  if (cacheable) {
    link = issuer_key + signature + certificate;
    std::lock_guard lock(links_mu_);
    if (verified_links_.count(link)) return Status::Ok();
  }
  LANTOA_RETURN_IF_ERROR(verify_signature(SignDomain::kCertificate, issuer_key, certificate, signature));
  if (cacheable) {
    std::lock_guard lock(links_mu_);
    if (verified_links_.size() >= kMaxRememberedLinks) verified_links_.clear();
    verified_links_.insert(std::move(link));
  }
  return Status::Ok();
}

Status TrustStore::verify_list(const v1::SignedRevocationList& signed_list, int64_t now_ms,
                               v1::RevocationList& list) const {
  LANTOA_RETURN_IF_ERROR(parse_list(signed_list, list));
  std::string issuer_key;
  if (list.issuer() == root_.member && list.issuer_key_id() == root_key_id_) {
    issuer_key = root_.sign_key;
  } else {
    auto issuer = verify_chain(signed_list.issuer_chain(), now_ms);
    if (!issuer) return issuer.status();
    if (issuer->member() != list.issuer() || issuer->key_id != list.issuer_key_id()) {
      return Status(E::CERT_WRONG_ISSUER, "revocation list names issuer \"" + list.issuer() + "\" key " +
                                              key_id_fingerprint(list.issuer_key_id()) + " but its chain certifies \"" +
                                              issuer->member() + "\" key " + key_id_fingerprint(issuer->key_id));
    }
    if (!issuer->has_role(v1::AUTHORITY)) {
      return Status(E::CERT_NOT_AUTHORITY, "\"" + list.issuer() + "\" is not an authority and cannot revoke");
    }
    issuer_key = issuer->certificate.sign_key();
  }
  if (Status s = verify_signature(SignDomain::kRevocation, issuer_key, signed_list.list(), signed_list.signature());
      !s.ok()) {
    return Status(E::CERT_BAD_SIGNATURE, "revocation list of " + list.issuer() + ": " + s.message());
  }
  return Status::Ok();
}

Status TrustStore::check_applicable_locked(const v1::RevocationList& list) const {
  for (const auto& r : list.revocations()) {
    auto known = known_keys_.find(r.key_id());
    if (known != known_keys_.end() && !known->second.count(r.member())) {
      return Status(E::CERT_OUTSIDE_NAMESPACE,
                    "revocation list " + std::to_string(list.number()) + " of " + list.issuer() + " names key " +
                        key_id_fingerprint(r.key_id()) + " as " + r.member() + "'s, but that key is certified for " +
                        *known->second.begin() + ": an authority may only revoke keys of members below it");
    }
  }
  auto it = list_numbers_.find(list.issuer_key_id());
  const uint64_t last = it == list_numbers_.end() ? 0 : it->second;
  if (list.number() <= last) {
    return Status(E::REVOCATION_LIST_STALE,
                  "revocation list " + std::to_string(list.number()) + " of " + list.issuer() + " (key " +
                      key_id_fingerprint(list.issuer_key_id()) + ") is not newer than list " + std::to_string(last) +
                      ", already in force; number the new list " + std::to_string(last + 1) + " or higher");
  }
  return Status::Ok();
}

Status TrustStore::check_revocation_list(const v1::SignedRevocationList& signed_list, int64_t now_ms) const {
  v1::RevocationList list;
  LANTOA_RETURN_IF_ERROR(verify_list(signed_list, now_ms, list));
  std::shared_lock lock(mu_);
  return check_applicable_locked(list);
}

Status TrustStore::add_revocation_list(const v1::SignedRevocationList& signed_list, int64_t now_ms) {
  v1::RevocationList list;
  LANTOA_RETURN_IF_ERROR(verify_list(signed_list, now_ms, list));
  std::unique_lock lock(mu_);
  LANTOA_RETURN_IF_ERROR(check_applicable_locked(list));
  list_numbers_[list.issuer_key_id()] = list.number();
  lists_[list.issuer_key_id()] = signed_list;
  for (const auto& r : list.revocations()) {
    auto [it, inserted] = revoked_.emplace(std::make_pair(r.member(), r.key_id()), r.revoked_ms());
    if (!inserted) it->second = std::min(it->second, r.revoked_ms());
  }
  return Status::Ok();
}

Result<v1::SignedRevocationList> TrustStore::check_revocation_event(const VerifiedEvent& event,
                                                                    int64_t now_ms) const {
  if (event.event.topic() != kRevocationTopic) {
    return Status(E::INVALID_ARGUMENT, "not an event on " + std::string(kRevocationTopic));
  }
  if (!event.signer.has_role(v1::AUTHORITY)) {
    return Status(E::ROLE_MISSING, "only authorities may publish on " + std::string(kRevocationTopic) + "; \"" +
                                       event.signer.member() + "\" is not one");
  }
  auto list = revocations_from_text(event.event.body());
  if (!list) return list.status();
  LANTOA_RETURN_IF_ERROR(check_revocation_list(*list, now_ms));
  return list;
}

Result<v1::SignedRevocationList> TrustStore::apply_revocation_event(const VerifiedEvent& event, int64_t now_ms) {
  auto list = check_revocation_event(event, now_ms);
  if (!list) return list.status();
  LANTOA_RETURN_IF_ERROR(add_revocation_list(*list, now_ms));
  return list;
}

Result<VerifiedEvent> TrustStore::verify_event(const v1::SignedEvent& envelope, const v1::CertificateChain& chain,
                                               const EventLimits& limits, EventTimes times) const {
  auto decoded = decode_event(envelope, limits);
  if (!decoded) return decoded.status();
  // The chain is checked at the event's creation time, so events signed
  // before a key rotation or expiry stay verifiable; revocation is also
  // judged at the time the event is known to have existed (see EventTimes),
  // so dating an event back does not get a revoked key past it.
  auto signer = verify_chain(chain, decoded->event.created_ms());
  if (!signer) return signer.status();
  LANTOA_RETURN_IF_ERROR(check_event_times(*signer, decoded->event.created_ms(), times));
  if (signer->member() != decoded->event.origin()) {
    return Status(E::ORIGIN_MISMATCH, "event claims origin \"" + decoded->event.origin() +
                                          "\" but is signed by \"" + signer->member() + "\"");
  }
  if (!signer->has_role(v1::PUBLISHER)) {
    return Status(E::ROLE_MISSING, "\"" + signer->member() + "\" is not certified as a publisher");
  }
  LANTOA_RETURN_IF_ERROR(check_editorial_role(*signer, decoded->event));
  LANTOA_RETURN_IF_ERROR(check_event_signature(envelope, signer->certificate.sign_key()));
  LANTOA_RETURN_IF_ERROR(verify_carried(decoded->event, limits, times));
  return VerifiedEvent{std::move(decoded->id), std::move(decoded->event), std::move(*signer)};
}

Status check_editorial_role(const VerifiedMember& signer, const v1::Event& event) {
  const bool decision = event.kind() == v1::REPLY &&
                        (event.reply_code() == v1::ACCEPTED || event.reply_code() == v1::REJECTED ||
                         event.reply_code() == v1::CHANGES_REQUESTED);
  if ((event.kind() == v1::ENDORSEMENT || decision) && !signer.has_role(v1::EDITOR)) {
    return Status(E::ROLE_MISSING, "\"" + signer.member() + "\" is not certified as an editor: only editors " +
                                       (decision ? "decide on proposals (" + v1::ReplyCode_Name(event.reply_code()) + ")"
                                                 : std::string("endorse another member's item")));
  }
  return Status::Ok();
}

Status TrustStore::verify_carried(const v1::Event& event, const EventLimits& limits, EventTimes times) const {
  if (event.kind() != v1::ENDORSEMENT) return Status::Ok();
  auto carried = parse_signed_event(event.carried_event(), limits);
  if (!carried) {
    return Status(E::INVALID_CARRIED_EVENT, "the endorsed event cannot be read: " + carried.status().message());
  }
  // The original is judged at its own creation time: an endorser vouches
  // for an item as it was made.
  (void)times;
  auto original = verify_event(*carried, limits);
  if (!original) {
    return Status(original.status().code(), "the endorsed event does not verify: " + original.status().message());
  }
  if (original->event.kind() == v1::ENDORSEMENT) {
    return Status(E::INVALID_CARRIED_EVENT, "an endorsement may not carry another endorsement");
  }
  if (original->id != event.refers_to()) {
    return Status(E::INVALID_CARRIED_EVENT, "refers_to is not the id of the carried event");
  }
  return Status::Ok();
}

Result<VerifiedEvent> TrustStore::verify_event(const v1::SignedEvent& envelope, const EventLimits& limits,
                                               EventTimes times) const {
  if (!envelope.has_signer_chain()) {
    return Status(E::UNKNOWN_SIGNER, "envelope carries no signer certificate chain");
  }
  return verify_event(envelope, envelope.signer_chain(), limits, times);
}

// --- files ---

namespace {
constexpr std::string_view kChainLabel = "LANTOA CERTIFICATE CHAIN";
constexpr std::string_view kListLabel = "LANTOA REVOCATION LIST";
constexpr size_t kMaxTrustFileBytes = 1 << 20;

std::string roles_text(const v1::Certificate& c) {
  std::string out;
  for (int r : c.roles()) {
    if (!out.empty()) out += ", ";
    std::string name = v1::Role_Name(r);
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out += name;
  }
  return out;
}
}  // namespace

std::string chain_to_text(const v1::CertificateChain& chain) {
  std::string summary = "# Lantoa certificate chain (public), leaf first.\n";
  for (const auto& link : chain.certificates()) {
    auto c = decode_certificate(link);
    if (!c) continue;
    summary += "# " + c->member() + " [" + roles_text(*c) + "] key " + fingerprint(c->sign_key()) + ", issued by " +
               c->issuer() + ", valid " + format_time_ms(c->not_before_ms()) + " .. " +
               format_time_ms(c->not_after_ms()) + "\n";
  }
  return armor(kChainLabel, chain.SerializeAsString(), summary);
}

Result<v1::CertificateChain> chain_from_text(std::string_view text) {
  auto bytes = dearmor(kChainLabel, text);
  if (!bytes) return malformed("no \"-----BEGIN LANTOA CERTIFICATE CHAIN-----\" block, or it is damaged");
  v1::CertificateChain chain;
  LANTOA_RETURN_IF_ERROR(internal::parse_protobuf(chain, *bytes, E::CERT_MALFORMED));
  for (const auto& link : chain.certificates()) {
    auto c = decode_certificate(link);
    if (!c) return c.status();
  }
  if (chain.certificates_size() == 0) return malformed("the certificate chain is empty");
  return chain;
}

Status save_chain(const std::filesystem::path& path, const v1::CertificateChain& chain, bool overwrite) {
  return internal::write_file_atomic(path, chain_to_text(chain), 0644, overwrite);
}

Result<v1::CertificateChain> load_chain(const std::filesystem::path& path) {
  auto content = internal::read_file(path, kMaxTrustFileBytes);
  if (!content) return content.status();
  auto chain = chain_from_text(content->data);
  if (!chain) return Status(chain.status().code(), path.string() + ": " + chain.status().message());
  return chain;
}

Result<v1::RevocationList> decode_revocation_list(const v1::SignedRevocationList& signed_list) {
  v1::RevocationList list;
  LANTOA_RETURN_IF_ERROR(parse_list(signed_list, list));
  return list;
}

std::string revocations_to_text(const v1::SignedRevocationList& signed_list) {
  std::string summary = "# Lantoa revocation list (public).\n";
  if (auto list = decode_revocation_list(signed_list); list.ok()) {
    summary += "# issuer " + list->issuer() + ", number " + std::to_string(list->number()) + ", issued " +
               format_time_ms(list->issued_ms()) + "\n";
    for (const auto& r : list->revocations()) {
      summary += "# revoked " + r.member() + " key " + key_id_fingerprint(r.key_id()) + " from " +
                 format_time_ms(r.revoked_ms()) + " (" + v1::RevocationReason_Name(r.reason()) + ")\n";
    }
  }
  return armor(kListLabel, signed_list.SerializeAsString(), summary);
}

Result<v1::SignedRevocationList> revocations_from_text(std::string_view text) {
  auto bytes = dearmor(kListLabel, text);
  if (!bytes) return malformed("no \"-----BEGIN LANTOA REVOCATION LIST-----\" block, or it is damaged");
  v1::SignedRevocationList list;
  LANTOA_RETURN_IF_ERROR(internal::parse_protobuf(list, *bytes, E::CERT_MALFORMED));
  auto decoded = decode_revocation_list(list);
  if (!decoded) return decoded.status();
  return list;
}

Status save_revocations(const std::filesystem::path& path, const v1::SignedRevocationList& list, bool overwrite) {
  return internal::write_file_atomic(path, revocations_to_text(list), 0644, overwrite);
}

Result<v1::SignedRevocationList> load_revocations(const std::filesystem::path& path) {
  auto content = internal::read_file(path, kMaxTrustFileBytes);
  if (!content) return content.status();
  auto list = revocations_from_text(content->data);
  if (!list) return Status(list.status().code(), path.string() + ": " + list.status().message());
  return list;
}

}  // namespace lantoa
