#include "lantoa/event.h"

#include <openssl/evp.h>

#include <chrono>

#include "lantoa/encoding.h"
#include "lantoa/names.h"
#include "proto_scan.h"

namespace lantoa {
namespace {

using E = v1::Error;

constexpr size_t kMaxLinkBytes = 2048;
constexpr size_t kMaxBylineBytes = 512;
constexpr size_t kMaxSubjectFieldBytes = 256;
constexpr size_t kMaxAttachmentUriBytes = 2048;
constexpr size_t kMaxAttachmentTitleBytes = 1024;
constexpr size_t kMaxLanguageBytes = 35;

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_alpha(c) || (c >= '0' && c <= '9'); }

// BCP 47 shape: a 2-8 letter primary subtag, then subtags of 1-8 letters or
// digits separated by '-'. ("vi", "en-GB", "zh-Hans-CN", "sr-Latn").
bool is_language_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxLanguageBytes) return false;
  size_t start = 0;
  bool first = true;
  while (start <= tag.size()) {
    size_t dash = tag.find('-', start);
    std::string_view sub = tag.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start);
    if (sub.empty() || sub.size() > 8) return false;
    for (char c : sub) {
      if (first ? !is_alpha(c) : !is_alnum(c)) return false;
    }
    if (first && sub.size() < 2) return false;
    first = false;
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  return true;
}

bool is_http_url(std::string_view url) {
  if (!(url.starts_with("http://") || url.starts_with("https://"))) return false;
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7F) return false;
  }
  return url.find("://") + 3 < url.size();
}

bool is_media_type(std::string_view t) {
  size_t slash = t.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= t.size() || t.size() > 127) return false;
  for (char c : t) {
    if (!(is_alnum(c) || c == '/' || c == '.' || c == '+' || c == '-' || c == '_')) return false;
  }
  return t.find('/', slash + 1) == std::string_view::npos;
}

Status utf8(std::string_view field, std::string_view value) {
  if (!is_valid_utf8(value)) return Status(E::INVALID_UTF8, std::string(field) + " is not valid UTF-8");
  return Status::Ok();
}

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

int64_t unix_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string event_id(std::string_view event_bytes) {
  // OpenSSL's SHA-256 uses the CPU's SHA extensions where present: on the
  // broker's hot path it is several times faster than a portable one.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  std::string id(kEventIdSize, '\0');
  unsigned int len = 0;
  EVP_Digest(event_bytes.data(), event_bytes.size(), reinterpret_cast<unsigned char*>(id.data()), &len, sha256,
             nullptr);
  return id;
}

namespace {
Status validate_fields(const v1::Event& e, const EventLimits& limits, bool check_utf8);
}  // namespace

Status validate_event(const v1::Event& e, const EventLimits& limits) { return validate_fields(e, limits, true); }

namespace {

// `check_utf8` is false when the bytes were already scanned (decode_event):
// every string field was checked there, once.
Status validate_fields(const v1::Event& e, const EventLimits& limits, bool check_utf8) {
  if (e.format() != 1) {
    return Status(E::EVENT_FORMAT_UNSUPPORTED,
                  "event format " + std::to_string(e.format()) + " is not supported (expected 1)");
  }
  if (Status s = validate_member_id(e.origin()); !s.ok()) return Status(E::INVALID_ORIGIN, "origin: " + s.message());
  if (e.sequence() == 0) return Status(E::INVALID_SEQUENCE, "sequence must be at least 1");
  LANTOA_RETURN_IF_ERROR(validate_topic(e.topic()));
  LANTOA_RETURN_IF_ERROR(check_publish_topic(e.origin(), e.topic()));
  if (e.kind() == v1::KIND_UNSPECIFIED || !v1::Kind_IsValid(e.kind())) {
    return Status(E::INVALID_KIND, "kind " + std::to_string(e.kind()) + " is not one of NEWS, CORRECTION, "
                                                                      "RETRACTION, ENDORSEMENT, REPLY");
  }
  if (e.urgency() < 1 || e.urgency() > 9) {
    return Status(E::URGENCY_OUT_OF_RANGE,
                  "urgency " + std::to_string(e.urgency()) + " is outside 1 (flash) .. 9 (lowest)");
  }
  if (!is_language_tag(e.language())) {
    return Status(E::INVALID_LANGUAGE, "language \"" + e.language().substr(0, 40) +
                                           "\" is not a BCP 47 tag such as \"vi\" or \"en-GB\"");
  }
  if (check_utf8) {
    LANTOA_RETURN_IF_ERROR(utf8("headline", e.headline()));
    LANTOA_RETURN_IF_ERROR(utf8("summary", e.summary()));
    LANTOA_RETURN_IF_ERROR(utf8("body", e.body()));
    LANTOA_RETURN_IF_ERROR(utf8("byline", e.byline()));
    LANTOA_RETURN_IF_ERROR(utf8("link", e.link()));
    LANTOA_RETURN_IF_ERROR(utf8("ninjs", e.ninjs()));
  }
  // A retraction may go without a headline: it only withdraws refers_to.
  if (is_blank(e.headline()) && e.kind() != v1::RETRACTION) {
    return Status(E::HEADLINE_MISSING, "headline is empty");
  }
  if (size_t n = utf8_length(e.headline()); n > limits.max_headline_chars) {
    return Status(E::HEADLINE_TOO_LONG, "headline has " + std::to_string(n) + " characters, limit " +
                                            std::to_string(limits.max_headline_chars));
  }
  if (size_t n = utf8_length(e.summary()); n > limits.max_summary_chars) {
    return Status(E::SUMMARY_TOO_LONG, "summary has " + std::to_string(n) + " characters, limit " +
                                           std::to_string(limits.max_summary_chars));
  }
  if (!e.body_type().empty() && e.body_type() != "text/plain" && e.body_type() != "text/html") {
    return Status(E::INVALID_BODY_TYPE, "body_type \"" + e.body_type().substr(0, 40) +
                                            "\" must be text/plain or text/html");
  }
  if (e.byline().size() > kMaxBylineBytes) {
    return Status(E::BYLINE_TOO_LONG, "byline is longer than 512 bytes");
  }
  if (!e.link().empty() && (e.link().size() > kMaxLinkBytes || !is_http_url(e.link()))) {
    return Status(E::INVALID_LINK, "link must be an absolute http(s) URL of at most 2048 bytes");
  }
  // Times.
  if (e.created_ms() <= 0) return Status(E::INVALID_TIME, "created_ms must be a positive time");
  if (e.embargo_until_ms() < 0) return Status(E::INVALID_TIME, "embargo_until_ms is negative");
  if (e.expires_ms() < 0) return Status(E::INVALID_TIME, "expires_ms is negative");
  if (e.content_created_ms() < 0 || e.content_created_ms() > e.created_ms()) {
    return Status(E::INVALID_TIME, "content_created_ms must be between 0 and created_ms");
  }
  if (e.expires_ms() != 0 && e.expires_ms() <= e.created_ms()) {
    return Status(E::INVALID_TIME, "expires_ms is not after created_ms");
  }
  if (e.expires_ms() != 0 && e.embargo_until_ms() != 0 && e.embargo_until_ms() >= e.expires_ms()) {
    return Status(E::INVALID_TIME, "embargo_until_ms is not before expires_ms: the event could never be delivered");
  }
  // References.
  if (e.kind() == v1::NEWS) {
    if (!e.refers_to().empty()) return Status(E::INVALID_REFERENCE, "refers_to must be empty on NEWS");
  } else if (e.refers_to().size() != kEventIdSize) {
    return Status(E::INVALID_REFERENCE, v1::Kind_Name(e.kind()) + " needs refers_to, the 32-byte id of an event (got " +
                                            std::to_string(e.refers_to().size()) + " bytes)");
  }
  if ((e.kind() == v1::ENDORSEMENT) != !e.carried_event().empty()) {
    return Status(E::INVALID_CARRIED_EVENT, e.kind() == v1::ENDORSEMENT
                                                ? "ENDORSEMENT needs carried_event, the endorsed signed event"
                                                : "carried_event is only for ENDORSEMENT");
  }
  if ((e.kind() == v1::REPLY) != (e.reply_code() != v1::REPLY_CODE_UNSPECIFIED) ||
      !v1::ReplyCode_IsValid(e.reply_code())) {
    return Status(E::INVALID_REPLY_CODE, e.kind() == v1::REPLY
                                             ? "REPLY needs reply_code: ACCEPTED, REJECTED, CHANGES_REQUESTED, "
                                               "FEEDBACK or SEEN"
                                             : "reply_code is only for REPLY");
  }
  // Subjects.
  if (static_cast<size_t>(e.subjects_size()) > limits.max_subjects) {
    return Status(E::INVALID_SUBJECT, std::to_string(e.subjects_size()) + " subjects, limit " +
                                          std::to_string(limits.max_subjects));
  }
  for (int i = 0; i < e.subjects_size(); ++i) {
    const auto& s = e.subjects(i);
    const std::string where = "subjects[" + std::to_string(i) + "]";
    if (check_utf8) {
      LANTOA_RETURN_IF_ERROR(utf8(where + ".code", s.code()));
      LANTOA_RETURN_IF_ERROR(utf8(where + ".name", s.name()));
    }
    if (s.code().empty() || s.code().size() > kMaxSubjectFieldBytes || s.name().size() > kMaxSubjectFieldBytes) {
      return Status(E::INVALID_SUBJECT, where + " needs a code of 1..256 bytes and a name of at most 256 bytes");
    }
  }
  // Attachments.
  if (static_cast<size_t>(e.attachments_size()) > limits.max_attachments) {
    return Status(E::INVALID_ATTACHMENT, std::to_string(e.attachments_size()) + " attachments, limit " +
                                             std::to_string(limits.max_attachments));
  }
  for (int i = 0; i < e.attachments_size(); ++i) {
    const auto& a = e.attachments(i);
    const std::string where = "attachments[" + std::to_string(i) + "]";
    if (check_utf8) {
      LANTOA_RETURN_IF_ERROR(utf8(where + ".uri", a.uri()));
      LANTOA_RETURN_IF_ERROR(utf8(where + ".title", a.title()));
    }
    if (a.uri().empty() || a.uri().size() > kMaxAttachmentUriBytes || a.uri().find("://") == std::string::npos) {
      return Status(E::INVALID_ATTACHMENT, where + ".uri must be an absolute URI of 1..2048 bytes");
    }
    if (!is_media_type(a.media_type())) {
      return Status(E::INVALID_ATTACHMENT, where + ".media_type must look like type/subtype");
    }
    if (!a.sha256().empty() && a.sha256().size() != 32) {
      return Status(E::INVALID_ATTACHMENT, where + ".sha256 must be 32 bytes or empty");
    }
    if (a.title().size() > kMaxAttachmentTitleBytes) {
      return Status(E::INVALID_ATTACHMENT, where + ".title is longer than 1024 bytes");
    }
  }
  return Status::Ok();
}

}  // namespace

// --- EventBuilder ---

EventBuilder::EventBuilder(std::string origin, uint64_t sequence, std::string topic) {
  event_.set_format(1);
  event_.set_origin(std::move(origin));
  event_.set_sequence(sequence);
  event_.set_topic(std::move(topic));
  event_.set_kind(v1::NEWS);
  event_.set_urgency(5);
  event_.set_language("vi");
  event_.set_created_ms(unix_now_ms());
}

EventBuilder& EventBuilder::kind(v1::Kind kind) { event_.set_kind(kind); return *this; }
EventBuilder& EventBuilder::urgency(uint32_t urgency) { event_.set_urgency(urgency); return *this; }
EventBuilder& EventBuilder::language(std::string tag) { event_.set_language(std::move(tag)); return *this; }
EventBuilder& EventBuilder::headline(std::string text) { event_.set_headline(std::move(text)); return *this; }
EventBuilder& EventBuilder::summary(std::string text) { event_.set_summary(std::move(text)); return *this; }
EventBuilder& EventBuilder::body(std::string text, std::string media_type) {
  event_.set_body(std::move(text));
  event_.set_body_type(std::move(media_type));
  return *this;
}
EventBuilder& EventBuilder::created_ms(int64_t ms) { event_.set_created_ms(ms); return *this; }
EventBuilder& EventBuilder::embargo_until_ms(int64_t ms) { event_.set_embargo_until_ms(ms); return *this; }
EventBuilder& EventBuilder::expires_ms(int64_t ms) { event_.set_expires_ms(ms); return *this; }
EventBuilder& EventBuilder::content_created_ms(int64_t ms) { event_.set_content_created_ms(ms); return *this; }
EventBuilder& EventBuilder::subject(std::string code, std::string name) {
  auto* s = event_.add_subjects();
  s->set_code(std::move(code));
  s->set_name(std::move(name));
  return *this;
}
EventBuilder& EventBuilder::attachment(v1::Attachment attachment) {
  *event_.add_attachments() = std::move(attachment);
  return *this;
}
EventBuilder& EventBuilder::refers_to(std::string id) { event_.set_refers_to(std::move(id)); return *this; }
EventBuilder& EventBuilder::ninjs(std::string document) { event_.set_ninjs(std::move(document)); return *this; }
EventBuilder& EventBuilder::link(std::string url) { event_.set_link(std::move(url)); return *this; }
EventBuilder& EventBuilder::byline(std::string text) { event_.set_byline(std::move(text)); return *this; }
EventBuilder& EventBuilder::reply_code(v1::ReplyCode code) { event_.set_reply_code(code); return *this; }
EventBuilder& EventBuilder::carried_event(std::string bytes) { event_.set_carried_event(std::move(bytes)); return *this; }

Result<v1::Event> EventBuilder::build(const EventLimits& limits) const {
  LANTOA_RETURN_IF_ERROR(validate_event(event_, limits));
  return event_;
}

// --- Signing and decoding ---

Result<v1::SignedEvent> sign_event(const v1::Event& event, const SigningKey& key, const EventLimits& limits) {
  LANTOA_RETURN_IF_ERROR(validate_event(event, limits));
  v1::SignedEvent envelope;
  // The one and only serialization of this event.
  if (!event.SerializeToString(envelope.mutable_event())) {
    return Status(E::INTERNAL, "cannot serialize event");
  }
  envelope.set_signature(key.sign(SignDomain::kEvent, envelope.event()));
  envelope.set_signer_key_id(key.id());
  if (envelope.ByteSizeLong() > limits.max_signed_bytes) {
    return Status(E::EVENT_TOO_LARGE, "signed event is " + std::to_string(envelope.ByteSizeLong()) +
                                          " bytes, limit " + std::to_string(limits.max_signed_bytes));
  }
  return envelope;
}

Result<v1::SignedEvent> parse_signed_event(std::string_view bytes, const EventLimits& limits) {
  if (bytes.size() > limits.max_signed_bytes) {
    return Status(E::EVENT_TOO_LARGE, "signed event is " + std::to_string(bytes.size()) + " bytes, limit " +
                                          std::to_string(limits.max_signed_bytes));
  }
  v1::SignedEvent envelope;
  LANTOA_RETURN_IF_ERROR(internal::parse_protobuf(envelope, bytes, E::EVENT_MALFORMED));
  return envelope;
}

Result<DecodedEvent> decode_event(const v1::SignedEvent& envelope, const EventLimits& limits) {
  // The limit applies to what the author signed plus the signature; a chain
  // attached in transit does not count against it.
  const size_t signed_size = envelope.event().size() + envelope.signature().size() + envelope.signer_key_id().size();
  if (signed_size > limits.max_signed_bytes) {
    return Status(E::EVENT_TOO_LARGE, "signed event is " + std::to_string(signed_size) + " bytes, limit " +
                                          std::to_string(limits.max_signed_bytes));
  }
  if (envelope.event().empty()) return Status(E::EVENT_MALFORMED, "envelope carries no event bytes");
  if (envelope.signature().size() != kSignatureSize) {
    return Status(E::EVENT_MALFORMED, "envelope signature is " + std::to_string(envelope.signature().size()) +
                                          " bytes, expected 64");
  }
  if (envelope.signer_key_id().size() != kKeyIdSize) {
    return Status(E::EVENT_MALFORMED, "envelope signer_key_id is " +
                                          std::to_string(envelope.signer_key_id().size()) + " bytes, expected 16");
  }
  if (envelope.countersignatures_size() > 0) {
    // Not covered by the author's signature and carrying no chain: anyone on
    // the path could add one. Refused until they can be verified end to end
    // (an ENDORSEMENT, which carries the original, is how a second member
    // vouches for an item).
    return Status(E::EVENT_FORMAT_UNSUPPORTED,
                  "countersignatures are not supported (publish an ENDORSEMENT carrying the original instead)");
  }
  DecodedEvent out;
  LANTOA_RETURN_IF_ERROR(internal::parse_protobuf(out.event, envelope.event(), E::EVENT_MALFORMED));
  LANTOA_RETURN_IF_ERROR(validate_fields(out.event, limits, /*check_utf8=*/false));
  out.id = event_id(envelope.event());
  return out;
}

Status check_event_signature(const v1::SignedEvent& envelope, std::string_view sign_public_key) {
  if (envelope.signer_key_id() != key_id(sign_public_key)) {
    return Status(E::SIGNER_MISMATCH, "envelope names key " + key_id_fingerprint(envelope.signer_key_id()) +
                                          " but the signer's certified key is " + fingerprint(sign_public_key));
  }
  return verify_signature(SignDomain::kEvent, sign_public_key, envelope.event(), envelope.signature());
}

}  // namespace lantoa
