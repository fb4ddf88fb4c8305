#include <cstdio>
#include <cstdlib>
#include "lantoa/keys.h"

#include <sodium.h>

#include <cstring>
#include <sstream>
#include <toml++/toml.h>

#include "lantoa/internal/file_util.h"
#include "lantoa/encoding.h"
#include "lantoa/names.h"

namespace lantoa {
namespace {

// libsodium must be initialised once before use; sodium_init is thread-safe
// and idempotent.
void ensure_sodium() {
  static const int rc = sodium_init();
  if (rc < 0) {
    // Without libsodium nothing can be signed, verified or kept secret:
    // stopping is the only safe answer.
    std::fputs("lantoa: libsodium cannot be initialised (sodium_init failed); stopping\n", stderr);
    std::abort();
  }
}

const unsigned char* u8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

constexpr std::string_view domain_prefix(SignDomain domain) {
  switch (domain) {
    case SignDomain::kEvent:
      return "LANTOA-V1-EVENT";
    case SignDomain::kCertificate:
      return "LANTOA-V1-CERTIFICATE";
    case SignDomain::kRevocation:
      return "LANTOA-V1-REVOCATION";
    case SignDomain::kCountersignature:
      return "LANTOA-V1-COUNTERSIGNATURE";
    case SignDomain::kAdminRequest:
      return "LANTOA-V1-ADMIN-REQUEST";
  }
  return "LANTOA-V1-UNKNOWN";
}

Status malformed(std::string message) { return Status(v1::Error::KEY_MALFORMED, std::move(message)); }

void wipe(std::string& s) { secure_wipe(s); }

constexpr size_t kMaxKeyFileBytes = 64 * 1024;
constexpr std::string_view kSecretFormat = "lantoa-secret-key-v1";
constexpr std::string_view kPublicFormat = "lantoa-public-key-v1";

Result<toml::table> parse_toml(std::string_view text, std::string_view what) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << what << " is not valid TOML: " << e.description() << " (line " << e.source().begin.line
        << ")";
    return malformed(msg.str());
  }
}

// Reads a base64url field of exactly `size` bytes.
Result<std::string> key_field(const toml::table& t, std::string_view name, size_t size,
                              std::string_view what) {
  auto text = t[name].value<std::string>();
  if (!text) return malformed(std::string(what) + " has no '" + std::string(name) + "' field");
  auto bytes = from_base64url(*text);
  wipe(*text);
  if (!bytes || bytes->size() != size) {
    if (bytes) wipe(*bytes);
    return malformed(std::string(what) + ": '" + std::string(name) + "' must be " +
                     std::to_string(size) + " bytes in unpadded base64url");
  }
  return std::move(*bytes);
}

Result<std::string> member_field(const toml::table& t, std::string_view what) {
  auto member = t["member"].value<std::string>();
  if (!member) return malformed(std::string(what) + " has no 'member' field");
  if (Status s = validate_member_id(*member); !s.ok()) {
    return malformed(std::string(what) + ": " + s.message());
  }
  return std::move(*member);
}

Status check_format(const toml::table& t, std::string_view expected, std::string_view what) {
  auto format = t["format"].value<std::string>();
  if (!format || *format != expected) {
    return malformed(std::string(what) + ": 'format' must be \"" + std::string(expected) + "\"");
  }
  return Status::Ok();
}

}  // namespace

void secure_wipe(std::string& secret) {
  sodium_memzero(secret.data(), secret.size());
  secret.clear();
}

std::string signing_input(SignDomain domain, std::string_view bytes) {
  std::string_view prefix = domain_prefix(domain);
  std::string out;
  out.reserve(prefix.size() + 1 + bytes.size());
  out.append(prefix);
  out.push_back('\0');
  out.append(bytes);
  return out;
}

std::string key_id(std::string_view sign_public_key) {
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(hash, u8(sign_public_key), sign_public_key.size());
  return std::string(reinterpret_cast<const char*>(hash), kKeyIdSize);
}

std::string key_id_fingerprint(std::string_view id) {
  std::string hex = to_hex(id.substr(0, 8));
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 4) {
    if (i) out.push_back('-');
    out.append(hex, i, 4);
  }
  return out;
}

std::string fingerprint(std::string_view sign_public_key) {
  return key_id_fingerprint(key_id(sign_public_key));
}

bool ed25519_verify(std::string_view public_key, std::string_view message, std::string_view signature) {
  ensure_sodium();
  if (public_key.size() != kSignPublicKeySize || signature.size() != kSignatureSize) return false;
  return crypto_sign_verify_detached(u8(signature), u8(message), message.size(), u8(public_key)) == 0;
}

Status verify_signature(SignDomain domain, std::string_view public_key, std::string_view bytes,
                        std::string_view signature) {
  if (signature.size() != kSignatureSize) {
    return Status(v1::Error::BAD_SIGNATURE, "signature is " + std::to_string(signature.size()) +
                                                " bytes, expected 64");
  }
  if (public_key.size() != kSignPublicKeySize) {
    return Status(v1::Error::BAD_SIGNATURE, "public key is not 32 bytes");
  }
  if (!ed25519_verify(public_key, signing_input(domain, bytes), signature)) {
    return Status(v1::Error::BAD_SIGNATURE,
                  "signature does not verify for key " + fingerprint(public_key));
  }
  return Status::Ok();
}

// --- SigningKey ---

SigningKey SigningKey::generate() {
  ensure_sodium();
  SigningKey key;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_keypair(pk, key.secret_.data());
  key.public_.assign(reinterpret_cast<const char*>(pk), sizeof pk);
  return key;
}

Result<SigningKey> SigningKey::from_seed(std::string_view seed) {
  ensure_sodium();
  if (seed.size() != kSignSeedSize) {
    return malformed("Ed25519 seed must be 32 bytes, got " + std::to_string(seed.size()));
  }
  SigningKey key;
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_seed_keypair(pk, key.secret_.data(), u8(seed));
  key.public_.assign(reinterpret_cast<const char*>(pk), sizeof pk);
  return key;
}

SigningKey::SigningKey(SigningKey&& other) noexcept : secret_(other.secret_), public_(std::move(other.public_)) {
  sodium_memzero(other.secret_.data(), other.secret_.size());
}

SigningKey& SigningKey::operator=(SigningKey&& other) noexcept {
  if (this != &other) {
    secret_ = other.secret_;
    public_ = std::move(other.public_);
    sodium_memzero(other.secret_.data(), other.secret_.size());
  }
  return *this;
}

SigningKey::~SigningKey() { sodium_memzero(secret_.data(), secret_.size()); }

std::string SigningKey::sign_raw(std::string_view message) const {
  std::string sig(kSignatureSize, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr, u8(message),
                       message.size(), secret_.data());
  return sig;
}

std::string SigningKey::sign(SignDomain domain, std::string_view bytes) const {
  return sign_raw(signing_input(domain, bytes));
}

std::string SigningKey::seed() const {
  unsigned char seed[crypto_sign_SEEDBYTES];
  crypto_sign_ed25519_sk_to_seed(seed, secret_.data());
  std::string out(reinterpret_cast<const char*>(seed), sizeof seed);
  sodium_memzero(seed, sizeof seed);
  return out;
}

// --- TransportKey ---

TransportKey TransportKey::generate() {
  ensure_sodium();
  TransportKey key;
  randombytes_buf(key.secret_.data(), key.secret_.size());
  unsigned char pk[crypto_scalarmult_BYTES];
  crypto_scalarmult_base(pk, key.secret_.data());
  key.public_.assign(reinterpret_cast<const char*>(pk), sizeof pk);
  return key;
}

Result<TransportKey> TransportKey::from_secret(std::string_view secret) {
  ensure_sodium();
  if (secret.size() != kTransportKeySize) {
    return malformed("Curve25519 secret must be 32 bytes, got " + std::to_string(secret.size()));
  }
  TransportKey key;
  std::memcpy(key.secret_.data(), secret.data(), key.secret_.size());
  unsigned char pk[crypto_scalarmult_BYTES];
  crypto_scalarmult_base(pk, key.secret_.data());
  key.public_.assign(reinterpret_cast<const char*>(pk), sizeof pk);
  return key;
}

TransportKey::TransportKey(TransportKey&& other) noexcept
    : secret_(other.secret_), public_(std::move(other.public_)) {
  sodium_memzero(other.secret_.data(), other.secret_.size());
}

TransportKey& TransportKey::operator=(TransportKey&& other) noexcept {
  if (this != &other) {
    secret_ = other.secret_;
    public_ = std::move(other.public_);
    sodium_memzero(other.secret_.data(), other.secret_.size());
  }
  return *this;
}

TransportKey::~TransportKey() { sodium_memzero(secret_.data(), secret_.size()); }

std::string TransportKey::secret() const {
  return std::string(reinterpret_cast<const char*>(secret_.data()), secret_.size());
}

// --- PublicKeys ---

std::string PublicKeys::to_text() const {
  std::ostringstream out;
  out << "# Lantoa public keys of " << member << ". Public: give this file to your authority.\n"
      << "format = \"" << kPublicFormat << "\"\n"
      << "member = \"" << member << "\"\n"
      << "sign_public = \"" << to_base64url(sign) << "\"\n"
      << "transport_public = \"" << to_base64url(transport) << "\"\n"
      << "fingerprint = \"" << fingerprint(sign) << "\"\n";
  return out.str();
}

Result<PublicKeys> PublicKeys::parse(std::string_view text) {
  constexpr std::string_view kWhat = "public key file";
  auto table = parse_toml(text, kWhat);
  if (!table) return table.status();
  LANTOA_RETURN_IF_ERROR(check_format(*table, kPublicFormat, kWhat));
  auto member = member_field(*table, kWhat);
  if (!member) return member.status();
  auto sign = key_field(*table, "sign_public", kSignPublicKeySize, kWhat);
  if (!sign) return sign.status();
  auto transport = key_field(*table, "transport_public", kTransportKeySize, kWhat);
  if (!transport) return transport.status();
  return PublicKeys{std::move(*member), std::move(*sign), std::move(*transport)};
}

Status PublicKeys::save(const std::filesystem::path& path, bool overwrite) const {
  return internal::write_file_atomic(path, to_text(), 0644, overwrite);
}

Result<PublicKeys> PublicKeys::load(const std::filesystem::path& path) {
  auto content = internal::read_file(path, kMaxKeyFileBytes);
  if (!content) return content.status();
  auto keys = parse(content->data);
  if (!keys) return Status(keys.status().code(), path.string() + ": " + keys.status().message());
  return keys;
}

// --- MemberKey ---

Result<MemberKey> MemberKey::generate(std::string member) {
  LANTOA_RETURN_IF_ERROR(validate_member_id(member));
  return MemberKey{std::move(member), SigningKey::generate(), TransportKey::generate()};
}

PublicKeys MemberKey::public_keys() const { return {member, sign.public_key(), transport.public_key()}; }

Status MemberKey::save(const std::filesystem::path& path, bool overwrite) const {
  std::string seed = sign.seed();
  std::string secret = transport.secret();
  std::string seed_text = to_base64url(seed);
  std::string secret_text = to_base64url(secret);
  std::ostringstream out;
  out << "# Lantoa SECRET key of " << member << ". Whoever holds this file can publish as "
      << member << ".\n# Keep it mode 0600, never copy it off this machine, never send it.\n"
      << "format = \"" << kSecretFormat << "\"\n"
      << "member = \"" << member << "\"\n"
      << "sign_seed = \"" << seed_text << "\"\n"
      << "transport_secret = \"" << secret_text << "\"\n"
      << "# Public parts, for reference.\n"
      << "sign_public = \"" << to_base64url(sign.public_key()) << "\"\n"
      << "transport_public = \"" << to_base64url(transport.public_key()) << "\"\n"
      << "fingerprint = \"" << fingerprint(sign.public_key()) << "\"\n";
  std::string text = out.str();
  Status status = internal::write_file_atomic(path, text, 0600, overwrite);
  wipe(seed);
  wipe(secret);
  wipe(seed_text);
  wipe(secret_text);
  wipe(text);
  return status;
}

Result<MemberKey> MemberKey::load(const std::filesystem::path& path) {
  auto content = internal::read_file(path, kMaxKeyFileBytes);
  if (!content) return content.status();
  if ((content->mode & 077) != 0) {
    wipe(content->data);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(content->mode));
    return Status(v1::Error::KEY_FILE_INSECURE,
                  "refusing to load secret key " + path.string() + ": mode " + mode +
                      " lets group or others access it; run: chmod 600 " + path.string());
  }
  const std::string what = "secret key file " + path.string();
  auto table = parse_toml(content->data, what);
  wipe(content->data);
  if (!table) return table.status();
  LANTOA_RETURN_IF_ERROR(check_format(*table, kSecretFormat, what));
  auto member = member_field(*table, what);
  if (!member) return member.status();
  auto seed = key_field(*table, "sign_seed", kSignSeedSize, what);
  if (!seed) return seed.status();
  auto secret = key_field(*table, "transport_secret", kTransportKeySize, what);
  if (!secret) return secret.status();
  auto sign = SigningKey::from_seed(*seed);
  auto transport = TransportKey::from_secret(*secret);
  wipe(*seed);
  wipe(*secret);
  // Wipe the parsed table's copies of the secrets too.
  for (const char* name : {"sign_seed", "transport_secret"}) {
    if (auto* node = (*table)[name].as_string()) wipe(node->get());
  }
  if (!sign) return sign.status();
  if (!transport) return transport.status();
  return MemberKey{std::move(*member), std::move(*sign), std::move(*transport)};
}

}  // namespace lantoa
