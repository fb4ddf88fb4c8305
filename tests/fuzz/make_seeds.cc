// Writes a small seed corpus for each fuzz target: valid inputs that the
// fuzzers mutate from (a signed event, a publish frame, a chain, names).
#include <filesystem>
#include <fstream>

#include "lantoa/trust.h"
#include "lantoa/v1/wire.pb.h"

namespace fs = std::filesystem;
using namespace lantoa;

static void put(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const fs::path out = argv[1];
  MemberKey root = std::move(*MemberKey::generate("vn"));
  MemberKey qn = std::move(*MemberKey::generate("vn.qn"));
  MemberKey gov = std::move(*MemberKey::generate("vn.gov"));
  CertificateRequest rq{qn.public_keys(), {v1::AUTHORITY, v1::PUBLISHER}, 1'700'000'000'000, 1'900'000'000'000, 1, {}};
  CertificateRequest rg{gov.public_keys(), {v1::PUBLISHER}, 1'700'000'000'000, 1'900'000'000'000, 2, {"vn.bqp.>"}};
  v1::CertificateChain chain;
  *chain.add_certificates() = *issue_certificate("vn", root.sign, rg);
  v1::CertificateChain qchain;
  *qchain.add_certificates() = *issue_certificate("vn", root.sign, rq);

  auto event = EventBuilder("vn.gov", 1, "vn.gov.press")
                   .headline("Thủ tướng Chính phủ chủ trì hội nghị")
                   .summary("Tóm tắt")
                   .body("<p>Nội dung</p>", "text/html")
                   .subject("medtop:11000000", "chính trị")
                   .build();
  auto signed_event = *sign_event(*event, gov.sign);
  *signed_event.mutable_signer_chain() = chain;
  put(out / "event", "signed", signed_event.SerializeAsString());
  put(out / "event", "bare", signed_event.event());

  v1::ClientFrame publish;
  publish.mutable_publish()->set_request_id(7);
  *publish.mutable_publish()->add_events() = signed_event;
  put(out / "frame", "publish", publish.SerializeAsString());
  v1::ClientFrame subscribe;
  subscribe.mutable_subscribe()->set_name("press");
  subscribe.mutable_subscribe()->add_filters("vn.*.press");
  subscribe.mutable_subscribe()->add_filters("vn.qn.>");
  put(out / "frame", "subscribe", subscribe.SerializeAsString());
  v1::ClientFrame hello;
  hello.mutable_hello()->set_protocol_version(1);
  *hello.mutable_hello()->mutable_chain() = chain;
  put(out / "frame", "hello", hello.SerializeAsString());

  put(out / "certificate", "chain", chain.SerializeAsString());
  put(out / "certificate", "chain.txt", chain_to_text(chain));
  v1::Revocation r;
  r.set_member("vn.gov");
  r.set_key_id(gov.sign.id());
  r.set_revoked_ms(1'800'000'000'000);
  auto list = *issue_revocation_list("vn", root.sign, 1, 1'800'000'000'000, {r});
  put(out / "certificate", "crl", list.SerializeAsString());
  put(out / "certificate", "crl.txt", revocations_to_text(list));
  (void)qchain;

  put(out / "names", "1", "vn.qn.halong\nvn.qn.>");
  put(out / "names", "2", "vn.*.notice\nvn.bqp.notice");
  put(out / "names", "3", "$trust.revocations\n$trust.>");
  return 0;
}
