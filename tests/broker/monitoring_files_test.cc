// The operations files in deploy/monitoring (issue 17) against the broker
// they watch: the Grafana dashboard is JSON that imports anywhere (its data
// source a variable) and its queries parse as PromQL; every metric the
// dashboard, the alert rules and the rules' promtool tests name is one a real
// broker serves, or a federation link metric the guide lists as coming "once
// links are configured"; and the guide's table of metrics is what a broker
// serves. A renamed metric fails here, not on an operator's empty panel or an
// alert that never fires. (promtool check/test rules run as the ctest tests
// deploy.alert_rules_check and deploy.alert_rules_test.)
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "support/broker_process.h"

namespace lantoa::testing {
namespace {

using nlohmann::json;

const std::filesystem::path kSource = LANTOA_SOURCE_DIR;
const std::filesystem::path kMonitoring = kSource / "deploy/monitoring";
const std::filesystem::path kDashboard = kMonitoring / "lantoa-broker.grafana.json";
const std::filesystem::path kRules = kMonitoring / "lantoa-alerts.yml";
const std::filesystem::path kRuleTests = kMonitoring / "lantoa-alerts.test.yml";

bool name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

// Every lantoa_* and process_* metric name written anywhere in `text`.
std::set<std::string> metric_names_in(const std::string& text) {
  std::set<std::string> out;
  for (const std::string prefix : {"lantoa_", "process_"}) {
    for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) {
      if (at > 0 && (name_char(text[at - 1]) || (text[at - 1] >= 'A' && text[at - 1] <= 'Z'))) continue;
      size_t end = at + prefix.size();
      while (end < text.size() && name_char(text[end])) ++end;
      out.insert(text.substr(at, end - at));
    }
  }
  return out;
}

// What a scrape holds, from its "# TYPE name type" lines (every family has
// one, samples or not): the names a query can select (a histogram's are
// name_bucket, _sum and _count), and the families with their types (a
// histogram's own name only text may mention).
struct Served {
  std::set<std::string> series;
  std::map<std::string, std::string> families;  // name -> type
};
Served served_names(const std::string& scrape) {
  Served out;
  std::istringstream in(scrape);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string hash, keyword, name, type;
    if (!(words >> hash >> keyword >> name >> type) || hash != "#" || keyword != "TYPE") continue;
    out.families[name] = type;
    if (type == "histogram" || type == "summary") {
      for (const char* suffix : {"_sum", "_count"}) out.series.insert(name + suffix);
      if (type == "histogram") out.series.insert(name + "_bucket");
    } else {
      out.series.insert(name);
    }
  }
  return out;
}

// A family of the guide's table of metrics: its type, its labels, and whether
// it is marked as coming "once links are configured".
struct DocumentedMetric {
  std::string type;
  std::set<std::string> labels;
  bool once_links = false;
};

// The rows of docs/operating-a-broker.md's "### Metrics" table.
std::map<std::string, DocumentedMetric> documented_metrics() {
  const std::string doc = read_text(kSource / "docs/operating-a-broker.md");
  const size_t start = doc.find("\n### Metrics\n");
  EXPECT_NE(start, std::string::npos) << "no '### Metrics' section in docs/operating-a-broker.md";
  if (start == std::string::npos) return {};
  const size_t end = doc.find("\n#", start + 1);
  std::istringstream in(doc.substr(start, end - start));
  static const std::regex row(R"(^\| `([a-z_]+)` \| ([a-z]+) \|([^|]*)\|)");
  static const std::regex label("`([a-z_]+)`");
  std::map<std::string, DocumentedMetric> out;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    DocumentedMetric d;
    d.type = m[2];
    const std::string labels = m[3];
    for (std::sregex_iterator it(labels.begin(), labels.end(), label), e; it != e; ++it) d.labels.insert((*it)[1]);
    d.once_links = line.find("once links are configured") != std::string::npos;
    out[m[1]] = d;
  }
  return out;
}

// /metrics of a freshly started broker.
std::string scrape_a_broker() {
  TrustTree tree = TrustTree::live();
  BrokerProcess broker(tree);
  broker.start();
  return broker.metrics();
}

json read_dashboard() {
  const std::string text = read_text(kDashboard);
  json d = json::parse(text, nullptr, false);
  EXPECT_FALSE(d.is_discarded()) << kDashboard << " is not valid JSON";
  return d;
}

TEST(MonitoringFiles, TheDashboardIsGrafanaJsonWithItsDataSourceAVariable) {
  const json d = read_dashboard();
  ASSERT_TRUE(d.is_object());
  EXPECT_EQ(d.value("uid", ""), "lantoa-broker");
  EXPECT_FALSE(d.value("title", "").empty());
  EXPECT_GE(d.value("schemaVersion", 0), 36) << "Grafana 9's schema or later";
  EXPECT_TRUE(d["id"].is_null()) << "an exported dashboard has no id: importing it must not overwrite another";
  // The data source is chosen on import (or defaults to the default
  // Prometheus): a variable, never a uid of the machine it was made on.
  bool has_datasource_var = false;
  for (const json& v : d["templating"]["list"]) {
    if (v["name"] == "datasource") {
      has_datasource_var = v["type"] == "datasource" && v["query"] == "prometheus";
    }
  }
  EXPECT_TRUE(has_datasource_var) << "templating needs a variable 'datasource' of type datasource, query prometheus";
  const json ours = {{"type", "prometheus"}, {"uid", "${datasource}"}};
  for (const json& v : d["templating"]["list"]) {
    if (v["type"] == "query") {
      EXPECT_EQ(v["datasource"], ours) << v.dump();
    }
  }
  EXPECT_EQ(read_text(kDashboard).find("${DS_"), std::string::npos) << "an __inputs data source left in the dashboard";

  std::set<int> ids;
  int queries = 0;
  ASSERT_TRUE(d["panels"].is_array());
  for (const json& p : d["panels"]) {
    const std::string title = p.value("title", "");
    EXPECT_TRUE(ids.insert(p.value("id", 0)).second) << "panel id used twice: " << p.value("id", 0) << " " << title;
    const json& g = p["gridPos"];
    ASSERT_TRUE(g.is_object()) << title;
    EXPECT_GE(g.value("w", 0), 1) << title;
    EXPECT_LE(g.value("x", 0) + g.value("w", 0), 24) << title;
    EXPECT_GE(g.value("h", 0), 1) << title;
    if (p["type"] == "row") {
      EXPECT_FALSE(p.value("collapsed", false)) << "a collapsed row keeps its panels inside it: " << title;
      continue;
    }
    EXPECT_EQ(p["datasource"], ours) << title;
    ASSERT_TRUE(p["targets"].is_array() && !p["targets"].empty()) << title;
    std::set<std::string> refs;
    for (const json& t : p["targets"]) {
      EXPECT_EQ(t["datasource"], ours) << title;
      EXPECT_FALSE(t.value("expr", "").empty()) << title;
      EXPECT_TRUE(refs.insert(t.value("refId", "")).second) << "refId used twice in " << title;
      ++queries;
    }
  }
  EXPECT_GT(queries, 40);
}

// Each query, with Grafana's variables given values, is a recording rule of a
// rules file promtool checks: a typo in PromQL fails here.
TEST(MonitoringFiles, TheDashboardQueriesArePromQL) {
  ASSERT_EQ(run_command("command -v promtool").code, 0)
      << "promtool is missing: install the Debian package prometheus (./lantoa.sh deps does)";
  const json d = read_dashboard();
  const std::vector<std::pair<std::string, std::string>> values = {
      {"$__rate_interval", "1m"}, {"$__range", "6h"}, {"$job", "lantoa-broker"},
      {"$instance", "127.0.0.1:7451"}, {"$owner", ".*"}};
  json rules = json::array();
  auto add = [&](std::string expr) {
    for (const auto& [var, value] : values) {
      for (size_t at = expr.find(var); at != std::string::npos; at = expr.find(var, at + value.size())) {
        expr.replace(at, var.size(), value);
      }
    }
    EXPECT_EQ(expr.find('$'), std::string::npos) << "a variable this test does not know: " << expr;
    rules.push_back({{"record", "dashboard:query_" + std::to_string(rules.size())}, {"expr", expr}});
  };
  for (const json& p : d["panels"]) {
    for (const json& t : p.value("targets", json::array())) add(t.value("expr", ""));
  }
  TempDir dir;
  const auto file = dir / "dashboard-queries.yml";  // JSON is YAML
  json group = json::object();
  group["name"] = "dashboard";
  group["rules"] = rules;
  json file_content = json::object();
  file_content["groups"] = json::array({group});
  std::ofstream(file) << file_content.dump(2);
  const CommandResult r = run_command("promtool check rules '" + file.string() + "' 2>&1");
  EXPECT_EQ(r.code, 0) << r.out;
}

// Every metric named in the dashboard, the rules and the rules' tests is
// served by a broker, or a link metric the guide lists "once links are
// configured"; the guide's table lists what a broker serves, and nothing
// else but those link metrics.
TEST(MonitoringFiles, EveryMetricTheyNameIsServedByABrokerOrADocumentedLinkMetric) {
  const std::string scrape = scrape_a_broker();
  ASSERT_FALSE(scrape.empty()) << "the broker's /metrics did not answer";
  const Served served = served_names(scrape);
  ASSERT_GT(served.series.size(), 40u) << scrape;
  const auto documented = documented_metrics();
  std::set<std::string> link_metrics;  // documented but not served: none since links exist
  for (const auto& [name, d] : documented) {
    if (d.once_links) link_metrics.insert(name);
  }
  EXPECT_TRUE(link_metrics.empty()) << "the guide still marks metrics 'once links are configured'";

  auto check = [&](const std::string& where, const std::string& text, const std::set<std::string>& allowed) {
    const std::set<std::string> named = metric_names_in(text);
    EXPECT_GT(named.size(), 5u) << where;
    for (const std::string& name : named) {
      EXPECT_TRUE(allowed.contains(name) || link_metrics.contains(name))
          << where << " names " << name
          << ", which a broker does not serve and docs/operating-a-broker.md does not list as a link metric "
             "('once links are configured')";
    }
  };
  // The dashboard's queries select series; its descriptions may name a
  // histogram by its family name. The rule files are held to series names
  // throughout.
  std::string queries;
  const json dashboard = read_dashboard();
  for (const json& p : dashboard["panels"]) {
    for (const json& t : p.value("targets", json::array())) queries += t.value("expr", "") + "\n";
  }
  for (const json& v : dashboard["templating"]["list"]) queries += v.value("definition", "") + "\n";
  check("the dashboard's queries", queries, served.series);
  std::set<std::string> series_or_family = served.series;
  for (const auto& [family, type] : served.families) series_or_family.insert(family);
  check(kDashboard.filename().string(), read_text(kDashboard), series_or_family);
  check(kRules.filename().string(), read_text(kRules), served.series);
  check(kRuleTests.filename().string(), read_text(kRuleTests), served.series);

  // The guide's table and /metrics: the same families, of the same types.
  for (const auto& [name, d] : documented) {
    if (d.once_links) {
      EXPECT_EQ(d.type == "counter", name.ends_with("_total")) << name;
      continue;  // served once federation exists; not by this broker yet
    }
    const auto it = served.families.find(name);
    if (it == served.families.end()) {
      ADD_FAILURE() << "docs/operating-a-broker.md lists " << name << ", which a broker does not serve";
    } else {
      EXPECT_EQ(d.type, it->second) << "the type of " << name << " in docs/operating-a-broker.md";
    }
  }
  for (const auto& [name, type] : served.families) {
    EXPECT_TRUE(documented.contains(name)) << "/metrics serves " << name
                                           << ", which docs/operating-a-broker.md's table of metrics does not list";
  }
}

// The promtool tests feed the rules series shaped like the broker's: the
// labels of each input series (job and instance aside, which Prometheus adds)
// are the ones the guide lists for that metric.
TEST(MonitoringFiles, TheRuleTestsUseTheBrokersLabels) {
  const auto documented = documented_metrics();
  const std::string tests = read_text(kRuleTests);
  static const std::regex series(R"(series: '([a-z_]+)\{([^}]*)\}')");
  static const std::regex label(R"(([a-z_]+)=")");
  int checked = 0;
  for (std::sregex_iterator it(tests.begin(), tests.end(), series), e; it != e; ++it) {
    const std::string name = (*it)[1];
    if (name == "up") continue;  // Prometheus's own
    const std::string labels = (*it)[2];
    std::set<std::string> names;
    for (std::sregex_iterator l(labels.begin(), labels.end(), label); l != e; ++l) names.insert((*l)[1]);
    names.erase("job");
    names.erase("instance");
    ASSERT_TRUE(documented.contains(name)) << name << " is not in docs/operating-a-broker.md's table of metrics";
    EXPECT_EQ(names, documented.at(name).labels) << "the labels of " << name << " in " << kRuleTests.filename();
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

}  // namespace
}  // namespace lantoa::testing
