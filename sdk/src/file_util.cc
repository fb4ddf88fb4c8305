#include "lantoa/internal/file_util.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <utility>

namespace lantoa::internal {
namespace {

Status io_error(std::string_view what, const std::filesystem::path& path, int err) {
  return Status(v1::Error::IO_ERROR,
                std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Status fsync_dir(const std::filesystem::path& dir) {
  Fd fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return io_error("cannot open folder", dir, errno);
  if (::fsync(fd.get()) != 0) return io_error("cannot fsync folder", dir, errno);
  return Status::Ok();
}

}  // namespace

Status write_file_atomic(const std::filesystem::path& path, std::string_view content, mode_t mode,
                         bool overwrite) {
  if (!overwrite && std::filesystem::exists(path)) {
    return Status(v1::Error::ALREADY_EXISTS, path.string() + " exists already; not replacing it");
  }
  std::random_device rd;
  const std::filesystem::path tmp =
      path.string() + ".tmp-" + std::to_string(rd()) + std::to_string(::getpid());
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
    if (fd.get() < 0) return io_error("cannot create", tmp, errno);
    // The mode given to open() is reduced by the umask; set it exactly.
    if (::fchmod(fd.get(), mode) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return io_error("cannot chmod", tmp, err);
    }
    size_t done = 0;
    while (done < content.size()) {
      ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return io_error("cannot write", tmp, err);
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return io_error("cannot fsync", tmp, err);
    }
  }
  if (overwrite) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return io_error("cannot rename onto", path, err);
    }
  } else {
    int rc = ::link(tmp.c_str(), path.c_str());
    int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) {
      if (err == EEXIST) {
        return Status(v1::Error::ALREADY_EXISTS, path.string() + " exists already; not replacing it");
      }
      return io_error("cannot create", path, err);
    }
  }
  return fsync_dir(path.parent_path());
}

namespace {

std::string this_user() {
  const uid_t uid = ::geteuid();
  if (const passwd* pw = ::getpwuid(uid)) return std::string(pw->pw_name) + " (uid " + std::to_string(uid) + ")";
  return "uid " + std::to_string(uid);
}

std::string permission_denied(const std::filesystem::path& path) {
  return "cannot read " + path.string() + ": permission denied for user " + this_user() +
         " (the file, or a folder above it, is not readable by that user: check their owner and mode)";
}

}  // namespace

std::string why_unreadable(const std::filesystem::path& path) {
  if (::access(path.c_str(), R_OK) == 0) return {};
  const int err = errno;
  if (err == ENOENT) return "no such file: " + path.string();
  if (err == EACCES) return permission_denied(path);
  return "cannot read " + path.string() + ": " + std::strerror(err);
}

Result<FileContent> read_file(const std::filesystem::path& path, size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status(v1::Error::NOT_FOUND, "no such file: " + path.string());
    if (errno == EACCES) return Status(v1::Error::IO_ERROR, permission_denied(path));
    return io_error("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Status(v1::Error::INVALID_ARGUMENT, path.string() + " is not a regular file");
  }
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    return Status(v1::Error::INVALID_ARGUMENT, path.string() + " is larger than " +
                                                   std::to_string(max_bytes) + " bytes");
  }
  FileContent out;
  out.mode = st.st_mode & 07777;
  out.data.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.data.size()) {
    ssize_t n = ::read(fd.get(), out.data.data() + done, out.data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot read", path, errno);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.data.resize(done);
  return out;
}

Result<FolderLock> FolderLock::take(const std::filesystem::path& dir, std::string_view name, std::string_view what) {
  const std::filesystem::path path = dir / name;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status(v1::Error::IO_ERROR, "cannot open " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {};
    const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status(v1::Error::UNAVAILABLE,
                    "the data folder " + dir.string() + " is in use by another " + std::string(what) +
                        (n > 0 ? " (pid " + std::string(pid, static_cast<size_t>(n)) + ")" : "") +
                        "; two on one store would lose data. Stop it first, or give this one another data folder");
    }
    return Status(v1::Error::IO_ERROR, "cannot lock " + path.string() + ": " + std::strerror(err));
  }
  const std::string me = std::to_string(::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    // The lock holds all the same; only the pid in the message is missing.
  }
  return FolderLock(fd);
}

FolderLock::FolderLock(FolderLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::string> read_secret_file(const std::filesystem::path& file, const std::string& what) {
  auto token = read_file(file, 4096);
  if (!token) return Status(token.status().code(), what + " file: " + token.status().message());
  if (token->mode & 0077) {
    return Status(v1::Error::KEY_FILE_INSECURE,
                  "the " + what + " file " + file.string() + " is readable by others: chmod 600 it");
  }
  std::string t = token->data;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.size() < 16) {
    return Status(v1::Error::INVALID_ARGUMENT, "the " + what + " in " + file.string() + " must be at least 16 characters");
  }
  return t;
}

}  // namespace lantoa::internal
