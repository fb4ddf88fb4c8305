// lantoa tail: follow a durable subscription and print events as they
// arrive, each verified here (signature and certificate chain).
#include <nlohmann/json.hpp>

#include "cli.h"
#include "config/node_config.h"
#include "lantoa/encoding.h"
#include "lantoa/subscriber.h"

namespace lantoa::cli {

nlohmann::json event_json(const ReceivedEvent& e) {
  const v1::Event& ev = e.verified.event;
  nlohmann::json j = {{"id", to_hex(e.verified.id)},
          {"broker_seq", e.broker_seq},
          {"attempt", e.attempt},
          {"origin", ev.origin()},
          {"sequence", ev.sequence()},
          {"topic", ev.topic()},
          {"kind", v1::Kind_Name(ev.kind())},
          {"urgency", ev.urgency()},
          {"language", ev.language()},
          {"created", format_time_ms(ev.created_ms())},
          {"headline", ev.headline()},
          {"summary", ev.summary()},
          {"body", ev.body()},
          {"refers_to", to_hex(ev.refers_to())},
          {"signer", e.verified.signer.member()},
          {"signer_key", fingerprint(e.verified.signer.certificate.sign_key())},
          {"verified", true}};
  if (ev.kind() == v1::REPLY) j["reply_code"] = v1::ReplyCode_Name(ev.reply_code());
  if (e.original) {  // an endorsement: who wrote what the endorser vouches for
    j["provenance"] = e.provenance();
    j["original"] = {{"id", to_hex(e.original->id)},
                     {"origin", e.original->event.origin()},
                     {"topic", e.original->event.topic()},
                     {"headline", e.original->event.headline()},
                     {"signer_key", fingerprint(e.original->signer.certificate.sign_key())},
                     {"verified", true}};
  }
  return j;
}

void add_tail(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("tail", "print events of a subscription as they arrive, verified");
  struct Opts {
    NetworkOptions net;
    std::string name = "tail", from;
    std::vector<std::string> filters;
    bool json = false;
    size_t count = 0;
    int for_ms = 0;
  };
  auto o = std::make_shared<Opts>();
  o->net.add_to(*cmd, true);
  cmd->add_option("--name", o->name, "durable subscription name (resumed if it exists)")->capture_default_str();
  cmd->add_option("--filter", o->filters, "topic filter (repeatable): vn.gov.press, vn.*.notice, vn.qn.>");
  cmd->add_option("--from", o->from, "for a new subscription: earliest, new, seq:N or a time");
  cmd->add_flag("--json", o->json, "one JSON object per line");
  cmd->add_option("--count", o->count, "stop after this many events");
  cmd->add_option("--for-ms", o->for_ms, "stop after this long");
  cmd->callback([o, &run] {
    run = [o] {
      auto net = load_network(o->net, true);
      if (!net) return fail(net.status());
      auto start = node::parse_start_position(o->from);
      if (!start) return fail(start.status());
      SubscriberOptions so;
      so.broker = net->broker;
      so.name = o->name;
      so.filters = o->filters;
      so.start = *start;
      so.connect_timeout = std::chrono::milliseconds(o->net.timeout_ms);
      so.agent = "lantoa-cli/0.1";
      so.on_rejected = [](const Status& why, const RejectedDelivery& d) {
        std::cerr << "REJECTED broker_seq " << d.broker_seq << ": " << why.to_string() << "\n";
      };
      auto sub = Subscriber::open(std::move(net->key), std::move(net->chain), net->root, so);
      if (!sub) return fail(sub.status());
      size_t seen = 0;
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(o->for_ms);
      while ((o->count == 0 || seen < o->count) && (o->for_ms == 0 || std::chrono::steady_clock::now() < until)) {
        auto r = (*sub)->poll(
            [&](const ReceivedEvent& e) {
              ++seen;
              if (o->json) {
                std::cout << event_json(e).dump() << std::endl;
                return Status::Ok();
              }
              const v1::Event& ev = e.verified.event;
              std::cout << format_time_ms(ev.created_ms()) << "  " << ev.topic() << "  [" << v1::Kind_Name(ev.kind())
                        << ", urgency " << ev.urgency() << "]  signed by " << e.verified.signer.member() << " ("
                        << fingerprint(e.verified.signer.certificate.sign_key()) << "), verified\n    "
                        << (e.original && ev.headline().empty() ? e.original->event.headline() : ev.headline())
                        << std::endl;
              if (e.original) {
                std::cout << "    " << e.provenance() << " (" << to_hex(e.original->id) << ", both signatures verified)"
                          << std::endl;
              }
              return Status::Ok();
            },
            std::chrono::milliseconds(200), o->count ? o->count - seen : SIZE_MAX);
        if (!r) return fail(r.status());
      }
      return kOk;
    };
  });
}

}  // namespace lantoa::cli
