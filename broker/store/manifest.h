// The manifest: a small file beside the LMDB store (manifest.json in the
// data folder) naming the store that belongs there and the highest broker
// sequence it is known to have committed. LMDB alone cannot tell a store
// that was deleted, emptied, replaced or rolled back from a new one; with the
// manifest, the broker refuses to start on such a store unless the operator
// says so (--accept-store-change), and then never hands out a broker
// sequence twice.
//
// The store id (16 random bytes, hex) is written in the store's `meta`
// database too. Two sequence marks:
// - `highest_seq`, committed: rewritten by the writer thread at most once a
//   second after commits and at a clean stop. It may lag the store (the
//   check is "the store holds at least this"), never lead it; a rollback to
//   within that last second is not seen.
// - `reserved_seq`, handed out at most: raised in blocks, and fsynced before
//   any commit would go above it. A store adopted after a loss continues
//   after it, so no broker sequence ever acknowledged is handed out again,
//   even after a crash.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "lantoa/status.h"

namespace lantoa::broker {

struct Manifest {
  static constexpr const char* kFileName = "manifest.json";

  std::string store_id;     // 32 hex digits; also meta["store_id"] in the store
  std::string member;       // the broker's id, for the operator reading the file
  uint64_t highest_seq = 0;   // highest broker sequence committed (at least)
  uint64_t reserved_seq = 0;  // no broker sequence above it was handed out
  int64_t updated_ms = 0;

  // Sequences reserved at a time (one manifest write per block).
  static constexpr uint64_t kReserveBlock = 1 << 16;

  // nullopt when the folder has none; STORAGE_ERROR when it is damaged.
  static Result<std::optional<Manifest>> load(const std::filesystem::path& dir);
  // Atomic replace (write, fsync, rename, fsync the folder), mode 0644.
  Status save(const std::filesystem::path& dir) const;
};

// What the store in the folder is, as found at start.
struct StoreFound {
  bool empty = true;        // no store_id: LMDB has just created it (or it was emptied)
  std::string store_id;     // when not empty
  uint64_t highest_seq = 0; // next_seq - 1
};

// The decision at start: false when `found` is the store `manifest` names
// and holds at least what it says; else STORAGE_ERROR saying what happened
// (missing or emptied, replaced, rolled back) and what to do. With
// `accept_change` the store is adopted instead: true (the caller then
// starts broker sequences after the manifest's reserved_seq).
Result<bool> check_store_against_manifest(const Manifest& manifest, const StoreFound& found,
                                          const std::filesystem::path& dir, bool accept_change);

}  // namespace lantoa::broker
