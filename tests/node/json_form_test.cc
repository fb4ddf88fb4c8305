#include "json_form/json_form.h"

#include <gtest/gtest.h>

#include "lantoa/encoding.h"
#include "support/fixtures.h"

namespace lantoa::node {
namespace {

using nlohmann::json;
using E = v1::Error;

TEST(JsonForm, ReadsEveryField) {
  const std::string ref(32, '\x42');
  json doc = {{"topic", "vn.gov.press"},
              {"headline", "Thủ tướng chủ trì phiên họp Chính phủ thường kỳ"},
              {"summary", "Phiên họp trực tuyến với 63 tỉnh, thành phố."},
              {"body", "<p>Sáng 28/11...</p>"},
              {"body_type", "text/html"},
              {"urgency", 2},
              {"language", "vi"},
              {"kind", "correction"},
              {"refers_to", to_hex(ref)},
              {"subjects", {{{"code", "medtop:11000000"}, {"name", "chính trị"}}}},
              {"attachments", {{{"uri", "https://baochinhphu.vn/a.jpg"}, {"media_type", "image/jpeg"},
                                {"size_bytes", 1024}, {"title", "Ảnh"}}}},
              {"embargo_until", "2026-11-28T16:00:00+07:00"},
              {"link", "https://baochinhphu.vn/phien-hop.htm"},
              {"byline", "Báo Điện tử Chính phủ"}};
  auto e = event_from_json_form(doc, "vn.gov");
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->headline(), "Thủ tướng chủ trì phiên họp Chính phủ thường kỳ");
  EXPECT_EQ(e->kind(), v1::CORRECTION);
  EXPECT_EQ(e->refers_to(), ref);
  EXPECT_EQ(e->urgency(), 2u);
  EXPECT_EQ(e->body_type(), "text/html");
  EXPECT_EQ(e->embargo_until_ms(), *parse_time_ms("2026-11-28T09:00:00Z"));
  ASSERT_EQ(e->attachments_size(), 1);
  EXPECT_EQ(e->attachments(0).size_bytes(), 1024u);
  EXPECT_EQ(e->subjects(0).name(), "chính trị");
  // And back.
  json again = event_to_json_form(*e);
  EXPECT_EQ(again["headline"], doc["headline"]);
  EXPECT_EQ(again["kind"], "correction");
  EXPECT_EQ(again["refers_to"], doc["refers_to"]);
}

// Each mistake is named: the field and the rule.
TEST(JsonForm, ErrorsNameTheFieldAndTheRule) {
  const json base = {{"topic", "vn.gov.press"}, {"headline", "Tin"}};
  struct Case {
    json patch;
    int code;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{{"urgency", "high"}}, E::INVALID_ARGUMENT, "urgency"},
      {{{"urgency", 12}}, E::URGENCY_OUT_OF_RANGE, "urgency"},
      {{{"headline", 5}}, E::INVALID_ARGUMENT, "headline"},
      {{{"headline", ""}}, E::HEADLINE_MISSING, "headline"},
      {{{"headlin", "typo"}}, E::INVALID_ARGUMENT, "headlin"},
      {{{"topic", "vn.bqp.notice"}}, E::TOPIC_OUTSIDE_NAMESPACE, "topic"},
      {{{"kind", "rumour"}}, E::INVALID_KIND, "kind"},
      {{{"kind", "correction"}}, E::INVALID_REFERENCE, "refers_to"},
      {{{"refers_to", "abc"}}, E::INVALID_ARGUMENT, "refers_to"},
      {{{"embargo_until", "tomorrow"}}, E::INVALID_TIME, "embargo_until"},
      {{{"subjects", "politics"}}, E::INVALID_ARGUMENT, "subjects"},
      {{{"subjects", {{{"code", 7}}}}}, E::INVALID_ARGUMENT, "subjects[0].code"},
      {{{"attachments", {{{"uri", "https://x.vn/a"}, {"size_bytes", -1}}}}}, E::INVALID_ARGUMENT,
       "attachments[0].size_bytes"},
      {{{"language", "vietnamese language"}}, E::INVALID_LANGUAGE, "language"},
  };
  for (const auto& c : cases) {
    json doc = base;
    doc.update(c.patch);
    auto e = event_from_json_form(doc, "vn.gov");
    ASSERT_FALSE(e.ok()) << doc.dump();
    EXPECT_EQ(e.status().code(), c.code) << doc.dump() << " -> " << e.status().to_string();
    EXPECT_EQ(field_of(e.status()), c.field) << e.status().to_string();
  }
  EXPECT_CODE(event_from_json_form(json::array(), "vn.gov"), E::INVALID_ARGUMENT);
  EXPECT_CODE(event_from_json_form(json{{"headline", "no topic"}}, "vn.gov"), E::INVALID_TOPIC);
  EXPECT_TRUE(event_from_json_form(json{{"headline", "default topic"}}, "vn.gov", "vn.gov.press").ok());
}

TEST(JsonForm, TellsNinjsFromLantoaForm) {
  EXPECT_TRUE(looks_like_ninjs(json{{"uri", "x"}, {"headlines", json::array()}}));
  EXPECT_FALSE(looks_like_ninjs(json{{"topic", "vn.gov.press"}, {"headline", "x"}}));
}

}  // namespace
}  // namespace lantoa::node
