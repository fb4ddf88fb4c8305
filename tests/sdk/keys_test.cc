#include "lantoa/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <sstream>

#include "lantoa/encoding.h"
#include "support/fixtures.h"

namespace lantoa {
namespace {

using testing::TempDir;

struct Rfc8032Vector {
  std::string name, seed, public_key, message, signature;
};

// Parses ../shared/testdata/ed25519/rfc8032.txt ("-----TEST N" blocks).
std::vector<Rfc8032Vector> rfc8032_vectors() {
  std::istringstream in(testing::read_text(testing::testdata("ed25519/rfc8032.txt")));
  std::vector<Rfc8032Vector> out;
  std::string line;
  auto field = [](const std::string& l, const std::string& key) -> std::optional<std::string> {
    if (l.rfind(key + ":", 0) != 0) return std::nullopt;
    std::string v = l.substr(key.size() + 1);
    v.erase(0, v.find_first_not_of(' '));
    return from_hex(v);
  };
  while (std::getline(in, line)) {
    if (line.rfind("-----", 0) == 0) {
      out.push_back({line.substr(5), {}, {}, {}, {}});
      continue;
    }
    if (out.empty()) continue;
    if (auto v = field(line, "SECRET KEY")) out.back().seed = *v;
    if (auto v = field(line, "PUBLIC KEY")) out.back().public_key = *v;
    if (auto v = field(line, "MESSAGE")) out.back().message = *v;
    if (auto v = field(line, "SIGNATURE")) out.back().signature = *v;
  }
  return out;
}

TEST(Ed25519, Rfc8032VectorsPassThroughOurSigningCode) {
  auto vectors = rfc8032_vectors();
  ASSERT_EQ(vectors.size(), 4u) << "expected TEST 1, 2, 3 and 1024";
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.name);
    auto key = SigningKey::from_seed(v.seed);
    ASSERT_OK(key);
    EXPECT_EQ(to_hex(key->public_key()), to_hex(v.public_key));
    EXPECT_EQ(to_hex(key->sign_raw(v.message)), to_hex(v.signature));
    EXPECT_TRUE(ed25519_verify(v.public_key, v.message, v.signature));
    std::string tampered = v.signature;
    tampered[10] ^= 1;
    EXPECT_FALSE(ed25519_verify(v.public_key, v.message, tampered));
    EXPECT_EQ(key->seed(), v.seed);
  }
  // TEST 1024 is the 1023-byte message.
  EXPECT_EQ(vectors.back().message.size(), 1023u);
}

TEST(Ed25519, DomainsSeparateSignatures) {
  SigningKey key = SigningKey::generate();
  std::string bytes = "same bytes";
  std::string sig = key.sign(SignDomain::kEvent, bytes);
  EXPECT_TRUE(verify_signature(SignDomain::kEvent, key.public_key(), bytes, sig).ok());
  Status other = verify_signature(SignDomain::kCertificate, key.public_key(), bytes, sig);
  EXPECT_EQ(other.code(), v1::Error::BAD_SIGNATURE);
  EXPECT_NE(other.message().find(fingerprint(key.public_key())), std::string::npos);
  // The signing input is the documented prefix, a zero byte, the bytes.
  EXPECT_EQ(signing_input(SignDomain::kEvent, "ab"), std::string("LANTOA-V1-EVENT\0ab", 18));
  EXPECT_TRUE(ed25519_verify(key.public_key(), signing_input(SignDomain::kEvent, bytes), sig));
}

TEST(Ed25519, WrongSizesAreBadSignatures) {
  SigningKey key = SigningKey::generate();
  EXPECT_EQ(verify_signature(SignDomain::kEvent, key.public_key(), "x", "short").code(), v1::Error::BAD_SIGNATURE);
  EXPECT_EQ(verify_signature(SignDomain::kEvent, "short", "x", std::string(64, 'a')).code(),
            v1::Error::BAD_SIGNATURE);
  EXPECT_EQ(SigningKey::from_seed("short").status().code(), v1::Error::KEY_MALFORMED);
  EXPECT_EQ(TransportKey::from_secret("short").status().code(), v1::Error::KEY_MALFORMED);
}

TEST(Keys, IdAndFingerprint) {
  SigningKey key = SigningKey::generate();
  EXPECT_EQ(key.id().size(), kKeyIdSize);
  std::string fp = fingerprint(key.public_key());
  ASSERT_EQ(fp.size(), 19u);  // xxxx-xxxx-xxxx-xxxx
  EXPECT_EQ(fp[4], '-');
  EXPECT_EQ(fp, key_id_fingerprint(key.id()));
  EXPECT_NE(fp, fingerprint(SigningKey::generate().public_key()));
}

TEST(Keys, TransportKeyDerivesItsPublicHalf) {
  TransportKey a = TransportKey::generate();
  auto b = TransportKey::from_secret(a.secret());
  ASSERT_OK(b);
  EXPECT_EQ(a.public_key(), b->public_key());
  EXPECT_EQ(a.public_key().size(), kTransportKeySize);
}

TEST(Keys, MovingWipesTheSource) {
  SigningKey a = SigningKey::generate();
  std::string pk = a.public_key();
  SigningKey b = std::move(a);
  EXPECT_EQ(b.public_key(), pk);
  EXPECT_EQ(a.seed(), std::string(32, '\0'));  // NOLINT(bugprone-use-after-move): checking the wipe
}

mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

TEST(KeyFile, SavedWith0600AndLoadsBack) {
  TempDir dir;
  auto key = MemberKey::generate("vn.qn.halong");
  ASSERT_OK(key);
  ASSERT_TRUE(key->save(dir / "halong.key").ok());
  EXPECT_EQ(mode_of(dir / "halong.key"), 0600u);

  auto loaded = MemberKey::load(dir / "halong.key");
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->member, "vn.qn.halong");
  EXPECT_EQ(loaded->sign.public_key(), key->sign.public_key());
  EXPECT_EQ(loaded->transport.public_key(), key->transport.public_key());
  EXPECT_EQ(loaded->sign.sign_raw("m"), key->sign.sign_raw("m"));
}

TEST(KeyFile, UmaskDoesNotLoosenOrTightenModes) {
  TempDir dir;
  mode_t old = ::umask(0);
  auto key = MemberKey::generate("vn.gov");
  Status a = key->save(dir / "k");
  Status b = key->public_keys().save(dir / "k.pub");
  ::umask(old);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(mode_of(dir / "k"), 0600u);
  EXPECT_EQ(mode_of(dir / "k.pub"), 0644u);
}

TEST(KeyFile, RefusesGroupOrWorldReadableFiles) {
  TempDir dir;
  auto key = MemberKey::generate("vn.gov");
  ASSERT_TRUE(key->save(dir / "gov.key").ok());
  for (mode_t mode : {0640, 0604, 0660, 0644}) {
    ASSERT_EQ(::chmod((dir / "gov.key").c_str(), mode), 0);
    auto loaded = MemberKey::load(dir / "gov.key");
    EXPECT_EQ(loaded.status().code(), v1::Error::KEY_FILE_INSECURE) << std::oct << mode;
    EXPECT_NE(loaded.status().message().find("chmod 600"), std::string::npos);
  }
}

TEST(KeyFile, NeverOverwritesUnlessAsked) {
  TempDir dir;
  auto a = MemberKey::generate("vn.gov");
  auto b = MemberKey::generate("vn.gov");
  ASSERT_TRUE(a->save(dir / "k").ok());
  EXPECT_EQ(b->save(dir / "k").code(), v1::Error::ALREADY_EXISTS);
  EXPECT_EQ(MemberKey::load(dir / "k")->sign.public_key(), a->sign.public_key());
  ASSERT_TRUE(b->save(dir / "k", /*overwrite=*/true).ok());
  EXPECT_EQ(MemberKey::load(dir / "k")->sign.public_key(), b->sign.public_key());
  EXPECT_EQ(mode_of(dir / "k"), 0600u);
}

void write_0600(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
  ::chmod(p.c_str(), 0600);
}

TEST(KeyFile, MalformedFilesNameTheProblem) {
  TempDir dir;
  EXPECT_EQ(MemberKey::load(dir / "missing").status().code(), v1::Error::NOT_FOUND);

  write_0600(dir / "a", "this is = = not toml");
  EXPECT_EQ(MemberKey::load(dir / "a").status().code(), v1::Error::KEY_MALFORMED);

  write_0600(dir / "b", "format = \"lantoa-secret-key-v1\"\nmember = \"vn.gov\"\n");
  auto b = MemberKey::load(dir / "b");
  EXPECT_EQ(b.status().code(), v1::Error::KEY_MALFORMED);
  EXPECT_NE(b.status().message().find("sign_seed"), std::string::npos);

  write_0600(dir / "c", "format = \"lantoa-secret-key-v1\"\nmember = \"vn.gov\"\nsign_seed = \"abc\"\n"
                        "transport_secret = \"abc\"\n");
  EXPECT_EQ(MemberKey::load(dir / "c").status().code(), v1::Error::KEY_MALFORMED);

  write_0600(dir / "d", "format = \"something-else\"\n");
  EXPECT_NE(MemberKey::load(dir / "d").status().message().find("format"), std::string::npos);

  write_0600(dir / "e", "format = \"lantoa-secret-key-v1\"\nmember = \"Not An Id\"\n");
  EXPECT_EQ(MemberKey::load(dir / "e").status().code(), v1::Error::KEY_MALFORMED);
}

TEST(KeyFile, NeverContainsTheSecretsInPublicForm) {
  TempDir dir;
  auto key = MemberKey::generate("vn.gov");
  std::string pub = key->public_keys().to_text();
  EXPECT_EQ(pub.find(to_base64url(key->sign.seed())), std::string::npos);
  EXPECT_EQ(pub.find(to_base64url(key->transport.secret())), std::string::npos);
  EXPECT_NE(pub.find(fingerprint(key->sign.public_key())), std::string::npos);
}

TEST(PublicKeyFile, RoundTrips) {
  TempDir dir;
  auto key = MemberKey::generate("vn.qn");
  PublicKeys pub = key->public_keys();
  ASSERT_TRUE(pub.save(dir / "qn.pub").ok());
  auto loaded = PublicKeys::load(dir / "qn.pub");
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->member, "vn.qn");
  EXPECT_EQ(loaded->sign, pub.sign);
  EXPECT_EQ(loaded->transport, pub.transport);
  EXPECT_EQ(PublicKeys::parse("format = \"lantoa-public-key-v1\"\nmember = \"vn\"\n").status().code(),
            v1::Error::KEY_MALFORMED);
}

TEST(MemberKey, GenerateValidatesTheId) {
  EXPECT_EQ(MemberKey::generate("VN").status().code(), v1::Error::INVALID_MEMBER_ID);
}

}  // namespace
}  // namespace lantoa
