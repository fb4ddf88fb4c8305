#include "feeds/feed_parser.h"

#include <curl/curl.h>
#include <pugixml.hpp>

#include <cctype>
#include <cstring>
#include <ctime>

#include "lantoa/encoding.h"

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

void append_utf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A character reference at s[i] == '&': appended decoded, returns the length
// it used (0: not a reference, the '&' is literal).
size_t decode_reference(std::string_view s, size_t i, std::string& out) {
  const size_t semi = s.find(';', i);
  if (semi == std::string_view::npos || semi - i > 12) return 0;
  std::string_view name = s.substr(i + 1, semi - i - 1);
  if (name.size() > 1 && name[0] == '#') {
    const bool hex = name[1] == 'x' || name[1] == 'X';
    std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    uint32_t cp = 0;
    for (char c : digits) {
      const int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                    : hex && std::isxdigit(static_cast<unsigned char>(c))
                        ? (std::tolower(static_cast<unsigned char>(c)) - 'a' + 10)
                        : -1;
      if (v < 0 || cp > 0x10FFFF) return 0;
      cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
    }
    append_utf8(out, cp);
    return semi - i + 1;
  }
  static const std::pair<std::string_view, uint32_t> named[] = {
      {"amp", '&'},       {"lt", '<'},        {"gt", '>'},        {"quot", '"'},      {"apos", '\''},
      {"nbsp", 0xA0},     {"ndash", 0x2013},  {"mdash", 0x2014},  {"hellip", 0x2026}, {"lsquo", 0x2018},
      {"rsquo", 0x2019},  {"ldquo", 0x201C},  {"rdquo", 0x201D},  {"laquo", 0xAB},    {"raquo", 0xBB},
      {"copy", 0xA9},     {"reg", 0xAE},      {"deg", 0xB0},      {"middot", 0xB7},   {"bull", 0x2022},
      {"euro", 0x20AC},   {"agrave", 0xE0},   {"aacute", 0xE1},   {"acirc", 0xE2},    {"atilde", 0xE3},
      {"egrave", 0xE8},   {"eacute", 0xE9},   {"ecirc", 0xEA},    {"igrave", 0xEC},   {"iacute", 0xED},
      {"ograve", 0xF2},   {"oacute", 0xF3},   {"ocirc", 0xF4},    {"otilde", 0xF5},   {"ugrave", 0xF9},
      {"uacute", 0xFA},   {"yacute", 0xFD},   {"Agrave", 0xC0},   {"Aacute", 0xC1},   {"Acirc", 0xC2},
      {"Atilde", 0xC3},   {"Eacute", 0xC9},   {"Ecirc", 0xCA},    {"Oacute", 0xD3},   {"Ocirc", 0xD4},
      {"Uacute", 0xDA}};
  for (const auto& [n, cp] : named) {
    if (n == name) {
      append_utf8(out, cp);
      return semi - i + 1;
    }
  }
  return 0;
}

bool is_block_tag(std::string_view tag) {
  static const char* blocks[] = {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
                                 "tr", "table", "blockquote", "section", "article", "hr", "pre", "figure"};
  for (const char* b : blocks) {
    if (tag == b) return true;
  }
  return false;
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

// `href` resolved against an absolute http(s) `base` (RFC 3986, the common cases).
std::string resolve(const std::string& base, const std::string& href) {
  if (href.empty() || href.find("://") != std::string::npos || base.find("://") == std::string::npos) return href;
  const size_t host_end = base.find('/', base.find("://") + 3);
  const std::string origin = base.substr(0, host_end);
  if (href.starts_with("//")) return base.substr(0, base.find("://") + 1) + href;
  if (href[0] == '/') return origin + href;
  const std::string dir = host_end == std::string::npos ? origin + "/" : base.substr(0, base.rfind('/') + 1);
  return dir + href;
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
    const std::string permalink = lower(guid.attribute("isPermaLink").as_string("true"));
    if (item.link.empty() && permalink != "false" && item.key.starts_with("http")) item.link = item.key;
  }
  const std::string description = inner(child(n, "description"));
  const std::string encoded = inner(child(n, "encoded"));  // content:encoded
  item.summary = html_to_text(description);
  item.body = encoded.empty() ? description : encoded;
  item.body_html = item.body.find('<') != std::string::npos || item.body.find('&') != std::string::npos;
  if (!item.body_html) item.body = html_to_text(item.body);
  if (item.summary == html_to_text(item.body)) item.summary.clear();  // no need to say it twice
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
  if (item.body.empty() && summary) {
    item.body = inner(summary, std::string_view(summary.attribute("type").as_string()) == "xhtml");
    item.body_html = std::string_view(summary.attribute("type").as_string("text")) != "text";
  }
  if (item.summary == (item.body_html ? html_to_text(item.body) : item.body)) item.summary.clear();
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

std::optional<int64_t> parse_feed_date(std::string_view text) {
  const std::string t = trim(text);
  if (t.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(t[0])) && t.size() >= 10 && t[4] == '-') return parse_time_ms(t);
  return parse_rfc822(t);
}

std::string html_to_text(std::string_view html) {
  std::string out;
  bool space = false;  // a space is owed before the next visible character
  bool newline = false;
  auto emit = [&](std::string_view piece) {
    if (!out.empty() && newline) out += '\n';
    else if (!out.empty() && space) out += ' ';
    space = newline = false;
    out += piece;
  };
  for (size_t i = 0; i < html.size();) {
    const char c = html[i];
    if (c == '<') {
      const size_t close = html.find('>', i);
      if (close == std::string_view::npos) break;  // a broken tag: drop the rest
      std::string_view tag = html.substr(i + 1, close - i - 1);
      if (tag.starts_with("!--")) {  // comment
        const size_t end = html.find("-->", i);
        i = end == std::string_view::npos ? html.size() : end + 3;
        continue;
      }
      const bool closing = !tag.empty() && tag[0] == '/';
      if (closing) tag.remove_prefix(1);
      size_t name_end = 0;
      while (name_end < tag.size() && std::isalnum(static_cast<unsigned char>(tag[name_end]))) ++name_end;
      const std::string name = lower(std::string(tag.substr(0, name_end)));
      i = close + 1;
      if (!closing && (name == "script" || name == "style")) {  // skip their content
        const size_t end = lower(std::string(html.substr(i))).find("</" + name);
        i = end == std::string::npos ? html.size() : i + end;
        continue;
      }
      if (is_block_tag(name)) newline = true;
      else space = space || name == "td" || name == "th";
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      ++i;
      continue;
    }
    std::string piece;
    if (c == '&') {
      if (size_t used = decode_reference(html, i, piece)) {
        i += used;
        if (piece == "\xC2\xA0") {  // no-break space: white space like any other
          space = true;
          continue;
        }
        emit(piece);
        continue;
      }
    }
    size_t j = i;
    while (j < html.size() && html[j] != '<' && html[j] != '&' && html[j] != ' ' && html[j] != '\t' &&
           html[j] != '\r' && html[j] != '\n') {
      ++j;
    }
    if (j == i) j = i + 1;
    emit(html.substr(i, j - i));
    i = j;
  }
  return out;
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
