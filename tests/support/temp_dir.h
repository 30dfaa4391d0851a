// Scratch directories and free loopback ports for tests.
#ifndef CHATSTORE_TESTS_SUPPORT_TEMP_DIR_H_
#define CHATSTORE_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>

namespace chatstore::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it
// when the object is destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string File(const std::string& name) const;

 private:
  std::string path_;
};

// Every byte of every regular file below `dir`, concatenated: for tests
// that check what a program stored (no plaintext at rest, no trace left).
std::string AllBytesUnder(const std::string& dir);

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read
// it back, close). Servers that cannot take port 0 themselves (redis-server,
// postgres) start on it and the caller retries with another on a clash.
int PickFreePort();

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_SUPPORT_TEMP_DIR_H_
