// Small file helpers shared by the SDK (internal, not installed).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "lantoa/status.h"

namespace lantoa::internal {

// Writes `content` to `path` with permission bits `mode`, atomically: a
// temporary file in the same folder is written and fsynced, then renamed (or,
// without `overwrite`, linked so that an existing file is never replaced:
// ALREADY_EXISTS). The folder is fsynced afterwards.
Status write_file_atomic(const std::filesystem::path& path, std::string_view content, mode_t mode,
                         bool overwrite);

struct FileContent {
  std::string data;
  mode_t mode = 0;  // permission bits as found on disk
};

// Reads a regular file of at most `max_bytes`.
Result<FileContent> read_file(const std::filesystem::path& path, size_t max_bytes);

}  // namespace lantoa::internal
