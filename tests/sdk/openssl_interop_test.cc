// Interoperability: signatures over an event's signing input made by
// OpenSSL's command line verify in the SDK, and the SDK's verify in OpenSSL.
// This proves the signed bytes are plain Ed25519 over a documented input that
// any implementation can check (proto/README.md).
#include <gtest/gtest.h>

#include <fstream>

#include "lantoa/encoding.h"
#include "lantoa/trust.h"
#include "support/fixtures.h"

namespace lantoa {
namespace {

using testing::CommandResult;
using testing::TempDir;

CommandResult run(const std::string& command) { return testing::run_command(command); }

void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

// SubjectPublicKeyInfo DER prefix for an Ed25519 key (RFC 8410).
const std::string kSpkiPrefix = *from_hex("302a300506032b6570032100");

class OpenSslInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    CommandResult v = run("openssl version");
    ASSERT_EQ(v.code, 0) << "the openssl command line is needed (Debian package 'openssl'): " << v.out;
  }
  TempDir dir;
  testing::TrustTree tree;
};

TEST_F(OpenSslInterop, OpenSslSignatureVerifiesInTheSdk) {
  ASSERT_EQ(run("openssl genpkey -algorithm ed25519 -out " + q(dir / "k.pem")).code, 0);
  CommandResult pub = run("openssl pkey -in " + q(dir / "k.pem") + " -pubout -outform DER -out " + q(dir / "pub.der"));
  ASSERT_EQ(pub.code, 0) << pub.out;
  std::string der = testing::read_text(dir / "pub.der");
  ASSERT_EQ(der.size(), 44u);
  ASSERT_EQ(der.substr(0, 12), kSpkiPrefix);
  const std::string openssl_public = der.substr(12);

  // The seed OpenSSL generated gives the same public key in the SDK.
  ASSERT_EQ(run("openssl pkey -in " + q(dir / "k.pem") + " -outform DER -out " + q(dir / "priv.der")).code, 0);
  std::string priv = testing::read_text(dir / "priv.der");
  ASSERT_EQ(priv.size(), 48u);
  auto same = SigningKey::from_seed(priv.substr(16));
  ASSERT_OK(same);
  EXPECT_EQ(same->public_key(), openssl_public);

  // Certify that key as vn.gov, sign an event's signing input with OpenSSL.
  CertificateRequest req{{"vn.gov", openssl_public, TransportKey::generate().public_key()},
                         {v1::PUBLISHER}, testing::kT0, testing::kT0 + testing::kYearMs, 1, {}};
  auto cert = issue_certificate("vn", tree.root_key(), req);
  ASSERT_OK(cert);
  v1::CertificateChain chain;
  *chain.add_certificates() = *cert;

  v1::SignedEvent envelope;
  envelope.set_event(testing::sample_event("vn.gov").SerializeAsString());
  envelope.set_signer_key_id(key_id(openssl_public));
  write_file(dir / "msg.bin", signing_input(SignDomain::kEvent, envelope.event()));
  CommandResult sign = run("openssl pkeyutl -sign -rawin -inkey " + q(dir / "k.pem") + " -in " + q(dir / "msg.bin") +
                 " -out " + q(dir / "sig.bin"));
  ASSERT_EQ(sign.code, 0) << sign.out;
  envelope.set_signature(testing::read_text(dir / "sig.bin"));
  ASSERT_EQ(envelope.signature().size(), 64u);

  auto verified = tree.store().verify_event(envelope, chain);
  ASSERT_OK(verified);
  EXPECT_EQ(verified->signer.member(), "vn.gov");
  // Ed25519 is deterministic: the SDK makes the very same signature.
  EXPECT_EQ(same->sign(SignDomain::kEvent, envelope.event()), envelope.signature());
}

TEST_F(OpenSslInterop, SdkSignatureVerifiesInOpenSsl) {
  testing::Member gov = tree.member("vn.gov");
  auto envelope = sign_event(testing::sample_event("vn.gov"), gov.key.sign);
  ASSERT_OK(envelope);
  write_file(dir / "pub.der", kSpkiPrefix + gov.key.sign.public_key());
  write_file(dir / "msg.bin", signing_input(SignDomain::kEvent, envelope->event()));
  write_file(dir / "sig.bin", envelope->signature());
  const std::string verify = "openssl pkeyutl -verify -rawin -pubin -keyform DER -inkey " + q(dir / "pub.der") +
                             " -sigfile " + q(dir / "sig.bin") + " -in ";
  CommandResult ok = run(verify + q(dir / "msg.bin"));
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("Signature Verified Successfully"), std::string::npos) << ok.out;

  // OpenSSL agrees that the bytes without the domain prefix, or altered
  // bytes, do not verify.
  write_file(dir / "bare.bin", envelope->event());
  EXPECT_NE(run(verify + q(dir / "bare.bin")).code, 0);
  std::string altered = signing_input(SignDomain::kEvent, envelope->event());
  altered.back() ^= 1;
  write_file(dir / "altered.bin", altered);
  EXPECT_NE(run(verify + q(dir / "altered.bin")).code, 0);
}

}  // namespace
}  // namespace lantoa
