#include "sanitize/html_sanitizer.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace lantoa::node {
namespace {

using nlohmann::json;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// What must never come out, whatever the input (checked lower-cased; the
// vectors below carry these words only in markup, never in their text).
const char* const kForbidden[] = {"script", "onerror", "onload", "onmouseover", "onfocus", "iframe", "expression",
                                  "data:", "vbscript", "<svg", "<math", "<object", "<embed", "<form", "<input",
                                  "<style", "style=", "alert", "<meta", "<link", "<base"};

void expect_harmless(const std::string& input) {
  std::vector<std::string> removed;
  const std::string out = lower(sanitize_html(input, &removed));
  for (const char* bad : kForbidden) EXPECT_EQ(out.find(bad), std::string::npos) << input << "\n -> " << out;
}

// In the style of the OWASP XSS filter evasion cheat sheet.
TEST(HtmlSanitizer, WellKnownXssVectorsComeOutHarmless) {
  for (const std::string v : {
           "<script>alert('XSS')</script>",
           "<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>",
           "<IMG SRC=\"javascript:alert('XSS');\">",
           "<IMG SRC=javascript:alert('XSS')>",
           "<IMG SRC=JaVaScRiPt:alert('XSS')>",
           "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
           "<a onmouseover=\"alert(document.cookie)\">xxs link</a>",
           "<IMG \"\"\"><SCRIPT>alert(\"XSS\")</SCRIPT>\"\\>",
           "<IMG SRC=# onmouseover=\"alert('xxs')\">",
           "<IMG SRC=/ onerror=\"alert(String.fromCharCode(88,83,83))\"></img>",
           "<img src=x onerror=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041\">",
           "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
           "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>",
           "<IMG SRC=\"jav\tascript:alert('XSS');\">",
           "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
           "<IMG SRC=\"jav&#x0A;ascript:alert('XSS');\">",
           "<IMG SRC=\"jav&#x0D;ascript:alert('XSS');\">",
           "<IMG SRC=\" &#14;  javascript:alert('XSS');\">",
           "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
           "<a href=\"  JaVaScRiPt:alert(1)\">x</a>",
           "<a href=\"java\0script:alert(1)\">x</a>",
           "<a href=\"vbscript:msgbox(1)\">x</a>",
           "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
           "<img src=\"data:image/svg+xml;base64,PHN2Zz4=\">",
           "<SCRIPT/XSS SRC=\"https://xss.example/xss.js\"></SCRIPT>",
           "<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert(\"XSS\")>",
           "<<SCRIPT>alert(\"XSS\");//\\<</SCRIPT>",
           "<SCRIPT SRC=//xss.example/.j>",
           "<iframe src=https://xss.example/scriptlet.html <",
           "</TITLE><SCRIPT>alert(\"XSS\");</SCRIPT>",
           "<INPUT TYPE=\"IMAGE\" SRC=\"javascript:alert('XSS');\">",
           "<BODY BACKGROUND=\"javascript:alert('XSS')\">",
           "<svg/onload=alert('XSS')>",
           "<svg><script>alert(1)</script></svg>",
           "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
           "<BODY ONLOAD=alert('XSS')>",
           "<STYLE>li {list-style-image: url(\"javascript:alert('XSS')\");}</STYLE><UL><LI>XSS</br>",
           "<IMG DYNSRC=\"javascript:alert('XSS')\">",
           "<LINK REL=\"stylesheet\" HREF=\"javascript:alert('XSS');\">",
           "<META HTTP-EQUIV=\"refresh\" CONTENT=\"0;url=javascript:alert('XSS');\">",
           "<IFRAME SRC=\"javascript:alert('XSS');\"></IFRAME>",
           "<FRAMESET><FRAME SRC=\"javascript:alert('XSS');\"></FRAMESET>",
           "<TABLE BACKGROUND=\"javascript:alert('XSS')\"><TD BACKGROUND=\"javascript:alert('XSS')\">",
           "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
           "<DIV STYLE=\"width: expression(alert('XSS'));\">",
           "<IMG STYLE=\"xss:expr/*XSS*/ession(alert('XSS'))\">",
           "<BASE HREF=\"javascript:alert('XSS');//\">",
           "<OBJECT TYPE=\"text/x-scriptlet\" DATA=\"https://xss.example/scriptlet.html\"></OBJECT>",
           "<EMBED SRC=\"data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH A6Ly93d3cudzMub3JnLzIwMDAvc3ZnIiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcv MjAwMC9zdmciIHhtbG5zOnhsaW5rPSJodHRwOi8vd3d3LnczLm9yZy8xOTk5L3hs aW5rIiB2ZXJzaW9uPSIxLjAiIHg9IjAiIHk9IjAiIHdpZHRoPSIxOTQiIGhlaWdodD0iMjAw IiBpZD0ieHNzIj48c2NyaXB0IHR5cGU9InRleHQvZWNtYXNjcmlwdCI+YWxlcnQoIlh TUyIpOzwvc2NyaXB0Pjwvc3ZnPg==\" type=\"image/svg+xml\" AllowScriptAccess=\"always\"></EMBED>",
           "<form action=\"javascript:alert(1)\"><button formaction=\"javascript:alert(2)\">x</button></form>",
           "<a href=\"javas<!-- -->cript:alert(1)\">x</a>",
           "<!--[if gte IE 4]><SCRIPT>alert('XSS');</SCRIPT><![endif]-->",
           "<template><img src=x onerror=alert(1)></template>",
           "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
           "<p style=\"color:red\" onclick=\"alert(1)\">x</p>",
       }) {
    expect_harmless(v);
  }
  // What is left of a split tag is text, shown as text.
  EXPECT_EQ(sanitize_html("<scr<script>ipt>alert(1)</script>"), "ipt&gt;alert(1)");
}

TEST(HtmlSanitizer, KeepsLegitimateNewsMarkupAndVietnameseText) {
  const std::string body =
      "<h2>Hội nghị trực tuyến</h2><p>Sáng 28/11, tại trụ sở <strong>Chính phủ</strong>, <em>Thủ tướng</em> "
      "chủ trì hội nghị.<br>Tham dự có <b>63</b> tỉnh, thành phố.</p>"
      "<ul><li>Tăng trưởng</li><li>Đầu tư công</li></ul>"
      "<blockquote><p>Trích dẫn</p></blockquote>"
      "<figure><img src=\"https://baochinhphu.vn/anh.jpg\" alt=\"Ảnh: VGP\"><figcaption>Toàn cảnh</figcaption></figure>"
      "<table><thead><tr><th colspan=\"2\">Chỉ tiêu</th></tr></thead><tbody><tr><td>GDP</td><td>7%</td></tr></tbody></table>"
      "<p><a href=\"https://baochinhphu.vn/tin.htm?a=1&amp;b=2\">Chi tiết</a> - "
      "<a href=\"mailto:toasoan@chinhphu.vn\">Liên hệ</a> <span>a &lt; b</span></p>";
  std::vector<std::string> removed;
  const std::string out = sanitize_html(body, &removed);
  EXPECT_EQ(out, body);  // already safe: unchanged, byte for byte
  EXPECT_TRUE(removed.empty());
  EXPECT_EQ(sanitize_html("Chỉ có chữ, không có thẻ."), "Chỉ có chữ, không có thẻ.");
}

TEST(HtmlSanitizer, TakesOutOnlyTheDangerousPartsAndSaysWhat) {
  std::vector<std::string> removed;
  EXPECT_EQ(sanitize_html("<p onclick=\"x()\" style=\"a\">Tin <script>alert(1)</script>mới</p>"
                          "<a href=\"jav&#x09;ascript:alert(1)\">liên kết</a><img src=\"javascript:x\" alt=\"a\">"
                          "<font color=red>chữ</font>",
                          &removed),
            "<p>Tin mới</p><a>liên kết</a>chữ");
  const std::vector<std::string> expected = {"onclick attribute", "style attribute", "<script>",
                                             "href jav ascript:alert(1)", "src javascript:x"};
  EXPECT_EQ(removed, expected);
}

TEST(HtmlSanitizer, UrlsAreJudgedAsABrowserReadsThem) {
  EXPECT_TRUE(is_safe_url("https://baochinhphu.vn/a.htm"));
  EXPECT_TRUE(is_safe_url("HTTP://quangninh.gov.vn/"));
  EXPECT_TRUE(is_safe_url("  https://x.vn/\n"));
  EXPECT_FALSE(is_safe_url("mailto:a@b.vn"));
  EXPECT_TRUE(is_safe_url("mailto:a@b.vn", true));
  for (const std::string bad : {"javascript:alert(1)", "JaVaScRiPt:alert(1)", "jav\tascript:alert(1)",
                                " \x0e javascript:alert(1)", "javascript://%0Aalert(1)", "data:text/html,x",
                                "vbscript:x", "//evil.example/x", "/relative", "file:///etc/passwd",
                                "ftp://x.vn/", "https:", "https://", "java\x01script:x", ""}) {
    EXPECT_FALSE(is_safe_url(bad, true)) << bad;
  }
}

TEST(HtmlSanitizer, NinjsBodiesAttachmentsAndLinksAreCleaned) {
  json doc = {{"uri", "urn:lantoa:vn.hn:01"},
              {"bodies", {{{"value", "<p>Tin</p><img src=x onerror=alert(1)>"}, {"contentType", "text/html"}},
                          {{"value", "<b>plain</b>"}, {"contentType", "text/plain"}}}},
              {"associations",
               {{{"uri", "javascript://%0Aalert(1)"}, {"renditions", {{{"href", "javascript://%0Aalert(1)"}}}}},
                {{"uri", "https://x.vn/a.jpg"}, {"renditions", {{{"href", "https://x.vn/a.jpg"}}}}},
                {{"uri", "https://x.vn/b.pdf"}, {"renditions", {{{"href", "data://text/html,x"}}}}}}},
              {"altIds", {{{"role", "lantoa-event-id"}, {"value", "01"}}, {{"role", "canonical-url"}, {"value", "vbscript://x"}}}}};
  auto removed = sanitize_ninjs(doc);
  EXPECT_EQ(doc["bodies"][0]["value"], "<p>Tin</p>");
  EXPECT_EQ(doc["bodies"][1]["value"], "<b>plain</b>");  // text, not markup: the CMS shows it as text
  ASSERT_EQ(doc["associations"].size(), 1u);
  EXPECT_EQ(doc["associations"][0]["uri"], "https://x.vn/a.jpg");
  ASSERT_EQ(doc["altIds"].size(), 1u);
  EXPECT_EQ(doc["altIds"][0]["role"], "lantoa-event-id");
  EXPECT_EQ(removed.size(), 5u);  // src, onerror, two attachments, the link
  EXPECT_TRUE(sanitize_ninjs(doc).empty());  // a second pass finds nothing
}

TEST(HtmlSanitizer, SurvivesDeepNestingAndBrokenInput) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<div><span>";
  EXPECT_NE(sanitize_html(deep + "đáy").find("<div><span><div><span>đáy</span></div></span></div>"), std::string::npos);
  for (int i = 0; i < 100000; ++i) deep += "<div><span>";
  EXPECT_EQ(sanitize_html(deep + "<script>alert(1)</script>").find("script"), std::string::npos);
  EXPECT_EQ(sanitize_html(""), "");
  (void)sanitize_html(std::string("\xff\xfe<p>\x80</p>", 9));
  (void)sanitize_html("<!--");
  (void)sanitize_html("<![CDATA[<script>]]>");
}

// Identifiers stay (a subject's qcode, a urn), whatever field they are in;
// what a browser would run or load locally goes, everywhere.
TEST(SanitizeNinjs, IdentifiersStayAndScriptUrisGoAnywhere) {
  nlohmann::json doc = {{"uri", "urn:newsml:baochinhphu.vn:2026:1"},
                        {"subjects", {{{"uri", "medtop:04000000"}}, {{"uri", "http://cv.iptc.org/newscodes/x"}}}},
                        {"people", {{{"name", "a"}, {"uri", "JavaScript:alert(1)"}}, {{"name", "b"}, {"uri", "tag:x,2026:b"}}}},
                        {"places", {{{"name", "c"}, {"uri", "data:text/html,x"}}, {{"name", "d"}, {"uri", "medtop: 1"}}}},
                        {"renditions", {{{"href", "file:///etc/passwd"}}}}};
  auto removed = sanitize_ninjs(doc);
  EXPECT_EQ(doc["uri"], "urn:newsml:baochinhphu.vn:2026:1");
  EXPECT_EQ(doc["subjects"][0]["uri"], "medtop:04000000");
  EXPECT_EQ(doc["subjects"][1]["uri"], "http://cv.iptc.org/newscodes/x");
  EXPECT_FALSE(doc["people"][0].contains("uri"));
  EXPECT_EQ(doc["people"][1]["uri"], "tag:x,2026:b");
  EXPECT_FALSE(doc["places"][0].contains("uri"));
  EXPECT_FALSE(doc["places"][1].contains("uri"));  // a space: no identifier
  EXPECT_FALSE(doc["renditions"][0].contains("href"));
  EXPECT_EQ(removed.size(), 4u);
}

}  // namespace
}  // namespace lantoa::node
