#include "store/data_file.h"

#include <cstring>
#include <fstream>

namespace lantoa::broker {
namespace {

using E = lantoa::v1::Error;

// LMDB 0.9's file header (mdb.c, 64-bit builds): pages 0 and 1 each start
// with a 16-byte page header followed by an MDB_meta {magic u32, version
// u32, address ptr, mapsize size_t, MDB_db dbs[2] (48 bytes each; the page
// size is dbs[0].md_pad), last_pg u64, txnid u64}; the newer of the two (by
// transaction id; page 0 on a tie) is the current one.
static_assert(sizeof(void*) == 8 && sizeof(size_t) == 8, "the LMDB header layout below is that of 64-bit builds");
constexpr uint32_t kMagic = 0xBEEFC0DE;
constexpr uint32_t kDataVersion = 1;
constexpr size_t kPageHeader = 16;
constexpr size_t kMetaBytes = 136;  // up to the end of mm_txnid
constexpr size_t kMagicAt = 0, kVersionAt = 4, kMapSizeAt = 16, kPageSizeAt = 24, kLastPageAt = 120, kTxnIdAt = 128;

template <class T>
T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

struct Meta {
  bool valid = false;
  bool lmdb = false;  // the magic is LMDB's (the version may still differ)
  uint32_t version = 0;
  uint64_t map_size = 0;
  uint32_t page_size = 0;
  uint64_t last_page = 0;
  uint64_t txnid = 0;
};

Meta read_meta(std::ifstream& in, uint64_t offset) {
  char buf[kPageHeader + kMetaBytes];
  in.clear();
  in.seekg(static_cast<std::streamoff>(offset));
  if (!in.read(buf, sizeof buf)) return {};
  const char* m = buf + kPageHeader;
  Meta meta;
  meta.page_size = load<uint32_t>(m + kPageSizeAt);
  meta.map_size = load<uint64_t>(m + kMapSizeAt);
  meta.lmdb = load<uint32_t>(m + kMagicAt) == kMagic;
  meta.version = load<uint32_t>(m + kVersionAt);
  meta.last_page = load<uint64_t>(m + kLastPageAt);
  meta.txnid = load<uint64_t>(m + kTxnIdAt);
  const bool page_size_ok = meta.page_size >= 512 && meta.page_size <= (1u << 16) &&
                            (meta.page_size & (meta.page_size - 1)) == 0;
  meta.valid = load<uint32_t>(m + kMagicAt) == kMagic && load<uint32_t>(m + kVersionAt) == kDataVersion &&
               page_size_ok && meta.last_page >= 1;
  return meta;
}

}  // namespace

Result<std::optional<DataFileInfo>> inspect_data_file(const std::filesystem::path& file) {
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (!std::filesystem::exists(status)) return std::optional<DataFileInfo>();
  if (!std::filesystem::is_regular_file(status)) {
    return Status(E::STORAGE_ERROR, file.string() + " is not a regular file");
  }
  const uint64_t size = std::filesystem::file_size(file, ec);
  if (ec) return Status(E::STORAGE_ERROR, "cannot read the size of " + file.string() + ": " + ec.message());
  if (size == 0) return std::optional<DataFileInfo>();
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status(E::STORAGE_ERROR, "cannot open " + file.string() + " to check it");
  Meta first = read_meta(in, 0);
  // Page 1 sits one page in; the page size is in page 0's header (or, when
  // that page is damaged, the usual 4096).
  Meta second = read_meta(in, first.valid ? first.page_size : 4096);
  if (!first.valid && !second.valid && (first.lmdb || second.lmdb) &&
      (first.version != kDataVersion || second.version != kDataVersion)) {
    return Status(E::STORAGE_ERROR, file.string() + " is an LMDB store of data version " +
                                        std::to_string(first.lmdb ? first.version : second.version) +
                                        ", which this build of LMDB (version " + std::to_string(kDataVersion) +
                                        ") cannot read; use the LMDB it was written with");
  }
  if (!first.valid && !second.valid) {
    return Status(E::STORAGE_ERROR, file.string() + " (" + std::to_string(size) +
                                        " bytes) is not an LMDB store: neither header page is valid. Restore it "
                                        "from a backup (lantoa-broker backup), or move it away to start empty");
  }
  const Meta& current = !second.valid || (first.valid && first.txnid >= second.txnid) ? first : second;
  DataFileInfo info;
  info.file_bytes = size;
  info.page_size = current.page_size;
  info.txnid = current.txnid;
  info.used_bytes = (current.last_page + 1) * uint64_t{current.page_size};
  info.map_size = std::max<uint64_t>(current.map_size, size);
  const uint64_t tolerated = std::max<uint64_t>(16 * uint64_t{current.page_size}, info.used_bytes / 8);
  if (size + tolerated < info.used_bytes) {
    return Status(E::STORAGE_ERROR,
                  file.string() + " was cut short: it is " + std::to_string(size) + " bytes but its LMDB header says " +
                      "it holds " + std::to_string(info.used_bytes) + " (transaction " + std::to_string(info.txnid) +
                      "). A copy or a restore did not finish, or the disk filled; starting on it would crash. " +
                      "Restore it from a backup (lantoa-broker backup)");
  }
  return std::optional<DataFileInfo>(info);
}

Result<ReadOnlyStore> open_store_read_only(const std::filesystem::path& dir) {
  auto file = inspect_data_file(dir / "data.mdb");
  if (!file) return file.status();
  if (!*file) return Status(E::NOT_FOUND, "there is no store in " + dir.string() + " (no data.mdb, or it is empty)");
  store::EnvOptions options;
  options.read_only = true;
  options.map_size = std::max<uint64_t>((*file)->map_size, size_t{1} << 20);  // the writer's, so it can grow
  auto env = store::Env::open(dir, options);
  if (!env) return env.status();
  return ReadOnlyStore{std::move(*env), **file};
}

}  // namespace lantoa::broker
