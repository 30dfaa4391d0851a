// How one value is sealed (see encrypted_store.h for the whole picture).
//
// A sealed value is "v1:<key id>:<base64url(nonce || ciphertext)>": a fresh
// random 24-byte nonce per value, XChaCha20-Poly1305 (IETF) with the key
// named by the id, and associated data that binds it to where it belongs:
// the session id plus the message id (content) or the event seq (event
// data). Moved to another session, message or seq, it no longer opens.
//
// Stored forms, self-describing so a reader knows a value is sealed:
//   message content: "csenc:" + sealed value
//   event data:      {"enc":"<sealed value>"}   (stays valid JSON)
#ifndef CHATSTORE_STORE_ENCRYPTED_SEALED_VALUE_H_
#define CHATSTORE_STORE_ENCRYPTED_SEALED_VALUE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chatstore/status.h"
#include "store/encrypted/encryption_keys.h"

namespace chatstore::encrypted {

std::string SealContent(const EncryptionKeys& keys, std::string_view session_id,
                        std::string_view message_id, std::string_view plain);
// Corruption (kCannotDecryptMessage ... for session X) when `stored` is not
// sealed content or does not open with any key for that place.
Result<std::string> OpenContent(const EncryptionKeys& keys,
                                std::string_view session_id,
                                std::string_view message_id,
                                std::string_view stored);

std::string SealEventData(const EncryptionKeys& keys,
                          std::string_view session_id, std::int64_t seq,
                          std::string_view plain);
Result<std::string> OpenEventData(const EncryptionKeys& keys,
                                  std::string_view session_id, std::int64_t seq,
                                  std::string_view stored);

// The key id of stored event data when it is sealed, else nullopt: how a
// store that lacks its key-check value is recognised as encrypted.
std::optional<std::string> SealedEventDataKeyId(std::string_view stored);

}  // namespace chatstore::encrypted

#endif  // CHATSTORE_STORE_ENCRYPTED_SEALED_VALUE_H_
