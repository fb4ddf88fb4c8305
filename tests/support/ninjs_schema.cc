#include "support/ninjs_schema.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support/fixtures.h"

namespace lantoa::testing {

std::vector<std::string> ninjs_schema_errors(const std::vector<nlohmann::json>& docs) {
  TempDir dir;
  std::string files;
  for (size_t i = 0; i < docs.size(); ++i) {
    const auto path = dir / ("doc" + std::to_string(i) + ".json");
    std::ofstream(path) << docs[i];
    files += " '" + path.string() + "'";
  }
  std::ofstream(dir / "validate.py") << R"(
import json, sys
from jsonschema import Draft202012Validator
validator = Draft202012Validator(json.load(open(sys.argv[1])))
for path in sys.argv[2:]:
    errors = list(validator.iter_errors(json.load(open(path))))
    print('valid' if not errors else 'INVALID: ' + errors[0].message + ' at /' + '/'.join(map(str, errors[0].absolute_path)))
)";
  auto r = run_command("/usr/bin/python3 '" + (dir / "validate.py").string() + "' '" +
                       testdata("ninjs/ninjs-schema_3.1.json").string() + "'" + files);
  std::vector<std::string> out;
  EXPECT_EQ(r.code, 0) << "python3-jsonschema is needed (Debian package): " << r.out;
  if (r.code != 0) return std::vector<std::string>(docs.size(), "validator failed");
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) out.push_back(line == "valid" ? "" : line);
  EXPECT_EQ(out.size(), docs.size()) << r.out;
  out.resize(docs.size(), "no answer");
  return out;
}

}  // namespace lantoa::testing
