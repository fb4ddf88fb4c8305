#include "session/zap.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "lantoa/encoding.h"

namespace lantoa::broker {

ZapHandler::ZapHandler(zmq::context_t& context, std::function<bool(const std::string&)> admit)
    : socket_(context, zmq::socket_type::rep), admit_(std::move(admit)) {
  socket_.bind("inproc://zeromq.zap.01");
  socket_.set(zmq::sockopt::rcvtimeo, 100);
  thread_ = std::thread([this] { run(); });
}

ZapHandler::~ZapHandler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::run() {
  while (!stop_) {
    std::vector<zmq::message_t> req;
    try {
      zmq::message_t part;
      if (!socket_.recv(part)) continue;  // timeout: check stop_
      req.push_back(std::move(part));
      while (socket_.get(zmq::sockopt::rcvmore)) {
        zmq::message_t more;
        (void)socket_.recv(more);
        req.push_back(std::move(more));
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      continue;
    }
    // Request: version, request id, domain, address, routing id, mechanism, credentials...
    std::string version = req.size() > 0 ? req[0].to_string() : "";
    std::string request_id = req.size() > 1 ? req[1].to_string() : "";
    std::string mechanism = req.size() > 5 ? req[5].to_string() : "";
    std::string key = req.size() > 6 ? req[6].to_string() : "";
    bool ok = version == "1.0" && mechanism == "CURVE" && key.size() == 32 && admit_(key);
    if (!ok) spdlog::info("transport admission refused ({} from {})", mechanism, req.size() > 3 ? req[3].to_string() : "?");
    std::string user_id = ok ? to_hex(key) : "";
    std::vector<std::string> reply = {"1.0", request_id, ok ? "200" : "400",
                                      ok ? "OK" : "not admitted", user_id, ""};
    for (size_t i = 0; i < reply.size(); ++i) {
      socket_.send(zmq::buffer(reply[i]), i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
}

}  // namespace lantoa::broker
