#include "feeds/feed_parser.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <curl/curl.h>
#include <pugixml.hpp>

#include <cctype>
#include <memory>
#include <cstring>
#include <ctime>

#include "lantoa/encoding.h"
#include "sanitize/html_sanitizer.h"

namespace lantoa::node {
namespace {

using E = v1::Error;

// The element's name without its namespace prefix.
std::string_view local(const pugi::xml_node& n) {
  std::string_view name = n.name();
  const size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node child(const pugi::xml_node& n, std::string_view name) {
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && local(c) == name) return c;
  }
  return {};
}

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// All text inside an element (text and CDATA), or its markup for xhtml.
std::string inner(const pugi::xml_node& n, bool markup = false) {
  if (markup) {
    std::string out;
    struct Writer : pugi::xml_writer {
      std::string* out;
      void write(const void* data, size_t size) override { out->append(static_cast<const char*>(data), size); }
    } w;
    w.out = &out;
    for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) c.print(w, "", pugi::format_raw);
    return trim(out);
  }
  std::string out;
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) out += c.value();
  }
  return trim(out);
}

// Text from a feed's text construct: HTML (RSS descriptions, Atom type="html"),
// XHTML markup or plain text, as plain text.
std::string text_of(const pugi::xml_node& n) {
  if (!n) return {};
  const std::string_view type = n.attribute("type").as_string();
  if (type == "xhtml") return html_to_text(inner(n, true));
  return html_to_text(inner(n));
}

// Cuts `s` to at most `max` code points, on a character boundary.
std::string clip(std::string s, size_t max) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && ++count > max) {
      s.resize(i);
      break;
    }
  }
  return s;
}

// The xml:base in force at `n` (the nearest one on it or its ancestors).
std::string base_of(pugi::xml_node n) {
  for (; n; n = n.parent()) {
    if (pugi::xml_attribute b = n.attribute("xml:base")) return b.as_string();
  }
  return {};
}

// `href` resolved against an absolute http(s) `base` by libcurl's URL parser
// (RFC 3986); `href` unchanged when there is no such base or it cannot be
// resolved (the sanitizer judges what is left).
std::string resolve(const std::string& base, const std::string& href) {
  if (href.empty() || base.empty()) return href;
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> url(curl_url(), curl_url_cleanup);
  if (!url || curl_url_set(url.get(), CURLUPART_URL, base.c_str(), 0) != CURLUE_OK) return href;
  char* scheme = nullptr;
  if (curl_url_get(url.get(), CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) return href;
  const std::string base_scheme = scheme;
  curl_free(scheme);
  if (base_scheme != "http" && base_scheme != "https") return href;
  if (curl_url_set(url.get(), CURLUPART_URL, href.c_str(), 0) != CURLUE_OK) return href;
  char* resolved = nullptr;
  if (curl_url_get(url.get(), CURLUPART_URL, &resolved, 0) != CURLUE_OK) return href;
  std::string out = resolved;
  curl_free(resolved);
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void add_enclosure(FeedItem& item, std::string uri, std::string type, std::string_view length, std::string title) {
  if (uri.empty()) return;
  v1::Attachment a;
  a.set_uri(std::move(uri));
  a.set_media_type(type.find('/') != std::string::npos ? type : "application/octet-stream");
  const std::string digits(length);
  if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos && digits.size() < 20) {
    a.set_size_bytes(std::stoull(digits));
  }
  a.set_title(std::move(title));
  item.enclosures.push_back(std::move(a));
}

void add_category(FeedItem& item, std::string term, const std::string& scheme, std::string label) {
  term = trim(term);
  if (term.empty()) return;
  v1::Subject s;
  s.set_code(scheme.empty() ? term : scheme + "#" + term);
  s.set_name(label.empty() ? term : label);
  for (const auto& old : item.categories) {
    if (old.code() == s.code()) return;
  }
  item.categories.push_back(std::move(s));
}

void finish(FeedItem& item) {
  item.title = clip(item.title, 500);
  item.summary = clip(item.summary, 4000);
  if (item.key.empty()) item.key = !item.link.empty() ? item.link : item.title;
}

FeedItem rss_item(const pugi::xml_node& n, const std::string& feed_language) {
  FeedItem item;
  item.title = text_of(child(n, "title"));
  item.link = trim(inner(child(n, "link")));
  if (pugi::xml_node guid = child(n, "guid")) {
    item.key = inner(guid);
    item.guid = trim(item.key);
    const std::string permalink = lower(guid.attribute("isPermaLink").as_string("true"));
    if (item.link.empty() && permalink != "false" && item.key.starts_with("http")) item.link = item.key;
  }
  const std::string description = inner(child(n, "description"));
  const std::string encoded = inner(child(n, "encoded"));  // content:encoded
  item.summary = html_to_text(description);
  item.body = encoded;
  item.body_html = item.body.find('<') != std::string::npos || item.body.find('&') != std::string::npos;
  if (!item.body_html) item.body = html_to_text(item.body);
  if (!item.body.empty() && item.summary == html_to_text(item.body)) item.summary.clear();  // no need to say it twice
  for (const char* who : {"creator", "author"}) {
    if (item.author.empty()) item.author = trim(inner(child(n, who)));
  }
  item.language = trim(inner(child(n, "language")));
  if (item.language.empty()) item.language = feed_language;
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    const std::string_view name = local(c);
    if (name == "category") add_category(item, inner(c), c.attribute("domain").as_string(), "");
    if (name == "subject") add_category(item, inner(c), "", "");  // dc:subject
    if (name == "enclosure") {
      add_enclosure(item, c.attribute("url").as_string(), c.attribute("type").as_string(),
                    c.attribute("length").as_string(), "");
    }
  }
  for (const char* when : {"pubDate", "date", "issued", "modified"}) {
    if (!item.published_ms) item.published_ms = parse_feed_date(inner(child(n, when)));
  }
  finish(item);
  return item;
}

FeedItem atom_entry(const pugi::xml_node& n, const std::string& feed_language) {
  FeedItem item;
  item.key = trim(inner(child(n, "id")));
  item.guid = item.key;
  item.title = text_of(child(n, "title"));
  const pugi::xml_node summary = child(n, "summary");
  pugi::xml_node content = child(n, "content");
  item.summary = text_of(summary);
  if (content) {
    const std::string type = content.attribute("type").as_string("text");
    if (content.attribute("src")) {
      item.body.clear();
    } else if (type == "xhtml") {
      item.body = inner(content, true);
      item.body_html = true;
    } else if (type == "html" || type == "text/html") {
      item.body = inner(content);
      item.body_html = true;
    } else {
      item.body = inner(content);
    }
  }
  if (!item.body.empty() && item.summary == (item.body_html ? html_to_text(item.body) : item.body)) {
    item.summary.clear();  // no need to say it twice
  }
  if (pugi::xml_node author = child(n, "author")) item.author = trim(inner(child(author, "name")));
  item.language = n.attribute("xml:lang").as_string();
  if (item.language.empty()) item.language = feed_language;
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    const std::string_view name = local(c);
    if (name == "link") {
      const std::string rel = c.attribute("rel").as_string("alternate");
      const std::string href = resolve(base_of(c), c.attribute("href").as_string());
      if (rel == "alternate" && item.link.empty()) item.link = href;
      if (rel == "enclosure") {
        add_enclosure(item, href, c.attribute("type").as_string(),
                      c.attribute("length").as_string(), c.attribute("title").as_string());
      }
    }
    if (name == "category") {
      add_category(item, c.attribute("term").as_string(), c.attribute("scheme").as_string(),
                   c.attribute("label").as_string());
    }
  }
  for (const char* when : {"published", "issued", "updated", "modified", "created"}) {
    if (!item.published_ms) item.published_ms = parse_feed_date(inner(child(n, when)));
  }
  finish(item);
  return item;
}

// curl's date parser (RFC 822 / 1123 / 850 and asctime forms, numeric and
// named zones, 2-digit years). Zones it does not know: ICT, common in
// Vietnamese feeds, as +0700; any other unknown name as UTC, as before.
std::optional<int64_t> parse_rfc822(std::string_view text) {
  std::string t(text);
  if (t.ends_with(" ICT")) t.replace(t.size() - 4, 4, " +0700");
  time_t when = curl_getdate(t.c_str(), nullptr);
  if (when == -1) {
    const size_t space = t.find_last_of(' ');
    if (space == std::string::npos) return std::nullopt;
    const std::string zone = t.substr(space + 1);
    const bool name = !zone.empty() && std::all_of(zone.begin(), zone.end(), [](char c) {
      return std::isalpha(static_cast<unsigned char>(c));
    });
    if (!name) return std::nullopt;
    when = curl_getdate((t.substr(0, space) + " GMT").c_str(), nullptr);
    if (when == -1) return std::nullopt;
  }
  return static_cast<int64_t>(when) * 1000;
}

}  // namespace

std::string to_nfc(std::string_view text) {
  if (!is_valid_utf8(text)) return std::string(text);  // ICU would replace what it cannot read
  UErrorCode error = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(error);
  if (U_FAILURE(error)) return std::string(text);
  const icu::UnicodeString in = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  if (in.isBogus()) return std::string(text);
  const icu::UnicodeString out = nfc->normalize(in, error);
  if (U_FAILURE(error)) return std::string(text);
  std::string utf8;
  out.toUTF8String(utf8);
  return utf8;
}

std::optional<int64_t> parse_feed_date(std::string_view text) {
  const std::string t = trim(text);
  if (t.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(t[0])) && t.size() >= 10 && t[4] == '-') return parse_time_ms(t);
  return parse_rfc822(t);
}

namespace {

bool is_block_tag(std::string_view tag) {
  static const char* blocks[] = {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
                                 "tr", "table", "blockquote", "section", "article", "hr", "pre", "figure"};
  for (const char* b : blocks) {
    if (tag == b) return true;
  }
  return false;
}

// Collects the text of a parsed HTML tree as a reader sees it.
class TextWriter {
 public:
  std::string take() { return std::move(out_); }

  void walk(xmlNodePtr n) {
    for (; n; n = n->next) {
      if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (n->content) text(reinterpret_cast<const char*>(n->content));
      } else if (n->type == XML_ELEMENT_NODE || n->type == XML_DOCUMENT_NODE || n->type == XML_HTML_DOCUMENT_NODE) {
        const std::string_view name = n->name ? reinterpret_cast<const char*>(n->name) : "";
        if (name == "script" || name == "style") continue;
        const bool block = is_block_tag(name);
        if (block) newline_ = true;
        if (name == "td" || name == "th") space_ = true;
        walk(n->children);
        if (block) newline_ = true;
      }
    }
  }

 private:
  // White space (with the no-break space) collapses to one space.
  void text(std::string_view t) {
    for (size_t i = 0; i < t.size();) {
      const char c = t[i];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        space_ = true;
        ++i;
        continue;
      }
      if (t.substr(i, 2) == "\xC2\xA0") {
        space_ = true;
        i += 2;
        continue;
      }
      size_t j = i + 1;
      while (j < t.size() && t[j] != ' ' && t[j] != '\t' && t[j] != '\r' && t[j] != '\n' &&
             t.substr(j, 2) != "\xC2\xA0") {
        ++j;
      }
      if (!out_.empty() && newline_) out_ += '\n';
      else if (!out_.empty() && space_) out_ += ' ';
      space_ = newline_ = false;
      out_.append(t.substr(i, j - i));
      i = j;
    }
  }

  std::string out_;
  bool space_ = false;    // a space is owed before the next visible character
  bool newline_ = false;  // a line break is owed (a block ended or began)
};

}  // namespace

std::string html_to_text(std::string_view html) {
  if (html.empty()) return {};
  HtmlDocument doc = parse_html_fragment(html);
  if (!doc) return trim(html);
  TextWriter w;
  w.walk(doc->children);
  return w.take();
}

Result<Feed> parse_feed(std::string_view xml) {
  pugi::xml_document doc;
  const pugi::xml_parse_result r =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default | pugi::parse_declaration, pugi::encoding_auto);
  if (!r) {
    return Status(E::INVALID_ARGUMENT, std::string("the feed is not well-formed XML: ") + r.description() +
                                           " at byte " + std::to_string(r.offset));
  }
  pugi::xml_node root = doc.document_element();
  Feed feed;
  const std::string_view kind = local(root);
  if (kind == "rss" || kind == "RDF") {
    pugi::xml_node channel = child(root, "channel");
    feed.title = text_of(child(channel, "title"));
    feed.language = trim(inner(child(channel, "language")));
    // RSS 2.0 items are inside channel; RSS 1.0 items are siblings of it.
    for (pugi::xml_node parent : {channel, root}) {
      for (pugi::xml_node n = parent.first_child(); n; n = n.next_sibling()) {
        if (n.type() == pugi::node_element && local(n) == "item") feed.items.push_back(rss_item(n, feed.language));
      }
    }
  } else if (kind == "feed") {
    feed.title = text_of(child(root, "title"));
    feed.language = root.attribute("xml:lang").as_string();
    for (pugi::xml_node n = root.first_child(); n; n = n.next_sibling()) {
      if (n.type() == pugi::node_element && local(n) == "entry") feed.items.push_back(atom_entry(n, feed.language));
    }
  } else {
    return Status(E::INVALID_ARGUMENT, "the document is neither RSS nor Atom (its root element is <" +
                                           std::string(root.name()) + ">)");
  }
  return feed;
}

}  // namespace lantoa::node
