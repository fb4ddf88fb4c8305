// Keys: a member's Ed25519 signing key and Curve25519 transport key, their
// public forms, key ids and fingerprints, domain-separated signatures, and
// key files.
//
// Secret material lives only inside SigningKey and TransportKey: move-only
// owners whose buffers are wiped (sodium_memzero) when destroyed or moved
// from. Nothing here logs or prints a secret. A MemberKey is what one key
// file holds. All functions are thread-safe; a key object may be used from
// several threads at once for signing (signing does not mutate it).
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

#include "lantoa/status.h"

namespace lantoa {

inline constexpr size_t kSignPublicKeySize = 32;
inline constexpr size_t kSignSeedSize = 32;
inline constexpr size_t kSignatureSize = 64;
inline constexpr size_t kTransportKeySize = 32;
inline constexpr size_t kKeyIdSize = 16;

// What a signature is for. Each purpose signs a different prefix followed by
// the bytes (see proto/README.md), so a signature made for one purpose never
// verifies for another.
// Overwrites a copy of secret material (a seed or transport secret taken
// out of its key object) with zeros and empties it.
void secure_wipe(std::string& secret);

enum class SignDomain { kEvent, kCertificate, kRevocation, kCountersignature, kAdminRequest };

// The exact bytes that are signed: the domain prefix, a zero byte, `bytes`.
std::string signing_input(SignDomain domain, std::string_view bytes);

// Key id: the first 16 bytes of SHA-256 of an Ed25519 public key.
std::string key_id(std::string_view sign_public_key);
// Short printable fingerprint of a key: "3f2a-91bc-04de-7710".
std::string fingerprint(std::string_view sign_public_key);
// Fingerprint form of a key id (the same text as fingerprint() of its key).
std::string key_id_fingerprint(std::string_view key_id);

// Plain Ed25519 verification (RFC 8032). False also on wrong sizes.
bool ed25519_verify(std::string_view public_key, std::string_view message,
                    std::string_view signature);

// Verifies a domain-separated signature; BAD_SIGNATURE names the key.
Status verify_signature(SignDomain domain, std::string_view public_key, std::string_view bytes,
                        std::string_view signature);

// An Ed25519 secret key. Move-only; wiped on destruction.
class SigningKey {
 public:
  static SigningKey generate();
  // From a 32-byte RFC 8032 private key ("seed"); KEY_MALFORMED on bad size.
  static Result<SigningKey> from_seed(std::string_view seed);

  SigningKey(SigningKey&& other) noexcept;
  SigningKey& operator=(SigningKey&& other) noexcept;
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;
  ~SigningKey();

  const std::string& public_key() const { return public_; }
  std::string id() const { return key_id(public_); }

  // Plain Ed25519 signature of `message` (64 bytes).
  std::string sign_raw(std::string_view message) const;
  // Signature of signing_input(domain, bytes).
  std::string sign(SignDomain domain, std::string_view bytes) const;

  // The 32-byte seed, for writing key files. Handle with care.
  std::string seed() const;

 private:
  SigningKey() = default;
  std::array<unsigned char, 64> secret_{};  // libsodium's seed || public key
  std::string public_;
};

// A Curve25519 secret key for CurveZMQ. Move-only; wiped on destruction.
class TransportKey {
 public:
  static TransportKey generate();
  // From a 32-byte secret; KEY_MALFORMED on bad size.
  static Result<TransportKey> from_secret(std::string_view secret);

  TransportKey(TransportKey&& other) noexcept;
  TransportKey& operator=(TransportKey&& other) noexcept;
  TransportKey(const TransportKey&) = delete;
  TransportKey& operator=(const TransportKey&) = delete;
  ~TransportKey();

  const std::string& public_key() const { return public_; }
  // The 32-byte secret (ZeroMQ's CURVE_SECRETKEY takes it). Handle with care.
  std::string secret() const;

 private:
  TransportKey() = default;
  std::array<unsigned char, 32> secret_{};
  std::string public_;
};

// The public half of a member's keys: what a certificate binds and what is
// handed to an authority to be certified.
struct PublicKeys {
  std::string member;     // member id, for example "vn.qn.halong"
  std::string sign;       // Ed25519, 32 bytes
  std::string transport;  // Curve25519, 32 bytes

  // Public key file text (TOML): member, both keys in base64url, fingerprint.
  std::string to_text() const;
  static Result<PublicKeys> parse(std::string_view text);

  // Writes the public key file (mode 0644). ALREADY_EXISTS unless overwrite.
  Status save(const std::filesystem::path& path, bool overwrite = false) const;
  static Result<PublicKeys> load(const std::filesystem::path& path);
};

// A member's two secret keys: the content of one key file.
struct MemberKey {
  std::string member;
  SigningKey sign;
  TransportKey transport;

  static Result<MemberKey> generate(std::string member);
  PublicKeys public_keys() const;

  // Writes the secret key file, created with mode 0600 and fsynced.
  // ALREADY_EXISTS unless overwrite.
  Status save(const std::filesystem::path& path, bool overwrite = false) const;
  // Loads a secret key file. KEY_FILE_INSECURE when the file is readable or
  // writable by group or others; KEY_MALFORMED when it cannot be parsed.
  static Result<MemberKey> load(const std::filesystem::path& path);
};

}  // namespace lantoa
