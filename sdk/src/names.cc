#include "lantoa/names.h"

#include <algorithm>

namespace lantoa {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Splits on '.', keeping empty labels so that they can be reported.
std::vector<std::string_view> split_labels(std::string_view text) {
  std::vector<std::string_view> labels;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    labels.push_back(text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return labels;
}

std::string quoted(std::string_view s) {
  // Shown in messages; cap what a hostile input can make us echo.
  constexpr size_t kMaxShown = 80;
  std::string out = "\"";
  out.append(s.substr(0, kMaxShown));
  if (s.size() > kMaxShown) out += "...";
  out += "\"";
  return out;
}

// Checks one topic label (not a wildcard). `first` allows a leading '$';
// later labels may be "$inbox" only.
// Returns an empty string when fine, otherwise the rule broken.
std::string topic_label_problem(std::string_view label, bool first) {
  if (label.empty()) return "has an empty label (two dots, or a dot at either end)";
  if (label.size() > kMaxLabelBytes) return "has a label longer than 63 bytes";
  size_t i = 0;
  if (!first && label[0] == '$') {
    if (label == kInboxLabel) return {};
    return "has a '$' label other than \"$inbox\" after its first label";
  }
  if (first && label[0] == '$') {
    if (label.size() == 1) return "has a '$' label with no name";
    i = 1;
  }
  for (; i < label.size(); ++i) {
    char c = label[i];
    if (!(is_lower_alnum(c) || c == '-' || c == '_')) {
      if (c == '*' || c == '>') return "contains a wildcard; topics name one place (wildcards are for filters)";
      return "contains '" + std::string(1, c) + "'; labels use a-z, 0-9, '-' and '_'";
    }
  }
  return {};
}

}  // namespace

bool is_subscription_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxSubscriptionName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

Status validate_member_id(std::string_view id) {
  auto bad = [&](const std::string& why) {
    return Status(v1::Error::INVALID_MEMBER_ID, "member id " + quoted(id) + " " + why);
  };
  if (id.empty()) return bad("is empty");
  if (id.size() > kMaxMemberIdBytes) return bad("is longer than 128 bytes");
  const auto labels = split_labels(id);
  if (labels.size() > kMaxMemberLabels) return bad("has more than 16 labels");
  for (std::string_view label : labels) {
    if (label.empty()) return bad("has an empty label (two dots, or a dot at either end)");
    if (label.size() > kMaxLabelBytes) return bad("has a label longer than 63 bytes");
    for (char c : label) {
      if (!(is_lower_alnum(c) || c == '-')) {
        return bad("contains '" + std::string(1, c) + "'; labels use a-z, 0-9 and '-'");
      }
    }
    if (label.front() == '-' || label.back() == '-') return bad("has a label that starts or ends with '-'");
  }
  return Status::Ok();
}

Status validate_topic(std::string_view topic) {
  if (topic.empty()) return Status(v1::Error::INVALID_TOPIC, "topic is empty");
  if (topic.size() > kMaxTopicBytes) {
    return Status(v1::Error::INVALID_TOPIC, "topic " + quoted(topic) + " is longer than 255 bytes");
  }
  auto labels = split_labels(topic);
  size_t inboxes = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    std::string problem = topic_label_problem(labels[i], i == 0);
    if (!problem.empty()) return Status(v1::Error::INVALID_TOPIC, "topic " + quoted(topic) + " " + problem);
    inboxes += labels[i] == kInboxLabel;
  }
  if (inboxes > 0) {
    auto address = inbox_address(topic);
    if (inboxes > 1 || !address || !validate_member_id(address->recipient).ok() ||
        !validate_member_id(address->sender).ok()) {
      return Status(v1::Error::INVALID_TOPIC, "topic " + quoted(topic) +
                                                  " is not an inbox \"<recipient>.$inbox.<sender>\" of two member ids");
    }
  }
  return Status::Ok();
}

std::optional<InboxAddress> inbox_address(std::string_view topic) {
  const std::string marker = "." + std::string(kInboxLabel) + ".";
  const size_t at = topic.find(marker);
  if (at == std::string_view::npos || at == 0) return std::nullopt;
  InboxAddress a{std::string(topic.substr(0, at)), std::string(topic.substr(at + marker.size()))};
  if (a.sender.empty()) return std::nullopt;
  return a;
}

std::string inbox_topic(std::string_view recipient, std::string_view sender) {
  return std::string(recipient) + "." + std::string(kInboxLabel) + "." + std::string(sender);
}

Status check_publish_topic(std::string_view origin, std::string_view topic) {
  if (topic == kRevocationTopic || topic == kRestrictionTopicName) return Status::Ok();
  if (auto inbox = inbox_address(topic)) {
    if (inbox->sender == origin) return Status::Ok();
    return Status(v1::Error::TOPIC_OUTSIDE_NAMESPACE,
                  "topic \"" + std::string(topic) + "\" is the inbox where " + inbox->sender + " writes to " +
                      inbox->recipient + ": \"" + std::string(origin) + "\" writes to " + inbox->recipient +
                      " on \"" + inbox_topic(inbox->recipient, origin) + "\"");
  }
  if (in_namespace(topic, origin)) return Status::Ok();
  return Status(v1::Error::TOPIC_OUTSIDE_NAMESPACE, "topic \"" + std::string(topic) +
                                                        "\" is outside the namespace of origin \"" +
                                                        std::string(origin) + "\" (it must be \"" +
                                                        std::string(origin) + "\" or start with \"" +
                                                        std::string(origin) + ".\")");
}

Status validate_filter(std::string_view filter) {
  if (filter.empty()) return Status(v1::Error::INVALID_FILTER, "filter is empty");
  if (filter.size() > kMaxTopicBytes) {
    return Status(v1::Error::INVALID_FILTER, "filter " + quoted(filter) + " is longer than 255 bytes");
  }
  auto labels = split_labels(filter);
  for (size_t i = 0; i < labels.size(); ++i) {
    std::string_view label = labels[i];
    if (label == "*") continue;
    if (label == ">") {
      if (i + 1 != labels.size()) {
        return Status(v1::Error::INVALID_FILTER,
                      "filter " + quoted(filter) + " has '>' before its end; '>' may only be the last label");
      }
      continue;
    }
    std::string problem = topic_label_problem(label, i == 0);
    if (!problem.empty()) {
      if (label.find_first_of("*>") != std::string_view::npos) {
        problem = "mixes a wildcard with other characters in one label; '*' and '>' stand alone";
      }
      return Status(v1::Error::INVALID_FILTER, "filter " + quoted(filter) + " " + problem);
    }
  }
  return Status::Ok();
}

bool in_namespace(std::string_view name, std::string_view ns) {
  return name == ns || strictly_below(name, ns);
}

bool strictly_below(std::string_view name, std::string_view ns) {
  return !ns.empty() && name.size() > ns.size() + 1 && name.substr(0, ns.size()) == ns &&
         name[ns.size()] == '.';
}

bool is_system_topic(std::string_view topic) { return !topic.empty() && topic[0] == '$'; }

Result<TopicFilter> TopicFilter::parse(std::string_view filter) {
  LANTOA_RETURN_IF_ERROR(validate_filter(filter));
  TopicFilter f;
  f.text_ = std::string(filter);
  for (std::string_view label : split_labels(filter)) f.labels_.emplace_back(label);
  return f;
}

bool TopicFilter::matches(std::string_view topic) const {
  size_t pos = 0;
  for (size_t i = 0; i < labels_.size(); ++i) {
    if (pos > topic.size()) return false;  // topic has fewer labels than the filter
    const std::string& want = labels_[i];
    if (want == ">") {
      // One or more remaining labels, none of them a '$' label.
      if (pos >= topic.size()) return false;
      std::string_view rest = topic.substr(pos);
      return !rest.starts_with('$') && rest.find(".$") == std::string_view::npos;
    }
    size_t dot = topic.find('.', pos);
    std::string_view label = topic.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    if (want == "*") {
      if (label.empty() || label.starts_with('$')) return false;  // no wildcard matches a '$' label
    } else if (label != want) {
      return false;
    }
    pos = (dot == std::string_view::npos) ? topic.size() + 1 : dot + 1;
  }
  return pos == topic.size() + 1;  // every topic label consumed
}

bool filter_matches(std::string_view filter, std::string_view topic) {
  auto f = TopicFilter::parse(filter);
  return f.ok() && f->matches(topic);
}

namespace {

std::vector<std::string_view> filter_labels(std::string_view text) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    size_t dot = text.find('.', pos);
    out.push_back(text.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos));
    if (dot == std::string_view::npos) return out;
    pos = dot + 1;
  }
}

bool is_wildcard(std::string_view label) { return label == "*" || label == ">"; }

}  // namespace

std::optional<std::string> filter_intersect(std::string_view a, std::string_view b) {
  if (!validate_filter(a).ok() || !validate_filter(b).ok()) return std::nullopt;
  const auto x = filter_labels(a);
  const auto y = filter_labels(b);
  // No wildcard matches a '$' label ("$trust", "$inbox"), at any level.
  for (size_t k = 0; k < std::max(x.size(), y.size()); ++k) {
    const bool x_rest = k >= x.size() ? false : x[k] == ">";
    if (k < x.size() && k < y.size() && ((is_wildcard(x[k]) && y[k].starts_with('$')) ||
                                         (is_wildcard(y[k]) && x[k].starts_with('$')))) {
      return std::nullopt;
    }
    if (x_rest || (k < y.size() && y[k] == ">")) {
      const auto& rest = x_rest ? y : x;
      for (size_t r = k; r < rest.size(); ++r) {
        if (rest[r].starts_with('$')) return std::nullopt;
      }
      break;
    }
    if (k >= x.size() || k >= y.size()) break;
  }
  std::string out;
  auto add = [&out](std::string_view label) {
    if (!out.empty()) out += '.';
    out += label;
  };
  for (size_t k = 0;; ++k) {
    const bool x_end = k >= x.size(), y_end = k >= y.size();
    if (x_end || y_end) return x_end && y_end ? std::optional<std::string>(out) : std::nullopt;
    if (x[k] == ">" || y[k] == ">") {
      // The rest of the other one (at least one label), or ">" if both end here.
      const auto& rest = x[k] == ">" ? y : x;
      for (size_t r = k; r < rest.size(); ++r) add(rest[r]);
      return out;
    }
    if (x[k] == "*") add(y[k]);
    else if (y[k] == "*" || x[k] == y[k]) add(x[k]);
    else return std::nullopt;
  }
}

bool filter_covers(std::string_view outer, std::string_view inner) {
  if (!validate_filter(outer).ok() || !validate_filter(inner).ok()) return false;
  const auto labels = filter_labels;
  const auto o = labels(outer);
  const auto i = labels(inner);
  for (size_t k = 0; k < o.size(); ++k) {
    if (o[k] == ">") {  // ">" needs at least one more label, as in `inner`, and matches no '$' label
      if (k >= i.size()) return false;
      for (size_t r = k; r < i.size(); ++r) {
        if (i[r].starts_with('$')) return false;
      }
      return true;
    }
    if (is_wildcard(o[k]) && k < i.size() && i[k].starts_with('$')) return false;  // no wildcard matches a '$' label
    if (k >= i.size()) return false;       // `inner` matches shorter topics
    if (i[k] == ">") return false;         // `inner` matches deeper topics than `outer` can
    if (o[k] == "*") continue;             // any one label, literal or "*"
    if (i[k] != o[k]) return false;        // a literal covers only itself
  }
  return o.size() == i.size();
}

}  // namespace lantoa
