// Shared conventions of the `lantoa` command line: exit codes, how errors
// are printed, and how each verb registers itself.
//
// Exit codes: 0 ok, 1 error (the cause on stderr, with its code), 2 usage.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <string>

#include "lantoa/status.h"

namespace lantoa::cli {

inline constexpr int kOk = 0;
inline constexpr int kError = 1;
inline constexpr int kUsage = 2;

// Prints "lantoa: CODE: message" on stderr and returns kError.
inline int fail(const Status& s) {
  std::cerr << "lantoa: " << s.to_string() << "\n";
  return kError;
}

// Each verb adds its subcommand to the app and sets `run` to what it does.
using Runner = std::function<int()>;
void add_keygen(CLI::App& app, Runner& run);
void add_cert(CLI::App& app, Runner& run);

}  // namespace lantoa::cli
