// Reading typed settings from a toml++ table with errors that name the
// setting. Shared by lantoa-broker's and lantoa-node's configuration
// (header-only: toml++ is a header library).
#pragma once

#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <type_traits>

#include "lantoa/internal/file_util.h"
#include "lantoa/status.h"

namespace lantoa::toml_fields {

inline Status bad(const std::string& msg) { return Status(v1::Error::INVALID_ARGUMENT, msg); }

template <typename T>
Status read(const toml::table& t, std::string_view key, T& out, const std::string& where) {
  const toml::node* n = t.get(key);
  if (!n) return Status::Ok();
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::filesystem::path>) {
    auto v = n->value<std::string>();
    if (!v) return bad(where + std::string(key) + " must be a string");
    out = *v;
  } else if constexpr (std::is_same_v<T, bool>) {
    auto v = n->value<bool>();
    if (!v) return bad(where + std::string(key) + " must be true or false");
    out = *v;
  } else {
    auto v = n->value<int64_t>();
    if (!v || *v < 0) return bad(where + std::string(key) + " must be a non-negative integer");
    out = static_cast<T>(*v);
  }
  return Status::Ok();
}

// Every key of `t` that is not in `known`, named in one error.
inline Status only_known(const toml::table& t, const std::set<std::string>& known, const std::string& where) {
  std::string unknown;
  size_t count = 0;
  for (const auto& [k, v] : t) {
    if (known.count(std::string(k.str()))) continue;
    unknown += (count++ ? ", " : "") + where + std::string(k.str());
  }
  if (count == 0) return Status::Ok();
  return bad((count == 1 ? "unknown setting " : "unknown settings ") + unknown);
}

// Parses a TOML file; a syntax error names the file and line.
inline Result<toml::table> parse_file(const std::filesystem::path& path) {
  if (std::string why = internal::why_unreadable(path); !why.empty()) return bad(why);
  try {
    return toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << path.string() << ":" << e.source().begin.line << ": " << e.description();
    return bad(msg.str());
  }
}

}  // namespace lantoa::toml_fields
