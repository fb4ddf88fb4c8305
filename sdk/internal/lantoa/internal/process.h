// A process's own figures (the broker's and the node's /metrics), read from /proc when asked for (Linux):
// resident and virtual memory, CPU time, open and allowed file descriptors,
// start time. Zero where /proc cannot be read.
#pragma once

#include <cstdint>

namespace lantoa::internal {

struct ProcessFigures {
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  double cpu_seconds = 0;         // user + system
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;           // the soft limit (RLIMIT_NOFILE)
  double start_time_seconds = 0;  // since the Unix epoch
};

ProcessFigures read_process_figures();

}  // namespace lantoa::internal
