#include "store/check.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "lantoa/encoding.h"
#include "lantoa/event.h"
#include "lantoa/internal/store.h"
#include "lantoa/trust.h"
#include "lantoa/v1/cert.pb.h"
#include "store/data_file.h"
#include "store/manifest.h"
#include "store/records.pb.h"

namespace lantoa::broker {
namespace {

using E = lantoa::v1::Error;
using store::be64;
using store::read_be64;

std::string seq_text(uint64_t seq) { return "broker sequence " + std::to_string(seq); }

// Walks one database, calling `visit(key, value)` for each entry; a cursor
// failure (a damaged page) is a problem, and ends that database's walk.
// A database with this many problems is too damaged to be worth walking on.
constexpr uint64_t kGiveUpAfter = 1000;

// LMDB ends a read transaction that met a damaged page; `failed` then asks
// for a new one before the next database, so one damaged tree does not hide
// the others.
template <class F>
void walk(const store::Txn& txn, store::Dbi db, const std::string& name, CheckReport& report, bool& failed, F visit) {
  uint64_t n = 0;
  const uint64_t problems_before = report.problem_count;
  auto cursor = store::Cursor::open(txn, db);
  if (!cursor) {
    failed = true;
    report.add(name + ": cannot be read: " + cursor.status().message());
  } else {
    for (auto e = cursor->first();; e = cursor->next()) {
      if (!e) {
        failed = true;
        report.add(name + ": reading stopped after " + std::to_string(n) + " entries: " + e.status().message());
        break;
      }
      if (!e->has_value()) break;
      if (++n > report.walk_limit) {
        report.add(name + ": walk abandoned after " + std::to_string(n) +
                   " entries, more than the file can hold (a loop in a damaged tree)");
        break;
      }
      visit((*e)->first, (*e)->second);
      if (failed) {
        report.add(name + ": walk stopped after " + std::to_string(n) + " entries: a lookup met a damaged page");
        break;
      }
      if (report.problem_count - problems_before >= kGiveUpAfter) {
        report.add(name + ": walk abandoned after " + std::to_string(kGiveUpAfter) + " problems (the tree is damaged)");
        break;
      }
    }
  }
  report.entries[name] = n;
}

}  // namespace

void CheckReport::add(std::string problem) {
  ++problem_count;
  // At most ten listed per database, so that one badly damaged database
  // does not hide the others.
  const std::string db = problem.substr(0, problem.find(':'));
  if (listed_[db]++ < 10 || problem.find("walk abandoned") != std::string::npos) problems.push_back(std::move(problem));
}

std::string CheckReport::to_text() const {
  std::string out = "store " + (store_id.empty() ? std::string("(no id)") : store_id) + ", broker sequences up to " +
                    std::to_string(highest_seq) + "\n";
  for (const auto& [name, n] : entries) out += "  " + name + ": " + std::to_string(n) + " entries\n";
  out += "  signatures verified: " + std::to_string(events_verified) + "\n";
  if (clean()) return out + "OK: no problem found\n";
  for (const auto& p : problems) out += "PROBLEM " + p + "\n";
  if (problem_count > problems.size()) {
    out += "... and " + std::to_string(problem_count - problems.size()) + " more\n";
  }
  return out + std::to_string(problem_count) + " problem(s) found\n";
}

Result<CheckReport> check_store(const std::filesystem::path& dir, const CheckOptions& options) {
  auto opened = open_store_read_only(dir);
  if (!opened) return opened.status();
  store::Env* env = &opened->env;
  CheckReport report;
  // Every entry takes at least 8 bytes of a page: a walk that meets more
  // than the file can hold is going round a loop in a damaged tree.
  report.walk_limit = opened->file.file_bytes / 8 + 1;
  std::map<std::string, store::Dbi> dbs;
  for (const char* name : {"meta", "events", "ids", "origins", "chains", "by_time", "subs", "sub_names", "queue",
                           "refs", "embargo"}) {
    auto db = env->open_db(name, false);
    if (!db) {
      report.add(std::string(name) + ": missing (" + db.status().message() + ")");
      continue;
    }
    dbs[name] = *db;
  }
  if (!report.clean()) return report;
  // Optional: stores written before it existed have none.
  std::optional<store::Dbi> spread_db;
  if (auto spread = env->open_db("spread", false); spread.ok()) spread_db = *spread;
  std::optional<store::Dbi> forgotten_db;
  if (auto forgotten = env->open_db("forgotten", false); forgotten.ok()) forgotten_db = *forgotten;
  // Read before the snapshot: a manifest written after it would look ahead of the store.
  auto manifest = options.check_identity ? Manifest::load(dir) : Result<std::optional<Manifest>>(std::nullopt);
  auto txn = store::Txn::begin(*env, store::Access::kRead);
  if (!txn) return txn.status();
  bool failed = false;
  auto renew = [&]() -> Status {  // before each database: a fresh transaction if the last one failed
    if (!failed) return Status::Ok();
    txn->abort();
    txn = store::Txn::begin(*env, store::Access::kRead);
    failed = false;
    return txn.status();
  };
  // nullopt when the lookup failed (reported); else the value, if present.
  auto get = [&](const char* db, std::string_view key) -> std::optional<std::optional<std::string_view>> {
    auto v = txn->get(dbs[db], key);
    if (!v) {
      failed = true;
      report.add(std::string(db) + ": lookup failed: " + v.status().message());
      return std::nullopt;
    }
    return *v;
  };

  // meta
  uint64_t next_seq = 1;
  LANTOA_RETURN_IF_ERROR(renew());
  walk(*txn, dbs["meta"], "meta", report, failed, [&](std::string_view key, std::string_view value) {
    if (key == "format" && value != "1") report.add("meta: layout format \"" + std::string(value) + "\" is not 1");
    if ((key == "next_seq" || key == "next_sub") && value.size() != 8) {
      report.add("meta: " + std::string(key) + " is " + std::to_string(value.size()) + " bytes, not 8");
    }
    if (key == "next_seq" && value.size() == 8) next_seq = read_be64(value);
    if (key == "store_id") report.store_id = std::string(value);
  });
  report.highest_seq = next_seq - 1;
  if (options.check_identity && report.store_id.empty()) {
    report.add("meta: no store_id (written at the first start of a broker of this version)");
  }
  if (!manifest) {
    report.add("manifest: " + manifest.status().message());
  } else if (*manifest) {
    if ((*manifest)->store_id != report.store_id) {
      report.add("manifest: names store " + (*manifest)->store_id + ", but the store is " + report.store_id);
    } else if ((*manifest)->highest_seq > report.highest_seq) {
      report.add("manifest: says broker sequences up to " + std::to_string((*manifest)->highest_seq) +
                 " were committed, but the store holds up to " + std::to_string(report.highest_seq));
    }
  }

  // chains
  std::unordered_map<std::string, std::string> sign_keys;  // chain key -> the leaf's signing key
  LANTOA_RETURN_IF_ERROR(renew());
  walk(*txn, dbs["chains"], "chains", report, failed, [&](std::string_view key, std::string_view value) {
    v1::CertificateChain chain;
    if (!chain.ParseFromArray(value.data(), static_cast<int>(value.size())) || chain.certificates_size() == 0) {
      return report.add("chains: the chain under " + to_hex(key) + " does not parse");
    }
    auto leaf = decode_certificate(chain.certificates(0));
    if (!leaf) return report.add("chains: the leaf certificate under " + to_hex(key) + ": " + leaf.status().message());
    sign_keys.emplace(std::string(key), leaf->sign_key());
  });

  // events
  LANTOA_RETURN_IF_ERROR(renew());
  walk(*txn, dbs["events"], "events", report, failed, [&](std::string_view key, std::string_view value) {
    if (key.size() != 8) return report.add("events: a key of " + std::to_string(key.size()) + " bytes");
    const uint64_t seq = read_be64(key);
    const std::string where = "events: " + seq_text(seq);
    if (seq >= next_seq) report.add(where + " is at or above next_seq " + std::to_string(next_seq));
    records::StoredEvent rec;
    if (!rec.ParseFromArray(value.data(), static_cast<int>(value.size()))) return report.add(where + " does not parse");
    auto envelope = parse_signed_event(rec.envelope());
    if (!envelope) return report.add(where + ": its envelope: " + envelope.status().message());
    if (event_id(envelope->event()) != rec.id()) {
      return report.add(where + ": its id " + to_hex(rec.id()) + " is not the hash of its bytes (altered)");
    }
    if (envelope->signer_key_id() != rec.signer_key_id()) report.add(where + ": signer key id differs from its envelope");
    if (auto id = get("ids", rec.id()); id && (!*id || read_be64(**id) != seq)) {
      report.add(where + ": ids does not map its id " + to_hex(rec.id()) + " to it");
    }
    if (auto t = get("by_time", be64(static_cast<uint64_t>(rec.accepted_ms())) + be64(seq)); t && !*t) {
      report.add(where + ": no by_time entry");
    }
    const std::string chain_key = rec.chain_id().empty() ? rec.signer_key_id() : rec.chain_id();
    auto key_it = sign_keys.find(chain_key);
    if (key_it == sign_keys.end()) return report.add(where + ": its certificate chain is not in chains");
    if (options.verify_signatures) {
      if (Status s = check_event_signature(*envelope, key_it->second); !s.ok()) {
        return report.add(where + ": " + s.message());
      }
      ++report.events_verified;
    }
  });

  LANTOA_RETURN_IF_ERROR(renew());
  walk(*txn, dbs["ids"], "ids", report, failed, [&](std::string_view key, std::string_view value) {
    if (value.size() == 16 && read_be64(value) == 0) {  // remembered after retention removed the event
      if (!forgotten_db) return report.add("ids: " + to_hex(key) + " is remembered but there is no forgotten database");
      auto f = txn->get(*forgotten_db, std::string(value.substr(8)) + std::string(key));
      if (!f) {
        failed = true;
        return report.add("forgotten: lookup failed: " + f.status().message());
      }
      if (!f->has_value()) report.add("ids: " + to_hex(key) + " is remembered but forgotten has no entry for it");
      return;
    }
    if (value.size() != 8) return report.add("ids: the value under " + to_hex(key) + " is not 8 bytes");
    if (auto ev = get("events", value); ev && !*ev) {
      report.add("ids: " + to_hex(key) + " points at " + seq_text(read_be64(value)) + ", which is not in events");
    }
  });
  LANTOA_RETURN_IF_ERROR(renew());
  walk(*txn, dbs["by_time"], "by_time", report, failed, [&](std::string_view key, std::string_view) {
    if (key.size() != 16) return report.add("by_time: a key of " + std::to_string(key.size()) + " bytes");
    if (auto ev = get("events", key.substr(8)); ev && !*ev) {
      report.add("by_time: points at " + seq_text(read_be64(key.substr(8))) + ", which is not in events");
    }
  });
  LANTOA_RETURN_IF_ERROR(renew());
  walk(*txn, dbs["embargo"], "embargo", report, failed, [&](std::string_view key, std::string_view) {
    if (key.size() != 16) return report.add("embargo: a key of " + std::to_string(key.size()) + " bytes");
    if (auto ev = get("events", key.substr(8)); ev && !*ev) {
      report.add("embargo: holds " + seq_text(read_be64(key.substr(8))) + ", which is not in events");
    }
  });
  // spread: the acks kept for the spread of events (absent in stores
  // written before it existed). Read in full, like every database, so that
  // damage there is found at start, not later.
  if (spread_db) {
    LANTOA_RETURN_IF_ERROR(renew());
    walk(*txn, *spread_db, "spread", report, failed, [&](std::string_view key, std::string_view value) {
      if (key.size() != 16 || value.size() != 8) {
        return report.add("spread: a record of " + std::to_string(key.size()) + " + " + std::to_string(value.size()) +
                          " bytes, not 16 + 8");
      }
      if (auto ev = get("events", key.substr(0, 8)); ev && !*ev) {
        report.add("spread: an ack of " + seq_text(read_be64(key.substr(0, 8))) + ", which is not in events");
      }
    });
  }
  // forgotten: ids remembered until the replay horizon (absent in older stores).
  if (forgotten_db) {
    LANTOA_RETURN_IF_ERROR(renew());
    walk(*txn, *forgotten_db, "forgotten", report, failed, [&](std::string_view key, std::string_view value) {
      if (key.size() != 8 + 32 || !value.empty()) {
        return report.add("forgotten: a record of " + std::to_string(key.size()) + " + " +
                          std::to_string(value.size()) + " bytes, not 40 + 0");
      }
      auto id = get("ids", key.substr(8));
      if (id && (!*id || (*id)->size() != 16 || (*id)->substr(8) != key.substr(0, 8))) {
        report.add("forgotten: " + to_hex(key.substr(8)) + " is not remembered in ids until the same time");
      }
    });
  }
  LANTOA_RETURN_IF_ERROR(renew());
  walk(*txn, dbs["origins"], "origins", report, failed, [&](std::string_view key, std::string_view value) {
    if (value.size() != 8 && value.size() != 8 + 1024 / 8) {
      report.add("origins: the window of " + std::string(key) + " is " + std::to_string(value.size()) + " bytes");
    }
  });

  // subscriptions
  LANTOA_RETURN_IF_ERROR(renew());
  walk(*txn, dbs["subs"], "subs", report, failed, [&](std::string_view key, std::string_view value) {
    records::SubscriptionRecord rec;
    if (key.size() != 8 || !rec.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      return report.add("subs: the record under " + to_hex(key) + " does not parse");
    }
    if (rec.id() != read_be64(key)) report.add("subs: record " + std::to_string(rec.id()) + " is under another key");
    auto name = get("sub_names", rec.owner() + '\0' + rec.name());
    if (name && (!*name || read_be64(**name) != rec.id())) {
      report.add("subs: sub_names does not map " + rec.owner() + "/" + rec.name() + " to it");
    }
  });
  LANTOA_RETURN_IF_ERROR(renew());
  walk(*txn, dbs["sub_names"], "sub_names", report, failed, [&](std::string_view key, std::string_view value) {
    if (value.size() != 8) return report.add("sub_names: a value of " + std::to_string(value.size()) + " bytes");
    if (auto sub = get("subs", value); sub && !*sub) {
      report.add("sub_names: names subscription " + std::to_string(read_be64(value)) + ", which is not in subs (" +
                 std::string(key.substr(0, key.find('\0'))) + ")");
    }
  });

  // queues and reference counts
  std::unordered_map<uint64_t, uint64_t> counted;  // seq -> queue entries
  LANTOA_RETURN_IF_ERROR(renew());
  walk(*txn, dbs["queue"], "queue", report, failed, [&](std::string_view key, std::string_view) {
    if (key.size() != 17) return report.add("queue: a key of " + std::to_string(key.size()) + " bytes");
    const uint64_t sub = read_be64(key.substr(0, 8));
    const uint64_t seq = read_be64(key.substr(9, 8));
    ++counted[seq];
    if (auto s = get("subs", key.substr(0, 8)); s && !*s) {
      report.add("queue: an entry of subscription " + std::to_string(sub) + ", which is not in subs");
    }
    if (auto ev = get("events", key.substr(9, 8)); ev && !*ev) {
      report.add("queue: subscription " + std::to_string(sub) + " holds " + seq_text(seq) + ", not in events");
    }
  });
  LANTOA_RETURN_IF_ERROR(renew());
  walk(*txn, dbs["refs"], "refs", report, failed, [&](std::string_view key, std::string_view value) {
    if (key.size() != 8 || value.size() != 8) return report.add("refs: an entry of the wrong shape");
    const uint64_t seq = read_be64(key);
    auto it = counted.find(seq);
    const uint64_t have = it == counted.end() ? 0 : it->second;
    if (read_be64(value) != have) {
      report.add("refs: " + seq_text(seq) + " counts " + std::to_string(read_be64(value)) + " references, but " +
                 std::to_string(have) + " queue entries hold it");
    }
    if (it != counted.end()) counted.erase(it);
  });
  for (const auto& [seq, n] : counted) {
    report.add("refs: " + seq_text(seq) + " is held by " + std::to_string(n) + " queue entries but has no count");
  }
  return report;
}

Result<IsolatedCheck> check_store_in_child(const std::filesystem::path& dir, const CheckOptions& options) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status(E::INTERNAL, std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return Status(E::INTERNAL, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    std::signal(SIGINT, SIG_DFL);  // a stop request ends the check
    std::signal(SIGTERM, SIG_DFL);
    auto report = check_store(dir, options);
    IsolatedCheck out;
    if (!report) {
      out.outcome = report.status().code() == E::NOT_FOUND ? IsolatedCheck::kNoStore : IsolatedCheck::kUnreadable;
      out.text = report.status().message();
    } else {
      out.outcome = report->clean() ? IsolatedCheck::kClean : IsolatedCheck::kProblems;
      out.text = report->to_text();
    }
    for (size_t off = 0; off < out.text.size();) {
      ssize_t n = ::write(fds[1], out.text.data() + off, out.text.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::_exit(static_cast<int>(out.outcome));
  }
  ::close(fds[1]);
  IsolatedCheck out;
  char buf[4096];
  bool interrupted = false;
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) {  // SIGINT or SIGTERM: the operator stops us
      interrupted = true;
      ::kill(pid, SIGTERM);
      continue;
    }
    if (n < 0) break;
    out.text.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string store = (dir / "data.mdb").string();
  if (interrupted) return Status(E::UNAVAILABLE, "stopped while checking the store " + store);
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    if (sig == SIGBUS || sig == SIGSEGV || sig == SIGABRT || sig == SIGILL || sig == SIGFPE) {
      return Status(E::STORAGE_ERROR,
                    "reading the store " + store + " crashed (signal " + std::to_string(sig) + ", " + strsignal(sig) +
                        (sig == SIGBUS ? ": a page it needs is beyond the end of the file, which was cut short"
                                       : ": LMDB met a page it cannot read") +
                        "): it is damaged. Restore it from a backup (lantoa-broker backup)");
    }
    return Status(E::UNAVAILABLE, "the check of the store " + store + " was stopped from outside (signal " +
                                      std::to_string(sig) + ", " + strsignal(sig) + "), not by damage");
  }
  out.outcome = static_cast<IsolatedCheck::Outcome>(WIFEXITED(status) ? WEXITSTATUS(status) : 2);
  return out;
}

Status check_store_isolated(const std::filesystem::path& dir, const CheckOptions& options) {
  auto checked = check_store_in_child(dir, options);
  if (!checked) return checked.status();
  switch (checked->outcome) {
    case IsolatedCheck::kClean:
    case IsolatedCheck::kNoStore:
      return Status::Ok();
    case IsolatedCheck::kUnreadable:
      return Status(E::STORAGE_ERROR, checked->text);
    default:
      return Status(E::STORAGE_ERROR, "the store " + (dir / "data.mdb").string() +
                                           " is damaged; nothing was changed. Restore it from a backup (lantoa-broker "
                                           "backup), or see `lantoa-broker check` for the whole report:\n" +
                                           checked->text);
  }
}

}  // namespace lantoa::broker
