#include "server/dev_mode.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace chatstore::server {

Result<std::string> LoadOrCreateDevSecret(const std::string& directory) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) {
    return Status::Unavailable("cannot create data directory '" + directory +
                               "': " + ec.message());
  }
  const std::string path = directory + "/dev-jwt-secret";
  if (sodium_init() < 0) return Status::Internal("libsodium failed to start");
  unsigned char key[32];
  randombytes_buf(key, sizeof key);
  char hex[sizeof key * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, key, sizeof key);
  // O_EXCL: two servers starting at once agree on whichever file won.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd >= 0) {
    const std::size_t len = std::strlen(hex);
    const bool written = ::write(fd, hex, len) == static_cast<ssize_t>(len);
    ::close(fd);
    if (!written) return Status::Unavailable("cannot write " + path);
    return std::string(hex);
  }
  if (errno != EEXIST) {
    return Status::Unavailable("cannot create " + path + ": " +
                               std::strerror(errno));
  }
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  std::string secret = content.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
    secret.pop_back();
  }
  if (!in || secret.empty()) return Status::Unavailable("cannot read " + path);
  return secret;
}

void PrintDevBanner(std::ostream& out, const std::string& base_url,
                    const std::string& token) {
  out << "dev mode: secret kept in the data directory; this token (user "
         "dev-user) is valid for 30 days:\n"
      << "  export TOKEN=" << token << "\n"
      << "  curl -s -X POST -H \"Authorization: Bearer $TOKEN\" "
         "-H 'Content-Type: application/json' -d '{\"title\":\"hello\"}' "
      << base_url << "/v1/sessions\n"
      << "  curl -N -H \"Authorization: Bearer $TOKEN\" " << base_url
      << "/v1/sessions/<id>/stream\n"
      << "  or browse your sessions at " << base_url << "/ (paste the token)\n"
      << std::flush;
}

}  // namespace chatstore::server
