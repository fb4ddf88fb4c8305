// Trust: certificates, chains up to a pinned root, revocation, and the full
// end-to-end check of a signed event.
//
// A root authority (for example "vn", the Government portal's offline key) is
// pinned by every broker and subscriber as a RootKey. Authorities certify
// members strictly below their own id; a chain runs leaf first up to a
// certificate issued by the root. Each failure has its own code: expired, not
// yet valid, wrong issuer, outside namespace, revoked, bad signature, not an
// authority, chain too long, malformed.
//
// TrustStore is thread-safe: verification may run on many threads while
// revocation lists are added.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_set>
#include <string>
#include <string_view>
#include <vector>

#include "lantoa/event.h"
#include "lantoa/keys.h"
#include "lantoa/status.h"
#include "lantoa/v1/cert.pb.h"
#include "lantoa/v1/event.pb.h"

namespace lantoa {

inline constexpr size_t kMaxChainLength = 8;

// The pinned root of trust.
struct RootKey {
  std::string member;      // for example "vn"
  std::string sign_key;    // Ed25519 public key, 32 bytes
};

// What an authority is asked to certify.
struct CertificateRequest {
  PublicKeys keys;                  // member id and both public keys
  std::vector<v1::Role> roles;      // at least one
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  uint64_t serial = 0;              // unique for the issuer, at least 1
  std::vector<std::string> read_grants;  // filters of restricted topics it may read
};

// Issues a certificate signed by `issuer_key` for issuer `issuer_id`. Checks
// the request first: CERT_OUTSIDE_NAMESPACE when the member is not strictly
// below the issuer, CERT_MALFORMED for bad keys, roles, serial or validity.
Result<v1::SignedCertificate> issue_certificate(std::string_view issuer_id,
                                                const SigningKey& issuer_key,
                                                const CertificateRequest& request);

// For an authority about to issue: checks against its own chain (leaf
// first; empty for the root) what verification would refuse later:
// CERT_NOT_AUTHORITY when the issuer's certificate lacks the authority role,
// CERT_OUTSIDE_NAMESPACE when a requested read grant reaches beyond the
// issuer's namespace and its own grants, CERT_EXPIRED when the issuer's
// certificate ends before the new one starts.
Status check_issuer(const v1::CertificateChain& issuer_chain, const CertificateRequest& request);

// Parses the certified statement and checks its fields (not its signature).
Result<v1::Certificate> decode_certificate(const v1::SignedCertificate& signed_cert);

// Signs a revocation list (number >= 1) for `issuer_id`. The entries must be
// for members strictly below the issuer.
Result<v1::SignedRevocationList> issue_revocation_list(
    std::string_view issuer_id, const SigningKey& issuer_key, uint64_t number, int64_t issued_ms,
    const std::vector<v1::Revocation>& revocations, const v1::CertificateChain& issuer_chain = {});

// Certificate chains and revocation lists as files: armored text
// ("LANTOA CERTIFICATE CHAIN", "LANTOA REVOCATION LIST") with a readable
// summary above the block. CERT_MALFORMED when the content is not one.
std::string chain_to_text(const v1::CertificateChain& chain);
Result<v1::CertificateChain> chain_from_text(std::string_view text);
Status save_chain(const std::filesystem::path& path, const v1::CertificateChain& chain, bool overwrite = false);
Result<v1::CertificateChain> load_chain(const std::filesystem::path& path);
std::string revocations_to_text(const v1::SignedRevocationList& list);
Result<v1::SignedRevocationList> revocations_from_text(std::string_view text);
Status save_revocations(const std::filesystem::path& path, const v1::SignedRevocationList& list,
                        bool overwrite = false);
Result<v1::SignedRevocationList> load_revocations(const std::filesystem::path& path);
// The revocation entries of a list (parsed, not verified).
Result<v1::RevocationList> decode_revocation_list(const v1::SignedRevocationList& list);

// One certificate of a verified chain, as the checks after Hello need it.
struct ChainLink {
  std::string member;
  std::string key_id;        // key id of the certified signing key
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
};

// A member whose chain verified.
struct VerifiedMember {
  v1::Certificate certificate;  // the leaf
  std::string key_id;           // key id of the leaf's signing key
  std::vector<ChainLink> links; // the whole chain, leaf first (the root is not a link)

  const std::string& member() const { return certificate.member(); }
  bool has_role(v1::Role role) const;
};

// An event whose bytes, fields, signature and signer chain all verified.
struct VerifiedEvent {
  std::string id;
  v1::Event event;
  VerifiedMember signer;
};

// The time rules of a signed event, in one place for the broker and every
// receiver:
//  - the signer's whole chain must be valid (not before, not after, not
//    revoked) at the event's creation time, and
//  - at `judged_ms`, the time the judge knows the event existed (the broker:
//    now, when it accepts; a receiver: when its broker accepted it), no key
//    of the chain may be revoked: a revoked key cannot get a new event in by
//    dating it before its revocation.
// Expiry is not re-checked at `judged_ms`: an event made while its
// certificate was valid stays valid (offline outboxes keep working).
struct EventTimes {
  int64_t judged_ms = 0;  // 0: only the creation time is checked
};

// Editorial acts need the editor role (ROLE_MISSING otherwise): an
// ENDORSEMENT (republishing another member's item under one's own name) and a
// reviewer's decision on a proposal (REPLY ACCEPTED, REJECTED,
// CHANGES_REQUESTED). OK for everything else.
Status check_editorial_role(const VerifiedMember& signer, const v1::Event& event);

class TrustStore {
 public:
  explicit TrustStore(RootKey root);

  const RootKey& root() const { return root_; }

  // Verifies `chain` (leaf first) up to the pinned root, with every link valid
  // at `at_ms`, no key revoked at or before `at_ms`, and every read grant
  // within what its issuer may grant (CERT_OUTSIDE_NAMESPACE): the root may
  // grant any filter; an authority only filters inside its own namespace or
  // covered by its own grants. The signature check of each link (a pure
  // function of issuer key, certificate bytes and signature) is remembered,
  // so the same chain on every event of a member costs one Ed25519 check per
  // event, not one per link; validity times, roles and revocation are still
  // checked every time.
  Result<VerifiedMember> verify_chain(const v1::CertificateChain& chain, int64_t at_ms) const;

  // For a member verified earlier (a session after Hello): OK while every
  // link of its chain is unexpired and unrevoked at `now_ms`; CERT_EXPIRED or
  // CERT_REVOKED naming the link otherwise. Revoking an intermediate
  // authority ends every member below it.
  Status check_current(const VerifiedMember& member, int64_t now_ms) const;

  // Verifies a revocation list (its signature, its issuer's chain at
  // `now_ms`, that every entry is below the issuer and dated after 0) and
  // applies it. Lists are numbered per issuer key: a list numbered at or
  // below the last applied one for the same key changes nothing and returns
  // REVOCATION_LIST_STALE. An entry naming a key this store knows to be
  // certified for a member outside the issuer's namespace is refused with
  // CERT_OUTSIDE_NAMESPACE (and nothing of the list is applied). Whatever a
  // list says, an entry only ever revokes its key *as certified for the
  // member it names*: no list can cut off a member outside its issuer.
  Status add_revocation_list(const v1::SignedRevocationList& list, int64_t now_ms);
  // Every check of add_revocation_list, without applying the list (a broker
  // checks when it verifies the event that carries it, and applies it once
  // that event is committed).
  Status check_revocation_list(const v1::SignedRevocationList& list, int64_t now_ms) const;

  // For an event on the revocation topic ("$trust.revocations"): checks that
  // its signer is an authority (ROLE_MISSING otherwise), reads the list in its
  // body (armored text, see revocations_to_text) and applies it. Returns the
  // applied list.
  Result<v1::SignedRevocationList> apply_revocation_event(const VerifiedEvent& event, int64_t now_ms);
  // The same checks without applying (see check_revocation_list).
  Result<v1::SignedRevocationList> check_revocation_event(const VerifiedEvent& event, int64_t now_ms) const;

  // True when `key_id`, as certified for `member`, is revoked at `at_ms`.
  bool is_revoked(std::string_view member, std::string_view key_id, int64_t at_ms) const;
  // The revocation lists applied so far, one per issuer key (the
  // highest-numbered): what a receiver keeps to restore this state later.
  std::vector<v1::SignedRevocationList> applied_lists() const;
  // The last list number applied for an issuer key (0: none).
  uint64_t last_list_number(std::string_view issuer_key_id) const;

  // The full end-to-end check of an envelope with its signer's chain:
  // decode and validate the event, verify the chain by the time rules above,
  // require the leaf to be the origin (ORIGIN_MISMATCH) with the publisher
  // role (ROLE_MISSING) and the envelope's key id (SIGNER_MISMATCH), then
  // check the signature (BAD_SIGNATURE).
  Result<VerifiedEvent> verify_event(const v1::SignedEvent& envelope,
                                     const v1::CertificateChain& signer_chain,
                                     const EventLimits& limits = {}, EventTimes times = {}) const;
  // Same, with the chain carried in the envelope (UNKNOWN_SIGNER if none).
  Result<VerifiedEvent> verify_event(const v1::SignedEvent& envelope,
                                     const EventLimits& limits = {}, EventTimes times = {}) const;

  // For an ENDORSEMENT: the carried event (a SignedEvent with its signer
  // chain) verifies on its own, is not itself an endorsement, and is the
  // event refers_to names (INVALID_CARRIED_EVENT, or the carried event's own
  // verification error). OK for other kinds.
  Status verify_carried(const v1::Event& event, const EventLimits& limits = {}, EventTimes times = {}) const;

  // The event-time rules alone, for a signer whose chain verified at some
  // other time (the broker verified it at Hello): valid at `created_ms`,
  // unrevoked at `created_ms` and at `times.judged_ms`.
  Status check_event_times(const VerifiedMember& signer, int64_t created_ms, EventTimes times) const;

 private:
  RootKey root_;
  std::string root_key_id_;
  mutable std::shared_mutex mu_;
  // (member, key id) -> revoked_ms: a key is revoked as certified for the
  // member named in the entry, never for anyone else.
  std::map<std::pair<std::string, std::string>, int64_t> revoked_;
  // issuer key id -> the last list applied (its number is list_numbers_).
  std::map<std::string, uint64_t> list_numbers_;
  std::map<std::string, v1::SignedRevocationList> lists_;
  // Key id -> members it was seen certified for, in chains that verified
  // (bounded): lets a list naming someone else's key be refused clearly.
  mutable std::map<std::string, std::set<std::string>> known_keys_;
  void remember_keys(const std::vector<ChainLink>& links) const;
  // Certificate links whose signature checked out: issuer key (32 bytes) ||
  // signature (64 bytes) || certificate bytes. Bounded; cleared when full.
  // A revocation list's signature and issuer (no lock needed).
  Status verify_list(const v1::SignedRevocationList& signed_list, int64_t now_ms, v1::RevocationList& list) const;
  // Whether it may be applied now: namespace and numbering (mu_ held).
  Status check_applicable_locked(const v1::RevocationList& list) const;
  Status check_link(const std::string& issuer_key, const std::string& certificate,
                    const std::string& signature) const;
  mutable std::mutex links_mu_;
  mutable std::unordered_set<std::string> verified_links_;
};

}  // namespace lantoa
