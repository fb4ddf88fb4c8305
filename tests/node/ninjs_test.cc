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
  // A document with an extra top-level field must fail: proof that the check can fail.
  json bad = docs[0];
  bad["lantoa_signer"] = "vn.gov";
  docs.push_back(bad);
  auto errors = testing::ninjs_schema_errors(docs);
  for (size_t i = 0; i + 1 < docs.size(); ++i) EXPECT_EQ(errors[i], "") << docs[i].dump(2);
  EXPECT_NE(errors.back().find("INVALID"), std::string::npos);
  EXPECT_NE(errors.back().find("lantoa_signer"), std::string::npos) << errors.back();
}

}  // namespace
}  // namespace lantoa::node
