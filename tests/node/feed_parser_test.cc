#include "feeds/feed_parser.h"

#include <gtest/gtest.h>

#include "lantoa/encoding.h"
#include "support/fixtures.h"

namespace lantoa::node {
namespace {

using lantoa::testing::read_text;
using lantoa::testing::testdata;

Feed parse(const std::string& name) {
  auto f = parse_feed(read_text(testdata("feeds/" + name)));
  EXPECT_TRUE(f.ok()) << name << ": " << f.status().to_string();
  return f.ok() ? *f : Feed{};
}

TEST(FeedParser, VietnameseRssInBothNormalForms) {
  for (const char* name : {"vi_rss20_baochinhphu_nfc.xml", "vi_rss20_baochinhphu_nfd.xml"}) {
    Feed feed = parse(name);
    ASSERT_EQ(feed.items.size(), 5u) << name;
    EXPECT_EQ(feed.language, "vi");
    const FeedItem& first = feed.items[0];
    EXPECT_EQ(first.key, "baochinhphu-102230812072828677-1");  // the guid, the same in NFC and NFD
    EXPECT_TRUE(first.link.starts_with("https://baochinhphu.vn/tong-thuat-hoi-nghi")) << first.link;
    EXPECT_TRUE(is_valid_utf8(first.title));
    EXPECT_EQ(first.published_ms, parse_time_ms("2023-08-12T01:30:00Z"));  // 08:30 +0700
    ASSERT_EQ(first.categories.size(), 1u);
    EXPECT_EQ(first.guid, "baochinhphu-102230812072828677-1");
    // The description is the summary (as text), never the body: the item has
    // no content:encoded, so it has no body.
    EXPECT_TRUE(first.summary.starts_with("Ông Nguyễn Hồng Sâm") || first.summary.starts_with("O\xcc\x82ng"))
        << first.summary;
    EXPECT_EQ(first.summary.find('<'), std::string::npos) << first.summary;
    EXPECT_EQ(first.body, "");
    EXPECT_EQ(first.language, "vi");
  }
  Feed nfc = parse("vi_rss20_baochinhphu_nfc.xml");
  EXPECT_EQ(nfc.items[0].title, "Cần làm gì để nâng cao vị thế của Cổng TTĐT?");  // NFC bytes kept
  Feed nfd = parse("vi_rss20_baochinhphu_nfd.xml");
  EXPECT_NE(nfd.items[0].title, nfc.items[0].title);  // NFD bytes kept as they are
  // ...and equal after NFC normalisation, which is how items are compared.
  for (size_t i = 0; i < nfc.items.size(); ++i) {
    EXPECT_EQ(to_nfc(nfd.items[i].title), nfc.items[i].title);
    EXPECT_EQ(to_nfc(nfd.items[i].summary), nfc.items[i].summary);
  }
  EXPECT_EQ(to_nfc("ASCII only"), "ASCII only");
  EXPECT_EQ(to_nfc("\xff\xfe not UTF-8"), "\xff\xfe not UTF-8");  // returned as it is
}

TEST(FeedParser, Rss20FullSample) {
  Feed feed = parse("rss20_full_sample.xml");
  ASSERT_EQ(feed.items.size(), 1u);
  const FeedItem& item = feed.items[0];
  EXPECT_EQ(item.title, "First item title");
  EXPECT_EQ(item.link, "http://example.org/item/1");
  EXPECT_EQ(item.key, "http://example.org/guid/1");
  EXPECT_EQ(item.guid, "http://example.org/guid/1");
  EXPECT_EQ(item.language, "en");
  EXPECT_EQ(item.summary, "Watch out for nasty tricks");  // the description
  EXPECT_EQ(item.body, "");                                // no content:encoded
  ASSERT_EQ(item.enclosures.size(), 1u);
  EXPECT_EQ(item.enclosures[0].uri(), "http://example.org/audio/demo.mp3");
  EXPECT_EQ(item.enclosures[0].media_type(), "audio/mpeg");
  EXPECT_EQ(item.enclosures[0].size_bytes(), 1069871u);
  ASSERT_EQ(item.categories.size(), 1u);
  EXPECT_EQ(item.categories[0].name(), "Miscellaneous");
  EXPECT_EQ(item.published_ms, parse_time_ms("2002-09-05T00:00:01Z"));
}

TEST(FeedParser, DublinCoreAndContentEncoded) {
  Feed feed = parse("rss20_dublincore_sample.xml");
  ASSERT_EQ(feed.items.size(), 1u);
  const FeedItem& item = feed.items[0];
  EXPECT_EQ(item.key, "1983@example.org");
  EXPECT_EQ(item.link, "http://example.org/archives/2002/09/04.html#first_of_all");
  EXPECT_EQ(item.published_ms, parse_time_ms("2002-09-04T18:54:20Z"));  // dc:date with -05:00
  EXPECT_TRUE(item.body.find("<cite>Ian Hickson</cite>") != std::string::npos) << item.body;
  EXPECT_TRUE(item.body_html);
  EXPECT_TRUE(item.summary.starts_with("Americans are fat.")) << item.summary;
  ASSERT_EQ(item.categories.size(), 1u);
  EXPECT_EQ(item.categories[0].code(), "Quotes");
}

TEST(FeedParser, SingleFeatureRssFiles) {
  Feed enclosures = parse("rss20_item_enclosure_multiple.xml");
  ASSERT_EQ(enclosures.items.size(), 1u);
  ASSERT_EQ(enclosures.items[0].enclosures.size(), 2u);
  EXPECT_EQ(enclosures.items[0].enclosures[1].uri(), "http://example.com/2");
  EXPECT_EQ(enclosures.items[0].enclosures[1].media_type(), "image/gif");
  EXPECT_EQ(enclosures.items[0].enclosures[1].size_bytes(), 200000u);

  Feed guid = parse("rss20_item_guid_not_permalink.xml");
  ASSERT_EQ(guid.items.size(), 1u);
  EXPECT_EQ(guid.items[0].link, "");  // isPermaLink="false": not a link
  EXPECT_EQ(guid.items[0].key, "http://guid.example.com/");

  Feed categories = parse("rss20_item_category_multiple.xml");
  ASSERT_EQ(categories.items.size(), 1u);
  EXPECT_EQ(categories.items[0].categories.size(), 2u);

  Feed encoded = parse("rss20_item_content_encoded.xml");
  ASSERT_EQ(encoded.items.size(), 1u);
  EXPECT_EQ(encoded.items[0].body, "<p>Example content</p>");

  Feed language = parse("rss20_item_dc_language.xml");
  ASSERT_EQ(language.items.size(), 1u);
  EXPECT_FALSE(language.items[0].language.empty());

  Feed date = parse("rss20_item_pubDate_parsed.xml");
  ASSERT_EQ(date.items.size(), 1u);
  EXPECT_EQ(date.items[0].published_ms, parse_time_ms("2004-01-01T19:48:21Z"));

  EXPECT_EQ(parse("rss20_channel_lastBuildDate_parsed.xml").items.size(), 0u);
  EXPECT_EQ(parse("rss_utf8_bom.xml").items.size(), 0u);  // a byte order mark first is fine
}

TEST(FeedParser, AtomFiles) {
  Feed full = parse("atom10_full_sample.xml");
  EXPECT_EQ(full.language, "en");
  ASSERT_EQ(full.items.size(), 1u);
  const FeedItem& e = full.items[0];
  EXPECT_EQ(e.key, "tag:feedparser.org,2005-11-09:/docs/examples/atom10.xml:3");
  EXPECT_EQ(e.title, "First entry title");
  EXPECT_EQ(e.link, "http://example.org/entry/3");  // resolved against xml:base
  EXPECT_EQ(e.author, "Mark Pilgrim");
  EXPECT_EQ(e.published_ms, parse_time_ms("2005-11-09T00:23:47Z"));
  EXPECT_EQ(e.guid, e.key);
  EXPECT_TRUE(e.body_html);  // the content (xhtml)
  EXPECT_EQ(html_to_text(e.body), "Watch out for nasty tricks");
  EXPECT_EQ(e.summary, "");  // the summary says the same as the content: not twice
  ASSERT_EQ(e.enclosures.size(), 1u);
  EXPECT_EQ(e.enclosures[0].uri(), "http://www.example.com/movie.mp4");
  EXPECT_EQ(e.enclosures[0].size_bytes(), 42301u);

  Feed term = parse("atom10_entry_category_term_non_ascii.xml");
  ASSERT_EQ(term.items.size(), 1u);
  ASSERT_EQ(term.items[0].categories.size(), 1u);
  EXPECT_EQ(term.items[0].categories[0].name(), "Atom 1.0 tests");  // the label
  EXPECT_EQ(term.items[0].categories[0].code(), "http://feedparser.org/tests/#Freiräume");  // scheme#term

  Feed enclosure = parse("atom10_entry_link_rel_enclosure.xml");
  ASSERT_EQ(enclosure.items.size(), 1u);
  EXPECT_EQ(enclosure.items[0].enclosures.size(), 1u);

  Feed podlove = parse("atom10_podlove_chapters_utf8.xml");
  ASSERT_EQ(podlove.items.size(), 1u);
  EXPECT_FALSE(podlove.items[0].enclosures.empty());
  EXPECT_TRUE(podlove.items[0].published_ms.has_value());

  EXPECT_EQ(parse("atom10_entry_link_hreflang.xml").items.size(), 1u);
  Feed old = parse("atom03_i18n_utf8_title.xml");
  EXPECT_EQ(old.title, "Iñtërnâtiônàlizætiøn");
}

TEST(FeedParser, RejectsWhatIsNotAFeed) {
  EXPECT_CODE(parse_feed("<rss><channel><item></channel></rss>"), v1::Error::INVALID_ARGUMENT);
  EXPECT_CODE(parse_feed("<html><body>not a feed</body></html>"), v1::Error::INVALID_ARGUMENT);
  EXPECT_CODE(parse_feed(""), v1::Error::INVALID_ARGUMENT);
}

TEST(FeedDates, CommonFormats) {
  const auto t = parse_time_ms("2026-11-28T02:00:00Z");
  EXPECT_EQ(parse_feed_date("Sat, 28 Nov 2026 09:00:00 +0700"), t);
  EXPECT_EQ(parse_feed_date("28 Nov 2026 02:00:00 GMT"), t);
  EXPECT_EQ(parse_feed_date("Fri, 27 Nov 2026 21:00:00 EST"), t);
  EXPECT_EQ(parse_feed_date("Sat, 28 Nov 26 02:00 UT"), t);
  EXPECT_EQ(parse_feed_date("2026-11-28T09:00:00+07:00"), t);
  EXPECT_EQ(parse_feed_date("2026-11-28T02:00:00Z"), t);
  EXPECT_EQ(parse_feed_date("Sat, 28 Nov 2026 09:00:00 ICT"), t);   // Indochina Time, as Vietnamese feeds write it
  EXPECT_EQ(parse_feed_date("Saturday, 28-Nov-26 02:00:00 GMT"), t);  // RFC 850
  EXPECT_EQ(parse_feed_date("Sat, 28 Nov 2026 02:00:00 XYZ"), t);   // a zone nobody knows: UTC
  EXPECT_FALSE(parse_feed_date("yesterday"));
  EXPECT_FALSE(parse_feed_date("Sat, 28 Foo 2026 09:00:00 +0700"));
}

TEST(HtmlToText, TagsEntitiesAndWhiteSpace) {
  EXPECT_EQ(html_to_text("<p>Hội nghị <b>trực tuyến</b></p><p>ngày&nbsp;28/11</p>"), "Hội nghị trực tuyến\nngày 28/11");
  EXPECT_EQ(html_to_text("a &amp; b &lt;c&gt; &#273;&#x1EA1;i"), "a & b <c> đại");
  EXPECT_EQ(html_to_text("x<script>alert('no')</script>y<style>p{}</style>"), "xy");
  EXPECT_EQ(html_to_text("  many \n\t spaces  "), "many spaces");
  EXPECT_EQ(html_to_text("<!-- hidden -->shown"), "shown");
  EXPECT_EQ(html_to_text("AT&T and &unknown; stay"), "AT&T and &unknown; stay");
}

}  // namespace
}  // namespace lantoa::node
