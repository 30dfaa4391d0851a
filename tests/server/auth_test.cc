// Bearer token handling over real sockets: only valid HS256 tokens pass.
#include <gtest/gtest.h>

#include <string>

#include "server/server_test_fixture.h"

namespace chatstore::testing {
namespace {

class AuthTest : public ServerTest {
 protected:
  // 401 with the bearer challenge; `invalid_token` when a token was sent.
  void ExpectUnauthorized(const HttpResult& r, bool token_given) {
    ExpectProblem(r, 401);
    const std::string challenge = r.Header("www-authenticate");
    EXPECT_TRUE(challenge.starts_with("Bearer")) << challenge;
    EXPECT_EQ(challenge.find("invalid_token") != std::string::npos, token_given)
        << challenge;
  }
};

TEST_F(AuthTest, MissingTokenIs401) {
  ExpectUnauthorized(client().Request("GET", "/v1/sessions"), false);
  ExpectUnauthorized(client().Request("POST", "/v1/sessions", "{}"), false);
  ExpectUnauthorized(client().Request("GET", "/v1/sessions", "",
                                      {{"Authorization", "Basic x"}}),
                     false);
}

TEST_F(AuthTest, BadTokensAre401) {
  TokenSpec expired;
  expired.exp_in_seconds = -3600;
  TokenSpec no_exp;
  no_exp.exp_in_seconds = std::nullopt;
  TokenSpec forged;
  forged.secret = "not-the-server-secret-not-the-server-secret";
  TokenSpec none;
  none.alg = "none";
  TokenSpec hs384;
  hs384.alg = "HS384";
  TokenSpec hs512;
  hs512.alg = "HS512";
  TokenSpec future;
  future.nbf_in_seconds = 3600;
  TokenSpec no_sub;
  no_sub.sub = "";

  for (const TokenSpec& spec :
       {expired, no_exp, forged, none, hs384, hs512, future, no_sub}) {
    const std::string token = MintToken(spec);
    SCOPED_TRACE(token);
    ExpectUnauthorized(client().Get("/v1/sessions", token), true);
  }
  ExpectUnauthorized(client().Get("/v1/sessions", "garbage"), true);
  ExpectUnauthorized(client().Get("/v1/sessions", "a.b.c"), true);

  // A valid token with its payload swapped keeps a signature that no
  // longer matches.
  const std::string good = TokenFor("alice");
  const std::string other = TokenFor("mallory-with-a-longer-name");
  const std::size_t d1 = good.find('.');
  const std::size_t d2 = good.rfind('.');
  const std::size_t o1 = other.find('.');
  const std::size_t o2 = other.rfind('.');
  const std::string spliced =
      good.substr(0, d1) + other.substr(o1, o2 - o1) + good.substr(d2);
  ExpectUnauthorized(client().Get("/v1/sessions", spliced), true);
}

TEST_F(AuthTest, ValidTokensPassByHeaderOrQueryParameter) {
  const std::string token = TokenFor("carol");
  EXPECT_EQ(client().Get("/v1/sessions", token).status, 200);
  EXPECT_EQ(client()
                .Request("GET", "/v1/sessions", "",
                         {{"Authorization", "bearer " + token}})
                .status,
            200);
  EXPECT_EQ(
      client().Request("GET", "/v1/sessions?access_token=" + token).status,
      200);
  // A token that is about to become valid within the allowed skew passes.
  TokenSpec soon;
  soon.sub = "carol";
  soon.nbf_in_seconds = 5;
  EXPECT_EQ(client().Get("/v1/sessions", MintToken(soon)).status, 200);
}

TEST_F(AuthTest, AnonymousTokenEndpointNeedsNoToken) {
  HttpResult r = client().Request("POST", "/v1/auth/anonymous");
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string token(r.Json().as_object()["token"].as_string());
  EXPECT_EQ(client().Get("/v1/sessions", token).status, 200);
}

class IssuerAudienceTest : public ServerTest {
 protected:
  std::vector<std::string> ServerArgs() override {
    return {"--jwt-issuer", "https://auth.example", "--jwt-audience",
            "chatstore"};
  }
};

TEST_F(IssuerAudienceTest, IssuerAndAudienceAreCheckedWhenConfigured) {
  TokenSpec right;
  right.iss = "https://auth.example";
  right.aud = "chatstore";
  EXPECT_EQ(client().Get("/v1/sessions", MintToken(right)).status, 200);

  TokenSpec wrong_iss = right;
  wrong_iss.iss = "https://evil.example";
  EXPECT_EQ(client().Get("/v1/sessions", MintToken(wrong_iss)).status, 401);
  TokenSpec wrong_aud = right;
  wrong_aud.aud = "other";
  EXPECT_EQ(client().Get("/v1/sessions", MintToken(wrong_aud)).status, 401);
  TokenSpec missing;
  EXPECT_EQ(client().Get("/v1/sessions", MintToken(missing)).status, 401);

  // The server's own anonymous tokens carry the configured iss and aud.
  HttpResult anon = client().Request("POST", "/v1/auth/anonymous");
  ASSERT_EQ(anon.status, 201);
  EXPECT_EQ(client()
                .Get("/v1/sessions",
                     std::string(anon.Json().as_object()["token"].as_string()))
                .status,
            200);
}

}  // namespace
}  // namespace chatstore::testing
