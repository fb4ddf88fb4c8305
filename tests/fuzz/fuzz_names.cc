// Fuzz target: member ids, topics and filters — validation and matching.
// Checks properties too: a valid topic is matched by itself and by ">"
// (unless it is a system topic or an inbox), a valid member id is a valid
// topic, only an inbox's sender may publish on it, and for a topic, filter
// matching, covering and intersecting agree.
#include <cstddef>
#include <cstdint>
#include <string>

#include "lantoa/names.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  const size_t cut = text.find('\n');
  const std::string a = text.substr(0, cut);
  const std::string b = cut == std::string::npos ? a : text.substr(cut + 1);
  if (lantoa::validate_member_id(a).ok() && !lantoa::validate_topic(a).ok()) __builtin_trap();
  if (lantoa::validate_topic(a).ok()) {
    if (!lantoa::filter_matches(a, a)) __builtin_trap();
    auto inbox = lantoa::inbox_address(a);
    // ">" matches every topic but system topics and inboxes (no wildcard matches a '$' label).
    if (lantoa::filter_matches(">", a) == (lantoa::is_system_topic(a) || inbox.has_value())) __builtin_trap();
    if (inbox) {  // only the sender publishes on an inbox
      if (!lantoa::check_publish_topic(inbox->sender, a).ok()) __builtin_trap();
      if (inbox->recipient != inbox->sender && lantoa::check_publish_topic(inbox->recipient, a).ok()) __builtin_trap();
      if (lantoa::inbox_topic(inbox->recipient, inbox->sender) != a) __builtin_trap();
    }
  }
  auto filter = lantoa::TopicFilter::parse(a);
  if (filter && lantoa::validate_topic(b).ok()) {
    // A topic is a filter without wildcards: matching, covering and
    // intersecting agree (what the link interest relies on).
    const bool matches = filter->matches(b);
    if (lantoa::filter_covers(a, b) != matches) __builtin_trap();
    if (lantoa::filter_intersect(a, b).has_value() != matches) __builtin_trap();
  }
  (void)lantoa::in_namespace(a, b);
  return 0;
}
