// lantoa: the command line for keys, certificates and (later) publishing and
// reading the network. One file per verb; this file only dispatches.
#include "cli.h"

int main(int argc, char** argv) {
  CLI::App app{"lantoa: keys, certificates and the Lantoa network from the command line"};
  app.set_version_flag("--version", "lantoa " LANTOA_VERSION);
  app.require_subcommand(1);
  lantoa::cli::Runner run;
  lantoa::cli::add_keygen(app, run);
  lantoa::cli::add_cert(app, run);
  lantoa::cli::add_publish(app, run);
  lantoa::cli::add_tail(app, run);
  lantoa::cli::add_replay(app, run);
  lantoa::cli::add_stats(app, run);
  lantoa::cli::add_review(app, run);
  app.set_config("--config", "", "TOML file: a [verb] section per verb, keys as the long options (broker-key = ...)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? lantoa::cli::kOk : lantoa::cli::kUsage;
  }
  try {
    return run ? run() : lantoa::cli::kUsage;
  } catch (const std::exception& e) {
    std::cerr << "lantoa: unexpected error: " << e.what() << "\n";
    return lantoa::cli::kError;
  }
}
