#include "lantoa/encoding.h"

#include <sodium.h>
#include <zmq.h>

#include <cctype>
#include <ctime>
#include <string>

namespace lantoa {
namespace {

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string to_hex(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes_of(bytes), bytes.size());
  out.pop_back();
  return out;
}

std::optional<std::string> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out(text.size() / 2, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                     text.size(), nullptr, &len, &end) != 0 ||
      end != text.data() + text.size() || len != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::string to_base64url(std::string_view bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_encoded_len(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes_of(bytes), bytes.size(), kVariant);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> from_base64url(std::string_view text) {
  std::string out(text.size() * 3 / 4 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string to_z85(std::string_view bytes32) {
  char out[41] = {};
  if (bytes32.size() != 32 || zmq_z85_encode(out, bytes_of(bytes32), 32) == nullptr) return {};
  return std::string(out, 40);
}

bool is_valid_utf8(std::string_view text) {
  const auto* s = bytes_of(text);
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t extra = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;  // continuation byte or 0xF8..0xFF as a lead byte
    }
    if (i + extra >= n) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

size_t utf8_length(std::string_view text) {
  size_t count = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++count;
  }
  return count;
}

std::string armor(std::string_view label, std::string_view bytes, std::string_view preamble) {
  std::string b64(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), bytes_of(bytes), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.pop_back();
  std::string out(preamble);
  if (!out.empty() && out.back() != '\n') out += '\n';
  out += "-----BEGIN " + std::string(label) + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

std::optional<std::string> dearmor(std::string_view label, std::string_view text) {
  const std::string begin = "-----BEGIN " + std::string(label) + "-----";
  const std::string end = "-----END " + std::string(label) + "-----";
  size_t b = text.find(begin);
  if (b == std::string_view::npos) return std::nullopt;
  b += begin.size();
  size_t e = text.find(end, b);
  if (e == std::string_view::npos) return std::nullopt;
  std::string b64;
  for (char c : text.substr(b, e - b)) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') b64.push_back(c);
  }
  std::string out(b64.size() * 3 / 4 + 3, '\0');
  size_t len = 0;
  const char* stop = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), b64.data(), b64.size(), nullptr,
                        &len, &stop, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      stop != b64.data() + b64.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string format_time_ms(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int64_t rest = ms - static_cast<int64_t>(secs) * 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf);
  if (rest != 0) {
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(rest));
    out += frac;
  }
  return out + "Z";
}

std::optional<int64_t> parse_time_ms(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    try {
      return std::stoll(std::string(text));
    } catch (...) {
      return std::nullopt;
    }
  }
  std::string t(text);
  std::tm tm{};
  const char* rest = strptime(t.c_str(), "%Y-%m-%d", &tm);
  if (!rest) return std::nullopt;
  int64_t millis = 0;
  if (*rest == 'T' || *rest == ' ') {
    rest = strptime(rest + 1, "%H:%M:%S", &tm);
    if (!rest) return std::nullopt;
    if (*rest == '.') {
      int digits = 0;
      ++rest;
      while (*rest >= '0' && *rest <= '9') {
        if (digits < 3) millis = millis * 10 + (*rest - '0'), ++digits;
        ++rest;
      }
      while (digits++ < 3) millis *= 10;
    }
    if (*rest == 'Z' || *rest == 'z') {
      ++rest;
    } else if ((*rest == '+' || *rest == '-') && std::isdigit(static_cast<unsigned char>(rest[1])) &&
               std::isdigit(static_cast<unsigned char>(rest[2]))) {  // an offset: +07:00, -0500, +07
      const int sign = *rest == '-' ? -1 : 1;
      int hours = (rest[1] - '0') * 10 + (rest[2] - '0'), minutes = 0;
      rest += 3;
      if (*rest == ':') ++rest;
      if (std::isdigit(static_cast<unsigned char>(rest[0])) && std::isdigit(static_cast<unsigned char>(rest[1]))) {
        minutes = (rest[0] - '0') * 10 + (rest[1] - '0');
        rest += 2;
      }
      if (hours > 23 || minutes > 59) return std::nullopt;
      millis -= sign * (hours * 3600 + minutes * 60) * int64_t{1000};
    }
  }
  if (*rest != '\0') return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + millis;
}

}  // namespace lantoa
