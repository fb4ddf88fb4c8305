#include "support/prometheus_text.h"

#include <fstream>
#include <sstream>

namespace lantoa::testing {

std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

CommandResult promtool_check(const TempDir& dir, const std::string& text) {
  const auto file = dir.path() / "scrape.txt";
  std::ofstream(file) << text;
  return run_command("promtool check metrics < '" + file.string() + "' 2>&1");
}

}  // namespace lantoa::testing
