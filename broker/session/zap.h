// ZAP handler (ZeroMQ RFC 27): the broker's transport admission.
//
// ZeroMQ asks this handler about every CurveZMQ handshake before any frame
// of the connection reaches the broker. It answers with the client's Curve
// public key as the connection's User-Id, which the session layer compares
// with the transport key in the certificate presented at Hello. A policy
// function decides admission (today: every well-formed Curve key; the trust
// issue narrows it to keys of valid, unrevoked certificates).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <zmq.hpp>

namespace lantoa::broker {

class ZapHandler {
 public:
  // `admit(curve_public_key)` returns true to let the connection in.
  ZapHandler(zmq::context_t& context, std::function<bool(const std::string&)> admit);
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

 private:
  void run();
  zmq::socket_t socket_;
  std::function<bool(const std::string&)> admit_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace lantoa::broker
