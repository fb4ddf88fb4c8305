// The node's GET /metrics: its figures (NodeFigures, node.h) in the
// Prometheus text format, every metric named lantoa_node_*. The list, with
// each metric's type, labels and meaning, is the table in
// docs/joining-as-a-portal.md ("Monitoring"); tests/node/metrics_test.cc
// fails until the two are equal.
//
// Labels are bounded: `target`, `feed` and `subscription` are names from the
// config; `reason` is an error code of proto/lantoa/v1/errors.proto; `topic`
// (the held lanes of a delivery target) is the topic for the first
// kMaxHeldTopics held lanes of a target, by topic, and "other" for the rest.
#pragma once

#include <cstddef>
#include <string>

namespace lantoa::node {

struct NodeFigures;

inline constexpr size_t kMaxHeldTopics = 20;

std::string metrics_text(const NodeFigures& figures);

}  // namespace lantoa::node
