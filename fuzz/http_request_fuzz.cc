// The HTTP request path: raw bytes through Beast's request parser with the
// server's limits, then the whole Api (authentication, rate limits,
// idempotency, routing, handlers) on memory stores. Requests without a token
// get a valid one, and the placeholders SID and MID in the target name a
// real session and a streaming message, so the fuzzer reaches the handlers.
// Every answer must be well-formed: a real status, header values without
// CR/LF/NUL, JSON bodies that parse, problem documents that match their
// status and request id.
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "chatstore/cache.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "fuzz/fuzz_input.h"
#include "server/api.h"

namespace json = boost::json;
using namespace chatstore;
using namespace chatstore::server;

namespace {

constexpr std::string_view kSecret = "fuzz-secret-0123456789abcdef01234567";

// The cache routes run on a real cache directory, opened once per process:
// opening one (index, 256 value subdirectories) and removing it cost ~0.3 s
// of file-system work on this machine, which held the fuzzer to ~2
// inputs/s. Each input still starts from an empty cache: every namespace
// the API writes is `user:…` or `shared:…` (server/cache_api.cc), and both
// prefixes are erased before the input runs. (The process-wide hit/miss
// counters carry over; no checked property depends on them.)
Cache& EmptiedCache() {
  struct Directory {
    Directory() {
      char name[] = "/tmp/chatstore-fuzz-cache-XXXXXX";
      if (mkdtemp(name) == nullptr) std::abort();
      path = name;
      cache = OpenCache(path, CacheOptions{}).value();
    }
    ~Directory() {
      cache.reset();
      std::filesystem::remove_all(path);
    }
    std::string path;
    std::unique_ptr<Cache> cache;
  };
  static Directory directory;
  for (const char* prefix : {"user:", "shared:"}) {
    if (!directory.cache->EraseNamespacePrefix(prefix).ok()) std::abort();
  }
  return *directory.cache;
}

// Everything an Api needs, on memory stores, with one session holding one
// streaming message.
struct World {
  World() {
    primary = OpenStore("memory://").value();
    ephemeral = OpenStore("memory://").value();
    service =
        std::make_unique<SessionService>(primary, ephemeral, ServiceOptions{});
    service->AddListener(&hub);
    TokenOptions token_options;
    token_options.secret = std::string(kSecret);
    tokens = std::make_unique<TokenAuthority>(token_options);
    const Timestamp now = SystemClock()->Now();
    TokenClaims claims{"fuzz-user", now + std::chrono::hours(1), false,
                       "admin"};
    bearer = "Bearer " + tokens->Sign(claims, now).value();
    api = std::make_unique<Api>(*service, cache, *tokens, user_limiter,
                                address_limiter, idempotency, hub, metrics,
                                ApiOptions{SessionPolicy::kAuth});
    session_id = service->CreateSession("fuzz-user", {.title = "fuzz"})->id;
    NewMessage streaming;
    streaming.role = Role::kAssistant;
    streaming.status = MessageStatus::kStreaming;
    message_id = service->AddMessage("fuzz-user", session_id, streaming)->id;
  }
  ~World() {
    service->RemoveListener(&hub);
    api.reset();
  }

  std::shared_ptr<Store> primary;
  std::shared_ptr<Store> ephemeral;
  Metrics metrics;
  Hub hub{metrics};
  std::unique_ptr<SessionService> service;
  std::unique_ptr<TokenAuthority> tokens;
  Cache& cache = EmptiedCache();
  RateLimiter user_limiter{0, 0};
  RateLimiter address_limiter{0, 0};
  IdempotencyTable idempotency;
  std::unique_ptr<Api> api;
  std::string bearer;
  std::string session_id;
  std::string message_id;
};

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

void CheckAnswer(const Reply& reply, const std::string& request_text) {
  const HttpResponse& r = reply.response;
  const unsigned status = r.result_int();
  FUZZ_CHECK(status >= 100 && status <= 599, request_text);
  for (const auto& field : r) {
    FUZZ_CHECK(field.value().find_first_of(std::string_view("\r\n\0", 3)) ==
                   std::string_view::npos,
               request_text);
  }
  const std::string_view type = r[http::field::content_type];
  if (!std::holds_alternative<std::monostate>(reply.stream)) return;
  if (type == "application/json" || type == "application/problem+json") {
    boost::system::error_code ec;
    const json::value body = json::parse(r.body(), ec);
    FUZZ_CHECK(!ec, request_text + "\n=> " + r.body());
    if (type == "application/problem+json") {
      const json::object& problem = body.as_object();
      FUZZ_CHECK(problem.at("status").to_number<unsigned>() == status,
                 r.body());
      FUZZ_CHECK(problem.at("request_id").as_string() == "fuzz-request",
                 r.body());
      FUZZ_CHECK(status >= 400, r.body());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  // A fresh world per input: each input's outcome depends on it alone.
  const auto world = std::make_unique<World>();
  std::string text(reinterpret_cast<const char*>(data), size);
  ReplaceAll(text, "SID", world->session_id);
  ReplaceAll(text, "MID", world->message_id);

  http::request_parser<http::string_body> parser;
  parser.header_limit(16 << 10);
  parser.body_limit(1 << 20);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(text), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  HttpRequest request = parser.release();
  if (request[http::field::authorization].empty() &&
      request.target().find("access_token=") == std::string_view::npos) {
    request.set(http::field::authorization, world->bearer);
  }
  RequestContext context{"fuzz-request", "127.0.0.1"};
  const Reply reply = world->api->Handle(request, context);
  if (std::getenv("CHATSTORE_FUZZ_VERBOSE") != nullptr) {  // corpus curation
    std::fprintf(stderr, "%u %s\n", reply.response.result_int(),
                 reply.route.c_str());
  }
  CheckAnswer(reply, text);
  return 0;
}
