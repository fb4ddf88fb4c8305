// lantoa keygen: a member's signing and transport keys.
#include "cli.h"
#include "lantoa/encoding.h"
#include "lantoa/keys.h"

namespace lantoa::cli {

void add_keygen(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("keygen", "create a member's keys: NAME.key (secret, 0600) and NAME.pub");
  auto member = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  cmd->add_option("--member", *member, "member id, e.g. vn.qn.halong")->required();
  cmd->add_option("--out", *out, "path prefix of the two files (default: the member id)");
  cmd->add_flag("--force", *force, "replace existing files");
  cmd->callback([=, &run] {
    run = [=] {
      auto key = MemberKey::generate(*member);
      if (!key) return fail(key.status());
      const std::string prefix = out->empty() ? *member : *out;
      if (Status s = key->save(prefix + ".key", *force); !s.ok()) return fail(s);
      if (Status s = key->public_keys().save(prefix + ".pub", *force); !s.ok()) return fail(s);
      std::cout << "member       " << *member << "\n"
                << "secret key   " << prefix << ".key (mode 0600: keep it on this machine)\n"
                << "public keys  " << prefix << ".pub (give this to your authority)\n"
                << "fingerprint  " << fingerprint(key->sign.public_key()) << "\n";
      return kOk;
    };
  });
}

}  // namespace lantoa::cli
