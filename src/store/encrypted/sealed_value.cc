#include "store/encrypted/sealed_value.h"

#include <sodium.h>

#include <string>

namespace chatstore::encrypted {
namespace {

constexpr std::string_view kVersion = "v1:";
// The SQLite and PostgreSQL schemas (migration 3) leave content with this
// prefix out of their search index: change them with it.
constexpr std::string_view kContentPrefix = "csenc:";
constexpr std::string_view kEventPrefix = "{\"enc\":\"";
constexpr std::string_view kEventSuffix = "\"}";
constexpr int kBase64 = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
constexpr std::size_t kNonceBytes =
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;

static_assert(EncryptionKeys::kKeyBytes ==
              crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

// Length-prefixed so no two places give the same bytes.
std::string AssociatedData(std::string_view what, std::string_view session_id,
                           std::string_view item) {
  std::string ad = "chatstore/";
  ad += what;
  ad += ':';
  ad += std::to_string(session_id.size());
  ad += ':';
  ad += session_id;
  ad += ':';
  ad += item;
  return ad;
}

std::string Seal(const EncryptionKeys& keys, std::string_view plain,
                 const std::string& ad) {
  std::string box(kNonceBytes + plain.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(nonce, kNonceBytes);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      nonce + kNonceBytes, &len,
      reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
      nonce, keys.sealing_key());
  std::string out(kVersion);
  out += keys.sealing_key_id();
  out += ':';
  const std::size_t at = out.size();
  out.resize(at + sodium_base64_ENCODED_LEN(box.size(), kBase64));
  sodium_bin2base64(out.data() + at, out.size() - at,
                    reinterpret_cast<const unsigned char*>(box.data()),
                    box.size(), kBase64);
  out.pop_back();  // the terminating NUL sodium writes
  return out;
}

Status CannotDecrypt(std::string_view session_id, std::string_view why) {
  return Status::Corruption(std::string(kCannotDecryptMessage) +
                            " for session " + std::string(session_id) + " (" +
                            std::string(why) + ")");
}

Result<std::string> Open(const EncryptionKeys& keys, std::string_view sealed,
                         const std::string& ad, std::string_view session_id) {
  if (!sealed.starts_with(kVersion)) {
    return CannotDecrypt(session_id, "unknown envelope version");
  }
  sealed.remove_prefix(kVersion.size());
  const std::size_t colon = sealed.find(':');
  if (colon == std::string_view::npos) {
    return CannotDecrypt(session_id, "malformed envelope");
  }
  const std::string_view key_id = sealed.substr(0, colon);
  const unsigned char* key = keys.Find(key_id);
  if (key == nullptr) {
    return CannotDecrypt(session_id, "sealed with key '" + std::string(key_id) +
                                         "', which the key file lacks");
  }
  const std::string_view b64 = sealed.substr(colon + 1);
  std::string box(b64.size() * 3 / 4 + 3, '\0');
  std::size_t box_len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(box.data()),
                        box.size(), b64.data(), b64.size(), nullptr, &box_len,
                        nullptr, kBase64) != 0 ||
      box_len < kNonceBytes + kTagBytes) {
    return CannotDecrypt(session_id, "malformed envelope");
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(box.data());
  std::string plain(box_len - kNonceBytes - kTagBytes, '\0');
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &len, nullptr,
          nonce + kNonceBytes, box_len - kNonceBytes,
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nonce,
          key) != 0) {
    return CannotDecrypt(session_id, "authentication failed");
  }
  plain.resize(len);
  return plain;
}

std::optional<std::string_view> EventEnvelope(std::string_view stored) {
  if (!stored.starts_with(kEventPrefix) || !stored.ends_with(kEventSuffix) ||
      stored.size() < kEventPrefix.size() + kEventSuffix.size()) {
    return std::nullopt;
  }
  return stored.substr(
      kEventPrefix.size(),
      stored.size() - kEventPrefix.size() - kEventSuffix.size());
}

}  // namespace

std::string SealContent(const EncryptionKeys& keys, std::string_view session_id,
                        std::string_view message_id, std::string_view plain) {
  return std::string(kContentPrefix) +
         Seal(keys, plain, AssociatedData("message", session_id, message_id));
}

Result<std::string> OpenContent(const EncryptionKeys& keys,
                                std::string_view session_id,
                                std::string_view message_id,
                                std::string_view stored) {
  if (!stored.starts_with(kContentPrefix)) {
    return CannotDecrypt(session_id, "message content is not sealed");
  }
  stored.remove_prefix(kContentPrefix.size());
  return Open(keys, stored, AssociatedData("message", session_id, message_id),
              session_id);
}

std::string SealEventData(const EncryptionKeys& keys,
                          std::string_view session_id, std::int64_t seq,
                          std::string_view plain) {
  return std::string(kEventPrefix) +
         Seal(keys, plain,
              AssociatedData("event", session_id, std::to_string(seq))) +
         std::string(kEventSuffix);
}

Result<std::string> OpenEventData(const EncryptionKeys& keys,
                                  std::string_view session_id, std::int64_t seq,
                                  std::string_view stored) {
  const std::optional<std::string_view> sealed = EventEnvelope(stored);
  if (!sealed) return CannotDecrypt(session_id, "event data is not sealed");
  return Open(keys, *sealed,
              AssociatedData("event", session_id, std::to_string(seq)),
              session_id);
}

std::optional<std::string> SealedEventDataKeyId(std::string_view stored) {
  std::optional<std::string_view> sealed = EventEnvelope(stored);
  if (!sealed || !sealed->starts_with(kVersion)) return std::nullopt;
  sealed->remove_prefix(kVersion.size());
  const std::size_t colon = sealed->find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return std::string(sealed->substr(0, colon));
}

}  // namespace chatstore::encrypted
