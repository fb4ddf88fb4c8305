// lantoa replay: re-read what the broker still holds on some topics, from a
// time or a broker sequence, into a file (JSON lines), with progress.
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "config/node_config.h"
#include "lantoa/encoding.h"
#include "lantoa/subscriber.h"

namespace lantoa::cli {

nlohmann::json event_json(const ReceivedEvent& e);

void add_replay(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("replay", "re-read topics from a time or sequence into a file (JSON lines)");
  struct Opts {
    NetworkOptions net;
    std::vector<std::string> filters;
    std::string from = "earliest", out;
  };
  auto o = std::make_shared<Opts>();
  o->net.add_to(*cmd, true);
  cmd->add_option("--filter", o->filters, "topic filter (repeatable)")->required();
  cmd->add_option("--from", o->from, "earliest, seq:N or a time")->capture_default_str();
  cmd->add_option("--out", o->out, "output file (JSON lines)")->required();
  cmd->callback([o, &run] {
    run = [o] {
      auto net = load_network(o->net, true);
      if (!net) return fail(net.status());
      auto start = node::parse_start_position(o->from);
      if (!start) return fail(start.status());
      std::ofstream out(o->out);
      if (!out) return fail(Status(v1::Error::IO_ERROR, "cannot write " + o->out));
      SubscriberOptions so;
      so.broker = net->broker;
      so.name = "replay-" + std::to_string(::getpid()) + "-" + std::to_string(unix_now_ms() % 100000);
      so.filters = o->filters;
      so.start = *start;
      so.credit = 1000;
      so.follow_revocations = false;
      so.connect_timeout = std::chrono::milliseconds(o->net.timeout_ms);
      auto sub = Subscriber::open(std::move(net->key), std::move(net->chain), net->root, so);
      if (!sub) return fail(sub.status());
      const uint64_t total = (*sub)->pending_at_open();
      const bool terminal = ::isatty(2);
      uint64_t done = 0;
      auto show = [&] {
        if (!terminal || total == 0) return;
        const int width = 40;
        const int filled = static_cast<int>(width * std::min<uint64_t>(done, total) / total);
        std::cerr << "\r[" << std::string(filled, '=') << std::string(width - filled, ' ') << "] " << done << "/"
                  << total << std::flush;
      };
      while (done < total) {
        auto r = (*sub)->poll([&](const ReceivedEvent& e) {
                                out << event_json(e).dump() << "\n";
                                ++done;
                                return Status::Ok();
                              },
                              std::chrono::milliseconds(1000), total - done);
        if (!r) return fail(r.status());
        if (*r == 0) break;  // nothing more arrives
        show();
      }
      if (terminal && total) std::cerr << "\n";
      (void)(*sub)->remove();
      std::cout << "replayed " << done << " events into " << o->out;
      if ((*sub)->stats().rejected) std::cout << " (" << (*sub)->stats().rejected << " failed verification)";
      std::cout << "\n";
      return done == total ? kOk : kError;
    };
  });
}

}  // namespace lantoa::cli
