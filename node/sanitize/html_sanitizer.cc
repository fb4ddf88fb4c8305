#include "sanitize/html_sanitizer.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

namespace lantoa::node {
namespace {

using nlohmann::json;

// Shown as they are; their attributes filtered (see kAllowedAttributes).
const std::set<std::string, std::less<>> kAllowedElements = {
    "p",     "br",    "a",     "strong", "em",       "b",     "i",     "u",      "ul",
    "ol",    "li",    "h1",    "h2",     "h3",       "h4",    "h5",    "h6",     "blockquote",
    "img",   "table", "thead", "tbody",  "tfoot",    "tr",    "th",    "td",     "caption",
    "colgroup", "col", "figure", "figcaption", "span", "div"};

// Never written: no end tag.
const std::set<std::string, std::less<>> kVoidElements = {"br", "img", "col"};

// Dropped with everything inside them: code, embedded documents, forms, and
// the head elements a fragment has no business carrying.
const std::set<std::string, std::less<>> kDroppedWithContent = {
    "script", "style",    "iframe",   "frame",    "frameset", "object", "applet", "form",
    "button", "select",   "option",   "optgroup", "textarea", "svg",    "math",   "template",
    "noscript", "noembed", "noframes", "xmp",     "plaintext", "title", "audio",  "video",
    "canvas", "portal",   "dialog",   "slot"};

// Dropped, but they have no content in HTML: whatever the parser put inside
// them (libxml2 nests what follows an <embed>, <source> or <track>) is the
// text after them, and is written.
const std::set<std::string, std::less<>> kDroppedEmpty = {"embed", "param", "input", "source", "track", "base",
                                                          "link",  "meta",  "keygen", "area"};

enum class Attr { kText, kHref, kSrc, kNumber };

struct AllowedAttribute {
  const char* element;  // "*" for every allowed element
  const char* name;
  Attr kind;
};

constexpr AllowedAttribute kAllowedAttributes[] = {
    {"a", "href", Attr::kHref},       {"img", "src", Attr::kSrc},        {"img", "alt", Attr::kText},
    {"td", "colspan", Attr::kNumber}, {"td", "rowspan", Attr::kNumber},  {"th", "colspan", Attr::kNumber},
    {"th", "rowspan", Attr::kNumber}, {"col", "span", Attr::kNumber},    {"colgroup", "span", Attr::kNumber}};

const AllowedAttribute* allowed_attribute(std::string_view element, std::string_view name) {
  for (const auto& a : kAllowedAttributes) {
    if (element == a.element && name == a.name) return &a;
  }
  return nullptr;
}

void init_libxml() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void escape_into(std::string& out, std::string_view text, bool attribute) {
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"':
        if (attribute) {
          out += "&quot;";
          break;
        }
        [[fallthrough]];
      default: out += c;
    }
  }
}

// A URL as a browser reads it: tabs and newlines anywhere removed, C0
// controls and spaces around it trimmed. nullopt when other control
// characters remain (no legitimate URL has them).
std::optional<std::string> browser_clean(std::string_view url) {
  std::string s;
  s.reserve(url.size());
  for (char c : url) {
    if (c != '\t' && c != '\n' && c != '\r') s += c;
  }
  auto is_c0_or_space = [](char c) { return static_cast<unsigned char>(c) <= 0x20; };
  while (!s.empty() && is_c0_or_space(s.back())) s.pop_back();
  const auto first = std::find_if_not(s.begin(), s.end(), is_c0_or_space);
  s.erase(s.begin(), first);
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
  }
  return s;
}

std::string short_form(std::string_view s) {
  std::string out(s.substr(0, 80));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return s.size() > 80 ? out + "..." : out;
}

std::string attribute_value(xmlAttr* a) {
  std::unique_ptr<xmlChar, void (*)(void*)> v(xmlNodeListGetString(a->doc, a->children, 1), xmlFree);
  return v ? std::string(reinterpret_cast<const char*>(v.get())) : std::string();
}

class Writer {
 public:
  explicit Writer(std::vector<std::string>* removed) : removed_(removed) {}

  // Iterative, so that deeply nested markup cannot exhaust the stack.
  std::string write(xmlNode* root) {
    struct Frame {
      xmlNode* next;
      std::string close;
    };
    std::vector<Frame> stack;
    stack.push_back({root, ""});
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (!f.next) {
        out_ += f.close;
        stack.pop_back();
        continue;
      }
      xmlNode* n = f.next;
      f.next = n->next;
      if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (n->content) escape_into(out_, reinterpret_cast<const char*>(n->content), false);
        continue;
      }
      if (n->type != XML_ELEMENT_NODE || !n->name) continue;  // comments, processing instructions
      const std::string name = lower(reinterpret_cast<const char*>(n->name));
      if (kDroppedWithContent.contains(name)) {
        note("<" + name + ">");
        continue;
      }
      if (kDroppedEmpty.contains(name)) {
        note("<" + name + ">");
        stack.push_back({n->children, ""});
        continue;
      }
      if (!kAllowedElements.contains(name)) {  // html, body, font, section...: their content only
        stack.push_back({n->children, ""});
        continue;
      }
      std::string open = "<" + name;
      bool drop = false;
      for (xmlAttr* a = n->properties; a; a = a->next) {
        if (!a->name) continue;
        const std::string attr = lower(reinterpret_cast<const char*>(a->name));
        const AllowedAttribute* allowed = allowed_attribute(name, attr);
        if (!allowed) {
          if (attr.starts_with("on") || attr == "style" || attr == "srcdoc" || attr == "formaction") {
            note(attr + " attribute");
          }
          continue;
        }
        std::string value = attribute_value(a);
        if (allowed->kind == Attr::kHref || allowed->kind == Attr::kSrc) {
          auto clean = browser_clean(value);
          if (!clean || !is_safe_url(*clean, allowed->kind == Attr::kHref)) {
            note(attr + " " + short_form(value));
            if (allowed->kind == Attr::kSrc) drop = true;  // an image without a source shows nothing
            continue;
          }
          value = *clean;
        } else if (allowed->kind == Attr::kNumber) {
          if (value.empty() || value.size() > 3 || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
        }
        open += " " + attr + "=\"";
        escape_into(open, value, true);
        open += "\"";
      }
      if (drop || (name == "img" && open.find(" src=") == std::string::npos)) {
        stack.push_back({n->children, ""});
        continue;
      }
      out_ += open + ">";
      // A void element has no end tag; what the parser put inside it follows it.
      stack.push_back({n->children, kVoidElements.contains(name) ? "" : "</" + name + ">"});
    }
    return std::move(out_);
  }

 private:
  void note(std::string what) {
    if (removed_ && removed_->size() < 20) removed_->push_back(std::move(what));
  }
  std::vector<std::string>* removed_;
  std::string out_;
};

}  // namespace

bool is_safe_url(std::string_view url, bool allow_mailto) {
  auto clean = browser_clean(url);
  if (!clean) return false;
  const size_t colon = clean->find(':');
  if (colon == std::string::npos || colon == 0) return false;  // relative, or no scheme
  const std::string scheme = lower(std::string_view(*clean).substr(0, colon));
  const bool scheme_chars = std::all_of(scheme.begin(), scheme.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
  if (!scheme_chars) return false;
  const std::string_view rest = std::string_view(*clean).substr(colon + 1);
  if (scheme == "http" || scheme == "https") return rest.starts_with("//") && rest.size() > 2;
  return allow_mailto && scheme == "mailto" && !rest.empty();
}

HtmlDocument parse_html_fragment(std::string_view html) {
  if (html.size() > INT_MAX / 2) return HtmlDocument(nullptr, xmlFreeDoc);
  init_libxml();
  const int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                      HTML_PARSE_IGNORE_ENC | HTML_PARSE_COMPACT;
  // An explicit <body> first, or the parser wraps leading text in an implied <p>.
  std::string input = "<body>";
  input.append(html);
  return HtmlDocument(htmlReadMemory(input.data(), static_cast<int>(input.size()), nullptr, "UTF-8", options),
                      xmlFreeDoc);
}

std::string sanitize_html(std::string_view html, std::vector<std::string>* removed) {
  if (html.empty()) return {};
  HtmlDocument doc = parse_html_fragment(html);
  if (!doc) {  // nothing the parser could read: show it as text, never as markup
    std::string out;
    escape_into(out, html, false);
    return out;
  }
  // The whole document, wherever the parser placed things (head, body, after
  // </html>): html, head and body pass through as their content.
  return Writer(removed).write(doc->children);
}

namespace {

// An identifier that names something rather than links to it (urn:, tag:,
// a vocabulary's qcode such as medtop:04000000): an absolute URI with no
// white space, control characters, quotes or angle brackets anywhere, of a
// scheme a browser would not run or load from the reader's machine.
bool is_identifier(const json& value) {
  if (!value.is_string()) return false;
  const std::string text = lower(value.get<std::string>());
  for (unsigned char c : text) {
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' || c == '\'' || c == '`') return false;
  }
  const size_t colon = text.find(':');
  if (colon == 0 || colon == std::string::npos || !std::isalpha(static_cast<unsigned char>(text[0]))) return false;
  const std::string scheme = text.substr(0, colon);
  for (char c : scheme) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
  }
  static const std::set<std::string> kRunOrLocal = {"javascript", "vbscript", "data", "file", "blob",
                                                    "filesystem", "about", "jar", "view-source"};
  return !kRunOrLocal.contains(scheme);
}

}  // namespace

std::vector<std::string> sanitize_ninjs(json& ninjs) {
  std::vector<std::string> removed;
  if (!ninjs.is_object()) return removed;
  if (ninjs.contains("bodies") && ninjs["bodies"].is_array()) {
    for (json& body : ninjs["bodies"]) {
      if (!body.is_object() || !body.contains("value") || !body["value"].is_string()) continue;
      if (lower(body.value("contentType", "")).find("html") == std::string::npos) continue;
      body["value"] = sanitize_html(body["value"].get<std::string>(), &removed);
    }
  }
  auto web = [](const json& j, const char* key) {
    return !j.contains(key) || (j[key].is_string() && is_safe_url(j[key].get<std::string>()));
  };
  if (ninjs.contains("associations") && ninjs["associations"].is_array()) {
    json kept = json::array();
    for (json& a : ninjs["associations"]) {
      bool ok = a.is_object() && (web(a, "uri") || is_identifier(a["uri"]));
      if (ok && a.contains("renditions") && a["renditions"].is_array()) {
        for (const json& r : a["renditions"]) ok = ok && r.is_object() && web(r, "href");
      }
      if (ok) {
        kept.push_back(std::move(a));
      } else {
        removed.push_back("attachment " + short_form(a.is_object() ? a.value("uri", "") : ""));
      }
    }
    if (kept.empty()) {
      ninjs.erase("associations");
    } else {
      ninjs["associations"] = std::move(kept);
    }
  }
  if (ninjs.contains("altIds") && ninjs["altIds"].is_array()) {
    json kept = json::array();
    for (json& alt : ninjs["altIds"]) {
      if (alt.is_object() && alt.value("role", "") == "canonical-url" && !web(alt, "value")) {
        removed.push_back("link " + short_form(alt["value"].is_string() ? alt["value"].get<std::string>() : ""));
        continue;
      }
      kept.push_back(std::move(alt));
    }
    ninjs["altIds"] = std::move(kept);
  }
  // Any other uri or href in the document (people, places, subjects, the
  // item's own uri...): a link (http, https) or an identifier (urn:, tag:),
  // never something a browser would run.
  std::function<void(json&)> walk = [&](json& j) {
    if (j.is_array()) {
      for (json& item : j) walk(item);
      return;
    }
    if (!j.is_object()) return;
    for (const char* key : {"uri", "href"}) {
      if (j.contains(key) && !web(j, key) && !is_identifier(j[key])) {
        removed.push_back(std::string(key) + " " + short_form(j[key].is_string() ? j[key].get<std::string>() : ""));
        j.erase(key);
      }
    }
    for (auto& [key, value] : j.items()) {
      if (key != "bodies") walk(value);
    }
  };
  walk(ninjs);
  return removed;
}

}  // namespace lantoa::node
