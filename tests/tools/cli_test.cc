// The `lantoa` command line, run as a real process: keys, certificates,
// verification and revocation, with their exit codes and messages.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <httplib.h>

#include "lantoa/encoding.h"
#include "lantoa/trust.h"
#include "support/broker_process.h"
#include "support/child_process.h"
#include "support/fixtures.h"

namespace lantoa::testing {
namespace {

class Cli : public ::testing::Test {
 protected:
  CommandResult lantoa(const std::string& args) {
    return run_command("cd '" + dir.path().string() + "' && '" LANTOA_CLI_BIN "' " + args);
  }
  // Root vn, authority vn.qn, member vn.qn.halong, all certified.
  void make_tree() {
    for (const char* id : {"vn", "vn.qn", "vn.qn.halong", "vn.bqp"}) {
      ASSERT_EQ(lantoa(std::string("keygen --member ") + id).code, 0);
    }
    ASSERT_EQ(lantoa("cert issue --issuer-key vn.key --public vn.qn.pub --roles authority,publisher").code, 0);
    auto r = lantoa("cert issue --issuer-key vn.qn.key --issuer-chain vn.qn.cert --public vn.qn.halong.pub");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  TempDir dir;
};

// Every program says its version (what an operator checks after an upgrade).
TEST(Programs, EachSaysItsVersion) {
  for (const auto& [binary, name] : std::vector<std::pair<std::string, std::string>>{
           {LANTOA_CLI_BIN, "lantoa"}, {LANTOA_BROKER_BIN, "lantoa-broker"}, {LANTOA_NODE_BIN, "lantoa-node"}}) {
    CommandResult r = run_command("'" + binary + "' --version 2>&1");
    EXPECT_EQ(r.code, 0) << binary << ": " << r.out;
    EXPECT_TRUE(r.out.starts_with(name + " ")) << r.out;
    EXPECT_NE(r.out.find('.'), std::string::npos) << r.out;  // a version number
  }
}

// Issue 18: a service user that cannot read its config (a folder it may
// not enter) is told "permission denied", not "File does not exist".
TEST(Programs, AConfigTheUserCannotReadIsNamedAsSuch) {
  if (::geteuid() != 0 || run_command("command -v setpriv").code != 0) GTEST_SKIP() << "needs root and setpriv";
  TempDir dir;
  std::filesystem::create_directories(dir / "etc");
  std::ofstream(dir / "etc" / "lantoa.toml") << "data = \"x\"\n";
  ::chmod((dir / "etc").c_str(), 0700);
  ::chmod(dir.path().c_str(), 0755);
  for (const char* binary : {LANTOA_BROKER_BIN, LANTOA_NODE_BIN}) {
    CommandResult r = run_command(std::string("setpriv --reuid=65534 --regid=65534 --clear-groups '") + binary +
                                  "' --config '" + (dir / "etc" / "lantoa.toml").string() + "' 2>&1");
    EXPECT_NE(r.code, 0) << binary;
    EXPECT_NE(r.out.find("permission denied for user"), std::string::npos) << binary << ": " << r.out;
    EXPECT_EQ(r.out.find("does not exist"), std::string::npos) << binary << ": " << r.out;
  }
}

TEST_F(Cli, KeygenWritesA0600SecretAndAPublicFile) {
  CommandResult r = lantoa("keygen --member vn.qn.halong --out halong");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("fingerprint"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "halong.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto pub = PublicKeys::load(dir / "halong.pub");
  ASSERT_OK(pub);
  EXPECT_EQ(pub->member, "vn.qn.halong");
  // Never overwritten silently.
  CommandResult again = lantoa("keygen --member vn.qn.halong --out halong");
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.out.find("ALREADY_EXISTS"), std::string::npos);
  EXPECT_EQ(lantoa("keygen --member 'Not Valid'").code, 1);
}

TEST_F(Cli, IssueShowVerify) {
  make_tree();
  CommandResult show = lantoa("cert show vn.qn.halong.cert");
  ASSERT_EQ(show.code, 0) << show.out;
  EXPECT_NE(show.out.find("vn.qn.halong"), std::string::npos);
  EXPECT_NE(show.out.find("publisher, subscriber"), std::string::npos);
  CommandResult json = lantoa("cert show --json vn.qn.halong.cert");
  EXPECT_NE(json.out.find("\"issuer\": \"vn.qn\""), std::string::npos) << json.out;

  CommandResult ok = lantoa("cert verify vn.qn.halong.cert --root vn.pub");
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("valid: vn.qn.halong"), std::string::npos);

  // The chain file is what the SDK reads too.
  auto chain = load_chain(dir / "vn.qn.halong.cert");
  ASSERT_OK(chain);
  EXPECT_EQ(chain->certificates_size(), 2);
}

TEST_F(Cli, VerifyNamesEachFailure) {
  make_tree();
  CommandResult expired = lantoa("cert verify vn.qn.halong.cert --root vn.pub --at 2040-01-01");
  EXPECT_EQ(expired.code, 1);
  EXPECT_NE(expired.out.find("CERT_EXPIRED"), std::string::npos) << expired.out;
  CommandResult early = lantoa("cert verify vn.qn.halong.cert --root vn.pub --at 2001-01-01T00:00:00Z");
  EXPECT_NE(early.out.find("CERT_NOT_YET_VALID"), std::string::npos) << early.out;
  ASSERT_EQ(lantoa("keygen --member vn --out other-root").code, 0);
  CommandResult wrong_root = lantoa("cert verify vn.qn.halong.cert --root other-root.pub");
  EXPECT_NE(wrong_root.out.find("CERT_WRONG_ISSUER"), std::string::npos) << wrong_root.out;
  CommandResult outside = lantoa("cert issue --issuer-key vn.qn.key --issuer-chain vn.qn.cert --public vn.bqp.pub");
  EXPECT_EQ(outside.code, 1);
  EXPECT_NE(outside.out.find("CERT_OUTSIDE_NAMESPACE"), std::string::npos) << outside.out;
  CommandResult garbage = lantoa("cert verify vn.qn.pub --root vn.pub");
  EXPECT_NE(garbage.out.find("CERT_MALFORMED"), std::string::npos) << garbage.out;
  CommandResult bad_time = lantoa("cert verify vn.qn.halong.cert --root vn.pub --at yesterday");
  EXPECT_NE(bad_time.out.find("INVALID_ARGUMENT"), std::string::npos) << bad_time.out;
}

TEST_F(Cli, RevokeThenVerifyFails) {
  make_tree();
  CommandResult revoke = lantoa("cert revoke --issuer-key vn.qn.key --issuer-chain vn.qn.cert --cert vn.qn.halong.cert "
                      "--at 2020-01-01");
  ASSERT_EQ(revoke.code, 0) << revoke.out;
  CommandResult v = lantoa("cert verify vn.qn.halong.cert --root vn.pub --revocations vn.qn.crl");
  EXPECT_EQ(v.code, 1);
  EXPECT_NE(v.out.find("CERT_REVOKED"), std::string::npos) << v.out;
  // Lists are cumulative: adding a second entry keeps the first.
  ASSERT_EQ(lantoa("keygen --member vn.qn.uongbi").code, 0);
  ASSERT_EQ(lantoa("cert issue --issuer-key vn.qn.key --issuer-chain vn.qn.cert --public vn.qn.uongbi.pub").code, 0);
  CommandResult more = lantoa("cert revoke --issuer-key vn.qn.key --issuer-chain vn.qn.cert --cert vn.qn.uongbi.cert "
                    "--add-to vn.qn.crl --out vn.qn.crl");
  ASSERT_EQ(more.code, 0) << more.out;
  EXPECT_NE(more.out.find("list number 2 (2 entries)"), std::string::npos) << more.out;
  auto list = load_revocations(dir / "vn.qn.crl");
  ASSERT_OK(list);
  EXPECT_EQ(decode_revocation_list(*list)->revocations_size(), 2);
  EXPECT_EQ(lantoa("cert verify vn.qn.halong.cert --root vn.pub --revocations vn.qn.crl").code, 1);
}

TEST_F(Cli, UsageErrorsExitWith2AndInsecureKeysWith1) {
  EXPECT_EQ(lantoa("").code, 2);
  EXPECT_EQ(lantoa("cert").code, 2);
  EXPECT_EQ(lantoa("cert issue --public x.pub").code, 2);  // --issuer-key missing
  EXPECT_EQ(lantoa("nonsense").code, 2);
  EXPECT_EQ(lantoa("--help").code, 0);
  ASSERT_EQ(lantoa("keygen --member vn").code, 0);
  ASSERT_EQ(lantoa("keygen --member vn.gov").code, 0);
  ASSERT_EQ(::chmod((dir / "vn.key").c_str(), 0644), 0);
  CommandResult r = lantoa("cert issue --issuer-key vn.key --public vn.gov.pub");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("KEY_FILE_INSECURE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chmod 600"), std::string::npos);
}

}  // namespace
}  // namespace lantoa::testing

namespace lantoa::testing {
namespace {

TEST(CliWithBroker, RevocationFromKeygenToTheBus) {
  TempDir dir;
  auto lantoa = [&](const std::string& args) {
    return run_command("cd '" + dir.path().string() + "' && '" LANTOA_CLI_BIN "' " + args);
  };
  for (const char* id : {"vn", "vn.qn", "vn.qn.halong"}) ASSERT_EQ(lantoa(std::string("keygen --member ") + id).code, 0);
  ASSERT_EQ(lantoa("cert issue --issuer-key vn.key --public vn.qn.pub --roles authority,publisher").code, 0);
  ASSERT_EQ(lantoa("cert issue --issuer-key vn.qn.key --issuer-chain vn.qn.cert --public vn.qn.halong.pub").code, 0);

  // A broker that trusts this root.
  TrustTree unused;
  BrokerProcess broker(unused);
  std::filesystem::copy_file(dir / "vn.pub", broker.data() / "trust-root.pub",
                             std::filesystem::copy_options::overwrite_existing);
  broker.start();
  auto halong_key = MemberKey::load(dir / "vn.qn.halong.key");
  auto halong_chain = load_chain(dir / "vn.qn.halong.cert");
  ASSERT_TRUE(Connection::open(broker.address(), *halong_key, *halong_chain).ok());

  ASSERT_EQ(lantoa("cert revoke --issuer-key vn.qn.key --issuer-chain vn.qn.cert --cert vn.qn.halong.cert").code, 0);
  const std::string target = " --broker " + broker.address().endpoint + " --broker-key " +
                             to_base64url(broker.address().transport_key) + " --timeout-ms 3000";
  auto published = lantoa("cert publish-revocations vn.qn.crl --key vn.qn.key --chain vn.qn.cert" + target);
  ASSERT_EQ(published.code, 0) << published.out;
  EXPECT_NE(published.out.find("is on the bus"), std::string::npos);
  EXPECT_CODE(Connection::open(broker.address(), *halong_key, *halong_chain), v1::Error::PERMISSION_DENIED);
  // A member without the authority role cannot carry it.
  auto refused = lantoa("cert publish-revocations vn.qn.crl --key vn.qn.halong.key --chain vn.qn.halong.cert" + target);
  EXPECT_EQ(refused.code, 1);
}

}  // namespace
}  // namespace lantoa::testing

namespace lantoa::testing {
namespace {

// Issue 18: node/lantoa-node.example.toml works as shipped with the files
// the tools write (vn.qn.key, vn.qn.cert, vn.pub, the broker's
// broker.ready.json) put beside it. Only what belongs to this machine is
// changed: the folders under /var, the broker's endpoint, the API port, and
// the feed and webhook addresses (no portal or CMS runs here).
TEST(CliWithBroker, TheNodeExampleRunsAsShippedWithFilesFromTheTools) {
  TempDir dir;
  auto lantoa = [&](const std::string& args) {
    return run_command("cd '" + dir.path().string() + "' && '" LANTOA_CLI_BIN "' " + args);
  };
  for (const char* id : {"vn", "vn.qn"}) ASSERT_EQ(lantoa(std::string("keygen --member ") + id).code, 0);
  ASSERT_EQ(lantoa("cert issue --issuer-key vn.key --public vn.qn.pub --roles publisher,subscriber").code, 0);
  TrustTree unused;
  BrokerProcess broker(unused);
  std::filesystem::copy_file(dir / "vn.pub", broker.data() / "trust-root.pub",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::create_directories(broker.data() / "certs");
  std::filesystem::copy_file(dir / "vn.qn.cert", broker.data() / "certs" / "vn.qn.cert");
  broker.start();
  std::filesystem::copy_file(broker.data() / "broker.ready.json", dir / "broker.ready.json");
  {
    std::ofstream(dir / "api.token") << "0123456789abcdef0123456789abcdef\n";
  }
  ::chmod((dir / "api.token").c_str(), 0600);

  std::string toml = read_text(std::filesystem::path(LANTOA_SOURCE_DIR) / "node/lantoa-node.example.toml");
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = toml.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    toml.replace(at, from.size(), to);
  };
  replace("/var/lib/lantoa-node", (dir / "data").string());
  replace("/var/spool/lantoa-node", (dir / "spool").string());
  replace("tcp://broker.gov.vn:7450", broker.address().endpoint);
  replace("127.0.0.1:8470", "127.0.0.1:0");
  replace("https://quangninh.gov.vn/rss/tin-tuc.rss", "http://127.0.0.1:9/rss");
  {
    std::ofstream(dir / "node.toml") << toml;
  }
  ChildProcess node({LANTOA_NODE_BIN, "--config", (dir / "node.toml").string()}, dir / "data" / "node.ready.json",
                    dir / "node.log");
  auto ready = node.start("api", std::chrono::milliseconds(15000));
  ASSERT_TRUE(ready.ok()) << ready.status().to_string() << read_text(dir / "node.log");
  httplib::Client api((*ready)["api"].get<std::string>());
  api.set_bearer_token_auth("0123456789abcdef0123456789abcdef");
  EXPECT_TRUE(eventually([&] {
    auto res = api.Get("/v1/status");
    if (!res || res->status != 200) return false;
    auto status = nlohmann::json::parse(res->body, nullptr, false);
    return !status.is_discarded() && status["broker"]["connected"] == true &&
           status["subscriptions"]["open"] == 2;  // qn-inbound and the portal's inbox
  })) << read_text(dir / "node.log");
  EXPECT_EQ(node.stop(), 0);
}

// Issue 18: a node whose files are missing names every problem at once and
// creates nothing (not even its data folder).
TEST(CliWithBroker, ANodeWithMissingFilesNamesThemAllAndCreatesNothing) {
  TempDir dir;
  std::ofstream(dir / "node.toml") << "member = \"vn.qn\"\nkey = \"vn.qn.key\"\nchain = \"vn.qn.cert\"\n"
                                      "root = \"vn.pub\"\ndata = \"state\"\n[broker]\nkey = \"broker.ready.json\"\n"
                                      "[api]\ntoken_file = \"api.token\"\n";
  CommandResult r = run_command("'" LANTOA_NODE_BIN "' --config '" + (dir / "node.toml").string() + "' 2>&1");
  EXPECT_NE(r.code, 0);
  for (const char* part : {"5 problems", "vn.qn.key", "vn.qn.cert", "vn.pub", "broker.ready.json", "api.token"}) {
    EXPECT_NE(r.out.find(part), std::string::npos) << part << " in:\n" << r.out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "state")) << "the data folder was created before the config was valid";
}

// publish -> tail -> stats -> replay, all through the command line.
TEST(CliWithBroker, PublishTailStatsReplayRoundTrip) {
  TempDir dir;
  auto lantoa = [&](const std::string& args) {
    return run_command("cd '" + dir.path().string() + "' && '" LANTOA_CLI_BIN "' " + args);
  };
  for (const char* id : {"vn", "vn.gov", "vn.qn"}) ASSERT_EQ(lantoa(std::string("keygen --member ") + id).code, 0);
  ASSERT_EQ(lantoa("cert issue --issuer-key vn.key --public vn.gov.pub --roles publisher").code, 0);
  ASSERT_EQ(lantoa("cert issue --issuer-key vn.key --public vn.qn.pub --roles subscriber").code, 0);
  TrustTree unused;
  BrokerProcess broker(unused);
  std::filesystem::copy_file(dir / "vn.pub", broker.data() / "trust-root.pub",
                             std::filesystem::copy_options::overwrite_existing);
  broker.start();
  const std::string ready = (broker.data() / "broker.ready.json").string();
  const std::string env = "LANTOA_BROKER_KEY='" + ready + "' LANTOA_ROOT=vn.pub ";

  // The reader's durable subscription exists before anything is published.
  auto first = run_command("cd '" + dir.path().string() + "' && " + env + "'" LANTOA_CLI_BIN
                           "' tail --key vn.qn.key --chain vn.qn.cert --name press --filter vn.gov.press --for-ms 300");
  ASSERT_EQ(first.code, 0) << first.out;

  auto pub = run_command("cd '" + dir.path().string() + "' && " + env + "'" LANTOA_CLI_BIN
                         "' publish --key vn.gov.key --chain vn.gov.cert --topic vn.gov.press --urgency 2 "
                         "--headline 'Thủ tướng chủ trì phiên họp Chính phủ thường kỳ' --body 'Nội dung.'");
  ASSERT_EQ(pub.code, 0) << pub.out;
  EXPECT_NE(pub.out.find("accepted  sequence 1"), std::string::npos) << pub.out;
  std::ofstream(dir / "ninjs.json") << R"({"uri": "urn:x", "headlines": [{"value": "Tin từ ninjs"}],
    "bodies": [{"value": "<p>Thân bài</p>", "contentType": "text/html"}], "language": "vi", "urgency": 4})";
  auto pub_json = run_command("cd '" + dir.path().string() + "' && " + env + "'" LANTOA_CLI_BIN
                              "' publish --key vn.gov.key --chain vn.gov.cert --topic vn.gov.press --json ninjs.json");
  ASSERT_EQ(pub_json.code, 0) << pub_json.out;
  auto outside = run_command("cd '" + dir.path().string() + "' && " + env + "'" LANTOA_CLI_BIN
                             "' publish --key vn.gov.key --chain vn.gov.cert --topic vn.bqp.notice --headline x");
  EXPECT_EQ(outside.code, 1);
  EXPECT_NE(outside.out.find("TOPIC_OUTSIDE_NAMESPACE"), std::string::npos) << outside.out;

  // This one takes its options from a config file.
  std::ofstream(dir / "cli.toml") << "[tail]\nbroker-key = \"" << ready
                                  << "\"\nkey = \"vn.qn.key\"\nchain = \"vn.qn.cert\"\nroot = \"vn.pub\"\n";
  auto tail = lantoa("--config cli.toml tail --name press --json --count 2 --for-ms 5000");
  ASSERT_EQ(tail.code, 0) << tail.out;
  EXPECT_NE(tail.out.find("\"headline\":\"Thủ tướng chủ trì phiên họp Chính phủ thường kỳ\""), std::string::npos)
      << tail.out;
  EXPECT_NE(tail.out.find("\"signer\":\"vn.gov\""), std::string::npos);
  EXPECT_NE(tail.out.find("\"verified\":true"), std::string::npos);
  EXPECT_NE(tail.out.find("Tin từ ninjs"), std::string::npos);

  auto stats = lantoa("stats --monitor " + broker.monitor_url());
  ASSERT_EQ(stats.code, 0) << stats.out;
  EXPECT_NE(stats.out.find("vn.gov.press"), std::string::npos) << stats.out;
  // Labelled, rounded figures; no raw JSON. (The publish outside vn.gov's
  // namespace was refused by the SDK before it was sent: the broker saw no
  // rejection. Refusals by reason: examples/network-demo.sh, national-network.)
  for (const char* part : {"events    accepted 2, duplicates 0, rejected 0\n",
                           "sessions  open ", "connections refused 0\n", "delivery  delivered ", " with fsync, holding ",
                           " ms, max "}) {
    EXPECT_NE(stats.out.find(part), std::string::npos) << part << " in:\n" << stats.out;
  }
  EXPECT_EQ(stats.out.find_first_of("{}\""), std::string::npos) << stats.out;
  EXPECT_TRUE(std::regex_search(stats.out, std::regex(R"(mean \d+\.\d ms, max \d+\.\d ms)"))) << stats.out;
  auto stats_json = lantoa("stats --json --monitor " + broker.monitor_url());
  ASSERT_EQ(stats_json.code, 0) << stats_json.out;
  auto figures = nlohmann::json::parse(stats_json.out, nullptr, false);
  ASSERT_FALSE(figures.is_discarded()) << stats_json.out;
  EXPECT_EQ(figures["events"]["accepted"], 2) << stats_json.out;
  EXPECT_TRUE(figures["events"]["rejected"].is_object()) << stats_json.out;
  EXPECT_TRUE(figures["sessions_refused"].is_object()) << stats_json.out;
  auto subs = lantoa("subs --monitor " + broker.monitor_url());
  EXPECT_NE(subs.out.find("press"), std::string::npos) << subs.out;
  EXPECT_EQ(lantoa("stats --monitor http://127.0.0.1:1").code, 1);

  auto replay = run_command("cd '" + dir.path().string() + "' && " + env + "'" LANTOA_CLI_BIN
                            "' replay --key vn.qn.key --chain vn.qn.cert --filter 'vn.gov.>' --from seq:1 --out all.jsonl");
  ASSERT_EQ(replay.code, 0) << replay.out;
  EXPECT_NE(replay.out.find("replayed 2 events"), std::string::npos) << replay.out;
  EXPECT_NE(read_text(dir / "all.jsonl").find("Tin từ ninjs"), std::string::npos);
}

// Issue 17: the operator's verbs. trace (the spread of an event, --wait),
// top and --watch (live views), and the admin verbs with the admin token.
TEST(CliWithBroker, TraceTopWatchAndTheAdminVerbs) {
  TempDir dir;
  auto lantoa = [&](const std::string& args) {
    return run_command("cd '" + dir.path().string() + "' && '" LANTOA_CLI_BIN "' " + args + " 2>&1");
  };
  for (const char* id : {"vn", "vn.gov", "vn.qn"}) ASSERT_EQ(lantoa(std::string("keygen --member ") + id).code, 0);
  ASSERT_EQ(lantoa("cert issue --issuer-key vn.key --public vn.gov.pub --roles publisher,operator").code, 0);
  ASSERT_EQ(lantoa("cert issue --issuer-key vn.key --public vn.qn.pub --roles subscriber").code, 0);
  std::ofstream(dir / "admin.token") << "an-admin-token-for-the-test\n";
  std::filesystem::permissions(dir / "admin.token", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  TrustTree unused;
  BrokerProcess broker(unused, {"--monitor-admin-token-file", (dir / "admin.token").string()});
  std::filesystem::copy_file(dir / "vn.pub", broker.data() / "trust-root.pub",
                             std::filesystem::copy_options::overwrite_existing);
  broker.start();
  const std::string env = "LANTOA_BROKER_KEY='" + (broker.data() / "broker.ready.json").string() +
                          "' LANTOA_ROOT=vn.pub LANTOA_MONITOR='" + (broker.data() / "broker.ready.json").string() + "' ";
  auto with_env = [&](const std::string& args) {
    return run_command("cd '" + dir.path().string() + "' && " + env + "'" LANTOA_CLI_BIN "' " + args + " 2>&1");
  };
  ASSERT_EQ(with_env("tail --key vn.qn.key --chain vn.qn.cert --name press --filter vn.gov.press --for-ms 300").code, 0);
  auto pub = with_env("publish --key vn.gov.key --chain vn.gov.cert --topic vn.gov.press --headline 'Thông cáo báo chí'");
  ASSERT_EQ(pub.code, 0) << pub.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(pub.out, m, std::regex("id ([0-9a-f]{64})"))) << pub.out;
  const std::string id = m[1];

  // Not acked yet: --wait gives up and says so; after the reader takes it, it succeeds.
  auto waiting = with_env("trace " + id + " --wait 0.5");
  EXPECT_EQ(waiting.code, 1) << waiting.out;
  EXPECT_NE(waiting.out.find("0 of 1 subscriptions acked"), std::string::npos) << waiting.out;
  EXPECT_NE(waiting.out.find("TIMEOUT"), std::string::npos) << waiting.out;
  ASSERT_EQ(with_env("tail --key vn.qn.key --chain vn.qn.cert --name press --count 1 --for-ms 5000").code, 0);
  auto traced = with_env("trace " + id + " --wait 10");
  EXPECT_EQ(traced.code, 0) << traced.out;
  EXPECT_NE(traced.out.find("headline  Thông cáo báo chí"), std::string::npos) << traced.out;
  EXPECT_NE(traced.out.find("1 of 1 subscriptions acked"), std::string::npos) << traced.out;
  EXPECT_TRUE(std::regex_search(traced.out, std::regex(R"(vn\.qn/press +acked +\d{4}-\d\d-\d\d )"))) << traced.out;
  auto unknown = with_env("trace " + std::string(64, '0'));
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.out.find("NOT_FOUND"), std::string::npos) << unknown.out;

  // Live views, for a bounded number of rounds.
  auto top = with_env("top --count 2 --every 0.2");
  EXPECT_EQ(top.code, 0) << top.out;
  EXPECT_NE(top.out.find("TOPIC"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("vn.gov.press"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("vn.qn/press"), std::string::npos) << top.out;
  auto watch = with_env("stats --watch 0.2 --count 2");
  EXPECT_EQ(watch.code, 0) << watch.out;
  size_t rounds = 0;
  for (size_t at = watch.out.find("events    accepted"); at != std::string::npos; at = watch.out.find("events    accepted", at + 1)) ++rounds;
  EXPECT_EQ(rounds, 2u) << watch.out;

  // Admin verbs: refused without the right token, done with it.
  std::ofstream(dir / "wrong.token") << "not-the-admin-token-at-all\n";
  std::filesystem::permissions(dir / "wrong.token", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto refused = with_env("queues purge vn.qn press --admin-token-file wrong.token");
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.out.find("PERMISSION_DENIED: wrong admin token"), std::string::npos) << refused.out;
  auto purged = with_env("queues purge vn.qn press --admin-token-file admin.token");
  EXPECT_EQ(purged.code, 0) << purged.out;
  EXPECT_NE(purged.out.find("\"entries_purged\": 0"), std::string::npos) << purged.out;
  auto removed = with_env("subs rm vn.qn press --admin-token-file admin.token");
  EXPECT_EQ(removed.code, 0) << removed.out;
  auto subs = with_env("subs");
  EXPECT_FALSE(std::regex_search(subs.out, std::regex(R"(vn\.qn +press +)"))) << subs.out;
  auto again = with_env("subs rm vn.qn press --admin-token-file admin.token");
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.out.find("SUBSCRIPTION_NOT_FOUND"), std::string::npos) << again.out;
  // The publisher's session is still open (the broker drops a silent one
  // after three heartbeats): closed now by vn.gov's own operator
  // certificate (a signed request), and then there is none.
  auto closed = with_env("sessions close vn.gov --key vn.gov.key --chain vn.gov.cert");
  EXPECT_EQ(closed.code, 0) << closed.out;
  EXPECT_NE(closed.out.find("\"sessions_closed\""), std::string::npos) << closed.out;
  auto none = with_env("sessions close vn.gov --admin-token-file admin.token");
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.out.find("NOT_FOUND: vn.gov has no session open"), std::string::npos) << none.out;
  auto outside = with_env("sessions close vn.qn --key vn.gov.key --chain vn.gov.cert");
  EXPECT_EQ(outside.code, 1);
  EXPECT_NE(outside.out.find("PERMISSION_DENIED: vn.gov may act only on members at or below it"), std::string::npos)
      << outside.out;
  auto no_token = with_env("subs rm vn.qn press");
  EXPECT_EQ(no_token.code, 1) << no_token.out;
  EXPECT_NE(no_token.out.find("needs --admin-token-file"), std::string::npos) << no_token.out;
}

// Issue 13, items 2 and 3: what verification would refuse is refused when
// issuing, not discovered later by `cert verify`.
TEST_F(Cli, IssueRefusesANonAuthorityIssuerAndOverreachingGrants) {
  make_tree();
  ASSERT_EQ(lantoa("keygen --member vn.qn.halong.x").code, 0);
  CommandResult plain = lantoa("cert issue --issuer-key vn.qn.halong.key --issuer-chain vn.qn.halong.cert "
                               "--public vn.qn.halong.x.pub");
  EXPECT_EQ(plain.code, 1) << plain.out;
  EXPECT_NE(plain.out.find("CERT_NOT_AUTHORITY"), std::string::npos) << plain.out;
  EXPECT_FALSE(std::filesystem::exists(dir / "vn.qn.halong.x.cert"));
  ASSERT_EQ(lantoa("keygen --member vn.qn.spy").code, 0);
  CommandResult spy = lantoa("cert issue --issuer-key vn.qn.key --issuer-chain vn.qn.cert --public vn.qn.spy.pub "
                             "--read-grant '>'");
  EXPECT_EQ(spy.code, 1) << spy.out;
  EXPECT_NE(spy.out.find("CERT_OUTSIDE_NAMESPACE"), std::string::npos) << spy.out;
  CommandResult own = lantoa("cert issue --issuer-key vn.qn.key --issuer-chain vn.qn.cert --public vn.qn.spy.pub "
                             "--read-grant 'vn.qn.internal.>'");
  EXPECT_EQ(own.code, 0) << own.out;
}

// Issue 13, item 9: `cert revoke` extends the issuer's current list (its
// number raised, its entries kept) instead of issuing number 1 again.
TEST_F(Cli, RevokeExtendsTheCurrentListByDefault) {
  make_tree();
  ASSERT_EQ(lantoa("keygen --member vn.qn.hanoi").code, 0);
  ASSERT_EQ(lantoa("cert issue --issuer-key vn.qn.key --issuer-chain vn.qn.cert --public vn.qn.hanoi.pub").code, 0);
  const std::string revoke = "cert revoke --issuer-key vn.qn.key --issuer-chain vn.qn.cert --cert ";
  ASSERT_EQ(lantoa(revoke + "vn.qn.halong.cert").code, 0);
  CommandResult second = lantoa(revoke + "vn.qn.hanoi.cert");
  ASSERT_EQ(second.code, 0) << second.out;
  auto list = load_revocations(dir / "vn.qn.crl");
  ASSERT_OK(list);
  auto decoded = decode_revocation_list(*list);
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->number(), 2u);
  EXPECT_EQ(decoded->revocations_size(), 2);
}

}  // namespace
}  // namespace lantoa::testing
