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

}  // namespace lantoa
