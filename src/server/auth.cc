#include "server/auth.h"

#include <jwt.h>
#include <sodium.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <cstdlib>
#include <memory>
#include <string>

namespace chatstore::server {
namespace json = boost::json;
namespace {

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

// libjwt returns malloc'd strings.
struct CFree {
  void operator()(char* p) const { std::free(p); }
};
using CString = std::unique_ptr<char, CFree>;

Status Invalid(std::string why) {
  return Status::InvalidArgument(std::move(why));
}

// Decodes one base64url segment of a token and parses it, strictly, as a
// JSON object. Both segments go through here before libjwt sees the token:
// libjwt 1.10 hands each segment to jansson as a C string, which stops at
// the first NUL, so `{"sub":"u","exp":…}\0<anything>` would otherwise
// verify as its prefix (found by fuzz/jwt_verify_fuzz.cc; the input is in
// fuzz/crashes/jwt_verify/).
Result<json::object> DecodeSegment(std::string_view encoded,
                                   std::string_view what) {
  std::string decoded(encoded.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()),
                        decoded.size(), encoded.data(), encoded.size(), nullptr,
                        &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return Invalid("token " + std::string(what) + " is not base64url");
  }
  decoded.resize(len);
  boost::system::error_code ec;
  json::value value = json::parse(decoded, ec);
  if (ec || !value.is_object()) {
    return Invalid("token " + std::string(what) + " is not a JSON object");
  }
  return std::move(value.get_object());
}

// Checks that the header names HS256 and that the claims are one JSON
// object. libjwt 1.10 picks the algorithm from the header, so refusing every
// other alg here is what stops `alg: none` and algorithm confusion.
Status CheckSegments(std::string_view token) {
  const std::size_t dot = token.find('.');
  const std::size_t second =
      dot == std::string_view::npos ? dot : token.find('.', dot + 1);
  if (dot == 0 || second == std::string_view::npos) {
    return Invalid("token is not a JWT");
  }
  CHATSTORE_ASSIGN_OR_RETURN(const json::object header,
                             DecodeSegment(token.substr(0, dot), "header"));
  const json::value* alg = header.if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->get_string() != "HS256") {
    return Invalid("token algorithm is not HS256");
  }
  return DecodeSegment(token.substr(dot + 1, second - dot - 1), "claims")
      .status();
}

// A NumericDate claim (RFC 7519: seconds, possibly fractional).
std::optional<double> NumericDate(const json::object& claims,
                                  std::string_view name) {
  const json::value* v = claims.if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  if (v->is_double()) return v->get_double();
  return std::nullopt;
}

bool AudienceMatches(const json::value* aud, std::string_view expected) {
  if (aud == nullptr) return false;
  if (aud->is_string()) return aud->get_string() == expected;
  if (aud->is_array()) {
    for (const json::value& v : aud->get_array()) {
      if (v.is_string() && v.get_string() == expected) return true;
    }
  }
  return false;
}

bool ScopeHas(const json::value* scope, std::string_view wanted) {
  if (scope == nullptr || !scope->is_string()) return false;
  std::string_view rest = scope->get_string();
  while (!rest.empty()) {
    const std::size_t space = rest.find(' ');
    if (rest.substr(0, space) == wanted) return true;
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return false;
}

}  // namespace

TokenAuthority::TokenAuthority(TokenOptions options)
    : options_(std::move(options)) {}

Result<Principal> TokenAuthority::Verify(std::string_view token,
                                         Timestamp now) const {
  if (token.empty()) return Invalid("no token");
  if (token.size() > 8192) return Invalid("token too long");
  // Only base64url and the dots: libjwt reads the token as a C string, so a
  // NUL (an `access_token=…%00…` query) would hide what follows it.
  if (token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
                              "tuvwxyz0123456789-_.") !=
      std::string_view::npos) {
    return Invalid("token has characters outside base64url");
  }
  CHATSTORE_RETURN_IF_ERROR(CheckSegments(token));

  const std::string token_text(token);
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, token_text.c_str(),
                 reinterpret_cast<const unsigned char*>(options_.secret.data()),
                 static_cast<int>(options_.secret.size())) != 0 ||
      raw == nullptr) {
    return Invalid("token signature or encoding is invalid");
  }
  const JwtPtr jwt(raw);
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) {
    return Invalid("token algorithm is not HS256");
  }

  const CString grants(jwt_get_grants_json(jwt.get(), nullptr));
  if (!grants) return Invalid("token has no claims");
  boost::system::error_code ec;
  const json::value parsed = json::parse(grants.get(), ec);
  if (ec || !parsed.is_object()) return Invalid("token claims are not JSON");
  const json::object& claims = parsed.get_object();

  const double now_s = static_cast<double>(ToMillis(now)) / 1000.0;
  const double leeway = static_cast<double>(options_.leeway.count());
  const std::optional<double> exp = NumericDate(claims, "exp");
  if (!exp) return Invalid("token has no numeric exp");
  if (now_s >= *exp + leeway) return Invalid("token expired");
  if (claims.contains("nbf")) {
    const std::optional<double> nbf = NumericDate(claims, "nbf");
    if (!nbf) return Invalid("token nbf is not numeric");
    if (now_s + leeway < *nbf) return Invalid("token not yet valid");
  }
  if (options_.issuer) {
    const json::value* iss = claims.if_contains("iss");
    if (iss == nullptr || !iss->is_string() ||
        iss->get_string() != *options_.issuer) {
      return Invalid("token issuer mismatch");
    }
  }
  if (options_.audience &&
      !AudienceMatches(claims.if_contains("aud"), *options_.audience)) {
    return Invalid("token audience mismatch");
  }
  const json::value* sub = claims.if_contains("sub");
  if (sub == nullptr || !sub->is_string() || sub->get_string().empty() ||
      sub->get_string().size() > 256) {
    return Invalid("token has no usable sub");
  }

  Principal principal;
  principal.user_id = std::string(sub->get_string());
  const json::value* anon = claims.if_contains("anon");
  principal.anonymous = anon != nullptr && anon->is_bool() && anon->get_bool();
  principal.admin = ScopeHas(claims.if_contains("scope"), "admin");
  return principal;
}

Result<std::string> TokenAuthority::Sign(const TokenClaims& claims,
                                         Timestamp now) const {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return Status::Internal("jwt_new failed");
  const JwtPtr jwt(raw);
  json::object payload;
  payload["sub"] = claims.subject;
  payload["iat"] = ToMillis(now) / 1000;
  payload["exp"] = ToMillis(claims.expires_at) / 1000;
  if (claims.anonymous) payload["anon"] = true;
  if (!claims.scope.empty()) payload["scope"] = claims.scope;
  if (options_.issuer) payload["iss"] = *options_.issuer;
  if (options_.audience) payload["aud"] = *options_.audience;
  const std::string payload_json = json::serialize(payload);
  if (jwt_add_grants_json(jwt.get(), payload_json.c_str()) != 0 ||
      jwt_set_alg(
          jwt.get(), JWT_ALG_HS256,
          reinterpret_cast<const unsigned char*>(options_.secret.data()),
          static_cast<int>(options_.secret.size())) != 0) {
    return Status::Internal("could not build token");
  }
  const CString encoded(jwt_encode_str(jwt.get()));
  if (!encoded) return Status::Internal("could not sign token");
  return std::string(encoded.get());
}

std::string ExtractBearerToken(std::string_view authorization_header,
                               std::string_view target) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization_header.size() > kScheme.size()) {
    std::string scheme(authorization_header.substr(0, kScheme.size()));
    for (char& c : scheme) c = static_cast<char>(std::tolower(c));
    if (scheme == kScheme) {
      std::string_view token = authorization_header.substr(kScheme.size());
      while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
      while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
      return std::string(token);
    }
  }
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return "";
  auto params = url->params();
  auto it = params.find("access_token");
  if (it == params.end()) return "";
  return std::string((*it).value);
}

}  // namespace chatstore::server
