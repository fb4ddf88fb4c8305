// Fuzz target: lantoa-node's HTML sanitiser (node/sanitize/html_sanitizer.h),
// which stands between other members' news and a portal's web pages.
// Properties: it never crashes; every tag it writes is on the allow-list with
// allowed attributes only, and every URL it keeps is http(s) (or mailto in
// a[href]); sanitising its own output finds nothing more to remove.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "sanitize/html_sanitizer.h"

namespace {

const std::set<std::string, std::less<>> kTags = {
    "p", "br", "a", "strong", "em", "b", "i", "u", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "img", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col",
    "figure", "figcaption", "span", "div"};

// The writer escapes '<' in text and '"' in attribute values, so every '<'
// of its output opens a tag it wrote: <name( attr="value")*> or </name>.
bool only_allowed_markup(std::string_view out) {
  for (size_t at = out.find('<'); at != std::string_view::npos; at = out.find('<', at + 1)) {
    size_t i = at + 1;
    const bool closing = i < out.size() && out[i] == '/';
    if (closing) ++i;
    const size_t name_end = out.find_first_of(" >", i);
    if (name_end == std::string_view::npos) return false;
    const std::string_view name = out.substr(i, name_end - i);
    if (!kTags.contains(name)) return false;
    i = name_end;
    while (i < out.size() && out[i] == ' ') {
      const size_t eq = out.find("=\"", i);
      if (eq == std::string_view::npos) return false;
      const std::string_view attr = out.substr(i + 1, eq - i - 1);
      const size_t value_end = out.find('"', eq + 2);
      if (value_end == std::string_view::npos) return false;
      const std::string value(out.substr(eq + 2, value_end - eq - 2));
      if (attr == "href") {
        if (name != "a" || !lantoa::node::is_safe_url(value, true)) return false;
      } else if (attr == "src") {
        if (name != "img" || !lantoa::node::is_safe_url(value)) return false;
      } else if (attr != "alt" && attr != "colspan" && attr != "rowspan" && attr != "span") {
        return false;
      }
      i = value_end + 1;
    }
    if (i >= out.size() || out[i] != '>') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view html(reinterpret_cast<const char*>(data), size);
  const std::string out = lantoa::node::sanitize_html(html);
  if (!only_allowed_markup(out)) __builtin_trap();
  std::vector<std::string> removed;
  (void)lantoa::node::sanitize_html(out, &removed);
  if (!removed.empty()) __builtin_trap();
  return 0;
}
