// StorageFaults: where tests make the store fail as a disk would. LMDB does
// its own writes and fsyncs; when one fails, mdb_txn_commit aborts the
// transaction and returns the errno. A StorageFaults answers, before each
// commit (and each manifest write), with the errno to fail it with, so that
// tests can put EIO, ENOSPC or a failed fsync anywhere in the writer's life
// and see what it does. Production runs with none.
#pragma once

namespace lantoa::broker {

class StorageFaults {
 public:
  virtual ~StorageFaults() = default;
  // 0 to let the commit through; else the errno it fails with.
  virtual int before_commit() { return 0; }
  virtual int before_manifest_write() { return 0; }
};

}  // namespace lantoa::broker
