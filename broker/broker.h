// Broker: wires the parts of lantoa-broker together and runs them until
// asked to stop. See README.md in this folder for the map.
#pragma once

#include <atomic>

#include "config.h"
#include "lantoa/status.h"

namespace lantoa::broker {

// Runs a broker with `config` until `stop` becomes true, then stops
// accepting, finishes the commit under way, answers what it committed and
// closes. Returns the reason when it cannot start.
Status run_broker(BrokerConfig config, const std::atomic<bool>& stop);

}  // namespace lantoa::broker
