// Prometheus text exposition format 0.0.4, written by hand: the broker's and
// the node's /metrics (broker/monitor/http.cc, node/api/metrics.cc).
//
// A Family writes one metric's "# HELP" and "# TYPE" lines when it is made,
// then one line per sample: name, labels (values escaped here: backslash,
// double quote, newline) and value. Every sample of a metric must be added
// through its one Family, before the next Family is made (the format wants
// a metric's lines together). Names, label names and help texts are the
// caller's constants: they are not checked or escaped.
#pragma once

#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "lantoa/internal/process.h"

namespace lantoa::prometheus {

// A label value as the text format writes it between double quotes.
inline std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

class Family {
 public:
  // `type`: "counter", "gauge", "histogram" (or "summary", "untyped").
  Family(std::ostream& o, const char* name, const char* type, const char* help) : o_(o), name_(name) {
    o_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  // One sample: `labels` are name=value pairs; `suffix` is added to the
  // name (a histogram's "_bucket", "_sum", "_count").
  template <typename V>
  Family& add(std::initializer_list<std::pair<const char*, std::string_view>> labels, V value,
              const char* suffix = "") {
    o_ << name_ << suffix;
    if (labels.size()) {
      o_ << '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        o_ << (first ? "" : ",") << k << "=\"" << escape_label(v) << '"';
        first = false;
      }
      o_ << '}';
    }
    o_ << ' ' << value << '\n';
    return *this;
  }
  template <typename V>
  Family& add(V value) {
    return add({}, value);
  }

 private:
  std::ostream& o_;
  const char* name_;
};

// The process_* metrics every Prometheus client library exports, from /proc.
inline void write_process_metrics(std::ostream& o) {
  const internal::ProcessFigures p = internal::read_process_figures();
  Family(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.").add(p.resident_bytes);
  Family(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.").add(p.virtual_bytes);
  Family(o, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.").add(p.cpu_seconds);
  Family(o, "process_open_fds", "gauge", "Number of open file descriptors.").add(p.open_fds);
  Family(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.").add(p.max_fds);
  Family(o, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.")
      .add(p.start_time_seconds);
}

}  // namespace lantoa::prometheus
