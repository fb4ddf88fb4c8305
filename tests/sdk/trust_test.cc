#include "lantoa/trust.h"

#include <gtest/gtest.h>

#include "support/fixtures.h"

namespace lantoa {
namespace {

using testing::kT0;
using testing::kYearMs;
using testing::Member;
using testing::TrustTree;
using E = v1::Error;

constexpr int64_t kNow = kT0 + 24 * 3600 * 1000;

class Trust : public ::testing::Test {
 protected:
  // The root's revocation list number 1: `m`'s key compromised from kNow.
  v1::SignedRevocationList root_revokes(const Member& m) {
    v1::Revocation r;
    r.set_member(m.key.member);
    r.set_key_id(m.key.sign.id());
    r.set_revoked_ms(kNow);
    r.set_reason(v1::KEY_COMPROMISE);
    auto list = issue_revocation_list("vn", tree.root_key(), 1, kNow, {r});
    EXPECT_TRUE(list.ok()) << list.status().to_string();
    return list.ok() ? *list : v1::SignedRevocationList();
  }

  TrustTree tree;
  TrustStore store = tree.store();
};

TEST_F(Trust, MemberCertifiedByTheRootVerifies) {
  Member gov = tree.member("vn.gov");
  auto verified = store.verify_chain(gov.chain, kNow);
  ASSERT_OK(verified);
  EXPECT_EQ(verified->member(), "vn.gov");
  EXPECT_EQ(verified->key_id, gov.key.sign.id());
  EXPECT_TRUE(verified->has_role(v1::PUBLISHER));
  EXPECT_FALSE(verified->has_role(v1::AUTHORITY));
  EXPECT_EQ(verified->certificate.transport_key(), gov.key.transport.public_key());
}

TEST_F(Trust, DelegatedAuthorityCertifiesBelowItself) {
  Member qn = tree.certify("vn.qn", {v1::AUTHORITY, v1::PUBLISHER});
  Member halong = tree.certify("vn.qn.halong", {v1::PUBLISHER}, &qn);
  ASSERT_EQ(halong.chain.certificates_size(), 2);
  auto verified = store.verify_chain(halong.chain, kNow);
  ASSERT_OK(verified);
  EXPECT_EQ(verified->member(), "vn.qn.halong");
}

TEST_F(Trust, AuthorityCannotCertifyOutsideItsNamespace) {
  Member qn = tree.certify("vn.qn", {v1::AUTHORITY});
  auto key = MemberKey::generate("vn.bqp");
  CertificateRequest req{key->public_keys(), {v1::PUBLISHER}, kT0, kT0 + kYearMs, 1, {}};
  EXPECT_CODE(issue_certificate("vn.qn", qn.key.sign, req), E::CERT_OUTSIDE_NAMESPACE);
  // Nor its own id, nor a look-alike prefix.
  req.keys.member = "vn.qn";
  EXPECT_CODE(issue_certificate("vn.qn", qn.key.sign, req), E::CERT_OUTSIDE_NAMESPACE);
  req.keys.member = "vn.qnx";
  EXPECT_CODE(issue_certificate("vn.qn", qn.key.sign, req), E::CERT_OUTSIDE_NAMESPACE);

  // A certificate crafted by hand (bypassing issue_certificate) is refused on
  // verification.
  v1::Certificate c;
  c.set_format(1);
  c.set_member("vn.bqp");
  c.set_sign_key(key->sign.public_key());
  c.set_transport_key(key->transport.public_key());
  c.add_roles(v1::PUBLISHER);
  c.set_not_before_ms(kT0);
  c.set_not_after_ms(kT0 + kYearMs);
  c.set_issuer("vn.qn");
  c.set_issuer_key_id(qn.key.sign.id());
  c.set_serial(9);
  v1::CertificateChain chain;
  auto* link = chain.add_certificates();
  link->set_certificate(c.SerializeAsString());
  link->set_signature(qn.key.sign.sign(SignDomain::kCertificate, link->certificate()));
  *chain.add_certificates() = qn.chain.certificates(0);
  EXPECT_CODE(store.verify_chain(chain, kNow), E::CERT_OUTSIDE_NAMESPACE);
}

TEST_F(Trust, NonAuthorityCannotCertify) {
  Member gov = tree.member("vn.gov");  // publisher + subscriber, no authority
  Member sub = tree.certify("vn.gov.portal", {v1::PUBLISHER}, &gov);
  EXPECT_CODE(store.verify_chain(sub.chain, kNow), E::CERT_NOT_AUTHORITY);
}

TEST_F(Trust, ValidityWindowIsEnforced) {
  Member gov = tree.member("vn.gov");
  EXPECT_CODE(store.verify_chain(gov.chain, kT0 - 1), E::CERT_NOT_YET_VALID);
  EXPECT_TRUE(store.verify_chain(gov.chain, kT0).ok());
  EXPECT_CODE(store.verify_chain(gov.chain, kT0 + kYearMs), E::CERT_EXPIRED);
  // An expired intermediate fails the chain as well.
  Member qn = tree.certify("vn.qn", {v1::AUTHORITY}, nullptr, kT0, kT0 + 1000);
  Member halong = tree.certify("vn.qn.halong", {v1::PUBLISHER}, &qn);
  EXPECT_CODE(store.verify_chain(halong.chain, kT0 + 2000), E::CERT_EXPIRED);
}

TEST_F(Trust, ChainMustReachThePinnedRoot) {
  Member qn = tree.certify("vn.qn", {v1::AUTHORITY});
  Member halong = tree.certify("vn.qn.halong", {v1::PUBLISHER}, &qn);
  v1::CertificateChain cut;
  *cut.add_certificates() = halong.chain.certificates(0);  // intermediate missing
  EXPECT_CODE(store.verify_chain(cut, kNow), E::CERT_WRONG_ISSUER);

  TrustTree other;  // a different root also called "vn"
  Member impostor = other.member("vn.gov");
  EXPECT_CODE(store.verify_chain(impostor.chain, kNow), E::CERT_WRONG_ISSUER);

  v1::CertificateChain swapped;  // links from unrelated members
  Member gov = tree.member("vn.gov");
  *swapped.add_certificates() = halong.chain.certificates(0);
  *swapped.add_certificates() = gov.chain.certificates(0);
  EXPECT_CODE(store.verify_chain(swapped, kNow), E::CERT_WRONG_ISSUER);
}

TEST_F(Trust, TamperedCertificatesFail) {
  Member gov = tree.member("vn.gov");
  v1::CertificateChain bad_sig = gov.chain;
  (*bad_sig.mutable_certificates(0)->mutable_signature())[5] ^= 1;
  EXPECT_CODE(store.verify_chain(bad_sig, kNow), E::CERT_BAD_SIGNATURE);

  // Changing the certified content (here: the validity end) breaks the signature.
  auto cert = decode_certificate(gov.chain.certificates(0));
  ASSERT_OK(cert);
  cert->set_not_after_ms(kT0 + 100 * kYearMs);
  v1::CertificateChain extended = gov.chain;
  extended.mutable_certificates(0)->set_certificate(cert->SerializeAsString());
  EXPECT_CODE(store.verify_chain(extended, kNow), E::CERT_BAD_SIGNATURE);
}

TEST_F(Trust, MalformedAndOverlongChains) {
  v1::CertificateChain garbage;
  garbage.add_certificates()->set_certificate("\x0a\xff");
  garbage.mutable_certificates(0)->set_signature(std::string(64, 's'));
  EXPECT_CODE(store.verify_chain(garbage, kNow), E::CERT_MALFORMED);
  EXPECT_CODE(store.verify_chain(v1::CertificateChain(), kNow), E::UNKNOWN_SIGNER);

  // Nine levels: vn.a, vn.a.a, ... each an authority certified by the one above.
  std::vector<Member> levels;
  std::string id = "vn";
  for (int i = 0; i < 9; ++i) {
    id += ".a";
    levels.push_back(tree.certify(id, {v1::AUTHORITY, v1::PUBLISHER}, levels.empty() ? nullptr : &levels.back()));
  }
  EXPECT_TRUE(store.verify_chain(levels[7].chain, kNow).ok());  // 8 links
  EXPECT_CODE(store.verify_chain(levels[8].chain, kNow), E::CERT_CHAIN_TOO_LONG);
}

TEST_F(Trust, IssueRejectsBadRequests) {
  auto key = MemberKey::generate("vn.gov");
  CertificateRequest ok{key->public_keys(), {v1::PUBLISHER}, kT0, kT0 + 1, 1, {}};
  EXPECT_TRUE(issue_certificate("vn", tree.root_key(), ok).ok());
  auto with = [&](auto change) {
    CertificateRequest r = ok;
    change(r);
    return issue_certificate("vn", tree.root_key(), r).status().code();
  };
  EXPECT_EQ(with([](auto& r) { r.roles.clear(); }), E::CERT_MALFORMED);
  EXPECT_EQ(with([](auto& r) { r.roles = {v1::PUBLISHER, v1::PUBLISHER}; }), E::CERT_MALFORMED);
  EXPECT_EQ(with([](auto& r) { r.not_after_ms = r.not_before_ms; }), E::CERT_MALFORMED);
  EXPECT_EQ(with([](auto& r) { r.serial = 0; }), E::CERT_MALFORMED);
  EXPECT_EQ(with([](auto& r) { r.keys.sign = "short"; }), E::CERT_MALFORMED);
  EXPECT_EQ(with([](auto& r) { r.keys.member = "VN.GOV"; }), E::CERT_MALFORMED);
  EXPECT_EQ(with([](auto& r) { r.read_grants = {"vn.>.x"}; }), E::INVALID_FILTER);
}

TEST_F(Trust, RootRevocationShutsOutAKeyFromItsTime) {
  Member gov = tree.member("vn.gov");
  ASSERT_TRUE(store.add_revocation_list(root_revokes(gov), kNow).ok());
  EXPECT_TRUE(store.is_revoked("vn.gov", gov.key.sign.id(), kNow));
  EXPECT_FALSE(store.is_revoked("vn.gov", gov.key.sign.id(), kNow - 1));
  EXPECT_CODE(store.verify_chain(gov.chain, kNow + 1), E::CERT_REVOKED);
  EXPECT_TRUE(store.verify_chain(gov.chain, kNow - 1).ok());

  // Events created before the revocation stay valid; later ones do not.
  v1::Event before = testing::sample_event("vn.gov");
  before.set_created_ms(kNow - 1000);
  EXPECT_TRUE(store.verify_event(testing::signed_by(gov, before)).ok());
  v1::Event after = before;
  after.set_created_ms(kNow + 1000);
  EXPECT_CODE(store.verify_event(testing::signed_by(gov, after)), E::CERT_REVOKED);
}

TEST_F(Trust, AuthorityRevokesOnlyBelowItselfWithItsChain) {
  Member qn = tree.certify("vn.qn", {v1::AUTHORITY});
  Member halong = tree.certify("vn.qn.halong", {v1::PUBLISHER}, &qn);
  Member gov = tree.member("vn.gov");
  v1::Revocation r;
  r.set_member("vn.qn.halong");
  r.set_key_id(halong.key.sign.id());
  r.set_revoked_ms(kT0);
  auto list = issue_revocation_list("vn.qn", qn.key.sign, 1, kNow, {r}, qn.chain);
  ASSERT_OK(list);
  ASSERT_TRUE(store.add_revocation_list(*list, kNow).ok());
  EXPECT_CODE(store.verify_chain(halong.chain, kNow), E::CERT_REVOKED);

  v1::Revocation outside;
  outside.set_member("vn.gov");
  outside.set_key_id(gov.key.sign.id());
  EXPECT_CODE(issue_revocation_list("vn.qn", qn.key.sign, 2, kNow, {outside}, qn.chain), E::CERT_OUTSIDE_NAMESPACE);

  // Without a chain, an authority's list is not trusted.
  auto unchained = issue_revocation_list("vn.qn", qn.key.sign, 3, kNow, {r});
  ASSERT_OK(unchained);
  EXPECT_STATUS(store.add_revocation_list(*unchained, kNow), E::UNKNOWN_SIGNER);
}

TEST_F(Trust, ForgedOrStaleRevocationListsDoNothing) {
  Member gov = tree.member("vn.gov");
  v1::Revocation r;
  r.set_member("vn.gov");
  r.set_key_id(gov.key.sign.id());
  r.set_revoked_ms(kT0);
  auto list = issue_revocation_list("vn", tree.root_key(), 5, kNow, {r});
  v1::SignedRevocationList forged = *list;
  (*forged.mutable_signature())[0] ^= 1;
  EXPECT_STATUS(store.add_revocation_list(forged, kNow), E::CERT_BAD_SIGNATURE);
  EXPECT_FALSE(store.is_revoked("vn.gov", gov.key.sign.id(), kNow));

  // A list signed by someone else pretending to be the root.
  TrustTree other;
  auto impostor = issue_revocation_list("vn", other.root_key(), 6, kNow, {r});
  EXPECT_STATUS(store.add_revocation_list(*impostor, kNow), E::UNKNOWN_SIGNER);
  EXPECT_FALSE(store.is_revoked("vn.gov", gov.key.sign.id(), kNow));

  v1::SignedRevocationList garbage;
  garbage.set_list("\xff\xff");
  EXPECT_STATUS(store.add_revocation_list(garbage, kNow), E::CERT_MALFORMED);

  // A list with a number not above the last applied one changes nothing and
  // is answered as stale (the issuer is told to number it higher).
  ASSERT_TRUE(store.add_revocation_list(*list, kNow).ok());
  Member gov2 = tree.member("vn.gov");
  v1::Revocation r2 = r;
  r2.set_key_id(gov2.key.sign.id());
  auto older = issue_revocation_list("vn", tree.root_key(), 4, kNow, {r2});
  EXPECT_STATUS(store.add_revocation_list(*older, kNow), E::REVOCATION_LIST_STALE);
  EXPECT_FALSE(store.is_revoked("vn.gov", gov2.key.sign.id(), kNow));
}

TEST_F(Trust, VerifyEventEndToEnd) {
  Member gov = tree.member("vn.gov");
  v1::SignedEvent envelope = testing::signed_by(gov, testing::sample_event("vn.gov"));
  auto verified = store.verify_event(envelope);
  ASSERT_OK(verified);
  EXPECT_EQ(verified->signer.member(), "vn.gov");
  EXPECT_EQ(verified->id, event_id(envelope.event()));
  EXPECT_EQ(verified->event.topic(), "vn.gov.press");
}

TEST_F(Trust, VerifyEventNamesEachForgery) {
  Member gov = tree.member("vn.gov");
  Member bqp = tree.member("vn.bqp");
  Member reader = tree.certify("vn.reader", {v1::SUBSCRIBER});
  v1::Event claim = testing::sample_event("vn.gov");

  // vn.bqp signs an event claiming to come from vn.gov, with its own chain.
  EXPECT_CODE(store.verify_event(testing::signed_by(bqp, claim)), E::ORIGIN_MISMATCH);

  // vn.bqp signs it but attaches vn.gov's chain.
  v1::SignedEvent with_gov_chain = testing::signed_by(bqp, claim);
  *with_gov_chain.mutable_signer_chain() = gov.chain;
  EXPECT_CODE(store.verify_event(with_gov_chain), E::SIGNER_MISMATCH);

  // ... and also names vn.gov's key id: the signature itself fails.
  with_gov_chain.set_signer_key_id(gov.key.sign.id());
  EXPECT_CODE(store.verify_event(with_gov_chain), E::BAD_SIGNATURE);

  // Altered in transit.
  v1::SignedEvent altered = testing::signed_by(gov, claim);
  altered.mutable_event()->back() ^= 1;
  auto r = store.verify_event(altered);
  EXPECT_FALSE(r.ok());

  // A subscriber-only member cannot publish.
  EXPECT_CODE(store.verify_event(testing::signed_by(reader, testing::sample_event("vn.reader"))), E::ROLE_MISSING);

  // No chain at all.
  v1::SignedEvent bare = testing::signed_by(gov, claim);
  bare.clear_signer_chain();
  EXPECT_CODE(store.verify_event(bare), E::UNKNOWN_SIGNER);
  EXPECT_TRUE(store.verify_event(bare, gov.chain).ok());

  // Invalid content is reported before any signature work.
  v1::Event invalid = claim;
  invalid.set_urgency(12);
  v1::SignedEvent hand;
  hand.set_event(invalid.SerializeAsString());
  hand.set_signature(gov.key.sign.sign(SignDomain::kEvent, hand.event()));
  hand.set_signer_key_id(gov.key.sign.id());
  EXPECT_CODE(store.verify_event(hand, gov.chain), E::URGENCY_OUT_OF_RANGE);
}

TEST_F(Trust, KeyRotationKeepsOldAndNewEventsVerifiable) {
  // Old key valid for a year; new key from half a year on; they overlap.
  Member old_key = tree.certify("vn.gov", {v1::PUBLISHER}, nullptr, kT0, kT0 + kYearMs);
  Member new_key = tree.certify("vn.gov", {v1::PUBLISHER}, nullptr, kT0 + kYearMs / 2, kT0 + 2 * kYearMs);

  v1::Event early = testing::sample_event("vn.gov", 1);
  v1::Event overlap = testing::sample_event("vn.gov", 2);
  overlap.set_created_ms(kT0 + kYearMs * 3 / 4);
  v1::Event late = testing::sample_event("vn.gov", 3);
  late.set_created_ms(kT0 + kYearMs * 3 / 2);

  EXPECT_TRUE(store.verify_event(testing::signed_by(old_key, early)).ok());     // signed before the rotation
  EXPECT_TRUE(store.verify_event(testing::signed_by(old_key, overlap)).ok());   // both valid
  EXPECT_TRUE(store.verify_event(testing::signed_by(new_key, overlap)).ok());
  EXPECT_TRUE(store.verify_event(testing::signed_by(new_key, late)).ok());
  EXPECT_CODE(store.verify_event(testing::signed_by(old_key, late)), E::CERT_EXPIRED);  // old key retired
  EXPECT_CODE(store.verify_event(testing::signed_by(new_key, early)), E::CERT_NOT_YET_VALID);
}

}  // namespace
}  // namespace lantoa

namespace lantoa {
namespace {

// Link signatures are remembered once checked; nothing else is: a tampered
// link, a later expiry and a revocation still fail after a cached success.
TEST_F(Trust, RememberedLinksStillCheckTamperingTimeAndRevocation) {
  Member qn = tree.certify("vn.qn", {v1::AUTHORITY, v1::PUBLISHER});
  Member halong = tree.certify("vn.qn.halong", {v1::PUBLISHER}, &qn);
  for (int i = 0; i < 3; ++i) ASSERT_OK(store.verify_chain(halong.chain, kNow));  // remembered now
  v1::CertificateChain bad_sig = halong.chain;
  (*bad_sig.mutable_certificates(1)->mutable_signature())[7] ^= 1;
  EXPECT_CODE(store.verify_chain(bad_sig, kNow), E::CERT_BAD_SIGNATURE);
  auto cert = decode_certificate(halong.chain.certificates(0));
  ASSERT_OK(cert);
  cert->set_member("vn.qn.halong2");
  v1::CertificateChain renamed = halong.chain;
  renamed.mutable_certificates(0)->set_certificate(cert->SerializeAsString());
  EXPECT_CODE(store.verify_chain(renamed, kNow), E::CERT_BAD_SIGNATURE);
  EXPECT_CODE(store.verify_chain(halong.chain, kT0 + kYearMs), E::CERT_EXPIRED);
  ASSERT_OK(store.add_revocation_list(root_revokes(qn), kNow));
  EXPECT_CODE(store.verify_chain(halong.chain, kNow + 1), E::CERT_REVOKED);  // the intermediate is revoked

  EXPECT_TRUE(store.verify_chain(halong.chain, kNow - 1).ok());
}

// Issue 13, item 1: an authority's list cannot touch a key outside its
// namespace, whatever member name the entry carries.
TEST_F(Trust, ARevocationOnlyReachesTheMemberItNames) {
  Member gov = tree.member("vn.gov");
  Member halong_auth = tree.certify("vn.qn.halong", {v1::AUTHORITY, v1::PUBLISHER});
  v1::Revocation r;
  r.set_member("vn.qn.halong.x");
  r.set_key_id(gov.key.sign.id());
  r.set_revoked_ms(kNow);
  // Unknown key to this store: applied, but only to vn.qn.halong.x's use of it.
  auto list = issue_revocation_list("vn.qn.halong", halong_auth.key.sign, 1, kNow, {r}, halong_auth.chain);
  ASSERT_OK(list);
  TrustStore fresh = tree.store();
  ASSERT_OK(fresh.add_revocation_list(*list, kNow));
  EXPECT_TRUE(fresh.verify_chain(gov.chain, kNow + 1).ok());
  // Known key: the list is refused and nothing of it applies.
  ASSERT_OK(store.verify_chain(gov.chain, kNow));
  auto list2 = issue_revocation_list("vn.qn.halong", halong_auth.key.sign, 2, kNow, {r}, halong_auth.chain);
  EXPECT_STATUS(store.add_revocation_list(*list2, kNow), E::CERT_OUTSIDE_NAMESPACE);
  EXPECT_EQ(store.last_list_number(halong_auth.key.sign.id()), 0u);
  // revoked_ms 0 (or negative) is refused when issuing and when applying.
  r.set_member("vn.qn.halong.y");
  r.set_revoked_ms(0);
  EXPECT_CODE(issue_revocation_list("vn.qn.halong", halong_auth.key.sign, 3, kNow, {r}, halong_auth.chain),
              E::CERT_MALFORMED);
}

// Issue 13, item 9: lists are numbered per issuer key.
TEST_F(Trust, ListNumbersArePerIssuerKey) {
  Member gov = tree.member("vn.gov");
  Member gov2 = tree.member("vn.gov");
  Member qn = tree.certify("vn.qn", {v1::AUTHORITY});
  Member qn_new = tree.certify("vn.qn", {v1::AUTHORITY});  // the authority's next key
  Member x = tree.certify("vn.qn.x", {v1::PUBLISHER}, &qn);
  v1::Revocation r;
  r.set_member("vn.qn.x");
  r.set_key_id(x.key.sign.id());
  r.set_revoked_ms(kNow);
  // A thief's list with the highest possible number, under the old key...
  auto thief = issue_revocation_list("vn.qn", qn.key.sign, UINT64_MAX, kNow, {}, qn.chain);
  ASSERT_OK(store.add_revocation_list(*thief, kNow));
  // ...does not block the lists of the authority's new key.
  auto next = issue_revocation_list("vn.qn", qn_new.key.sign, 1, kNow, {r}, qn_new.chain);
  ASSERT_OK(store.add_revocation_list(*next, kNow));
  EXPECT_CODE(store.verify_chain(x.chain, kNow + 1), E::CERT_REVOKED);
  EXPECT_EQ(store.applied_lists().size(), 2u);
  (void)gov;
  (void)gov2;
}

// Issue 13, item 8: revoking an authority ends its members, now.
TEST_F(Trust, CheckCurrentCoversTheWholeChain) {
  Member qn = tree.certify("vn.qn", {v1::AUTHORITY});
  Member halong = tree.certify("vn.qn.halong", {v1::PUBLISHER}, &qn);
  auto member = store.verify_chain(halong.chain, kNow - 10);
  ASSERT_OK(member);
  ASSERT_OK(store.check_current(*member, kNow - 10));
  ASSERT_OK(store.add_revocation_list(root_revokes(qn), kNow));
  EXPECT_STATUS(store.check_current(*member, kNow), E::CERT_REVOKED);
  EXPECT_STATUS(store.check_current(*member, kT0 + kYearMs), E::CERT_EXPIRED);
}

// Issue 13, items 7 and 20: the time rules, one place for broker and receivers.
TEST_F(Trust, EventTimesJudgeRevocationAtAcceptanceAndValidityAtCreation) {
  Member gov = tree.member("vn.gov");
  ASSERT_OK(store.add_revocation_list(root_revokes(gov), kNow));
  v1::Event backdated = testing::sample_event("vn.gov");
  backdated.set_created_ms(kNow - 3600'000);  // dated an hour before the revocation
  v1::SignedEvent env = testing::signed_by(gov, backdated);
  EXPECT_TRUE(store.verify_event(env).ok());                                          // made before: still good
  EXPECT_TRUE(store.verify_event(env, EventLimits{}, EventTimes{kNow - 1}).ok());      // accepted before
  EXPECT_CODE(store.verify_event(env, EventLimits{}, EventTimes{kNow + 5}), E::CERT_REVOKED);  // accepted after
  // Created before the certificate was valid.
  Member late = tree.certify("vn.late", {v1::PUBLISHER}, nullptr, kNow, kNow + kYearMs);
  v1::Event early = testing::sample_event("vn.late");
  early.set_created_ms(kNow - 1);
  EXPECT_CODE(store.verify_event(testing::signed_by(late, early)), E::CERT_NOT_YET_VALID);
}

// Issue 13, items 2 and 3: read grants within the issuer's reach.
TEST_F(Trust, ReadGrantsStayWithinTheIssuersReach) {
  Member qn = tree.certify("vn.qn", {v1::AUTHORITY});
  auto key = MemberKey::generate("vn.qn.spy");
  ASSERT_OK(key);
  CertificateRequest req{key->public_keys(), {v1::SUBSCRIBER}, kT0, kT0 + kYearMs, 7, {">"}};
  EXPECT_STATUS(check_issuer(qn.chain, req), E::CERT_OUTSIDE_NAMESPACE);
  auto cert = issue_certificate("vn.qn", qn.key.sign, req);  // a hostile authority signs it anyway
  ASSERT_OK(cert);
  v1::CertificateChain chain;
  *chain.add_certificates() = *cert;
  for (const auto& c : qn.chain.certificates()) *chain.add_certificates() = c;
  EXPECT_CODE(store.verify_chain(chain, kNow), E::CERT_OUTSIDE_NAMESPACE);
  req.read_grants = {"vn.qn.internal.>"};
  EXPECT_STATUS(check_issuer(qn.chain, req), E::OK);
  // The root may grant anything; an issuer without the authority role nothing.
  Member plain = tree.member("vn.plain");
  req.read_grants = {};
  EXPECT_STATUS(check_issuer(plain.chain, req), E::CERT_NOT_AUTHORITY);
}

// Issue 13, item 10: countersignatures cannot be verified, so they are refused.
TEST_F(Trust, CountersignaturesAreRefused) {
  Member gov = tree.member("vn.gov");
  v1::SignedEvent env = testing::signed_by(gov, testing::sample_event("vn.gov"));
  auto* cs = env.add_countersignatures();
  cs->set_member("vn");
  cs->set_key_id(std::string(16, 'k'));
  cs->set_signature(std::string(64, 's'));
  EXPECT_CODE(store.verify_event(env), E::EVENT_FORMAT_UNSUPPORTED);
}

}  // namespace
}  // namespace lantoa
