// SubjectIndex: which subscriptions have a filter matching a topic, found by
// walking a trie over topic labels (as NATS's sublist does) instead of
// testing every subscription's filters against every event. With 10,000
// subscriptions a publish touches the few trie nodes its labels lead to and
// the subscriptions that actually match.
//
// Filters follow names.h: a label matches itself, `*` one label, `>` one or
// more remaining labels; at the first level neither wildcard matches a
// system topic (`$…`). Each (subscription, filter) pair is counted, so a
// subscription with two filters that both match is found once, and removing
// one filter keeps the other.
//
// Not thread-safe: the store's writer thread owns it (see store/store.h).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lantoa::broker {

class SubjectIndex {
 public:
  SubjectIndex();
  ~SubjectIndex();
  SubjectIndex(SubjectIndex&&) noexcept;
  SubjectIndex& operator=(SubjectIndex&&) noexcept;

  // `filter` must be valid (validate_filter).
  void add(uint64_t sub, std::string_view filter);
  // Removes one (sub, filter) added before; a no-op otherwise.
  void remove(uint64_t sub, std::string_view filter);

  // The subscriptions with a filter matching `topic` (a valid topic), in
  // ascending order, each once. Cleared first.
  void match(std::string_view topic, std::vector<uint64_t>& out) const;

  size_t filters() const { return filters_; }

 private:
  struct Node;
  std::unique_ptr<Node> root_;
  size_t filters_ = 0;
};

}  // namespace lantoa::broker
