// JWT verification (server/auth): any token text, and tokens built from
// fuzzed header and claims but correctly signed. A token is accepted only
// when it carries a valid HS256 signature under the secret, alg HS256, a
// future exp, the configured issuer and a usable sub that becomes the
// principal; tokens the server signs itself always verify.
#include <sodium.h>

#include <boost/json.hpp>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_input.h"
#include "server/auth.h"

namespace json = boost::json;
using chatstore::Timestamp;
using chatstore::server::Principal;
using chatstore::server::TokenAuthority;

namespace {

constexpr std::string_view kSecret = "fuzz-secret-0123456789abcdef01234567";
constexpr std::string_view kIssuer = "fuzz-issuer";
// A fixed "now" (2026-12-01T00:00:00Z) keeps every run reproducible.
const Timestamp kNow = chatstore::FromMillis(1'796'083'200'000);

const TokenAuthority& Authority() {
  static const TokenAuthority* authority = [] {
    chatstore::server::TokenOptions options;
    options.secret = std::string(kSecret);
    options.issuer = std::string(kIssuer);
    return new TokenAuthority(options);
  }();
  return *authority;
}

std::string Base64Url(std::string_view bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), kVariant);
  out.resize(out.find('\0'));
  return out;
}

std::string Hs256(std::string_view signing_input) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(
      &state, reinterpret_cast<const unsigned char*>(kSecret.data()),
      kSecret.size());
  crypto_auth_hmacsha256_update(
      &state, reinterpret_cast<const unsigned char*>(signing_input.data()),
      signing_input.size());
  crypto_auth_hmacsha256_final(&state, mac);
  return Base64Url(std::string_view(reinterpret_cast<char*>(mac), sizeof mac));
}

std::optional<std::string> DecodeSegment(std::string_view segment) {
  std::string out(segment.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()),
                        out.size(), segment.data(), segment.size(), nullptr,
                        &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

// What an accepted token must have been.
void CheckAccepted(std::string_view token, const Principal& principal) {
  const std::size_t first = token.find('.');
  const std::size_t second = token.find('.', first + 1);
  FUZZ_CHECK(
      first != std::string_view::npos && second != std::string_view::npos,
      token);
  FUZZ_CHECK(Hs256(token.substr(0, second)) == token.substr(second + 1), token);
  const auto header = DecodeSegment(token.substr(0, first));
  FUZZ_CHECK(header.has_value(), token);
  const json::value h = json::parse(*header);
  FUZZ_CHECK(h.at("alg") == "HS256", token);
  const auto payload =
      DecodeSegment(token.substr(first + 1, second - first - 1));
  FUZZ_CHECK(payload.has_value(), token);
  const json::object claims = json::parse(*payload).as_object();
  const json::value& exp = claims.at("exp");
  FUZZ_CHECK(exp.is_number(), token);
  FUZZ_CHECK(exp.to_number<double>() + 30 >
                 static_cast<double>(chatstore::ToMillis(kNow)) / 1000.0,
             token);
  FUZZ_CHECK(
      claims.at("iss").is_string() && claims.at("iss").get_string() == kIssuer,
      token);
  FUZZ_CHECK(claims.at("sub").as_string() == principal.user_id, token);
  FUZZ_CHECK(!principal.user_id.empty(), token);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  if (sodium_init() < 0) return 0;
  chatstore::fuzz::FuzzInput input(data, size);
  const std::uint8_t mode = input.Byte() % 3;
  if (mode == 0) {  // any text at all
    const std::string token(input.Rest());
    auto principal = Authority().Verify(token, kNow);
    if (principal.ok()) CheckAccepted(token, *principal);
  } else if (mode == 1) {  // fuzzed header and claims, signed correctly
    const std::string header = Base64Url(input.Until('\0'));
    const std::string claims = Base64Url(input.Rest());
    const std::string signing_input = header + "." + claims;
    const std::string token = signing_input + "." + Hs256(signing_input);
    auto principal = Authority().Verify(token, kNow);
    if (principal.ok()) CheckAccepted(token, *principal);
  } else {  // the server's own tokens
    chatstore::server::TokenClaims claims;
    const std::uint8_t flags = input.Byte();
    claims.anonymous = flags & 1;
    claims.expires_at = kNow + std::chrono::seconds(1 + flags);
    claims.scope = std::string(input.Until('\0'));
    claims.subject = std::string(input.Rest());
    auto token = Authority().Sign(claims, kNow);
    if (!token.ok()) return 0;
    auto principal = Authority().Verify(*token, kNow);
    const bool usable_subject = !claims.subject.empty() &&
                                claims.subject.size() <= 256 &&
                                token->size() <= 8192;
    FUZZ_CHECK(principal.ok() == usable_subject, *token);
    if (principal.ok()) {
      CheckAccepted(*token, *principal);
      FUZZ_CHECK(principal->user_id == claims.subject, *token);
      FUZZ_CHECK(principal->anonymous == claims.anonymous, *token);
    }
  }
  return 0;
}
