#include "lantoa/access.h"

#include <mutex>
#include <nlohmann/json.hpp>

#include "lantoa/names.h"

namespace lantoa {
namespace {

using E = v1::Error;

bool reader_matches(std::string_view member, const std::vector<std::string>& readers) {
  for (const auto& r : readers) {
    if (in_namespace(member, r)) return true;
  }
  return false;
}

bool granted(const std::vector<std::string>& grants, std::string_view topic) {
  for (const auto& g : grants) {
    if (filter_matches(g, topic)) return true;
  }
  return false;
}

}  // namespace

Result<Restriction> restriction_from_event(const VerifiedEvent& event) {
  if (event.event.topic() != kRestrictionTopic) {
    return Status(E::INVALID_ARGUMENT, "not an event on " + std::string(kRestrictionTopic));
  }
  auto j = nlohmann::json::parse(event.event.body(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("namespace") || !j["namespace"].is_string() ||
      !j.contains("readers") || !j["readers"].is_array()) {
    return Status(E::INVALID_ARGUMENT,
                  "a restriction needs a JSON body {\"namespace\": \"...\", \"readers\": [\"member prefix\", ...]}");
  }
  Restriction r;
  r.ns = j["namespace"].get<std::string>();
  LANTOA_RETURN_IF_ERROR(validate_topic(r.ns));
  if (!in_namespace(r.ns, event.signer.member())) {
    return Status(E::PERMISSION_DENIED, "\"" + event.signer.member() + "\" cannot restrict \"" + r.ns +
                                            "\": only the owner of a namespace may restrict it");
  }
  for (const auto& reader : j["readers"]) {
    if (!reader.is_string()) return Status(E::INVALID_ARGUMENT, "readers must be member ids");
    LANTOA_RETURN_IF_ERROR(validate_member_id(reader.get<std::string>()));
    r.readers.push_back(reader.get<std::string>());
  }
  r.readers.push_back(event.signer.member());  // the owner always reads its own
  r.owner = event.signer.member();
  return r;
}

bool may_read_inbox(const InboxAddress& inbox, std::string_view member) {
  return member == inbox.recipient || member == inbox.sender;
}

bool may_carry_inbox(const InboxAddress& inbox, std::string_view peer_serves) {
  return in_namespace(inbox.recipient, peer_serves) || in_namespace(inbox.sender, peer_serves);
}

std::string broker_namespace(std::string_view broker_member) {
  const size_t dot = broker_member.rfind('.');
  return dot == std::string_view::npos ? std::string() : std::string(broker_member.substr(0, dot));
}

void Restrictions::set(Restriction r) {
  if (r.owner.empty() && !r.readers.empty()) r.owner = r.readers.back();
  std::unique_lock lock(mu_);
  by_ns_[{r.ns, r.owner}] = std::move(r);
}

bool Restrictions::may_read(std::string_view member, const std::vector<std::string>& grants,
                            std::string_view topic) const {
  if (auto inbox = inbox_address(topic)) return may_read_inbox(*inbox, member);
  return allowed_by_declarations(member, grants, topic);
}

bool Restrictions::allowed_by_declarations(std::string_view member, const std::vector<std::string>& grants,
                                           std::string_view topic) const {
  std::shared_lock lock(mu_);
  for (const auto& [key, r] : by_ns_) {
    const std::string& ns = key.first;
    if (!in_namespace(topic, ns)) continue;
    if (!reader_matches(member, r.readers) && !granted(grants, topic)) return false;
  }
  return true;
}

Status Restrictions::check_filter(std::string_view member, const std::vector<std::string>& grants,
                                  std::string_view filter) const {
  // An inbox filter whose ends are literal: only they may read it.
  if (auto inbox = inbox_address(filter)) {
    // An inbox: its two ends may name it (restrictions do not apply to mail);
    // a filter with a wildcard may match one the member sends to or
    // receives: allowed, and each event is checked when routed.
    const bool literal = (inbox->recipient + inbox->sender).find_first_of("*>") == std::string::npos;
    if (!literal || member == inbox->recipient || member == inbox->sender) return Status::Ok();
    return Status(E::PERMISSION_DENIED, "\"" + std::string(filter) + "\" is the inbox where " + inbox->sender +
                                            " writes to " + inbox->recipient + ": only the two of them read it, not \"" +
                                            std::string(member) + "\"");
  }
  // The literal labels before the first wildcard: every matching topic starts with them.
  std::string prefix;
  size_t pos = 0;
  while (pos <= filter.size()) {
    size_t dot = filter.find('.', pos);
    std::string_view label = filter.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    if (label == "*" || label == ">") break;
    if (!prefix.empty()) prefix += '.';
    prefix += label;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  std::shared_lock lock(mu_);
  for (const auto& [key, r] : by_ns_) {
    const std::string& ns = key.first;
    if (prefix.empty() || !in_namespace(prefix, ns)) continue;  // the filter reaches beyond ns: allowed, filtered
    if (reader_matches(member, r.readers)) continue;
    bool any_grant = false;
    for (const auto& g : grants) any_grant |= in_namespace(g, ns) || filter_matches(g, ns);
    if (any_grant) continue;
    std::string readers;
    for (const auto& x : r.readers) readers += (readers.empty() ? "" : ", ") + x;
    return Status(E::PERMISSION_DENIED, "\"" + ns + "\" is restricted to " + readers + "; \"" + std::string(member) +
                                            "\" may not subscribe to \"" + std::string(filter) + "\"");
  }
  return Status::Ok();
}

std::vector<Restriction> Restrictions::all() const {
  std::shared_lock lock(mu_);
  std::vector<Restriction> out;
  for (const auto& [key, r] : by_ns_) out.push_back(r);
  return out;
}

}  // namespace lantoa
