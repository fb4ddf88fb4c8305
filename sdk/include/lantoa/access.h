// Access: which members may read which topics.
//
// Topics are readable by every member unless the owner of a namespace has
// declared it restricted to listed member prefixes, for example a ministry's
// internal topics readable only by "vn.bqp" and the members below it. The
// declaration is an event the owner publishes on the system topic
// "$trust.restrictions" with a JSON body:
//   {"namespace": "vn.bqp.internal", "readers": ["vn.bqp"]}
// The owner always reads its own namespace; a certificate's read_grants
// (filters) open further restricted topics to its member. Thread-safe.
#pragma once

#include <map>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "lantoa/names.h"
#include "lantoa/status.h"
#include "lantoa/trust.h"

namespace lantoa {

inline constexpr std::string_view kRestrictionTopic = kRestrictionTopicName;

struct Restriction {
  std::string ns;                    // the restricted namespace
  std::vector<std::string> readers;  // member prefixes that may read it
  std::string owner;                 // who declared it (empty in files of older brokers: the last reader)
};

// Reads a declaration from an event on kRestrictionTopic: the namespace must
// be the signer's id or below it (PERMISSION_DENIED otherwise).
Result<Restriction> restriction_from_event(const VerifiedEvent& event);

// Declarations are kept per namespace *and* declarer, and a topic is
// readable only when every declaration covering it allows the reader: a
// member below the declarer (say "vn.bqp.internal" under "vn.bqp") cannot
// reopen what its parent restricted by declaring the same or a deeper
// namespace more openly. The most restrictive declaration wins.
// Inboxes (names.h, "<recipient>.$inbox.<sender>"): a member reads one only
// when it is the recipient or the sender, whatever restrictions and read
// grants say; a broker carries one over a link only to a peer broker that
// serves (`peer_serves`, its namespace) the recipient or the sender.
bool may_read_inbox(const InboxAddress& inbox, std::string_view member);
bool may_carry_inbox(const InboxAddress& inbox, std::string_view peer_serves);
// The namespace a broker serves for the inbox rule: its id one label up
// ("vn.qn.broker" serves "vn.qn"; a broker's id is "<namespace>.<name>").
std::string broker_namespace(std::string_view broker_member);

class Restrictions {
 public:
  // Adds or replaces the declaration of `r.owner` for `r.ns`.
  void set(Restriction r);
  // May `member` (with its certificate's read grants) read `topic`? An
  // inbox only as its recipient or sender.
  bool may_read(std::string_view member, const std::vector<std::string>& grants, std::string_view topic) const;
  // The declarations alone (no inbox rule): what a broker that may carry an
  // inbox must also pass (restricted mail stays where its readers are).
  bool allowed_by_declarations(std::string_view member, const std::vector<std::string>& grants,
                               std::string_view topic) const;
  // For a subscription filter: OK, or PERMISSION_DENIED when every topic the
  // filter can match lies in a namespace the member may not read (or in
  // inboxes the member neither receives nor sends). (Filters
  // that only overlap a restricted namespace are allowed; the restricted
  // events are then simply not routed to them.)
  Status check_filter(std::string_view member, const std::vector<std::string>& grants, std::string_view filter) const;
  std::vector<Restriction> all() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::pair<std::string, std::string>, Restriction> by_ns_;  // (ns, owner)
};

}  // namespace lantoa
