// Names: member ids, topics, subscription filters and namespaces.
//
// The member id is the namespace (DESIGN.md principle 3). Ids mirror the
// administrative tree: "vn", "vn.gov", "vn.qn.halong". A member publishes only
// on its own id or below; an authority certifies only ids strictly below its
// own. Filters use '*' for exactly one label and a final '>' for one or more
// labels. The grammar is in proto/README.md. All functions are pure and
// thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lantoa/status.h"

namespace lantoa {

inline constexpr size_t kMaxMemberIdBytes = 128;
inline constexpr size_t kMaxMemberLabels = 16;  // "vn.qn.halong" has 3
inline constexpr size_t kMaxTopicBytes = 255;
inline constexpr size_t kMaxLabelBytes = 63;

// INVALID_MEMBER_ID naming the rule broken, or OK.
Status validate_member_id(std::string_view id);
// A durable subscription's name: 1 to kMaxSubscriptionName of [a-z0-9_-].
inline constexpr size_t kMaxSubscriptionName = 64;
bool is_subscription_name(std::string_view name);
// INVALID_TOPIC naming the rule broken, or OK. Accepts system topics
// ("$trust.revocations").
Status validate_topic(std::string_view topic);
// INVALID_FILTER naming the rule broken, or OK.
Status validate_filter(std::string_view filter);

// True when `name` equals `ns` or lies below it ("vn.qn.halong" in "vn.qn";
// "vn.qnx" is not).
bool in_namespace(std::string_view name, std::string_view ns);
// True when `name` lies strictly below `ns`.
bool strictly_below(std::string_view name, std::string_view ns);
// True for reserved system topics (first label starts with '$').
bool is_system_topic(std::string_view topic);

// Inboxes: the topic "<recipient>.$inbox.<sender>" is where `sender` writes
// to `recipient` (a proposal to review, an answer to an item). Only the
// sender may publish on it, and only the two of them may read it (and the
// brokers that carry it between them: docs/security-model.md, "Inboxes").
// No wildcard matches a '$' label, at any level: "vn.gov.>" does not match
// "vn.gov.$inbox.vn.qn"; a filter names the inbox ("vn.gov.$inbox.>").
inline constexpr std::string_view kInboxLabel = "$inbox";
struct InboxAddress {
  std::string recipient;
  std::string sender;
};
// The two ends of an inbox topic (or of a filter whose labels around
// "$inbox" are all literal), nullopt when `topic` names no inbox.
std::optional<InboxAddress> inbox_address(std::string_view topic);
// "<recipient>.$inbox.<sender>".
std::string inbox_topic(std::string_view recipient, std::string_view sender);
// May `origin` publish on `topic`? Its own id and below, except inboxes
// (there only as the sender), and the system topics anyone certified may
// carry ($trust.revocations, $trust.restrictions; their content is checked
// on its own). TOPIC_OUTSIDE_NAMESPACE naming the rule, or OK.
Status check_publish_topic(std::string_view origin, std::string_view topic);

// The system topic on which authorities' revocation lists travel. Any member
// with the authority role may carry a list there; the list's own signature
// (by its issuer) is what makes it trusted.
inline constexpr std::string_view kRevocationTopic = "$trust.revocations";
// The system topic of namespace restrictions (see access.h).
inline constexpr std::string_view kRestrictionTopicName = "$trust.restrictions";

// A validated subscription filter, split once for fast matching.
class TopicFilter {
 public:
  static Result<TopicFilter> parse(std::string_view filter);

  // True when `topic` (a valid topic) matches this filter.
  bool matches(std::string_view topic) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<std::string> labels_;
};

// Convenience for one-off checks: parses `filter` and matches `topic`; false
// when the filter is invalid.
bool filter_matches(std::string_view filter, std::string_view topic);

// True when every topic `inner` can match is also matched by `outer` (both
// valid filters; a topic is a filter without wildcards). "vn.qn.>" covers
// "vn.qn.*.news" and "vn.qn.halong"; "vn.qn.*" does not cover "vn.qn.>".
// False when either is invalid.
bool filter_covers(std::string_view outer, std::string_view inner);

// The filter matching exactly the topics both `a` and `b` match, if any:
// "vn.*.press" and "vn.qn.>" give "vn.qn.press"; "vn.>" and "vn.qn.*" give
// "vn.qn.*"; "vn.gov.>" and "vn.qn.>" give none. nullopt when either is invalid.
std::optional<std::string> filter_intersect(std::string_view a, std::string_view b);

}  // namespace lantoa
