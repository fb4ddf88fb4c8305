#include "session/admission.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "lantoa/encoding.h"
#include "lantoa/internal/clock.h"

namespace lantoa::broker {

Admission::Admission(const TrustStore& trust, std::filesystem::path certs_dir, bool strict)
    : trust_(trust), dir_(std::move(certs_dir)), strict_(strict) {}

void Admission::learn(const VerifiedMember& member) {
  std::lock_guard lock(mu_);
  by_transport_key_[member.certificate.transport_key()] = member;
}

size_t Admission::scan() {
  size_t n = 0;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir_, ec)) return 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".cert") continue;
    auto chain = load_chain(entry.path());
    if (!chain) {
      spdlog::warn("certificate folder: {}", chain.status().to_string());
      continue;
    }
    auto member = trust_.verify_chain(*chain, unix_now_ms());
    if (!member) {
      spdlog::warn("certificate folder: {}: {}", entry.path().string(), member.status().to_string());
      continue;
    }
    learn(*member);
    ++n;
  }
  std::lock_guard lock(mu_);
  last_scan_ms_ = internal::mono_now_ms();
  return n;
}

Status Admission::admit(const std::string& transport_key) {
  const int64_t now = unix_now_ms();
  // A key is judged by what is known of it: a revoked key stays out; a key
  // whose known certificate expired is looked at again like an unknown one
  // (its certificate may have been renewed: Hello will tell).
  auto lookup = [&]() -> std::optional<Known> {
    std::lock_guard lock(mu_);
    auto it = by_transport_key_.find(transport_key);
    if (it == by_transport_key_.end()) return std::nullopt;
    if (Status s = trust_.check_current(it->second, now); s.code() == lantoa::v1::Error::CERT_EXPIRED) {
      by_transport_key_.erase(it);
      return std::nullopt;
    }
    return it->second;
  };
  auto known = lookup();
  if (!known && strict_) {
    bool rescan;
    {
      std::lock_guard lock(mu_);
      // New files may have arrived: at most one rescan a second.
      rescan = last_scan_ms_ == 0 || internal::mono_now_ms() - last_scan_ms_ > 1000;
    }
    if (rescan) {
      scan();
      known = lookup();
    }
  }
  if (!known) {
    if (!strict_) return Status::Ok();
    spdlog::info("admission: refused unknown transport key {}", to_base64url(transport_key));
    return Status(lantoa::v1::Error::PERMISSION_DENIED, "unknown transport key (no certificate in the folder)");
  }
  if (Status s = trust_.check_current(*known, now); !s.ok()) {
    spdlog::info("admission: refused key {}: {}", to_base64url(transport_key), s.to_string());
    return s;
  }
  return Status::Ok();
}

}  // namespace lantoa::broker
