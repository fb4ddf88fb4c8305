// lantoa cert issue | show | verify | revoke
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/publisher.h"
#include "lantoa/names.h"
#include "lantoa/trust.h"

namespace lantoa::cli {
namespace {

Result<int64_t> time_option(const std::string& text, int64_t fallback, const char* what) {
  if (text.empty()) return fallback;
  auto t = parse_time_ms(text);
  if (!t) {
    return Status(v1::Error::INVALID_ARGUMENT,
                  std::string(what) + " \"" + text + "\" is not a time like 2026-11-28T13:00:00Z or 2026-11-28");
  }
  return *t;
}

Result<std::vector<v1::Role>> parse_roles(const std::vector<std::string>& names) {
  std::vector<v1::Role> roles;
  for (std::string n : names) {
    for (char& c : n) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    v1::Role r;
    if (!v1::Role_Parse(n, &r) || r == v1::ROLE_UNSPECIFIED) {
      return Status(v1::Error::INVALID_ARGUMENT,
                    "unknown role \"" + n + "\" (publisher, subscriber, editor, broker, authority, operator)");
    }
    roles.push_back(r);
  }
  return roles;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The issuer: its key, and its own chain unless it is the root.
struct Issuer {
  MemberKey key;
  v1::CertificateChain chain;
};

Result<Issuer> load_issuer(const std::string& key_path, const std::string& chain_path) {
  auto key = MemberKey::load(key_path);
  if (!key) return key.status();
  Issuer issuer{std::move(*key), {}};
  if (!chain_path.empty()) {
    auto chain = load_chain(chain_path);
    if (!chain) return chain.status();
    auto leaf = decode_certificate(chain->certificates(0));
    if (!leaf) return leaf.status();
    if (leaf->sign_key() != issuer.key.sign.public_key()) {
      return Status(v1::Error::INVALID_ARGUMENT, "the issuer chain " + chain_path + " is not for the key in " + key_path);
    }
    issuer.chain = std::move(*chain);
  }
  return issuer;
}

void add_issue(CLI::App& cert, Runner& run) {
  auto* cmd = cert.add_subcommand("issue", "certify a member's public keys (run by an authority)");
  struct Opts {
    std::string issuer_key, issuer_chain, pub, out, not_before, not_after;
    std::vector<std::string> roles{"publisher", "subscriber"}, grants;
    int days = 365;
    uint64_t serial = 0;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--issuer-key", o->issuer_key, "the authority's secret key file")->required();
  cmd->add_option("--issuer-chain", o->issuer_chain, "the authority's own certificate chain (omit for the root)");
  cmd->add_option("--public", o->pub, "the member's public key file (from lantoa keygen)")->required();
  cmd->add_option("--roles", o->roles, "publisher, subscriber, editor, broker, authority, operator")->delimiter(',');
  cmd->add_option("--days", o->days, "validity in days from --not-before");
  cmd->add_option("--not-before", o->not_before, "start of validity (default: now)");
  cmd->add_option("--not-after", o->not_after, "end of validity (overrides --days)");
  cmd->add_option("--serial", o->serial, "serial number (default: the current time in ms)");
  cmd->add_option("--read-grant", o->grants, "restricted topics the member may read (filters)");
  cmd->add_option("--out", o->out, "where to write the chain (default: MEMBER.cert)");
  cmd->add_flag("--force", o->force, "replace an existing file");
  cmd->callback([o, &run] {
    run = [o] {
      auto issuer = load_issuer(o->issuer_key, o->issuer_chain);
      if (!issuer) return fail(issuer.status());
      auto pub = PublicKeys::load(o->pub);
      if (!pub) return fail(pub.status());
      auto roles = parse_roles(o->roles);
      if (!roles) return fail(roles.status());
      const int64_t now = unix_now_ms();
      auto from = time_option(o->not_before, now, "--not-before");
      if (!from) return fail(from.status());
      auto until = time_option(o->not_after, *from + int64_t{o->days} * 86'400'000, "--not-after");
      if (!until) return fail(until.status());
      CertificateRequest req{*pub, *roles, *from, *until, o->serial ? o->serial : static_cast<uint64_t>(now),
                             o->grants};
      // What verification would refuse later is refused now: an issuer
      // that is not an authority, grants beyond its reach.
      if (Status s = check_issuer(issuer->chain, req); !s.ok()) return fail(s);
      auto issued = issue_certificate(issuer->key.member, issuer->key.sign, req);
      if (!issued) return fail(issued.status());
      v1::CertificateChain chain;
      *chain.add_certificates() = *issued;
      for (const auto& c : issuer->chain.certificates()) *chain.add_certificates() = c;
      const std::string out = o->out.empty() ? pub->member + ".cert" : o->out;
      if (Status s = save_chain(out, chain, o->force); !s.ok()) return fail(s);
      std::cout << "certified " << pub->member << " (" << fingerprint(pub->sign) << ") by " << issuer->key.member
                << ", valid " << format_time_ms(*from) << " .. " << format_time_ms(*until) << "\n"
                << "chain written to " << out << "\n";
      return kOk;
    };
  });
}

void add_show(CLI::App& cert, Runner& run) {
  auto* cmd = cert.add_subcommand("show", "print a certificate chain");
  auto file = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("file", *file, "certificate chain file")->required();
  cmd->add_flag("--json", *json, "machine-readable output");
  cmd->callback([=, &run] {
    run = [=] {
      auto chain = load_chain(*file);
      if (!chain) return fail(chain.status());
      nlohmann::json links = nlohmann::json::array();
      for (const auto& link : chain->certificates()) {
        auto c = decode_certificate(link);
        if (!c) return fail(c.status());
        std::vector<std::string> roles;
        for (int r : c->roles()) roles.push_back(lower(v1::Role_Name(r)));
        nlohmann::json j = {{"member", c->member()},
                            {"roles", roles},
                            {"fingerprint", fingerprint(c->sign_key())},
                            {"sign_key", to_base64url(c->sign_key())},
                            {"transport_key", to_base64url(c->transport_key())},
                            {"issuer", c->issuer()},
                            {"issuer_key", key_id_fingerprint(c->issuer_key_id())},
                            {"serial", c->serial()},
                            {"not_before", format_time_ms(c->not_before_ms())},
                            {"not_after", format_time_ms(c->not_after_ms())},
                            {"read_grants", std::vector<std::string>(c->read_grants().begin(), c->read_grants().end())}};
        links.push_back(j);
        if (!*json) {
          std::cout << j["member"].get<std::string>() << "\n";
          for (const char* k : {"roles", "fingerprint", "issuer", "issuer_key", "serial", "not_before", "not_after",
                                "transport_key"}) {
            std::string v;
            if (j[k].is_string()) {
              v = j[k].get<std::string>();
            } else if (j[k].is_array()) {
              for (const auto& x : j[k]) v += (v.empty() ? "" : ", ") + x.get<std::string>();
            } else {
              v = j[k].dump();
            }
            std::cout << "  " << k << std::string(14 - std::string(k).size(), ' ') << v << "\n";
          }
        }
      }
      if (*json) std::cout << links.dump(2) << "\n";
      return kOk;
    };
  });
}

void add_verify(CLI::App& cert, Runner& run) {
  auto* cmd = cert.add_subcommand("verify", "check a chain up to the root (exit 0 valid, 1 not)");
  struct Opts {
    std::string file, root, at;
    std::vector<std::string> revocations;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("file", o->file, "certificate chain file")->required();
  cmd->add_option("--root", o->root, "the root authority's public key file")->required();
  cmd->add_option("--revocations", o->revocations, "revocation list files to apply first");
  cmd->add_option("--at", o->at, "check at this time instead of now");
  cmd->callback([o, &run] {
    run = [o] {
      auto root = PublicKeys::load(o->root);
      if (!root) return fail(root.status());
      auto chain = load_chain(o->file);
      if (!chain) return fail(chain.status());
      auto at = time_option(o->at, unix_now_ms(), "--at");
      if (!at) return fail(at.status());
      TrustStore trust(RootKey{root->member, root->sign});
      for (const auto& path : o->revocations) {
        auto list = load_revocations(path);
        if (!list) return fail(list.status());
        if (Status s = trust.add_revocation_list(*list, *at); !s.ok()) {
          return fail(Status(s.code(), path + ": " + s.message()));
        }
      }
      auto member = trust.verify_chain(*chain, *at);
      if (!member) return fail(member.status());
      std::string roles;
      for (int r : member->certificate.roles()) roles += (roles.empty() ? "" : ", ") + lower(v1::Role_Name(r));
      std::cout << "valid: " << member->member() << " (" << roles << "), key " << fingerprint(member->certificate.sign_key())
                << ", until " << format_time_ms(member->certificate.not_after_ms()) << ", chain of "
                << chain->certificates_size() << " up to root " << root->member << "\n";
      return kOk;
    };
  });
}

void add_revoke(CLI::App& cert, Runner& run) {
  auto* cmd = cert.add_subcommand("revoke", "add a member's key to the authority's revocation list");
  struct Opts {
    std::string issuer_key, issuer_chain, cert, add_to, out, at, reason = "key-compromise";
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--issuer-key", o->issuer_key, "the authority's secret key file")->required();
  cmd->add_option("--issuer-chain", o->issuer_chain, "the authority's own chain (omit for the root)");
  cmd->add_option("--cert", o->cert, "certificate chain of the key to revoke")->required();
  cmd->add_option("--reason", o->reason, "key-compromise, superseded, ceased-operation");
  cmd->add_option("--at", o->at, "revoked from this time (default: now)");
  cmd->add_option("--add-to", o->add_to,
                  "the issuer's current list: its entries are kept, its number raised (default: the --out file "
                  "when it exists)");
  cmd->add_option("--out", o->out, "where to write the new list (default: ISSUER.crl, extended when it exists)");
  cmd->add_flag("--force", o->force, "replace an existing file");
  cmd->callback([o, &run] {
    run = [o] {
      auto issuer = load_issuer(o->issuer_key, o->issuer_chain);
      if (!issuer) return fail(issuer.status());
      auto chain = load_chain(o->cert);
      if (!chain) return fail(chain.status());
      auto target = decode_certificate(chain->certificates(0));
      if (!target) return fail(target.status());
      std::string reason_name = o->reason;
      for (char& c : reason_name) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      v1::RevocationReason reason;
      if (!v1::RevocationReason_Parse(reason_name, &reason)) {
        return fail(Status(v1::Error::INVALID_ARGUMENT, "unknown reason \"" + o->reason + "\""));
      }
      auto at = time_option(o->at, unix_now_ms(), "--at");
      if (!at) return fail(at.status());
      std::vector<v1::Revocation> entries;
      uint64_t number = 1;
      const std::string out = o->out.empty() ? issuer->key.member + ".crl" : o->out;
      // Lists are numbered per issuer key and a list numbered at or below
      // the one in force is refused: extend the current list by default.
      std::string base = o->add_to;
      if (base.empty() && std::filesystem::exists(out)) base = out;
      if (!base.empty()) {
        auto old = load_revocations(base);
        if (!old) return fail(old.status());
        auto list = decode_revocation_list(*old);
        if (!list) return fail(list.status());
        if (list->issuer() != issuer->key.member) {
          return fail(Status(v1::Error::INVALID_ARGUMENT, base + " is the list of " + list->issuer()));
        }
        if (list->issuer_key_id() == issuer->key.sign.id()) {
          entries.assign(list->revocations().begin(), list->revocations().end());
          number = list->number() + 1;
        } else {
          std::cout << base << " was signed by another key of " << list->issuer()
                    << "; it stays in force, and this key starts its own list at number 1\n";
        }
      }
      v1::Revocation r;
      r.set_member(target->member());
      r.set_key_id(key_id(target->sign_key()));
      r.set_revoked_ms(*at);
      r.set_reason(reason);
      entries.push_back(r);
      auto list = issue_revocation_list(issuer->key.member, issuer->key.sign, number, unix_now_ms(), entries,
                                        issuer->chain);
      if (!list) return fail(list.status());
      if (Status s = save_revocations(out, *list, o->force || out == base); !s.ok()) {
        return fail(s);
      }
      std::cout << "revoked " << target->member() << " key " << fingerprint(target->sign_key()) << " from "
                << format_time_ms(*at) << "; list number " << number << " (" << entries.size()
                << " entries) written to " << out << "\n";
      return kOk;
    };
  });
}

void add_publish_revocations(CLI::App& cert, Runner& run) {
  auto* cmd = cert.add_subcommand("publish-revocations",
                                  "carry a revocation list onto the bus ($trust.revocations); needs an authority's key");
  struct Opts {
    NetworkOptions net;
    std::string list;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("list", o->list, "revocation list file (from lantoa cert revoke)")->required();
  o->net.add_to(*cmd, false);
  cmd->callback([o, &run] {
    run = [o] {
      auto list = load_revocations(o->list);
      if (!list) return fail(list.status());
      auto net = load_network(o->net, false);
      if (!net) return fail(net.status());
      auto decoded = decode_revocation_list(*list);
      if (!decoded) return fail(decoded.status());
      const std::string member = net->key.member;
      PublisherOptions options;
      options.broker = net->broker;
      options.connect_timeout = std::chrono::milliseconds(o->net.timeout_ms);
      options.agent = "lantoa-cli/0.1";
      auto publisher = Publisher::start(std::move(net->key), std::move(net->chain), options);
      if (!publisher) return fail(publisher.status());
      auto event = EventBuilder(member, 1, std::string(kRevocationTopic))  // the publisher sets the sequence
                       .headline("Revocation list " + std::to_string(decoded->number()) + " of " + decoded->issuer())
                       .body(revocations_to_text(*list))
                       .language("en")
                       .urgency(1)
                       .build();
      if (!event) return fail(event.status());
      auto outcome = (*publisher)->publish(*event);
      if (!outcome) return fail(outcome.status());
      if (outcome->outcome.wait_for(std::chrono::milliseconds(o->net.timeout_ms)) != std::future_status::ready) {
        return fail(Status(v1::Error::TIMEOUT, "no answer from the broker"));
      }
      PublishOutcome r = outcome->outcome.get();
      if (!r.ok()) return fail(r.error);
      std::cout << "revocation list " << decoded->number() << " of " << decoded->issuer() << " ("
                << decoded->revocations_size() << " entries) is on the bus as broker sequence " << r.broker_seq
                << "\n";
      return kOk;
    };
  });
}

}  // namespace

void add_cert(CLI::App& app, Runner& run) {
  auto* cert = app.add_subcommand("cert", "issue, show, verify and revoke member certificates");
  cert->require_subcommand(1);
  add_issue(*cert, run);
  add_show(*cert, run);
  add_verify(*cert, run);
  add_revoke(*cert, run);
  add_publish_revocations(*cert, run);
}

}  // namespace lantoa::cli
