// Store: a thin RAII wrapper over LMDB (environment, transactions, named
// databases, cursors) that turns LMDB return codes into Status.
//
// Ownership: Env owns the MDB_env and must outlive every Txn and Cursor made
// from it. Txn owns an MDB_txn and aborts it on destruction unless committed.
// Cursor owns an MDB_cursor and must not outlive its Txn. All are move-only.
//
// Threads: an Env may be shared by threads. A Txn belongs to the thread that
// began it (the environment is opened with MDB_NOTLS so read transactions
// are not tied to thread-local slots, but a Txn must still be used by one
// thread at a time). LMDB allows one write transaction at a time; a second
// begin() for writing blocks until the first ends.
//
// Durability: commit() of a write transaction returns only after fsync,
// unless the environment was opened with `sync = false` (tests only).
//
// Errors: MDB_MAP_FULL becomes STORAGE_FULL ("storage full"); MDB_NOTFOUND is
// an empty optional on lookups; anything else is STORAGE_ERROR with LMDB's
// text.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "lantoa/status.h"

namespace lantoa::store {

// Maps an LMDB return code to a Status; `what` says what was being done.
Status from_mdb(int rc, std::string_view what);

struct EnvOptions {
  size_t map_size = size_t{1} << 30;  // maximum size of the data file, bytes
  unsigned max_dbs = 32;              // named databases
  unsigned max_readers = 126;
  bool sync = true;                   // fsync on commit; never false in production
  // Open an existing environment for reading only (checks and backups of a
  // store another process may be writing): nothing is created, and
  // open_db() finds databases without creating them.
  bool read_only = false;
};

// A named database handle, valid for the lifetime of its Env.
struct Dbi {
  MDB_dbi handle = 0;
};

class Txn;

class Env {
 public:
  // Opens (creating if needed) an environment in directory `dir`.
  static Result<Env> open(const std::filesystem::path& dir, const EnvOptions& options = {});

  Env(Env&& other) noexcept : env_(std::exchange(other.env_, nullptr)), options_(other.options_) {}
  Env& operator=(Env&& other) noexcept;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  ~Env();

  // Opens (creating when `create`) a named database. Runs its own write
  // transaction; call before concurrent use.
  Result<Dbi> open_db(std::string_view name, bool create = true);

  // Flushes buffers to disk (needed only when opened with sync = false).
  Status sync();

  const EnvOptions& options() const { return options_; }
  MDB_env* raw() const { return env_; }

 private:
  Env(MDB_env* env, EnvOptions options) : env_(env), options_(options) {}
  MDB_env* env_ = nullptr;
  EnvOptions options_;
};

enum class Access { kRead, kWrite };

class Txn {
 public:
  static Result<Txn> begin(Env& env, Access access);
  // A read-only snapshot: reading does not change the environment, so a
  // const Env is enough (a component that only reads holds a const store).
  static Result<Txn> read(const Env& env);

  Txn(Txn&& other) noexcept : txn_(std::exchange(other.txn_, nullptr)) {}
  Txn& operator=(Txn&& other) noexcept;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { abort(); }

  // The value stored under `key`, or nullopt. The view points into the map
  // and is valid until the transaction ends or writes.
  Result<std::optional<std::string_view>> get(Dbi db, std::string_view key) const;
  // Stores `value` under `key`, replacing any old value.
  Status put(Dbi db, std::string_view key, std::string_view value);
  // Stores only if `key` is absent; ALREADY_EXISTS otherwise.
  Status insert(Dbi db, std::string_view key, std::string_view value);
  // Removes `key`; returns whether it was there.
  Result<bool> erase(Dbi db, std::string_view key);

  // Commits; the transaction is over whatever the outcome.
  Status commit();
  // Aborts; a no-op when already ended.
  void abort();

  bool active() const { return txn_ != nullptr; }
  MDB_txn* raw() const { return txn_; }

 private:
  explicit Txn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn_ = nullptr;
};

// Iterates a database in key order (bytewise).
class Cursor {
 public:
  using Entry = std::pair<std::string_view, std::string_view>;

  static Result<Cursor> open(const Txn& txn, Dbi db);

  Cursor(Cursor&& other) noexcept : cursor_(std::exchange(other.cursor_, nullptr)) {}
  Cursor& operator=(Cursor&& other) noexcept;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor();

  // Each returns the entry moved to, nullopt at the end, or a failure.
  Result<std::optional<Entry>> first();
  Result<std::optional<Entry>> last();
  Result<std::optional<Entry>> next();
  Result<std::optional<Entry>> prev();
  // First entry with key >= `key`.
  Result<std::optional<Entry>> seek(std::string_view key);
  // Removes the entry under the cursor (write transactions only).
  Status erase_current();

 private:
  explicit Cursor(MDB_cursor* cursor) : cursor_(cursor) {}
  Result<std::optional<Entry>> move(MDB_val* key, MDB_cursor_op op);
  MDB_cursor* cursor_ = nullptr;
};

// Big-endian encoding of integers, so that LMDB's bytewise key order is
// numeric order.
std::string be64(uint64_t value);
uint64_t read_be64(std::string_view bytes);  // requires 8 bytes

}  // namespace lantoa::store
