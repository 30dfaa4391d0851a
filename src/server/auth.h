// Bearer tokens: verification of the application's HS256 JWTs and signing of
// the server's own anonymous tokens (libjwt).
#ifndef CHATSTORE_SERVER_AUTH_H_
#define CHATSTORE_SERVER_AUTH_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "chatstore/clock.h"
#include "chatstore/status.h"

namespace chatstore::server {

// The caller, as the token proves it.
struct Principal {
  std::string user_id;     // `sub`
  bool anonymous = false;  // `anon: true`
  bool admin = false;      // `scope` contains "admin"
};

struct TokenOptions {
  std::string secret;                   // HS256 key
  std::optional<std::string> issuer;    // checked when set
  std::optional<std::string> audience;  // checked when set
  // Tolerated clock difference with the token issuer for exp and nbf.
  std::chrono::seconds leeway{30};
};

// What a signed token should say.
struct TokenClaims {
  std::string subject;
  Timestamp expires_at;
  bool anonymous = false;
  std::string scope;  // space separated; empty for none
};

// Thread-safe (immutable after construction).
class TokenAuthority {
 public:
  explicit TokenAuthority(TokenOptions options);

  // Verifies signature (HS256 only: the header's alg is checked before the
  // signature, so `none`, RS*, HS384... are refused), `exp` (required),
  // `nbf`, `iss`/`aud` when configured and `sub` (required). Returns
  // InvalidArgument with a reason for the log; every failure is a 401.
  Result<Principal> Verify(std::string_view token, Timestamp now) const;

  // An HS256 token with sub, exp, iat, and anon/scope when set (plus iss and
  // aud when configured, so the server accepts its own tokens).
  Result<std::string> Sign(const TokenClaims& claims, Timestamp now) const;

 private:
  TokenOptions options_;
};

// The token of a request: `Authorization: Bearer <t>` or, for EventSource,
// the `access_token` query parameter. Empty when neither is present.
std::string ExtractBearerToken(std::string_view authorization_header,
                               std::string_view target);

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_AUTH_H_
