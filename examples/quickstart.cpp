// Lantoa quickstart: the trust and signing core in one program, no broker.
//
// Builds a small trust tree (root authority "vn", delegated authority
// "vn.qn"), has the Government portal sign a real Vietnamese press release,
// verifies it the way every subscriber does, stores it in an LMDB event log
// and reads it back, then shows forgeries and a revocation being refused.
// Exits non-zero if any step does not turn out as described.
//
//   lantoa-quickstart [--dir FOLDER] [--article FILE]
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/keys.h"
#include "lantoa/internal/store.h"  // the tree's LMDB wrapper (internal, as the broker uses it)
#include "lantoa/trust.h"

namespace fs = std::filesystem;
using namespace lantoa;

namespace {

int failures = 0;

void step(int n, const std::string& title) { std::cout << "\n[" << n << "] " << title << "\n"; }
void line(const std::string& text) { std::cout << "    " << text << "\n"; }

// Prints the outcome of a check; counts it as a failure when not as expected.
void expect(bool as_expected, const std::string& what) {
  std::cout << "    " << (as_expected ? "ok   " : "FAIL ") << what << "\n";
  if (!as_expected) ++failures;
}

template <typename T>
T must(Result<T> r, const std::string& what) {
  if (!r.ok()) {
    std::cerr << "quickstart: " << what << ": " << r.status().to_string() << "\n";
    std::exit(1);
  }
  return std::move(r).value();
}

struct Portal {
  MemberKey key;
  v1::CertificateChain chain;
};

Portal certify(const std::string& id, std::vector<v1::Role> roles, const std::string& issuer_id,
               const SigningKey& issuer_key, const v1::CertificateChain& issuer_chain, uint64_t serial,
               const fs::path& dir) {
  MemberKey key = must(MemberKey::generate(id), "generating keys for " + id);
  if (Status s = key.save(dir / (id + ".key")); !s.ok()) {
    std::cerr << "quickstart: " << s.to_string() << "\n";
    std::exit(1);
  }
  const int64_t now = unix_now_ms();
  CertificateRequest req{key.public_keys(), std::move(roles), now - 60'000, now + 365LL * 86'400'000, serial, {}};
  Portal p{std::move(key), {}};
  *p.chain.add_certificates() = must(issue_certificate(issuer_id, issuer_key, req), "certifying " + id);
  for (const auto& c : issuer_chain.certificates()) *p.chain.add_certificates() = c;
  line(id + "  key " + fingerprint(p.key.sign.public_key()) + "  certified by " + issuer_id +
       " (chain of " + std::to_string(p.chain.certificates_size()) + ")");
  return p;
}

std::string first_paragraphs(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = text.rfind('\n', max_bytes);
  return text.substr(0, cut == std::string::npos ? max_bytes : cut);
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir;
  fs::path article_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg == "--article" && i + 1 < argc) {
      article_path = argv[++i];
    } else {
      std::cerr << "usage: lantoa-quickstart [--dir FOLDER] [--article FILE]\n";
      return 2;
    }
  }
  const bool temporary = dir.empty();
  if (temporary) dir = fs::temp_directory_path() / ("lantoa-quickstart-" + std::to_string(::getpid()));
  fs::create_directories(dir);

  std::cout << "Lantoa quickstart: signed, verifiable official news (SDK core, no broker yet)\n"
            << "working folder: " << dir.string() << (temporary ? " (removed at the end)" : "") << "\n";

  // ---------------------------------------------------------------------
  step(1, "Trust tree: root authority vn (offline key), delegated authority vn.qn");
  MemberKey root = must(MemberKey::generate("vn"), "generating the root key");
  if (Status s = root.save(dir / "vn.root.key"); !s.ok()) return std::cerr << s.to_string() << "\n", 1;
  if (Status s = root.public_keys().save(dir / "vn.pub"); !s.ok()) return std::cerr << s.to_string() << "\n", 1;
  line("vn  root key " + fingerprint(root.sign.public_key()) + "  (pinned by every broker and subscriber)");
  TrustStore trust(RootKey{"vn", root.sign.public_key()});
  v1::CertificateChain none;
  Portal qn = certify("vn.qn", {v1::AUTHORITY, v1::PUBLISHER, v1::SUBSCRIBER}, "vn", root.sign, none, 1, dir);
  Portal gov = certify("vn.gov", {v1::PUBLISHER, v1::SUBSCRIBER}, "vn", root.sign, none, 2, dir);
  Portal bqp = certify("vn.bqp", {v1::PUBLISHER, v1::SUBSCRIBER}, "vn", root.sign, none, 3, dir);
  Portal halong = certify("vn.qn.halong", {v1::PUBLISHER, v1::SUBSCRIBER}, "vn.qn", qn.key.sign, qn.chain, 1, dir);
  expect(fs::status(dir / "vn.gov.key").permissions() == (fs::perms::owner_read | fs::perms::owner_write),
         "secret key files are mode 0600");

  // ---------------------------------------------------------------------
  step(2, "vn.gov signs a press release on vn.gov.press");
  std::string body;
  if (!article_path.empty()) {
    std::ifstream in(article_path);
    std::ostringstream text;
    text << in.rdbuf();
    body = first_paragraphs(text.str(), 4000);
  }
  if (body.empty()) {
    body =
        "Sáng 12/8, tại Hà Nội, Cổng Thông tin điện tử Chính phủ tổ chức Hội nghị đầu tiên giữa "
        "các Cổng Thông tin điện tử Bộ, ngành nhằm tăng cường phối hợp, chia sẻ thông tin chính thống.";
  }
  const std::string headline = "Hội nghị đầu tiên giữa các Cổng Thông tin điện tử Bộ, ngành";
  v1::Event press = must(EventBuilder("vn.gov", 1, "vn.gov.press")
                             .headline(headline)
                             .summary("Tăng cường phối hợp, lan tỏa thông tin chính thống.")
                             .body(body)
                             .urgency(3)
                             .subject("medtop:11000000", "chính trị")
                             .build(),
                         "building the press release");
  v1::SignedEvent envelope = must(sign_event(press, gov.key.sign), "signing");
  *envelope.mutable_signer_chain() = gov.chain;
  const std::string id = event_id(envelope.event());
  line("event id " + to_hex(id).substr(0, 16) + "...  " + std::to_string(envelope.event().size()) +
       " bytes signed by key " + key_id_fingerprint(envelope.signer_key_id()));

  // ---------------------------------------------------------------------
  step(3, "A subscriber verifies it against the pinned root");
  auto verified = trust.verify_event(envelope);
  expect(verified.ok(), verified.ok() ? "verified: signed by " + verified->signer.member() + ", headline \"" +
                                            verified->event.headline() + "\""
                                      : verified.status().to_string());
  expect(verified.ok() && verified->event.headline() == headline, "Vietnamese text intact (UTF-8, NFC)");

  // ---------------------------------------------------------------------
  step(4, "Stored durably in an LMDB event log, read back after reopening");
  {
    auto env = must(store::Env::open(dir / "log"), "opening the store");
    auto db = must(env.open_db("events"), "opening the events table");
    auto txn = must(store::Txn::begin(env, store::Access::kWrite), "beginning");
    if (Status s = txn.put(db, id, envelope.SerializeAsString()); !s.ok()) return std::cerr << s.to_string(), 1;
    if (Status s = txn.commit(); !s.ok()) return std::cerr << s.to_string(), 1;
    line("committed with fsync to " + (dir / "log").string());
  }
  {
    auto env = must(store::Env::open(dir / "log"), "reopening the store");
    auto db = must(env.open_db("events", false), "opening the events table");
    auto txn = must(store::Txn::begin(env, store::Access::kRead), "beginning");
    auto stored = must(txn.get(db, id), "reading");
    bool same = false, still_valid = false;
    if (stored) {
      auto back = parse_signed_event(*stored);
      same = back.ok() && back->event() == envelope.event();
      still_valid = back.ok() && trust.verify_event(*back).ok();
    }
    expect(same, "the stored bytes are exactly the signed bytes");
    expect(still_valid, "the stored event still verifies");
  }

  // ---------------------------------------------------------------------
  step(5, "Forgeries are refused, each with its reason");
  v1::Event claim = press;
  claim.set_headline("Tin giả mạo Chính phủ");
  v1::SignedEvent by_bqp = must(sign_event(claim, bqp.key.sign), "signing");
  *by_bqp.mutable_signer_chain() = bqp.chain;
  auto r1 = trust.verify_event(by_bqp);
  expect(r1.status().code() == v1::Error::ORIGIN_MISMATCH, "vn.bqp claiming to be vn.gov: " + r1.status().to_string());

  v1::SignedEvent with_gov_chain = by_bqp;
  *with_gov_chain.mutable_signer_chain() = gov.chain;
  with_gov_chain.set_signer_key_id(gov.key.sign.id());
  auto r2 = trust.verify_event(with_gov_chain);
  expect(r2.status().code() == v1::Error::BAD_SIGNATURE, "another key behind vn.gov's certificate: " + r2.status().to_string());

  v1::SignedEvent altered = envelope;
  (*altered.mutable_event())[altered.event().size() / 2] ^= 0x20;
  auto r3 = trust.verify_event(altered);
  expect(!r3.ok(), "one byte changed in transit: " + r3.status().to_string());

  CertificateRequest grab{bqp.key.public_keys(), {v1::PUBLISHER}, 0, unix_now_ms() + 1000, 9, {}};
  auto r4 = issue_certificate("vn.qn", qn.key.sign, grab);
  expect(r4.status().code() == v1::Error::CERT_OUTSIDE_NAMESPACE, "vn.qn certifying vn.bqp: " + r4.status().to_string());

  // ---------------------------------------------------------------------
  step(6, "vn.qn revokes the key of vn.qn.halong (reported stolen)");
  v1::Event local = must(EventBuilder("vn.qn.halong", 1, "vn.qn.halong.news")
                             .headline("Hạ Long tổ chức lễ hội du lịch biển")
                             .build(),
                         "building local news");
  v1::SignedEvent local_env = must(sign_event(local, halong.key.sign), "signing");
  *local_env.mutable_signer_chain() = halong.chain;
  expect(trust.verify_event(local_env).ok(), "before: vn.qn.halong's news verifies through vn.qn");
  v1::Revocation rev;
  rev.set_member("vn.qn.halong");
  rev.set_key_id(halong.key.sign.id());
  rev.set_revoked_ms(local.created_ms() - 1);
  rev.set_reason(v1::KEY_COMPROMISE);
  auto list = must(issue_revocation_list("vn.qn", qn.key.sign, 1, unix_now_ms(), {rev}, qn.chain), "revoking");
  Status applied = trust.add_revocation_list(list, unix_now_ms());
  expect(applied.ok(), "revocation list signed by vn.qn accepted");
  auto r5 = trust.verify_event(local_env);
  expect(r5.status().code() == v1::Error::CERT_REVOKED, "after: " + r5.status().to_string());

  // ---------------------------------------------------------------------
  if (failures == 0) {
    std::cout << "\nAll steps behaved as described.\n"
              << "Next: the same news on a live network, with a lantoa-broker (durable publish/subscribe) and a\n"
              << "lantoa-node beside each portal's CMS: examples/national-network/run.sh (./lantoa.sh demo runs it).\n";
  } else {
    std::cout << "\n" << failures << " check(s) FAILED.\n";
  }
  if (temporary) fs::remove_all(dir);
  return failures == 0 ? 0 : 1;
}
