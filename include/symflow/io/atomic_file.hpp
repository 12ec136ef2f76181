// symflow/io/atomic_file.hpp - write a file so that readers see either the old file or
// the complete new one, never a half-written one (POSIX).
//
//   AtomicFileWriter w(path);      // creates "<path>.tmp.<pid>" next to the target
//   w.write(bytes, n); ...         // any number of writes (EINTR and short writes handled)
//   w.commit();                    // fsync(tmp), close, rename(tmp, path), fsync(directory)
//
// If anything fails (or commit() is never reached, e.g. an exception), the temporary file
// is removed and the target is untouched. Errors throw symflow::Error naming the file and
// the system error (e.g. "No space left on device"). Two writers of the same path in one
// process at the same time are not supported (they would share the temporary name).
//
// Note for file-size limits (ulimit -f): the kernel sends SIGXFSZ, which kills the process
// unless the program ignores it (signal(SIGXFSZ, SIG_IGN)); write() then fails with EFBIG
// and the writer reports it like any other error.
#pragma once
#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symflow/core/types.hpp"

namespace symflow::io {

namespace detail {
inline std::string systemError(int err) { return std::strerror(err); }
inline std::string parentDirectory(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace detail

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path)
      : path_(std::move(path)), tmp_(path_ + ".tmp." + std::to_string(::getpid())) {
    require(!path_.empty(), "cannot write a file with an empty path");
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw Error("cannot create '" + tmp_ + "' (to write '" + path_ + "'): " + detail::systemError(errno));
    tmpExists_ = true;
  }
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter() { abandon(); }

  const std::string& path() const { return path_; }
  const std::string& tempPath() const { return tmp_; }

  void write(const void* data, std::size_t n) {
    require(fd_ >= 0, "AtomicFileWriter: write after commit or failure ('" + path_ + "')");
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ::ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail("cannot write '" + tmp_ + "'");
      }
      p += w;
      n -= std::size_t(w);
    }
  }

  /// Makes the new content durable and visible under path() atomically.
  void commit() {
    require(fd_ >= 0, "AtomicFileWriter: commit after commit or failure ('" + path_ + "')");
    if (::fsync(fd_) != 0) fail("cannot flush '" + tmp_ + "' to disk");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("cannot close '" + tmp_ + "'");
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot rename '" + tmp_ + "' to '" + path_ + "'");
    tmpExists_ = false;
    // Persist the directory entry (the rename) too. File systems that cannot fsync a
    // directory report EINVAL; that is not an error for us.
    const std::string dir = detail::parentDirectory(path_);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      const int rc = ::fsync(dfd);
      const int err = errno;
      ::close(dfd);
      if (rc != 0 && err != EINVAL && err != EROFS)
        throw Error("wrote '" + path_ + "' but cannot flush its directory '" + dir +
                    "': " + detail::systemError(err));
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    const int err = errno;
    abandon();
    throw Error(what + ": " + detail::systemError(err));
  }
  void abandon() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (tmpExists_) {
      ::unlink(tmp_.c_str());
      tmpExists_ = false;
    }
  }

  std::string path_, tmp_;
  int fd_ = -1;
  bool tmpExists_ = false;
};

/// Writes `bytes` to `path` atomically (AtomicFileWriter: the old file or the new one, never half).
inline void writeFileAtomically(const std::string& path, const std::string& bytes) {
  AtomicFileWriter w(path);
  w.write(bytes.data(), bytes.size());
  w.commit();
}

}  // namespace symflow::io
