// Session, message and request ids: UUIDv7 (RFC 9562) with the random bits
// from libsodium's CSPRNG, so ids sort by creation time and cannot be guessed.
#ifndef CHATSTORE_IDS_H_
#define CHATSTORE_IDS_H_

#include <string>
#include <string_view>

#include "chatstore/clock.h"

namespace chatstore {

// A new UUIDv7 in canonical lowercase form. Thread-safe.
std::string NewId(Timestamp now);

// Session ids record where the session lives: the lowest bit of the 12-bit
// rand_a field is 1 for an ephemeral session, 0 for a persistent one. This
// lets a read go straight to the right store (no lookup in both).
std::string NewSessionId(Timestamp now, bool persistent);
bool IsEphemeralSessionId(std::string_view id);

// True for a canonical lowercase UUID (8-4-4-4-12 hex digits).
bool IsValidId(std::string_view id);

}  // namespace chatstore

#endif  // CHATSTORE_IDS_H_
