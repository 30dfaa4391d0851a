#include "cache/value_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "chatstore/ids.h"

namespace chatstore::cache {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kValueSuffix = ".val";
constexpr std::string_view kTempSuffix = ".tmp";
constexpr std::size_t kIdLength = 36;  // a canonical UUID

Status IoError(std::string_view what, const std::string& path, int err) {
  return Status::Unavailable("cache: " + std::string(what) + " " + path + ": " +
                             std::strerror(err));
}

// Closes a descriptor when leaving the scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports the error close() found (delayed write errors
  // surface here on some file systems).
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// The subdirectory of a file: the id's last two hex digits, which are
// random (a UUIDv7 starts with the time, which would crowd one directory).
std::string_view Subdirectory(std::string_view id) {
  return id.substr(kIdLength - 2);
}

// True for the names Write() returns: "xx/<uuid>.val" with xx the uuid's
// last two digits. Anything else in the index (a damaged or foreign file)
// must never become a path outside the values directory.
bool IsValueName(std::string_view name) {
  if (name.size() != 3 + kIdLength + kValueSuffix.size()) return false;
  if (name[2] != '/' || !name.ends_with(kValueSuffix)) return false;
  const std::string_view id = name.substr(3, kIdLength);
  return IsValidId(id) && name.substr(0, 2) == Subdirectory(id);
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("write", path, errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

Status SyncDirectory(const std::string& path) {
  FileDescriptor dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return IoError("open directory", path, errno);
  if (::fsync(dir.get()) != 0) return IoError("fsync", path, errno);
  return Status::Ok();
}

}  // namespace

Result<ValueFiles> ValueFiles::Open(std::string values_dir, bool durable) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 256; ++i) {
    const std::string sub =
        values_dir + "/" + kHex[i >> 4] + std::string(1, kHex[i & 15]);
    std::error_code ec;
    fs::create_directories(sub, ec);
    if (ec) {
      return Status::Unavailable("cache: cannot create directory " + sub +
                                 ": " + ec.message());
    }
  }
  return ValueFiles(std::move(values_dir), durable);
}

Result<std::string> ValueFiles::Write(std::string_view value) const {
  const std::string id =
      NewId(std::chrono::time_point_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now()));
  std::string name(Subdirectory(id));
  name += '/';
  name += id;
  const std::string temp = dir_ + "/" + name + std::string(kTempSuffix);
  name += kValueSuffix;
  const std::string path = dir_ + "/" + name;

  FileDescriptor fd(
      ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return IoError("create", temp, errno);
  Status written = WriteAll(fd.get(), value, temp);
  if (written.ok() && durable_ && ::fdatasync(fd.get()) != 0) {
    written = IoError("fdatasync", temp, errno);
  }
  if (const int err = fd.Close(); written.ok() && err != 0) {
    written = IoError("close", temp, err);
  }
  // The rename publishes the whole file at once: no reader can open a
  // value file that is still being written.
  if (written.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    written = IoError("rename", temp, errno);
  }
  if (!written.ok()) {
    ::unlink(temp.c_str());
    return written;
  }
  if (durable_) {
    if (Status s = SyncDirectory(dir_ + "/" + name.substr(0, 2)); !s.ok()) {
      ::unlink(path.c_str());
      return s;
    }
  }
  return name;
}

Status ValueFiles::Read(std::string_view name, std::size_t expected_size,
                        std::string* value) const {
  if (!IsValueName(name)) {
    return Status::Corruption("cache: the index names an invalid value file");
  }
  const std::string path = dir_ + "/" + std::string(name);
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::NotFound("cache: value file missing");
    return IoError("open", path, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return IoError("stat", path, errno);
  if (static_cast<std::uint64_t>(st.st_size) != expected_size) {
    return Status::Corruption("cache: value file " + path + " has " +
                              std::to_string(st.st_size) + " bytes, not " +
                              std::to_string(expected_size));
  }
  value->resize(expected_size);
  std::size_t done = 0;
  while (done < expected_size) {
    const ssize_t n = ::pread(fd.get(), value->data() + done,
                              expected_size - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("read", path, errno);
    }
    if (n == 0) {
      return Status::Corruption("cache: value file " + path + " shrank");
    }
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

void ValueFiles::Remove(std::string_view name) const {
  if (!IsValueName(name)) return;
  ::unlink((dir_ + "/" + std::string(name)).c_str());
}

Result<std::int64_t> ValueFiles::RemoveUnreferenced(
    const std::unordered_set<std::string>& referenced,
    std::chrono::seconds grace) const {
  std::int64_t removed = 0;
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - grace;
  for (auto it = fs::recursive_directory_iterator(dir_, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    // Per-file errors (another process deleted it meanwhile) skip the file;
    // only a failure to list ends the walk.
    std::error_code file_ec;
    if (!it->is_regular_file(file_ec)) continue;
    const fs::path& path = it->path();
    const std::string name =
        path.parent_path().filename().string() + "/" + path.filename().string();
    if (referenced.contains(name)) continue;
    const auto modified = fs::last_write_time(path, file_ec);
    if (file_ec || modified > cutoff) continue;
    if (fs::remove(path, file_ec)) ++removed;
  }
  if (ec) {
    return Status::Unavailable("cache: cannot list " + dir_ + ": " +
                               ec.message());
  }
  return removed;
}

}  // namespace chatstore::cache
