#include "ninjs/ninjs.h"

#include <gtest/gtest.h>

#include <fstream>

#include "lantoa/encoding.h"
#include "support/fixtures.h"
#include "support/ninjs_schema.h"

namespace lantoa::node {
namespace {

using lantoa::testing::TempDir;
using nlohmann::json;

v1::Event full_event() {
  v1::Attachment photo;
  photo.set_uri("https://baochinhphu.vn/anh/hoi-nghi.jpg");
  photo.set_media_type("image/jpeg");
  photo.set_size_bytes(204800);
  photo.set_title("Quang cảnh hội nghị");
  return *EventBuilder("vn.gov", 7, "vn.gov.press")
              .headline("Hội nghị đầu tiên giữa các Cổng TTĐT Bộ, ngành")
              .summary("Tăng cường phối hợp, lan tỏa thông tin chính thống.")
              .body("<p>Sáng 12/8, tại Hà Nội...</p>", "text/html")
              .urgency(3)
              .language("vi")
              .embargo_until_ms(1'800'000'000'000)
              .expires_ms(1'900'000'000'000)
              .subject("medtop:11000000", "chính trị")
              .attachment(photo)
              .byline("Báo Điện tử Chính phủ")
              .link("https://baochinhphu.vn/hoi-nghi.htm")
              .build();
}

TEST(Ninjs, RoundTripKeepsTheNewsFields) {
  v1::Event e = full_event();
  const std::string id(32, '\x11');
  json doc = to_ninjs(e, id, id, 1);
  EXPECT_EQ(doc["uri"], "urn:lantoa:vn.gov:" + to_hex(id));
  EXPECT_EQ(doc["version"], "1");
  EXPECT_EQ(doc["pubStatus"], "usable");
  EXPECT_EQ(doc["associations"][0]["type"], "picture");
  auto back = from_ninjs(doc, "vn.gov", "vn.gov.press");
  ASSERT_OK(back);
  EXPECT_EQ(back->headline(), e.headline());
  EXPECT_EQ(back->summary(), e.summary());
  EXPECT_EQ(back->body(), e.body());
  EXPECT_EQ(back->body_type(), "text/html");
  EXPECT_EQ(back->urgency(), 3u);
  EXPECT_EQ(back->embargo_until_ms(), e.embargo_until_ms());
  EXPECT_EQ(back->expires_ms(), e.expires_ms());
  ASSERT_EQ(back->subjects_size(), 1);
  EXPECT_EQ(back->subjects(0).code(), "medtop:11000000");
  EXPECT_EQ(back->subjects(0).name(), "chính trị");
  ASSERT_EQ(back->attachments_size(), 1);
  EXPECT_EQ(back->attachments(0).uri(), e.attachments(0).uri());
  EXPECT_EQ(back->attachments(0).size_bytes(), 204800u);
  EXPECT_EQ(back->attachments(0).title(), "Quang cảnh hội nghị");
  EXPECT_EQ(back->byline(), e.byline());
  EXPECT_EQ(back->link(), e.link());
}

TEST(Ninjs, CorrectionsAreNewVersionsAndRetractionsCancel) {
  v1::Event e = full_event();
  const std::string first(32, '\x01'), second(32, '\x02');
  v1::Event correction = e;
  correction.set_kind(v1::CORRECTION);
  correction.set_refers_to(first);
  json v2 = to_ninjs(correction, second, first, 2);
  EXPECT_EQ(v2["uri"], to_ninjs(e, first, first, 1)["uri"]);
  EXPECT_EQ(v2["version"], "2");
  v1::Event retraction = correction;
  retraction.set_kind(v1::RETRACTION);
  json v3 = to_ninjs(retraction, std::string(32, '\x03'), first, 3);
  EXPECT_EQ(v3["pubStatus"], "canceled");
  // Reading a canceled item back gives a retraction, which needs its reference.
  EXPECT_CODE(from_ninjs(v3, "vn.gov", "vn.gov.press"), v1::Error::INVALID_REFERENCE);
}

TEST(Ninjs, EveryOfficialExampleImports) {
  int imported = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::testdata("ninjs"))) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json" || name.starts_with("ninjs-schema")) continue;
    std::ifstream in(entry.path());
    json doc = json::parse(in);
    auto e = from_ninjs(doc, "vn.gov", "vn.gov.press");
    EXPECT_TRUE(e.ok()) << name << ": " << e.status().to_string();
    if (e.ok()) {
      EXPECT_FALSE(e->headline().empty()) << name;
    }
    ++imported;
  }
  EXPECT_EQ(imported, 6);
}

TEST(Ninjs, BadDocumentsNameTheField) {
  EXPECT_CODE(from_ninjs(json::array(), "vn.gov", "vn.gov.press"), v1::Error::INVALID_ARGUMENT);
  auto urgency = from_ninjs(json{{"uri", "x"}, {"headlines", {{{"value", "h"}}}}, {"urgency", "high"}}, "vn.gov",
                            "vn.gov.press");
  EXPECT_NE(urgency.status().message().find("urgency"), std::string::npos);
  auto out_of_range = from_ninjs(json{{"uri", "x"}, {"headlines", {{{"value", "h"}}}}, {"urgency", 12}}, "vn.gov",
                                 "vn.gov.press");
  EXPECT_CODE(out_of_range, v1::Error::URGENCY_OUT_OF_RANGE);
  auto date = from_ninjs(json{{"uri", "x"}, {"headlines", {{{"value", "h"}}}}, {"embargoedUntil", "soon"}}, "vn.gov",
                         "vn.gov.press");
  EXPECT_NE(date.status().message().find("embargoedUntil"), std::string::npos);
  EXPECT_CODE(from_ninjs(json{{"uri", "x"}}, "vn.gov", "vn.gov.press"), v1::Error::HEADLINE_MISSING);
  EXPECT_CODE(from_ninjs(json{{"uri", "x"}, {"headlines", {{{"value", "h"}}}}}, "vn.gov", "vn.bqp.notice"),
              v1::Error::TOPIC_OUTSIDE_NAMESPACE);
}

// Every document Lantoa emits validates against the official ninjs 3.1
// schema, with a real JSON-schema validator (Debian's python3-jsonschema).
TEST(Ninjs, EmittedDocumentsValidateAgainstTheOfficialSchema) {
  v1::Event e = full_event();
  const std::string first(32, '\x01');
  v1::Event plain = *EventBuilder("vn.qn.halong", 1, "vn.qn.halong.news").headline("Tin ngắn").build();
  v1::Event correction = e;
  correction.set_kind(v1::CORRECTION);
  correction.set_refers_to(first);
  v1::Event retraction = correction;
  retraction.set_kind(v1::RETRACTION);
  std::vector<json> docs = {to_ninjs(e, first, first, 1), to_ninjs(plain, std::string(32, '\x05'),
                                                                   std::string(32, '\x05'), 1),
                            to_ninjs(correction, std::string(32, '\x02'), first, 2),
                            to_ninjs(retraction, std::string(32, '\x03'), first, 3)};
  // A feed's category is no URI: it is emitted as the subject's literal.
  v1::Event categorised = plain;
  categorised.add_subjects()->set_code("Thời sự");
  categorised.add_subjects()->set_code("medtop:04000000");
  json with_literal = to_ninjs(categorised, std::string(32, '\x06'), std::string(32, '\x06'), 1);
  EXPECT_EQ(with_literal["subjects"][0], json({{"literal", "Thời sự"}}));
  EXPECT_EQ(with_literal["subjects"][1], json({{"uri", "medtop:04000000"}}));
  docs.push_back(with_literal);
  // Documents that must fail, proof that the check can fail: an extra
  // top-level field, a uri that is no URI, a date-time that is no date.
  json bad = docs[0];
  bad["lantoa_signer"] = "vn.gov";
  json bad_uri = docs[0];
  bad_uri["subjects"][0]["uri"] = "Thời sự";
  json bad_time = docs[0];
  bad_time["versionCreated"] = "2026-13-01T00:00:00Z";
  docs.insert(docs.end(), {bad, bad_uri, bad_time});
  auto errors = testing::ninjs_schema_errors(docs);
  for (size_t i = 0; i + 3 < docs.size(); ++i) EXPECT_EQ(errors[i], "") << docs[i].dump(2);
  EXPECT_NE(errors[docs.size() - 3].find("lantoa_signer"), std::string::npos) << errors[docs.size() - 3];
  EXPECT_NE(errors[docs.size() - 2].find("'uri'"), std::string::npos) << errors[docs.size() - 2];
  EXPECT_NE(errors[docs.size() - 1].find("'date-time'"), std::string::npos) << errors[docs.size() - 1];
}

// A document written in ninjs travels in the event and is what receivers
// get, every field as written, with the first body put back; a canceled one
// needs no headline; withheld items are not published.
TEST(Ninjs, TheAuthorsDocumentTravelsAsWritten) {
  json doc = {{"uri", "urn:newsml:baochinhphu.vn:2026:123"},
              {"version", "7"},
              {"versionCreated", "2026-11-28T08:00:00+07:00"},
              {"copyrightHolder", "Báo Điện tử Chính phủ"},
              {"people", {{{"name", "Phạm Minh Chính"}, {"rel", "about"}}}},
              {"headlines", {{{"value", "Hội nghị"}, {"role", "main"}}}},
              {"bodies", {{{"value", "<p>Nội dung</p>"}, {"contentType", "text/html"}, {"role", "html"}},
                          {{"value", "Nội dung"}, {"contentType", "text/plain"}}}}};
  auto e = from_ninjs(doc, "vn.gov", "vn.gov.press");
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->body(), "<p>Nội dung</p>");
  EXPECT_EQ(json::parse(e->ninjs())["bodies"][0].count("value"), 0u);  // not twice in the event
  json out = to_ninjs(*e, std::string(32, '\x01'), std::string(32, '\x01'), 1);
  for (const auto& [key, value] : doc.items()) EXPECT_EQ(out[key], value) << key;
  EXPECT_EQ(out["pubStatus"], "usable");

  // A hostile author's "document" nested a million deep is not read: the
  // document made from the event's fields serves.
  v1::Event deep = *e;
  deep.set_ninjs(std::string(1'000'000, '[') + std::string(1'000'000, ']'));
  json made = to_ninjs(deep, std::string(32, '\x01'), std::string(32, '\x01'), 1);
  EXPECT_EQ(made["headlines"][0]["value"], "Hội nghị");
  EXPECT_EQ(made["uri"], ninjs_uri("vn.gov", std::string(32, '\x01')));
  EXPECT_TRUE(json_nested_deeper_than("{\"a\": [[1]]}", 2));
  EXPECT_FALSE(json_nested_deeper_than("{\"a\": \"[[[[\\\"[[\"}", 1));  // brackets in strings do not count

  auto canceled = from_ninjs(json{{"uri", "urn:x:1"}, {"pubStatus", "canceled"}}, "vn.gov", "vn.gov.press",
                             std::string(32, '\x02'), "Hội nghị");
  ASSERT_TRUE(canceled.ok()) << canceled.status().to_string();
  EXPECT_EQ(canceled->kind(), v1::RETRACTION);
  EXPECT_EQ(canceled->headline(), "Hội nghị");
  for (const char* status : {"withheld", "published"}) {
    auto refused = from_ninjs(json{{"uri", "urn:x:2"}, {"headlines", {{{"value", "h"}}}}, {"pubStatus", status}},
                              "vn.gov", "vn.gov.press");
    EXPECT_CODE(refused, v1::Error::INVALID_ARGUMENT);
    EXPECT_NE(refused.status().message().find("pubStatus"), std::string::npos) << status;
  }
}

}  // namespace
}  // namespace lantoa::node
