// Validates JSON documents against the official IPTC ninjs 3.1 schema in the
// shared test data, with a real JSON-schema validator (Debian's
// python3-jsonschema, run as a child process).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace lantoa::testing {

// One entry per document: "" when it is valid, else the first error and where.
// Fails the test when the validator cannot run.
std::vector<std::string> ninjs_schema_errors(const std::vector<nlohmann::json>& docs);

}  // namespace lantoa::testing
