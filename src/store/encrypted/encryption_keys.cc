#include "store/encrypted/encryption_keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

namespace chatstore {
namespace {

bool IsKeyIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

bool IsValidKeyId(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    if (!IsKeyIdChar(c)) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// The key file's bytes, zeroed when this goes out of scope.
class SecretText {
 public:
  ~SecretText() { sodium_memzero(text.data(), text.size()); }
  std::string text;
};

}  // namespace

EncryptionKeys::~EncryptionKeys() {
  if (keys_ != nullptr) sodium_free(keys_);  // zeroes before freeing
}

const unsigned char* EncryptionKeys::Find(std::string_view id) const {
  for (std::size_t i = 0; i < ids_.size(); ++i) {
    if (ids_[i] == id) return Key(i);
  }
  return nullptr;
}

Result<std::shared_ptr<const EncryptionKeys>> EncryptionKeys::Parse(
    std::string_view text, std::string_view origin) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to start");
  const auto bad = [&](int line, const std::string& what) {
    return Status::InvalidArgument("encryption key file " +
                                   std::string(origin) + ", line " +
                                   std::to_string(line) + ": " + what);
  };
  // First pass: the ids and where each key's hex is; no key byte is copied
  // outside guarded memory.
  std::vector<std::string> ids;
  std::vector<std::string_view> hexes;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t eol = text.find('\n');
    std::string_view line = Trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view()
                                         : text.substr(eol + 1);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t space = line.find_first_of(" \t");
    if (space == std::string_view::npos) {
      return bad(line_no, "expected \"<key id> <64 hex digits>\"");
    }
    const std::string_view id = line.substr(0, space);
    const std::string_view hex = Trim(line.substr(space));
    if (!IsValidKeyId(id)) {
      return bad(line_no, "a key id is 1-32 of A-Z a-z 0-9 _ . -");
    }
    if (hex.size() != 2 * kKeyBytes ||
        hex.find_first_not_of("0123456789abcdefABCDEF") !=
            std::string_view::npos) {
      return bad(line_no, "the key must be 64 hex digits (32 bytes)");
    }
    for (const std::string& seen : ids) {
      if (seen == id) return bad(line_no, "key id '" + seen + "' repeats");
    }
    if (ids.size() == kMaxKeys) {
      return bad(line_no, "more than " + std::to_string(kMaxKeys) + " keys");
    }
    ids.emplace_back(id);
    hexes.push_back(hex);
  }
  if (ids.empty()) {
    return Status::InvalidArgument("encryption key file " +
                                   std::string(origin) + " holds no key");
  }
  std::shared_ptr<EncryptionKeys> keys(new EncryptionKeys());
  keys->keys_ =
      static_cast<unsigned char*>(sodium_malloc(ids.size() * kKeyBytes));
  if (keys->keys_ == nullptr) {
    return Status::Internal("cannot allocate guarded memory for keys");
  }
  for (std::size_t i = 0; i < hexes.size(); ++i) {
    std::size_t len = 0;
    if (sodium_hex2bin(keys->keys_ + i * kKeyBytes, kKeyBytes, hexes[i].data(),
                       hexes[i].size(), nullptr, &len, nullptr) != 0 ||
        len != kKeyBytes) {
      return bad(0, "key '" + ids[i] + "' is not hex");
    }
  }
  sodium_mprotect_readonly(keys->keys_);
  keys->ids_ = std::move(ids);
  return std::shared_ptr<const EncryptionKeys>(std::move(keys));
}

Result<std::shared_ptr<const EncryptionKeys>> LoadEncryptionKeyFile(
    const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string why = std::strerror(err);
    if (err == ENOENT) {
      return Status::NotFound("no encryption key file at " + path);
    }
    return Status::InvalidArgument("cannot read encryption key file " + path +
                                   ": " + why);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("encryption key file " + path +
                                   " is not a regular file");
  }
  if ((st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o",
                  static_cast<unsigned>(st.st_mode & 07777));
    return Status::InvalidArgument("encryption key file " + path +
                                   " may be read or written by group "
                                   "or others (mode " +
                                   mode + "); make it private: chmod 600 " +
                                   path);
  }
  constexpr off_t kMaxBytes = 64 * 1024;  // 16 keys are under 2 KB
  if (st.st_size > kMaxBytes) {
    ::close(fd);
    return Status::InvalidArgument("encryption key file " + path +
                                   " is larger than 64 KiB");
  }
  SecretText secret;
  secret.text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < secret.text.size()) {
    const ssize_t n =
        ::read(fd, secret.text.data() + got, secret.text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got != secret.text.size()) {
    return Status::InvalidArgument("cannot read encryption key file " + path);
  }
  return EncryptionKeys::Parse(secret.text, path);
}

}  // namespace chatstore
