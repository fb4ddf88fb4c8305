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

// Empty when this process can read `path`; otherwise why not, for a person:
// "no such file: P", or "cannot read P: permission denied for user U (...)"
// (a service user that cannot enter /etc/... must not be told the file
// does not exist).
std::string why_unreadable(const std::filesystem::path& path);

// Reads a regular file of at most `max_bytes` (permission denied is named
// as such, with the user).
Result<FileContent> read_file(const std::filesystem::path& path, size_t max_bytes);

// Reads a secret (an API token, a feed secret, an admin token): the file's
// text without its trailing newline. KEY_FILE_INSECURE when others may read
// it (it must be chmod 600); INVALID_ARGUMENT when shorter than 16
// characters. `what` names it in messages ("API token").
Result<std::string> read_secret_file(const std::filesystem::path& path, const std::string& what);

// One process per data folder: an exclusive flock on `dir`/`name`, holding
// the owner's pid, kept for the life of the object (the kernel releases it
// when the process ends, however it ends). Two processes on one LMDB store
// would overwrite each other's state. UNAVAILABLE, naming `what` and the
// other's pid, when another process holds it.
class FolderLock {
 public:
  static Result<FolderLock> take(const std::filesystem::path& dir, std::string_view name, std::string_view what);
  FolderLock(FolderLock&& other) noexcept;
  FolderLock& operator=(FolderLock&&) = delete;
  FolderLock(const FolderLock&) = delete;
  ~FolderLock();

 private:
  explicit FolderLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace lantoa::internal
