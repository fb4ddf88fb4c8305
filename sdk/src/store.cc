#include "lantoa/internal/store.h"

#include <system_error>

namespace lantoa::store {
namespace {

MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view from_val(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

}  // namespace

Status from_mdb(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS) return Status::Ok();
  std::string context(what);
  switch (rc) {
    case MDB_MAP_FULL:
      return Status(v1::Error::STORAGE_FULL, "storage full while " + context +
                                                 ": the LMDB map has no room left (raise map_size or let retention "
                                                 "free space)");
    case MDB_TXN_FULL:
      return Status(v1::Error::STORAGE_FULL, "storage full while " + context + ": too many changes in one transaction");
    case MDB_NOTFOUND:
      return Status(v1::Error::NOT_FOUND, context + ": not found");
    case MDB_KEYEXIST:
      return Status(v1::Error::ALREADY_EXISTS, context + ": key exists");
    default:
      return Status(v1::Error::STORAGE_ERROR, context + ": " + mdb_strerror(rc));
  }
}

// --- Env ---

Result<Env> Env::open(const std::filesystem::path& dir, const EnvOptions& options) {
  std::error_code ec;
  if (!options.read_only) std::filesystem::create_directories(dir, ec);
  if (ec) return Status(v1::Error::IO_ERROR, "cannot create data folder " + dir.string() + ": " + ec.message());
  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env); rc != 0) return from_mdb(rc, "creating LMDB environment");
  Env owner(env, options);  // closes env on any failure below
  if (int rc = mdb_env_set_mapsize(env, options.map_size); rc != 0) return from_mdb(rc, "setting map size");
  if (int rc = mdb_env_set_maxdbs(env, options.max_dbs); rc != 0) return from_mdb(rc, "setting max dbs");
  if (int rc = mdb_env_set_maxreaders(env, options.max_readers); rc != 0) return from_mdb(rc, "setting max readers");
  unsigned flags = MDB_NOTLS;
  if (!options.sync) flags |= MDB_NOSYNC;
  if (options.read_only) flags |= MDB_RDONLY;
  if (int rc = mdb_env_open(env, dir.c_str(), flags, 0600); rc != 0) {
    return from_mdb(rc, "opening LMDB environment in " + dir.string());
  }
  return owner;
}

Env& Env::operator=(Env&& other) noexcept {
  if (this != &other) {
    if (env_) mdb_env_close(env_);
    env_ = std::exchange(other.env_, nullptr);
    options_ = other.options_;
  }
  return *this;
}

Env::~Env() {
  if (env_) mdb_env_close(env_);
}

Result<Dbi> Env::open_db(std::string_view name, bool create) {
  if (options_.read_only) create = false;
  auto txn = Txn::begin(*this, options_.read_only ? Access::kRead : Access::kWrite);
  if (!txn) return txn.status();
  Dbi db;
  std::string n(name);
  if (int rc = mdb_dbi_open(txn->raw(), n.c_str(), create ? MDB_CREATE : 0u, &db.handle); rc != 0) {
    return from_mdb(rc, "opening database \"" + n + "\"");
  }
  LANTOA_RETURN_IF_ERROR(txn->commit());
  return db;
}

Status Env::sync() { return from_mdb(mdb_env_sync(env_, 1), "syncing LMDB environment"); }

// --- Txn ---

Result<Txn> Txn::begin(Env& env, Access access) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env.raw(), nullptr, access == Access::kRead ? MDB_RDONLY : 0u, &txn);
  if (rc != 0) return from_mdb(rc, "beginning a transaction");
  return Txn(txn);
}

Result<Txn> Txn::read(const Env& env) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env.raw(), nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return from_mdb(rc, "beginning a read transaction");
  return Txn(txn);
}

Txn& Txn::operator=(Txn&& other) noexcept {
  if (this != &other) {
    abort();
    txn_ = std::exchange(other.txn_, nullptr);
  }
  return *this;
}

Result<std::optional<std::string_view>> Txn::get(Dbi db, std::string_view key) const {
  MDB_val k = to_val(key);
  MDB_val v{};
  int rc = mdb_get(txn_, db.handle, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != 0) return from_mdb(rc, "reading a key");
  return std::optional<std::string_view>(from_val(v));
}

Status Txn::put(Dbi db, std::string_view key, std::string_view value) {
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  return from_mdb(mdb_put(txn_, db.handle, &k, &v, 0), "writing a key");
}

Status Txn::insert(Dbi db, std::string_view key, std::string_view value) {
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  return from_mdb(mdb_put(txn_, db.handle, &k, &v, MDB_NOOVERWRITE), "inserting a key");
}

Result<bool> Txn::erase(Dbi db, std::string_view key) {
  MDB_val k = to_val(key);
  int rc = mdb_del(txn_, db.handle, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return from_mdb(rc, "deleting a key");
  return true;
}

Status Txn::commit() {
  if (!txn_) return Status(v1::Error::INTERNAL, "commit of a transaction that has ended");
  // mdb_txn_commit frees the transaction whether or not it succeeds.
  return from_mdb(mdb_txn_commit(std::exchange(txn_, nullptr)), "committing a transaction");
}

void Txn::abort() {
  if (txn_) mdb_txn_abort(std::exchange(txn_, nullptr));
}

// --- Cursor ---

Result<Cursor> Cursor::open(const Txn& txn, Dbi db) {
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn.raw(), db.handle, &cursor); rc != 0) return from_mdb(rc, "opening a cursor");
  return Cursor(cursor);
}

Cursor& Cursor::operator=(Cursor&& other) noexcept {
  if (this != &other) {
    if (cursor_) mdb_cursor_close(cursor_);
    cursor_ = std::exchange(other.cursor_, nullptr);
  }
  return *this;
}

Cursor::~Cursor() {
  if (cursor_) mdb_cursor_close(cursor_);
}

Result<std::optional<Cursor::Entry>> Cursor::move(MDB_val* key, MDB_cursor_op op) {
  MDB_val k = key ? *key : MDB_val{};
  MDB_val v{};
  int rc = mdb_cursor_get(cursor_, &k, &v, op);
  if (rc == MDB_NOTFOUND) return std::optional<Entry>();
  if (rc != 0) return from_mdb(rc, "moving a cursor");
  return std::optional<Entry>(Entry{from_val(k), from_val(v)});
}

Result<std::optional<Cursor::Entry>> Cursor::first() { return move(nullptr, MDB_FIRST); }
Result<std::optional<Cursor::Entry>> Cursor::last() { return move(nullptr, MDB_LAST); }
Result<std::optional<Cursor::Entry>> Cursor::next() { return move(nullptr, MDB_NEXT); }
Result<std::optional<Cursor::Entry>> Cursor::prev() { return move(nullptr, MDB_PREV); }
Result<std::optional<Cursor::Entry>> Cursor::seek(std::string_view key) {
  MDB_val k = to_val(key);
  return move(&k, MDB_SET_RANGE);
}

Status Cursor::erase_current() { return from_mdb(mdb_cursor_del(cursor_, 0), "deleting at a cursor"); }

// --- Integer keys ---

std::string be64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(value & 0xFF);
    value >>= 8;
  }
  return out;
}

uint64_t read_be64(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

}  // namespace lantoa::store
