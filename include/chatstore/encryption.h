// Encryption at rest (opt-in): message content, streamed deltas and event
// data sealed with XChaCha20-Poly1305 before any backend sees them.
// docs/encryption.md has the threat model, the key file format and the key
// rotation procedure; src/store/encrypted/ holds the implementation.
#ifndef CHATSTORE_ENCRYPTION_H_
#define CHATSTORE_ENCRYPTION_H_

#include <memory>
#include <string>
#include <string_view>

#include "chatstore/status.h"
#include "chatstore/store.h"

namespace chatstore {

// The keys of a key file, held in libsodium's guarded memory (never swapped,
// zeroed when freed). The first key seals new values; every key opens.
// Immutable and thread-safe once loaded.
class EncryptionKeys;

// Loads a key file: one key a line, "<key id> <64 hex digits>" (32 bytes),
// '#' comments and blank lines ignored. InvalidArgument for a malformed
// file, a duplicate key id, or a file that group or others may read or
// write (it must be chmod 600 or stricter); NotFound when it is missing.
Result<std::shared_ptr<const EncryptionKeys>> LoadEncryptionKeyFile(
    const std::string& path);

// Opens the store at `uri`. With `keys`, wraps it in the encrypting
// decorator after checking that the keys open what the store already holds
// (its key-check value, else its first sealed event) and storing a
// key-check value when it has none; a store that holds unencrypted data is
// refused (migrate it with `chatstore migrate`). Without `keys`, refuses a
// store that is encrypted: reading sealed bytes as text would be garbage.
// Both refusals are FailedPrecondition-like InvalidArgument errors that say
// what to do.
Result<std::shared_ptr<Store>> OpenStoreAtRest(
    std::string_view uri, std::shared_ptr<const EncryptionKeys> keys,
    const StoreOptions& options = {});

// The same checks and wrapping for a store already open.
Result<std::shared_ptr<Store>> EncryptStore(
    std::shared_ptr<Store> inner, std::shared_ptr<const EncryptionKeys> keys);
Status CheckStoreNotEncrypted(Store& store);

// What an encrypted store answers to Search (Unprocessable): its backend
// never sees plaintext, so there is nothing to search.
inline constexpr std::string_view kSearchDisabledMessage =
    "search is disabled: the store is encrypted at rest";
// The start of the Corruption message of a value that does not open (wrong
// key, tampered or damaged bytes); the rest names the session.
inline constexpr std::string_view kCannotDecryptMessage =
    "cannot decrypt: wrong encryption key or damaged data";

bool IsSearchDisabled(const Status& status);
bool IsDecryptionFailure(const Status& status);

}  // namespace chatstore

#endif  // CHATSTORE_ENCRYPTION_H_
