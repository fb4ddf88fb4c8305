// `lantoa-broker backup OUT`: a consistent copy of a store, taken while the
// broker runs (LMDB's own copy, compacted, from one read transaction).
//
// OUT receives data.mdb and backup.json (the store id and the highest broker
// sequence at the time of the copy, at most). To restore, stop the broker and
// put OUT/data.mdb in the data folder: the folder's manifest then sees a
// store that went back, and the broker refuses it until started once with
// --accept-store-change (broker sequences continue after the highest ever
// handed out, so a subscriber's position never names two events).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "lantoa/status.h"

namespace lantoa::broker {

struct BackupInfo {
  std::string store_id;
  uint64_t highest_seq = 0;  // the copy holds at least this
  uint64_t bytes = 0;        // size of the copy
};

// ALREADY_EXISTS when OUT already holds a data.mdb; NOT_FOUND when `dir`
// holds no store.
Result<BackupInfo> backup_store(const std::filesystem::path& dir, const std::filesystem::path& out);

}  // namespace lantoa::broker
