// Fuzz target: certificate chains and revocation lists — armored text and
// raw protobuf parsing, certificate field rules, and chain verification up
// to a pinned root (with the input also tried as a revocation list).
#include <cstddef>
#include <cstdint>

#include "lantoa/trust.h"
#include "proto_scan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const lantoa::SigningKey root = *lantoa::SigningKey::from_seed(std::string(32, '\x01'));
  static lantoa::TrustStore trust(lantoa::RootKey{"vn", root.public_key()});
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const int64_t at = 1'800'000'000'000;

  (void)lantoa::chain_from_text(bytes);
  (void)lantoa::revocations_from_text(bytes);
  lantoa::v1::CertificateChain chain;
  if (lantoa::internal::parse_protobuf(chain, bytes, lantoa::v1::Error::CERT_MALFORMED).ok()) {
    (void)trust.verify_chain(chain, at);
    for (const auto& c : chain.certificates()) (void)lantoa::decode_certificate(c);
  }
  lantoa::v1::SignedRevocationList list;
  if (lantoa::internal::parse_protobuf(list, bytes, lantoa::v1::Error::CERT_MALFORMED).ok()) {
    lantoa::TrustStore scratch(lantoa::RootKey{"vn", root.public_key()});
    (void)scratch.add_revocation_list(list, at);
  }
  return 0;
}
