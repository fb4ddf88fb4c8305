// What lantoa-node hands a CMS must be safe to put in a government web page:
// received news comes from other members, and one of them may be hostile.
//
// sanitize_html parses an HTML fragment with libxml2's HTML parser (the same
// recovery a browser applies to broken markup) and writes back only an
// allow-list: p, br, a[href], strong, em, b, i, u, ul, ol, li, h1-h6,
// blockquote, img[src, alt], table, caption, colgroup, col, thead, tbody,
// tfoot, tr, th, td (colspan/rowspan), figure, figcaption, span, div.
// Elements that carry code or forms (script, style, iframe, object, form,
// svg, math, template...) are dropped with their content, empty ones (embed,
// input, meta, link, base...) are dropped; any other element is replaced by
// its content. Every other attribute (on*, style,
// class...) is dropped. URLs are judged after the parser decoded character
// references, with tabs, newlines and surrounding spaces removed the way a
// browser does: a[href] keeps only http, https and mailto; img[src] only
// http and https. Relative URLs are dropped too (a receiving portal would
// resolve them against its own site).
//
// sanitize_ninjs applies this to a ninjs document as lantoa-node emits it:
// HTML bodies are sanitised, associations whose uri is neither http(s) nor
// an identifier (a URI of another scheme without spaces or quotes: urn:,
// tag:, medtop:...; never javascript:, vbscript:, data:, file:, blob:...) or
// whose rendition href is not http(s) are dropped, and so is a canonical-url
// altId that is not http(s); any other "uri" or "href" anywhere in the
// document that is neither is removed.
//
// Pure functions, thread-safe (libxml2 is initialised once).
#pragma once

#include <libxml/HTMLparser.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lantoa::node {

// The safe form of an HTML fragment (UTF-8 in, UTF-8 out). `removed`, when
// given, collects a short note for each dangerous thing taken out
// ("<script>", "onerror attribute", "href javascript:alert(1)").
std::string sanitize_html(std::string_view html, std::vector<std::string>* removed = nullptr);

// True for an absolute http:// or https:// URL (after the browser-style
// clean-up described above); with `allow_mailto`, mailto: as well.
bool is_safe_url(std::string_view url, bool allow_mailto = false);

// Sanitises a ninjs document in place (see above); returns notes of what was
// removed (empty when it was already safe).
std::vector<std::string> sanitize_ninjs(nlohmann::json& ninjs);

// An HTML fragment as libxml2's HTML parser reads it (recovering from broken
// markup as a browser does, character references decoded; leading text is
// not wrapped in an implied <p>), or nullptr when it cannot be read. The
// sanitizer and the feed adapter's html_to_text both read HTML this way.
using HtmlDocument = std::unique_ptr<xmlDoc, void (*)(xmlDocPtr)>;
HtmlDocument parse_html_fragment(std::string_view html);

}  // namespace lantoa::node
