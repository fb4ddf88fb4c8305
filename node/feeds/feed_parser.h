// Reading RSS 2.0 (and 0.9x / 1.0) and Atom (1.0 and 0.3) feeds with a real
// XML parser (pugixml), into items ready to become events.
//
// Elements are matched by their local name, whatever prefix a feed gives its
// namespaces (content:encoded, dc:creator, dc:date, dc:subject...). Text comes
// out as UTF-8 exactly as the feed has it (NFC or NFD alike); HTML in titles
// and descriptions is turned into plain text for headline and summary
// (html_to_text). The body is the item's full content only (RSS
// content:encoded, Atom content), never its description or summary.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lantoa/status.h"
#include "lantoa/v1/event.pb.h"

namespace lantoa::node {

struct FeedItem {
  std::string key;       // what identifies the item across fetches: guid, id, else link, else title
  std::string guid;      // the RSS guid / Atom id as the feed gives it ("" when none)
  std::string title;     // plain text
  std::string link;      // the item's page (a guid with isPermaLink="false" is not one)
  std::string summary;   // plain text
  std::string body;      // as given (HTML when body_html)
  bool body_html = false;
  std::string author;
  std::string language;  // the item's own, else the feed's
  std::vector<v1::Subject> categories;     // code = scheme/domain + term, name = label
  std::vector<v1::Attachment> enclosures;  // RSS enclosure, Atom link rel="enclosure"
  std::optional<int64_t> published_ms;     // pubDate / published / dc:date / updated
};

struct Feed {
  std::string title;
  std::string language;
  std::vector<FeedItem> items;
};

// Parses a feed document. INVALID_ARGUMENT for XML that is not well formed
// (with the offset) or a document that is neither RSS nor Atom.
Result<Feed> parse_feed(std::string_view xml);

// RFC 822 / RFC 2822 dates as in RSS ("Thu, 01 Jan 2004 19:48:21 GMT",
// "+0700", named US zones, no weekday, 2-digit years) and RFC 3339 / ISO 8601
// as in Atom and Dublin Core ("2026-11-28T09:00:00+07:00").
std::optional<int64_t> parse_feed_date(std::string_view text);

// The readable text of an HTML fragment, read by libxml2's HTML parser (a
// browser's recovery from broken markup; every HTML 4 named reference and
// numeric references decoded): tags dropped (script and style with their
// content), block elements and <br> as line breaks, white space collapsed.
std::string html_to_text(std::string_view html);

// Unicode Normalization Form C of UTF-8 text (ICU): "Việt" typed with
// combining marks (NFD, as macOS and some CMSs write it) and precomposed
// (NFC) compare equal after it. Invalid UTF-8 is returned as it is.
std::string to_nfc(std::string_view text);

}  // namespace lantoa::node
