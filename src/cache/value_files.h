// The cache's large values, one file each beside the index:
// <dir>/values/<xx>/<32 hex digits>.val, where xx (the name's first two
// digits) spreads the files over 256 directories.
//
// A file is written once under a fresh random name (to a temporary name,
// then renamed), never modified, and deleted when its entry goes. So a
// reader that found a name in the index reads either the whole value or no
// file at all, never a mix of two Sets, even while other processes replace
// the entry.
#ifndef CHATSTORE_CACHE_VALUE_FILES_H_
#define CHATSTORE_CACHE_VALUE_FILES_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

#include "chatstore/status.h"

namespace chatstore::cache {

// Thread-safe (it holds only the directory's path).
class ValueFiles {
 public:
  // Creates `values_dir` and its 256 subdirectories when missing.
  // `durable`: fsync each file before its rename and its directory after.
  // Unavailable when a directory cannot be created.
  static Result<ValueFiles> Open(std::string values_dir, bool durable);

  // Writes `value` to a new file and returns its name relative to the
  // values directory ("3f/3fa9...c1.val"). Unavailable on I/O errors (then
  // no file is left behind).
  Result<std::string> Write(std::string_view value) const;

  // Reads the file `name` (from Write) into *value. NotFound when there is
  // no such file; Corruption when its length is not `expected_size` (a
  // value cut short by a power loss) or `name` is not one Write() makes;
  // Unavailable on other I/O errors.
  Status Read(std::string_view name, std::size_t expected_size,
              std::string* value) const;

  // Deletes the file `name` if it exists; errors are ignored (the garbage
  // collector retries what is left over).
  void Remove(std::string_view name) const;

  // Deletes every file (values and temporaries) whose name is not in
  // `referenced` and whose modification time is older than `grace`.
  // Returns how many were deleted.
  Result<std::int64_t> RemoveUnreferenced(
      const std::unordered_set<std::string>& referenced,
      std::chrono::seconds grace) const;

 private:
  ValueFiles(std::string dir, bool durable)
      : dir_(std::move(dir)), durable_(durable) {}

  std::string dir_;
  bool durable_ = false;
};

}  // namespace chatstore::cache

#endif  // CHATSTORE_CACHE_VALUE_FILES_H_
