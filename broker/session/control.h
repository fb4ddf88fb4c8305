// Control: what the monitoring port asks of the I/O thread, beyond figures.
// The spread of an event (where it went: the store's queues and acks, and
// the dispatcher's deliveries in flight) and the operator's admin verbs
// (remove a subscription, purge its queue, close a member's sessions). The
// HTTP thread pushes a ControlRequest and waits on its answer; the I/O
// thread answers (Server::on_control, control.cc), through the writer when
// the store changes.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "lantoa/internal/waking_queue.h"
#include "lantoa/status.h"

namespace lantoa::broker {

struct ControlAnswer {
  Status status;
  nlohmann::json body;  // when ok
};

struct ControlRequest {
  enum class Verb { kSpread, kRemoveSubscription, kPurgeQueue, kCloseSessions };
  Verb verb = Verb::kSpread;
  std::string event_id;     // kSpread: the 32-byte id
  std::string owner, name;  // the subscription verbs
  std::string member;       // kCloseSessions
  std::shared_ptr<std::promise<ControlAnswer>> answer = std::make_shared<std::promise<ControlAnswer>>();
};

using ControlRequests = internal::WakingQueue<ControlRequest>;

// The name a verb is logged and counted under ("spread", "subscription_remove", ...).
const char* verb_name(ControlRequest::Verb verb);

}  // namespace lantoa::broker
