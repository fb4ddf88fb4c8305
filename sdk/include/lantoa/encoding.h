// Text forms of binary values: hex for ids, unpadded base64url for keys,
// Z85 for handing Curve keys to ZeroMQ, and UTF-8 validation.
//
// Binary values are held in std::string (as protobuf's bytes fields are) and
// passed as std::string_view. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lantoa {

// Lowercase hex.
std::string to_hex(std::string_view bytes);
// nullopt when `text` is not an even-length hex string.
std::optional<std::string> from_hex(std::string_view text);

// Unpadded base64url (RFC 4648 section 5): 43 characters for 32 bytes.
std::string to_base64url(std::string_view bytes);
// nullopt when `text` is not valid unpadded base64url.
std::optional<std::string> from_base64url(std::string_view text);

// Z85 (ZeroMQ's RFC 32) of a 32-byte key: 40 characters.
std::string to_z85(std::string_view bytes32);

// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// Number of Unicode code points in valid UTF-8 text.
size_t utf8_length(std::string_view text);

// Armored text (like PEM): optional free text, then
//   -----BEGIN <label>-----  base64 lines  -----END <label>-----
// Free text before BEGIN is for people (a summary) and ignored when read.
std::string armor(std::string_view label, std::string_view bytes, std::string_view preamble = {});
// The bytes of the first block with `label`; nullopt when absent or broken.
std::optional<std::string> dearmor(std::string_view label, std::string_view text);

// Times as RFC 3339 UTC text ("2026-11-28T13:00:00Z", milliseconds shown
// only when not zero).
std::string format_time_ms(int64_t ms);
// Accepts "2026-11-28T13:00:00Z", "...T13:00:00.250Z", an offset instead of Z
// ("2026-11-28T20:00:00+07:00"), "2026-11-28" (midnight UTC) and plain
// milliseconds since the epoch.
std::optional<int64_t> parse_time_ms(std::string_view text);

}  // namespace lantoa
