#include "lantoa/event.h"

#include <gtest/gtest.h>

#include "lantoa/encoding.h"
#include "support/fixtures.h"

namespace lantoa {
namespace {

using testing::kT0;

v1::Event valid() { return testing::sample_event("vn.gov"); }

// Applies `change` to a valid event and returns the validation status.
template <typename F>
Status after(F change, const EventLimits& limits = {}) {
  v1::Event e = valid();
  change(e);
  return validate_event(e, limits);
}

TEST(EventValidation, SampleIsValid) { EXPECT_TRUE(validate_event(valid()).ok()); }

TEST(EventValidation, EveryRuleHasItsOwnCode) {
  using E = v1::Error;
  EXPECT_STATUS(after([](auto& e) { e.set_format(2); }), E::EVENT_FORMAT_UNSUPPORTED);
  EXPECT_STATUS(after([](auto& e) { e.set_origin("VN.GOV"); }), E::INVALID_ORIGIN);
  EXPECT_STATUS(after([](auto& e) { e.set_origin(""); }), E::INVALID_ORIGIN);
  EXPECT_STATUS(after([](auto& e) { e.set_sequence(0); }), E::INVALID_SEQUENCE);
  EXPECT_STATUS(after([](auto& e) { e.set_topic("vn.gov.*"); }), E::INVALID_TOPIC);
  EXPECT_STATUS(after([](auto& e) { e.set_topic("vn.bqp.notice"); }), E::TOPIC_OUTSIDE_NAMESPACE);
  EXPECT_STATUS(after([](auto& e) { e.set_topic("vn.govx"); }), E::TOPIC_OUTSIDE_NAMESPACE);
  EXPECT_STATUS(after([](auto& e) { e.set_topic("$trust.other"); }), E::TOPIC_OUTSIDE_NAMESPACE);
  EXPECT_TRUE(after([](auto& e) { e.set_topic("$trust.revocations"); }).ok());  // authorities carry lists there
  EXPECT_STATUS(after([](auto& e) { e.set_kind(v1::KIND_UNSPECIFIED); }), E::INVALID_KIND);
  EXPECT_STATUS(after([](auto& e) { e.set_kind(static_cast<v1::Kind>(42)); }), E::INVALID_KIND);
  EXPECT_STATUS(after([](auto& e) { e.set_urgency(0); }), E::URGENCY_OUT_OF_RANGE);
  EXPECT_STATUS(after([](auto& e) { e.set_urgency(10); }), E::URGENCY_OUT_OF_RANGE);
  EXPECT_STATUS(after([](auto& e) { e.set_language(""); }), E::INVALID_LANGUAGE);
  EXPECT_STATUS(after([](auto& e) { e.set_language("vietnamese-language"); }), E::INVALID_LANGUAGE);
  EXPECT_STATUS(after([](auto& e) { e.set_language("v"); }), E::INVALID_LANGUAGE);
  EXPECT_STATUS(after([](auto& e) { e.set_language("en_GB"); }), E::INVALID_LANGUAGE);
  EXPECT_STATUS(after([](auto& e) { e.set_headline("bad \xff"); }), E::INVALID_UTF8);
  EXPECT_STATUS(after([](auto& e) { e.set_body("\xc3"); }), E::INVALID_UTF8);
  EXPECT_STATUS(after([](auto& e) { e.set_headline("  \n"); }), E::HEADLINE_MISSING);
  EXPECT_STATUS(after([](auto& e) { e.set_headline(std::string(513, 'a')); }), E::HEADLINE_TOO_LONG);
  EXPECT_STATUS(after([](auto& e) { e.set_summary(std::string(4097, 'a')); }), E::SUMMARY_TOO_LONG);
  EXPECT_STATUS(after([](auto& e) { e.set_created_ms(0); }), E::INVALID_TIME);
  EXPECT_STATUS(after([](auto& e) { e.set_expires_ms(e.created_ms()); }), E::INVALID_TIME);
  EXPECT_STATUS(after([](auto& e) { e.set_embargo_until_ms(-1); }), E::INVALID_TIME);
  EXPECT_STATUS(after([](auto& e) {
                  e.set_expires_ms(e.created_ms() + 10);
                  e.set_embargo_until_ms(e.created_ms() + 10);
                }),
                E::INVALID_TIME);
  EXPECT_STATUS(after([](auto& e) { e.set_refers_to(std::string(32, 'x')); }), E::INVALID_REFERENCE);
  EXPECT_STATUS(after([](auto& e) { e.set_kind(v1::CORRECTION); }), E::INVALID_REFERENCE);
  EXPECT_STATUS(after([](auto& e) {
                  e.set_kind(v1::RETRACTION);
                  e.set_refers_to("short");
                }),
                E::INVALID_REFERENCE);
  EXPECT_STATUS(after([](auto& e) {
                  e.set_kind(v1::ENDORSEMENT);
                  e.set_refers_to(std::string(32, 'x'));
                }),
                E::INVALID_CARRIED_EVENT);
  EXPECT_STATUS(after([](auto& e) { e.set_carried_event("bytes"); }), E::INVALID_CARRIED_EVENT);
  EXPECT_STATUS(after([](auto& e) { e.add_subjects()->set_name("no code"); }), E::INVALID_SUBJECT);
  EXPECT_STATUS(after([](auto& e) { e.add_subjects()->set_code("c\xff"); }), E::INVALID_UTF8);
  EXPECT_STATUS(after([](auto& e) { e.add_attachments()->set_media_type("image/jpeg"); }), E::INVALID_ATTACHMENT);
  EXPECT_STATUS(after([](auto& e) {
                  auto* a = e.add_attachments();
                  a->set_uri("https://example.gov.vn/a.jpg");
                  a->set_media_type("jpeg");
                }),
                E::INVALID_ATTACHMENT);
  EXPECT_STATUS(after([](auto& e) {
                  auto* a = e.add_attachments();
                  a->set_uri("https://example.gov.vn/a.jpg");
                  a->set_media_type("image/jpeg");
                  a->set_sha256("short");
                }),
                E::INVALID_ATTACHMENT);
  EXPECT_STATUS(after([](auto& e) { e.set_body_type("application/pdf"); }), E::INVALID_BODY_TYPE);
  EXPECT_STATUS(after([](auto& e) { e.set_link("javascript:alert(1)"); }), E::INVALID_LINK);
  EXPECT_STATUS(after([](auto& e) { e.set_link("https://a b"); }), E::INVALID_LINK);
  EXPECT_STATUS(after([](auto& e) { e.set_byline(std::string(513, 'a')); }), E::BYLINE_TOO_LONG);
}

TEST(EventValidation, LimitsAreConfigurable) {
  EventLimits tight;
  tight.max_headline_chars = 5;
  tight.max_subjects = 0;
  EXPECT_STATUS(after([](auto&) {}, tight), v1::Error::HEADLINE_TOO_LONG);
  EventLimits no_subjects;
  no_subjects.max_subjects = 0;
  EXPECT_STATUS(after([](auto& e) { e.add_subjects()->set_code("medtop:1"); }, no_subjects),
                v1::Error::INVALID_SUBJECT);
}

TEST(EventValidation, HeadlineLimitCountsCharactersNotBytes) {
  // 512 Vietnamese letters of 2 bytes each are within the 512-character limit.
  std::string headline;
  for (int i = 0; i < 512; ++i) headline += "ư";
  ASSERT_GT(headline.size(), 512u);
  EXPECT_TRUE(after([&](auto& e) { e.set_headline(headline); }).ok());
}

TEST(EventValidation, AcceptsEveryKindWithItsReference) {
  for (v1::Kind kind : {v1::CORRECTION, v1::RETRACTION, v1::REPLY}) {
    EXPECT_TRUE(after([&](auto& e) {
                  e.set_kind(kind);
                  e.set_refers_to(std::string(32, 'r'));
                  if (kind == v1::REPLY) e.set_reply_code(v1::FEEDBACK);
                }).ok());
  }
  // A reply says what it answers; no other kind carries a reply code.
  EXPECT_STATUS(after([](auto& e) {
                  e.set_kind(v1::REPLY);
                  e.set_refers_to(std::string(32, 'r'));
                }),
                v1::Error::INVALID_REPLY_CODE);
  EXPECT_STATUS(after([](auto& e) { e.set_reply_code(v1::REJECTED); }), v1::Error::INVALID_REPLY_CODE);
  EXPECT_STATUS(after([](auto& e) {
                  e.set_kind(v1::REPLY);
                  e.set_refers_to(std::string(32, 'r'));
                  e.set_reply_code(static_cast<v1::ReplyCode>(99));
                }),
                v1::Error::INVALID_REPLY_CODE);
  EXPECT_TRUE(after([](auto& e) {
                e.set_kind(v1::ENDORSEMENT);
                e.set_refers_to(std::string(32, 'r'));
                e.set_carried_event("signed bytes");
              }).ok());
}

TEST(EventBuilder, BuildsARealArticleWithDefaults) {
  std::string article = testing::read_text(testing::testdata("articles/baochinhphu-2023-08-12-hoi-nghi-cong-ttdt.txt"));
  ASSERT_GT(article.size(), 1000u);
  v1::Attachment photo;
  photo.set_uri("https://baochinhphu.vn/anh/hoi-nghi.jpg");
  photo.set_media_type("image/jpeg");
  photo.set_size_bytes(123456);
  photo.set_sha256(std::string(32, '\x01'));
  auto e = EventBuilder("vn.gov", 1, "vn.gov.press")
               .headline("TỔNG THUẬT: Hội nghị đầu tiên giữa các Cổng TTĐT Bộ, ngành")
               .body(article)
               .urgency(3)
               .subject("medtop:11000000", "chính trị")
               .attachment(photo)
               .link("https://baochinhphu.vn/tong-thuat.htm")
               .byline("Báo Điện tử Chính phủ")
               .build();
  ASSERT_OK(e);
  EXPECT_EQ(e->kind(), v1::NEWS);
  EXPECT_EQ(e->language(), "vi");
  EXPECT_EQ(e->format(), 1u);
  EXPECT_GT(e->created_ms(), kT0);
  EXPECT_EQ(e->body(), article);
}

TEST(EventBuilder, RefusesInvalidEvents) {
  EXPECT_CODE(EventBuilder("vn.gov", 1, "vn.bqp.notice").headline("x").build(), v1::Error::TOPIC_OUTSIDE_NAMESPACE);
  EXPECT_CODE(EventBuilder("vn.gov", 1, "vn.gov").build(), v1::Error::HEADLINE_MISSING);
}

TEST(Signing, SignsTheBytesOnceAndDecodesWithoutReencoding) {
  SigningKey key = SigningKey::generate();
  auto envelope = sign_event(valid(), key);
  ASSERT_OK(envelope);
  const std::string bytes = envelope->event();
  EXPECT_EQ(envelope->signer_key_id(), key.id());
  EXPECT_TRUE(check_event_signature(*envelope, key.public_key()).ok());

  auto decoded = decode_event(*envelope);
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->id, event_id(bytes));
  EXPECT_EQ(decoded->id.size(), kEventIdSize);
  EXPECT_EQ(decoded->event.headline(), valid().headline());
  // Decoding never touches the envelope's bytes.
  EXPECT_EQ(envelope->event(), bytes);

  // A round trip through the wire keeps the exact bytes too.
  std::string wire = envelope->SerializeAsString();
  auto parsed = parse_signed_event(wire);
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->event(), bytes);
  EXPECT_TRUE(check_event_signature(*parsed, key.public_key()).ok());
}

TEST(Signing, UnknownFieldsStayInsideTheSignedBytes) {
  // A newer author may add fields this version does not know. They are part
  // of the signed bytes, which must verify and keep their id.
  SigningKey key = SigningKey::generate();
  std::string bytes = valid().SerializeAsString();
  bytes += std::string("\xa2\x06\x03new", 6);  // field 100, length-delimited, "new"
  v1::SignedEvent envelope;
  envelope.set_event(bytes);
  envelope.set_signature(key.sign(SignDomain::kEvent, bytes));
  envelope.set_signer_key_id(key.id());
  auto decoded = decode_event(envelope);
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->id, event_id(bytes));
  EXPECT_TRUE(check_event_signature(envelope, key.public_key()).ok());
}

TEST(Signing, AnyChangedByteBreaksTheSignature) {
  SigningKey key = SigningKey::generate();
  auto envelope = sign_event(valid(), key);
  ASSERT_OK(envelope);
  for (size_t i = 0; i < envelope->event().size(); i += 7) {
    v1::SignedEvent copy = *envelope;
    (*copy.mutable_event())[i] ^= 0x01;
    EXPECT_FALSE(check_event_signature(copy, key.public_key()).ok()) << "byte " << i;
  }
}

TEST(Signing, NamesTheKeyMismatch) {
  SigningKey key = SigningKey::generate();
  SigningKey other = SigningKey::generate();
  auto envelope = sign_event(valid(), key);
  EXPECT_STATUS(check_event_signature(*envelope, other.public_key()), v1::Error::SIGNER_MISMATCH);
  v1::SignedEvent forged = *envelope;
  forged.set_signature(other.sign(SignDomain::kEvent, forged.event()));
  EXPECT_STATUS(check_event_signature(forged, key.public_key()), v1::Error::BAD_SIGNATURE);
}

TEST(Signing, RefusesToSignInvalidOrOversizeEvents) {
  SigningKey key = SigningKey::generate();
  v1::Event bad = valid();
  bad.set_urgency(0);
  EXPECT_CODE(sign_event(bad, key), v1::Error::URGENCY_OUT_OF_RANGE);

  v1::Event big = valid();
  big.set_body(std::string(1 << 20, 'a'));
  auto envelope = sign_event(big, key);
  EXPECT_CODE(envelope, v1::Error::EVENT_TOO_LARGE);
  EXPECT_NE(envelope.status().message().find("limit 1048576"), std::string::npos);
}

TEST(Decoding, RejectsOversizeBeforeParsing) {
  std::string huge((1 << 20) + 1, 'x');
  EXPECT_CODE(parse_signed_event(huge), v1::Error::EVENT_TOO_LARGE);
  v1::SignedEvent envelope;
  envelope.set_event(huge);
  envelope.set_signature(std::string(64, 's'));
  envelope.set_signer_key_id(std::string(16, 'k'));
  EXPECT_CODE(decode_event(envelope), v1::Error::EVENT_TOO_LARGE);
}

TEST(Decoding, MalformedBytesAreNamed) {
  EXPECT_CODE(parse_signed_event("\x0a\x10short"), v1::Error::EVENT_MALFORMED);  // truncated
  EXPECT_CODE(parse_signed_event("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), v1::Error::EVENT_MALFORMED);

  SigningKey key = SigningKey::generate();
  v1::SignedEvent envelope = *sign_event(valid(), key);
  v1::SignedEvent no_sig = envelope;
  no_sig.clear_signature();
  EXPECT_CODE(decode_event(no_sig), v1::Error::EVENT_MALFORMED);
  v1::SignedEvent no_key = envelope;
  no_key.set_signer_key_id("abc");
  EXPECT_CODE(decode_event(no_key), v1::Error::EVENT_MALFORMED);
  v1::SignedEvent empty = envelope;
  empty.clear_event();
  EXPECT_CODE(decode_event(empty), v1::Error::EVENT_MALFORMED);
  v1::SignedEvent garbage = envelope;
  garbage.set_event("\x08");  // a tag with no value
  EXPECT_CODE(decode_event(garbage), v1::Error::EVENT_MALFORMED);
}

TEST(Decoding, InvalidUtf8OnTheWireNamesTheField) {
  // Build bytes a hostile author could send: a valid event whose headline
  // bytes were altered to invalid UTF-8 before signing.
  v1::Event e = valid();
  e.set_headline("HEADLINE");
  std::string bytes = e.SerializeAsString();
  size_t at = bytes.find("HEADLINE");
  ASSERT_NE(at, std::string::npos);
  bytes[at] = '\xff';
  SigningKey key = SigningKey::generate();
  v1::SignedEvent envelope;
  envelope.set_event(bytes);
  envelope.set_signature(key.sign(SignDomain::kEvent, bytes));
  envelope.set_signer_key_id(key.id());
  auto decoded = decode_event(envelope);
  EXPECT_CODE(decoded, v1::Error::INVALID_UTF8);
  EXPECT_EQ(decoded.status().message(), "headline is not valid UTF-8");

  // The same inside a nested message.
  v1::Event s = valid();
  s.add_subjects()->set_code("CODE");
  bytes = s.SerializeAsString();
  bytes[bytes.find("CODE")] = '\xc0';
  envelope.set_event(bytes);
  decoded = decode_event(envelope);
  EXPECT_CODE(decoded, v1::Error::INVALID_UTF8);
  EXPECT_EQ(decoded.status().message(), "subjects.code is not valid UTF-8");
}

}  // namespace
}  // namespace lantoa
