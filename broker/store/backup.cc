#include "store/backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "lantoa/internal/file_util.h"
#include "lantoa/event.h"
#include "lantoa/internal/store.h"
#include "store/data_file.h"

namespace lantoa::broker {
namespace {

using E = lantoa::v1::Error;

Status fsync_path(const std::filesystem::path& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Status(E::IO_ERROR, "cannot open " + path.string() + " to sync it: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status(E::IO_ERROR, "cannot sync " + path.string() + ": " + std::strerror(err));
  return Status::Ok();
}

}  // namespace

Result<BackupInfo> backup_store(const std::filesystem::path& dir, const std::filesystem::path& out) {
  auto opened = open_store_read_only(dir);
  if (!opened) return opened.status();
  store::Env* env = &opened->env;
  std::error_code ec;
  if (std::filesystem::exists(out / "data.mdb", ec)) {
    return Status(E::ALREADY_EXISTS, out.string() + " already holds a data.mdb; give an empty or new folder");
  }
  std::filesystem::create_directories(out, ec);
  if (ec) return Status(E::IO_ERROR, "cannot create " + out.string() + ": " + ec.message());

  BackupInfo info;
  {
    // Read before the copy: the copy's own transaction sees at least this.
    auto meta = env->open_db("meta", false);
    if (!meta) return meta.status();
    auto txn = store::Txn::begin(*env, store::Access::kRead);
    if (!txn) return txn.status();
    auto id = txn->get(*meta, "store_id");
    auto next = txn->get(*meta, "next_seq");
    if (!id || !next) return !id ? id.status() : next.status();
    if (*id) info.store_id = std::string(**id);
    if (*next && (*next)->size() == 8) info.highest_seq = store::read_be64(**next) - 1;
  }
  if (int rc = mdb_env_copy2(env->raw(), out.c_str(), MDB_CP_COMPACT); rc != 0) {
    return store::from_mdb(rc, "copying the store to " + out.string());
  }
  LANTOA_RETURN_IF_ERROR(fsync_path(out / "data.mdb", O_RDONLY));
  info.bytes = std::filesystem::file_size(out / "data.mdb", ec);
  nlohmann::json j = {{"store_id", info.store_id},
                      {"highest_seq", info.highest_seq},
                      {"taken_ms", unix_now_ms()},
                      {"from", std::filesystem::absolute(dir).string()}};
  LANTOA_RETURN_IF_ERROR(internal::write_file_atomic(out / "backup.json", j.dump(2) + "\n", 0644, true));
  LANTOA_RETURN_IF_ERROR(fsync_path(out, O_RDONLY | O_DIRECTORY));
  return info;
}

}  // namespace lantoa::broker
