// Fuzz target: a signed event as it arrives from the network — envelope
// parsing, the wire scan (UTF-8 per field), decoding and every validation
// rule, and the signature check. Nothing may crash, leak or misbehave.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lantoa/event.h"
#include "lantoa/keys.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const lantoa::SigningKey key = *lantoa::SigningKey::from_seed(std::string(32, '\x07'));
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto envelope = lantoa::parse_signed_event(bytes);
  if (!envelope) return 0;
  auto decoded = lantoa::decode_event(*envelope);
  if (decoded) (void)lantoa::check_event_signature(*envelope, key.public_key());
  // The same bytes as a bare event body, signed by us: validation must hold.
  lantoa::v1::SignedEvent wrapped;
  wrapped.set_event(std::string(bytes));
  wrapped.set_signature(key.sign(lantoa::SignDomain::kEvent, bytes));
  wrapped.set_signer_key_id(key.id());
  auto inner = lantoa::decode_event(wrapped);
  if (inner) {
    // Whatever decodes must also pass validation as built.
    if (!lantoa::validate_event(inner->event).ok()) __builtin_trap();
    if (!lantoa::check_event_signature(wrapped, key.public_key()).ok()) __builtin_trap();
  }
  return 0;
}
