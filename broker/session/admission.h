// Admission: the broker's register of known certificates, consulted by the
// ZAP handler for every CurveZMQ handshake (before any frame is read) and
// kept current by successful Hellos and the certificate folder.
//
// A key that belongs to a known certificate is admitted only while that
// certificate's whole chain is valid and unrevoked. An unknown key is
// admitted to say Hello (where its chain is checked and a specific reason is
// answered) unless admission is strict, in which case only keys of
// certificates in the folder (or seen before) get in. Thread-safe.
#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <unordered_map>

#include "lantoa/trust.h"

namespace lantoa::broker {

class Admission {
 public:
  Admission(const TrustStore& trust, std::filesystem::path certs_dir, bool strict);

  // ZAP: may a client with this Curve public key (32 bytes) connect? Ok, or
  // why not: PERMISSION_DENIED (unknown key, strict admission), or what is
  // wrong with the known certificate (CERT_REVOKED, ...).
  Status admit(const std::string& transport_key);
  // Records a chain that verified (at Hello).
  void learn(const VerifiedMember& member);
  // Reads every *.cert file in the folder; returns how many verified.
  size_t scan();

 private:
  using Known = VerifiedMember;  // its whole chain is checked at every handshake
  const TrustStore& trust_;
  std::filesystem::path dir_;
  bool strict_;
  std::mutex mu_;
  std::unordered_map<std::string, Known> by_transport_key_;
  int64_t last_scan_ms_ = 0;
};

}  // namespace lantoa::broker
