// Fuzz target: what a CMS or a portal's web server hands lantoa-node — RSS /
// Atom feeds (XML, HTML inside, dates) and the JSON forms of an event
// (Lantoa's own and ninjs). The first byte chooses: 'J' JSON, else a feed.
// Property: valid UTF-8 in gives valid UTF-8 out of html_to_text and the
// feed parser.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "feeds/feed_parser.h"
#include "json_form/json_form.h"
#include "lantoa/encoding.h"
#include "ninjs/ninjs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool utf8 = lantoa::is_valid_utf8(text);
  if (data[0] == 'J') {
    auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded()) return 0;
    (void)lantoa::node::event_from_json_form(doc, "vn.gov", "vn.gov.press");
    auto e = lantoa::node::from_ninjs(doc, "vn.gov", "vn.gov.press", std::string(32, '\x01'));
    if (e) {
      // The document travels in the event and comes back as an object.
      if (!lantoa::node::to_ninjs(*e, std::string(32, '\x02'), std::string(32, '\x01'), 2).is_object()) __builtin_trap();
    }
    return 0;
  }
  const std::string plain = lantoa::node::html_to_text(text);
  if (utf8 && !lantoa::is_valid_utf8(plain)) __builtin_trap();
  const std::string nfc = lantoa::node::to_nfc(text);  // valid UTF-8 stays valid; anything else is left as it is
  if (utf8 ? !lantoa::is_valid_utf8(nfc) : nfc != text) __builtin_trap();
  (void)lantoa::node::parse_feed_date(text.substr(0, 64));
  auto feed = lantoa::node::parse_feed(text);
  if (feed && utf8) {
    for (const auto& item : feed->items) {
      if (!lantoa::is_valid_utf8(item.title) || !lantoa::is_valid_utf8(item.summary)) __builtin_trap();
    }
  }
  return 0;
}
