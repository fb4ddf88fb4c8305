// Uses the installed SDK: keys, a certificate, a signed event, verification.
#include <lantoa/event.h>
#include <lantoa/keys.h>
#include <lantoa/trust.h>

#include <iostream>

int main() {
  using namespace lantoa;
  auto root = MemberKey::generate("vn");
  auto gov = MemberKey::generate("vn.gov");
  const int64_t now = unix_now_ms();
  CertificateRequest req{gov->public_keys(), {v1::PUBLISHER}, now - 1000, now + 3'600'000, 1, {}};
  auto cert = issue_certificate("vn", root->sign, req);
  auto event = EventBuilder("vn.gov", 1, "vn.gov.press").headline("Thông cáo báo chí").build();
  auto envelope = sign_event(*event, gov->sign);
  *envelope->mutable_signer_chain()->add_certificates() = *cert;
  TrustStore trust(RootKey{"vn", root->sign.public_key()});
  auto verified = trust.verify_event(*envelope);
  if (!verified) {
    std::cerr << verified.status().to_string() << "\n";
    return 1;
  }
  std::cout << "consumer ok: " << verified->event.headline() << " signed by " << verified->signer.member() << "\n";
  return 0;
}
