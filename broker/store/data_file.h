// The LMDB data file (data.mdb) checked against LMDB's own header before it
// is mapped. LMDB maps the file and trusts it: a file cut short (a failed
// copy, a full disk, a bad restore) is read past its end and the process
// dies of SIGBUS; a file that is not LMDB's is taken for an empty store. Both
// are refused here with a clear reason instead.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "lantoa/internal/store.h"
#include "lantoa/status.h"

namespace lantoa::broker {

struct DataFileInfo {
  uint64_t file_bytes = 0;  // size on disk
  uint64_t used_bytes = 0;  // (last page + 1) x page size, by the newest valid header
  uint64_t txnid = 0;       // the last committed transaction
  uint32_t page_size = 0;
  uint64_t map_size = 0;    // the map size the writing broker set (at least file_bytes)
};

// Reads the two header pages of `file`. nullopt when the file is absent or
// empty (LMDB would start a new store there: whether that is allowed is the
// manifest's decision, see manifest.h). STORAGE_ERROR naming the file and
// the cause when it is not an LMDB file (or of another LMDB version) or is
// clearly shorter than its header says. (LMDB may leave a few freed pages
// at the end unwritten, so a shortfall of up to max(16 pages, 1/8) is let
// through; a page missing beyond that is met by the start check, which
// reads every record in a child process and names SIGBUS.)
Result<std::optional<DataFileInfo>> inspect_data_file(const std::filesystem::path& file);

// The store in `dir`, checked as above, opened for reading only (beside a
// broker that may be writing it: `check`, `backup`). NOT_FOUND when the
// folder holds no store.
struct ReadOnlyStore {
  store::Env env;
  DataFileInfo file;
};
Result<ReadOnlyStore> open_store_read_only(const std::filesystem::path& dir);

}  // namespace lantoa::broker
