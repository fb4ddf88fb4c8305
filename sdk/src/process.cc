#include "lantoa/internal/process.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace lantoa::internal {

ProcessFigures read_process_figures() {
  ProcessFigures p;
  const long page = sysconf(_SC_PAGESIZE);
  const long ticks = sysconf(_SC_CLK_TCK);
  // /proc/self/stat: the fields after the command (in parentheses, which may
  // hold spaces) start with the state, field 3 (see proc(5)).
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  if (const size_t close = stat.rfind(')'); close != std::string::npos && ticks > 0) {
    std::istringstream fields(stat.substr(close + 2));
    std::string f;
    uint64_t utime = 0, stime = 0, starttime = 0, vsize = 0, rss = 0;
    for (int field = 3; fields >> f; ++field) {
      if (field == 14) utime = std::stoull(f);
      if (field == 15) stime = std::stoull(f);
      if (field == 22) starttime = std::stoull(f);
      if (field == 23) vsize = std::stoull(f);
      if (field == 24) {
        rss = std::stoull(f);
        break;
      }
    }
    p.cpu_seconds = static_cast<double>(utime + stime) / ticks;
    p.virtual_bytes = vsize;
    p.resident_bytes = rss * static_cast<uint64_t>(page > 0 ? page : 4096);
    // The start time is in ticks since boot; the boot time is in /proc/stat.
    std::ifstream kernel("/proc/stat");
    for (std::string line; std::getline(kernel, line);) {
      if (line.rfind("btime ", 0) == 0) {
        p.start_time_seconds = std::stod(line.substr(6)) + static_cast<double>(starttime) / ticks;
        break;
      }
    }
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++p.open_fds;
  }
  if (p.open_fds > 0) --p.open_fds;  // the directory being read
  if (rlimit r{}; getrlimit(RLIMIT_NOFILE, &r) == 0) p.max_fds = r.rlim_cur;
  return p;
}

}  // namespace lantoa::internal
