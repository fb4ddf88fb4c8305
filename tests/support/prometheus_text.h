// Reading a /metrics scrape in tests (the broker's and the node's): its
// samples by series, and `promtool check metrics` on it.
#pragma once

#include <map>
#include <string>

#include "support/fixtures.h"

namespace lantoa::testing {

// The samples of a Prometheus text exposition: "name{labels}" (as written)
// -> value. Comment lines (HELP, TYPE) are left out.
std::map<std::string, double> samples(const std::string& text);

// `promtool check metrics` on `text` (through a file in `dir`): its output,
// and whether it passed. promtool is in the Debian package prometheus.
CommandResult promtool_check(const TempDir& dir, const std::string& text);

}  // namespace lantoa::testing
