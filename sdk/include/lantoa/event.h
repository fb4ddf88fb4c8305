// Events: building, validating, signing and decoding news events.
//
// The flow of an event's life:
//   EventBuilder -> build() validates -> sign_event() serializes ONCE and
//   signs -> SignedEvent travels -> decode_event() checks the bytes and
//   validates -> trust.h's verify_event() checks signature and certificate.
// Nothing here re-encodes a signed event: decode_event() only parses the bytes
// to read them; the SignedEvent keeps the original bytes.
//
// Every validation rule has its own error code (errors.proto, 40-69) and a
// message that names the field. All functions are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lantoa/keys.h"
#include "lantoa/status.h"
#include "lantoa/v1/event.pb.h"

namespace lantoa {

inline constexpr size_t kEventIdSize = 32;

// Limits enforced by validation. The defaults are the network's; a broker may
// configure lower ones.
struct EventLimits {
  size_t max_signed_bytes = 1 << 20;  // whole serialized SignedEvent
  size_t max_headline_chars = 512;    // code points
  size_t max_summary_chars = 4096;    // code points
  size_t max_subjects = 100;
  size_t max_attachments = 100;
};

// Checks every rule on an event's fields (not its signature). The first
// broken rule is reported.
Status validate_event(const v1::Event& event, const EventLimits& limits = {});

// Event id: SHA-256 of the serialized event bytes (32 bytes).
std::string event_id(std::string_view event_bytes);

// Current time in ms since the Unix epoch, UTC.
int64_t unix_now_ms();

// Builds an event field by field; build() validates it. Defaults: kind NEWS,
// urgency 5, language "vi", created now, body type text/plain.
class EventBuilder {
 public:
  EventBuilder(std::string origin, uint64_t sequence, std::string topic);

  EventBuilder& kind(v1::Kind kind);
  EventBuilder& urgency(uint32_t urgency);
  EventBuilder& language(std::string tag);
  EventBuilder& headline(std::string text);
  EventBuilder& summary(std::string text);
  EventBuilder& body(std::string text, std::string media_type = "text/plain");
  EventBuilder& created_ms(int64_t ms);
  EventBuilder& embargo_until_ms(int64_t ms);
  EventBuilder& expires_ms(int64_t ms);
  EventBuilder& content_created_ms(int64_t ms);  // when the content was first made public
  EventBuilder& subject(std::string code, std::string name = {});
  EventBuilder& attachment(v1::Attachment attachment);
  EventBuilder& refers_to(std::string event_id);
  EventBuilder& reply_code(v1::ReplyCode code);
  EventBuilder& link(std::string url);
  EventBuilder& byline(std::string text);
  EventBuilder& carried_event(std::string signed_event_bytes);
  EventBuilder& ninjs(std::string document);  // the author's ninjs document (event.proto: ninjs)

  Result<v1::Event> build(const EventLimits& limits = {}) const;

 private:
  v1::Event event_;
};

// Serializes `event` once and signs the bytes. Validates first (so a bad
// event is never signed); EVENT_TOO_LARGE when the envelope would exceed the
// limit.
Result<v1::SignedEvent> sign_event(const v1::Event& event, const SigningKey& key,
                                   const EventLimits& limits = {});

// An event read from its envelope: the parsed fields, for reading only. The
// envelope's bytes remain the truth.
struct DecodedEvent {
  std::string id;  // event_id() of the envelope's bytes
  v1::Event event;
};

// Checks the envelope's shape and size, parses the event bytes (naming the
// field of any invalid UTF-8), and validates the fields. Does NOT check the
// signature (see verify_event in trust.h).
Result<DecodedEvent> decode_event(const v1::SignedEvent& envelope, const EventLimits& limits = {});

// Parses a serialized SignedEvent, as received from the network or a file.
// EVENT_TOO_LARGE / EVENT_MALFORMED.
Result<v1::SignedEvent> parse_signed_event(std::string_view bytes, const EventLimits& limits = {});

// Checks the envelope's signature against `sign_public_key`: SIGNER_MISMATCH
// when the envelope names another key, BAD_SIGNATURE when it does not verify.
Status check_event_signature(const v1::SignedEvent& envelope, std::string_view sign_public_key);

}  // namespace lantoa
