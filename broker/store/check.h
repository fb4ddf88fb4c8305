// `lantoa-broker check`: reads a whole store and reports every record that
// breaks the layout or an invariant of FORMAT.md, without changing anything.
// It may run beside a broker on the same folder (one read transaction: a
// consistent snapshot).
//
// What is checked: the data file against its LMDB header; the manifest
// against the store; every record parses and has the right key shape; every
// event's id is re-derived from its bytes and its signature verified against
// its stored certificate chain (unless told not to); `ids`, `by_time`,
// `embargo`, `queue` and `sub_names` point at what exists; `refs[seq]`
// equals the number of queue entries of `seq`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "lantoa/status.h"

namespace lantoa::broker {

struct CheckOptions {
  bool verify_signatures = true;
  // The store's id against the manifest (off at start, where the manifest
  // is judged separately and --accept-store-change may overrule it).
  bool check_identity = true;
};

struct CheckReport {
  std::map<std::string, uint64_t> entries;  // per database
  uint64_t events_verified = 0;             // signatures checked
  uint64_t problem_count = 0;
  std::vector<std::string> problems;        // the first ten of each database (all are counted)
  std::string store_id;
  uint64_t highest_seq = 0;
  uint64_t walk_limit = UINT64_MAX;  // most entries one database can hold (a loop in a damaged tree ends there)

  bool clean() const { return problem_count == 0; }
  void add(std::string problem);
  std::string to_text() const;  // what the command prints

 private:
  std::map<std::string, uint64_t> listed_;
};

// Checks the store in `dir`. A Status only when the store cannot be read at
// all (absent, cut short, not LMDB); damage inside it is in the report.
Result<CheckReport> check_store(const std::filesystem::path& dir, const CheckOptions& options = {});

// The same, in a child process, so that a store damaged in a way LMDB does
// not survive (it aborts on some broken pages; a page past the end of a
// file cut short is SIGBUS) ends the child, not the caller. Call before
// starting threads. A Status when the child died (STORAGE_ERROR naming the
// signal and the likely damage) or was stopped (UNAVAILABLE).
struct IsolatedCheck {
  enum Outcome { kClean = 0, kProblems = 1, kUnreadable = 2, kNoStore = 3 };
  Outcome outcome = kClean;
  std::string text;  // the report, or why the store cannot be read
};
Result<IsolatedCheck> check_store_in_child(const std::filesystem::path& dir, const CheckOptions& options = {});

// For the broker's start: OK when the store is clean or absent; else
// STORAGE_ERROR with the report.
Status check_store_isolated(const std::filesystem::path& dir, const CheckOptions& options = {});

}  // namespace lantoa::broker
