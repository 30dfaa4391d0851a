// The keys of encryption at rest (encrypted_store.h has the overview).
//
// The key file: one key a line, "<key id> <64 hex digits>", '#' comments
// and blank lines ignored, at most kMaxKeys keys. The first key seals every
// new value; all of them open values (rotation: put a new key first, keep
// the old ones until nothing sealed with them is left). Key ids are 1-32 of
// [A-Za-z0-9_.-] and travel in each sealed value so the right key is found.
#ifndef CHATSTORE_STORE_ENCRYPTED_ENCRYPTION_KEYS_H_
#define CHATSTORE_STORE_ENCRYPTED_ENCRYPTION_KEYS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chatstore/encryption.h"
#include "chatstore/status.h"

namespace chatstore {

class EncryptionKeys {
 public:
  static constexpr std::size_t kKeyBytes = 32;
  static constexpr std::size_t kMaxKeys = 16;

  // Parses key file text; `origin` names it in errors. The text is not
  // kept (the caller zeroes its copy).
  static Result<std::shared_ptr<const EncryptionKeys>> Parse(
      std::string_view text, std::string_view origin);

  EncryptionKeys(const EncryptionKeys&) = delete;
  EncryptionKeys& operator=(const EncryptionKeys&) = delete;
  ~EncryptionKeys();

  // The id and bytes of the key that seals new values (the first).
  const std::string& sealing_key_id() const { return ids_.front(); }
  const unsigned char* sealing_key() const { return Key(0); }
  // The key with `id`, or null when the file does not hold it.
  const unsigned char* Find(std::string_view id) const;
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  EncryptionKeys() = default;
  const unsigned char* Key(std::size_t i) const {
    return keys_ + i * kKeyBytes;
  }

  std::vector<std::string> ids_;
  // sodium_malloc'd (guard pages, mlock'd), ids_.size() * kKeyBytes,
  // read-only once filled; sodium_free zeroes it.
  unsigned char* keys_ = nullptr;
};

}  // namespace chatstore

#endif  // CHATSTORE_STORE_ENCRYPTED_ENCRYPTION_KEYS_H_
