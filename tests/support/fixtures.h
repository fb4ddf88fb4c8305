// Test fixtures shared by every Lantoa test: temporary folders, the shared
// test data, and a small trust tree (root "vn", authority "vn.qn", members).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "lantoa/event.h"
#include "lantoa/keys.h"
#include "lantoa/status.h"
#include "lantoa/trust.h"

namespace lantoa::testing {

// A fresh folder under the system temp dir, removed with its content on
// destruction.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// ../shared/testdata (or $LANTOA_TESTDATA). Fails the test when absent.
std::filesystem::path testdata(std::string_view relative);
// Reads a whole file; fails the test when it cannot.
std::string read_text(const std::filesystem::path& path);

// Runs a shell command; its exit code and its stdout and stderr together.
struct CommandResult {
  int code = -1;
  std::string out;
};
CommandResult run_command(const std::string& command);

// Waits until `done()` holds, looking every 10 ms; false when `timeout`
// passes first. Tests wait on the condition they need, never for a fixed time.
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(20'000));
// Waits until the wall clock (unix_now_ms) reaches `ms`: for what is about
// time itself (an expiry, a certificate's end).
void wait_for_clock(int64_t ms);

// A member with its keys and chain (leaf first, up to the root).
struct Member {
  MemberKey key;
  v1::CertificateChain chain;
};

// Times used by certificates in the fixture: valid from kT0 for a year.
inline constexpr int64_t kT0 = 1'700'000'000'000;  // 2023-11-14
inline constexpr int64_t kYearMs = 365LL * 24 * 3600 * 1000;

// Root "vn", with helpers to certify members and authorities below it.
class TrustTree {
 public:
  // Certificates valid from kT0 for a year (for tests with fixed times).
  TrustTree();
  // Certificates valid over [not_before, not_after) by default.
  TrustTree(int64_t not_before, int64_t not_after);
  // A tree whose certificates are valid now (for tests against a running broker).
  static TrustTree live();

  const SigningKey& root_key() const { return root_.sign; }
  RootKey root() const { return {"vn", root_.sign.public_key()}; }
  PublicKeys root_public() const { return root_.public_keys(); }
  TrustStore store() const { return TrustStore(root()); }

  // Certifies `id` by `issuer` (nullptr: the root), with `roles`.
  // (-1 for a time: the tree's default window.)
  Member certify(const std::string& id, std::vector<v1::Role> roles, const Member* issuer = nullptr,
                 int64_t not_before = -1, int64_t not_after = -1);
  // Publisher + subscriber member certified by the root.
  Member member(const std::string& id) { return certify(id, {v1::PUBLISHER, v1::SUBSCRIBER}); }

 private:
  MemberKey root_;
  uint64_t next_serial_ = 1;
  int64_t not_before_ = kT0;
  int64_t not_after_ = kT0 + kYearMs;
};

// A valid news event by `origin` (created at kT0 + 1 h).
v1::Event sample_event(const std::string& origin, uint64_t sequence = 1, std::string topic = {});

// Signs `event` with `m` and attaches its chain.
v1::SignedEvent signed_by(const Member& m, const v1::Event& event);

// gtest helpers: expect a Status or Result to fail with a code.
#define EXPECT_CODE(expr, code_value) EXPECT_EQ((expr).status().code(), (code_value)) << (expr).status().to_string()
#define EXPECT_STATUS(expr, code_value)               \
  do {                                                \
    ::lantoa::Status s_ = (expr);                     \
    EXPECT_EQ(s_.code(), (code_value)) << s_.to_string(); \
  } while (0)
inline Status status_of(const Status& s) { return s; }
template <typename T>
Status status_of(const Result<T>& r) {
  return r.status();
}
#define ASSERT_OK(expr)                                                      \
  do {                                                                       \
    ::lantoa::Status s_ = ::lantoa::testing::status_of(expr);                \
    ASSERT_TRUE(s_.ok()) << s_.to_string();                                  \
  } while (0)

}  // namespace lantoa::testing
