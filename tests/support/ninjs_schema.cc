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
  // "format" is checked too (date-time, uri), with checkers written out here
  // from RFC 3339 and RFC 3986: python3-jsonschema checks them only when
  // optional modules are installed, which Debian 12 does not have.
  std::ofstream(dir / "validate.py") << R"(
import datetime, json, re, sys
from jsonschema import Draft202012Validator, FormatChecker
checker = FormatChecker([])
DATE_TIME = re.compile(r'^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$')
@checker.checks('date-time', raises=ValueError)
def date_time(text):
    if not isinstance(text, str): return True
    if not DATE_TIME.match(text): return False
    datetime.datetime.fromisoformat(re.sub(r'[Zz]$', '+00:00', text.replace('t', 'T')))
    return True
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:([A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*$")
@checker.checks('uri')
def uri(text):
    return not isinstance(text, str) or bool(URI.match(text))
validator = Draft202012Validator(json.load(open(sys.argv[1])), format_checker=checker)
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
