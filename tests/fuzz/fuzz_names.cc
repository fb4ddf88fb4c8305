// Fuzz target: member ids, topics and filters — validation and matching.
// Checks properties too: a valid topic is matched by itself and by ">"
// (unless it is a system topic), and a valid member id is a valid topic.
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
    if (!lantoa::is_system_topic(a) && !lantoa::filter_matches(">", a)) __builtin_trap();
  }
  auto filter = lantoa::TopicFilter::parse(a);
  if (filter && lantoa::validate_topic(b).ok()) (void)filter->matches(b);
  (void)lantoa::in_namespace(a, b);
  return 0;
}
