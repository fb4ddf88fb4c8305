#include "routing/subject_index.h"

#include <algorithm>

#include "lantoa/names.h"

namespace lantoa::broker {

// One level of the trie. `here` holds the subscriptions whose filter ends at
// this node; `rest` those whose filter ends with `>` at this node's next
// level (one or more further labels).
struct SubjectIndex::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> labels;
  std::unique_ptr<Node> star;
  std::map<uint64_t, uint32_t> here;  // sub -> filters ending here
  std::map<uint64_t, uint32_t> rest;  // sub -> filters ending in ">" below here

  bool empty() const { return labels.empty() && !star && here.empty() && rest.empty(); }
};

namespace {

std::vector<std::string_view> split(std::string_view text) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    const size_t dot = text.find('.', pos);
    out.push_back(text.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos));
    if (dot == std::string_view::npos) return out;
    pos = dot + 1;
  }
}

void count_in(std::map<uint64_t, uint32_t>& m, uint64_t sub) { ++m[sub]; }

bool count_out(std::map<uint64_t, uint32_t>& m, uint64_t sub) {
  auto it = m.find(sub);
  if (it == m.end()) return false;
  if (--it->second == 0) m.erase(it);
  return true;
}

}  // namespace

SubjectIndex::SubjectIndex() : root_(std::make_unique<Node>()) {}
SubjectIndex::~SubjectIndex() = default;
SubjectIndex::SubjectIndex(SubjectIndex&&) noexcept = default;
SubjectIndex& SubjectIndex::operator=(SubjectIndex&&) noexcept = default;

void SubjectIndex::add(uint64_t sub, std::string_view filter) {
  Node* node = root_.get();
  for (std::string_view label : split(filter)) {
    if (label == ">") {
      count_in(node->rest, sub);
      ++filters_;
      return;
    }
    std::unique_ptr<Node>* next;
    if (label == "*") {
      next = &node->star;
    } else {
      auto it = node->labels.find(label);
      if (it == node->labels.end()) it = node->labels.emplace(std::string(label), nullptr).first;
      next = &it->second;
    }
    if (!*next) *next = std::make_unique<Node>();
    node = next->get();
  }
  count_in(node->here, sub);
  ++filters_;
}

void SubjectIndex::remove(uint64_t sub, std::string_view filter) {
  // Walk down remembering the path, then prune nodes left empty.
  const auto labels = split(filter);
  std::vector<std::pair<Node*, std::string_view>> path;  // parent, label taken from it
  Node* node = root_.get();
  bool removed = false;
  for (std::string_view label : labels) {
    if (label == ">") {
      removed = count_out(node->rest, sub);
      break;
    }
    Node* next = nullptr;
    if (label == "*") {
      next = node->star.get();
    } else if (auto it = node->labels.find(label); it != node->labels.end()) {
      next = it->second.get();
    }
    if (!next) return;  // never added
    path.emplace_back(node, label);
    node = next;
  }
  if (labels.back() != ">") removed = count_out(node->here, sub);
  if (!removed) return;
  --filters_;
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    auto [parent, label] = *it;
    std::unique_ptr<Node>& child = label == "*" ? parent->star : parent->labels.find(label)->second;
    if (!child->empty()) break;
    if (label == "*") parent->star.reset();
    else parent->labels.erase(parent->labels.find(label));
  }
}

void SubjectIndex::match(std::string_view topic, std::vector<uint64_t>& out) const {
  out.clear();
  const auto labels = split(topic);
  // No wildcard matches a '$' label ("$trust", "$inbox"): "*" not that
  // label, ">" no run of labels holding one.
  size_t after_last_dollar = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].starts_with('$')) after_last_dollar = i + 1;
  }
  // Depth-first over the nodes the topic's labels lead to.
  struct Frame {
    const Node* node;
    size_t depth;  // labels consumed
  };
  std::vector<Frame> stack{{root_.get(), 0}};
  while (!stack.empty()) {
    const Frame f = stack.back();
    stack.pop_back();
    if (f.depth == labels.size()) {
      for (const auto& [sub, n] : f.node->here) out.push_back(sub);
      continue;
    }
    if (f.depth >= after_last_dollar) {
      for (const auto& [sub, n] : f.node->rest) out.push_back(sub);  // ">" takes the remaining labels
    }
    if (f.node->star && !labels[f.depth].starts_with('$')) stack.push_back({f.node->star.get(), f.depth + 1});
    if (auto it = f.node->labels.find(labels[f.depth]); it != f.node->labels.end()) {
      stack.push_back({it->second.get(), f.depth + 1});
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

}  // namespace lantoa::broker
