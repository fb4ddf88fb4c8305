#include "support/fixtures.h"

#include <thread>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace lantoa::testing {

TempDir::TempDir() {
  std::random_device rd;
  auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = base / ("lantoa-test-" + std::to_string(rd()) + std::to_string(rd()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  ADD_FAILURE() << "cannot create a temporary folder under " << base;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::filesystem::path testdata(std::string_view relative) {
  const char* env = std::getenv("LANTOA_TESTDATA");
  std::filesystem::path dir = env && *env ? env : LANTOA_TESTDATA_DIR;
  std::filesystem::path p = dir / relative;
  if (!std::filesystem::exists(p)) {
    ADD_FAILURE() << "test data " << p << " is missing: the shared/ folder must sit beside the checkout "
                  << "(or set LANTOA_TESTDATA)";
  }
  return p;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return {};
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 512> buf{};
  while (size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) r.out.append(buf.data(), n);
  int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TrustTree::TrustTree() : root_(std::move(*MemberKey::generate("vn"))) {}

TrustTree::TrustTree(int64_t not_before, int64_t not_after) : TrustTree() {
  not_before_ = not_before;
  not_after_ = not_after;
}

TrustTree TrustTree::live() {
  const int64_t now = unix_now_ms();
  return TrustTree(now - 3600 * 1000, now + kYearMs);
}

Member TrustTree::certify(const std::string& id, std::vector<v1::Role> roles, const Member* issuer,
                          int64_t not_before, int64_t not_after) {
  auto key = MemberKey::generate(id);
  EXPECT_TRUE(key.ok()) << key.status().to_string();
  CertificateRequest request;
  request.keys = key->public_keys();
  request.roles = std::move(roles);
  request.not_before_ms = not_before < 0 ? not_before_ : not_before;
  request.not_after_ms = not_after < 0 ? not_after_ : not_after;
  request.serial = next_serial_++;
  const SigningKey& issuer_key = issuer ? issuer->key.sign : root_.sign;
  const std::string issuer_id = issuer ? issuer->key.member : root_.member;
  auto cert = issue_certificate(issuer_id, issuer_key, request);
  EXPECT_TRUE(cert.ok()) << cert.status().to_string();
  Member m{std::move(*key), {}};
  *m.chain.add_certificates() = *cert;
  if (issuer) {
    for (const auto& c : issuer->chain.certificates()) *m.chain.add_certificates() = c;
  }
  return m;
}

v1::Event sample_event(const std::string& origin, uint64_t sequence, std::string topic) {
  auto event = EventBuilder(origin, sequence, topic.empty() ? origin + ".press" : topic)
                   .headline("Thủ tướng Chính phủ chủ trì hội nghị trực tuyến")
                   .summary("Hội nghị đầu tiên giữa các Cổng Thông tin điện tử Bộ, ngành.")
                   .body("Sáng 12/8, tại Hà Nội, Cổng Thông tin điện tử Chính phủ tổ chức hội nghị.")
                   .created_ms(kT0 + 3600 * 1000)
                   .build();
  EXPECT_TRUE(event.ok()) << event.status().to_string();
  return event.ok() ? *event : v1::Event{};
}

v1::SignedEvent signed_by(const Member& m, const v1::Event& event) {
  auto envelope = sign_event(event, m.key.sign);
  EXPECT_TRUE(envelope.ok()) << envelope.status().to_string();
  if (!envelope.ok()) return {};
  *envelope->mutable_signer_chain() = m.chain;
  return *envelope;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

void wait_for_clock(int64_t ms) {
  while (unix_now_ms() < ms) std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(10, ms - unix_now_ms() + 1)));
}

}  // namespace lantoa::testing
