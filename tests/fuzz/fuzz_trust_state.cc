// Fuzz target: what authorities publish to change trust — revocation lists
// (their content, signed by the pinned root so every rule past the signature
// is reached) and namespace restrictions (the JSON body on
// $trust.restrictions) — applied, then queried.
#include <cstddef>
#include <cstdint>

#include "lantoa/access.h"
#include "lantoa/trust.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const lantoa::SigningKey root = *lantoa::SigningKey::from_seed(std::string(32, '\x01'));
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const int64_t at = 1'800'000'000'000;
  if (data[0] % 2 == 0) {
    lantoa::TrustStore trust(lantoa::RootKey{"vn", root.public_key()});
    lantoa::v1::SignedRevocationList list;
    list.set_list(std::string(bytes));
    list.set_signature(root.sign(lantoa::SignDomain::kRevocation, list.list()));
    (void)trust.add_revocation_list(list, at);
    (void)trust.add_revocation_list(list, at);  // the same list again: stale
    (void)lantoa::revocations_to_text(list);
    (void)trust.is_revoked("vn.gov", std::string(16, 'k'), at);
    (void)trust.applied_lists();
  } else {
    lantoa::VerifiedEvent e;
    e.event.set_topic(std::string(lantoa::kRestrictionTopic));
    e.event.set_body(std::string(bytes));
    e.signer.certificate.set_member("vn.bqp");
    auto r = lantoa::restriction_from_event(e);
    lantoa::Restrictions restrictions;
    if (r.ok()) {
      restrictions.set(*r);
      for (const char* topic : {"vn.bqp.internal.plans", "vn.bqp", "vn.qn.news"}) {
        (void)restrictions.may_read("vn.qn", {"vn.bqp.>"}, topic);
      }
      (void)restrictions.check_filter("vn.qn", {}, "vn.bqp.>");
      (void)restrictions.check_filter("vn.qn", {}, ">");
    }
  }
  return 0;
}
