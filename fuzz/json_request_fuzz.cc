// Request decoding (server/request_decoding): a request body through the
// server's JSON parser and every body decoder, and a query string through
// the query decoders and the cursor codecs. Nothing crashes; what a decoder
// accepts is within the limits and round-trips where it should.
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <cstdint>
#include <string>

#include "core/json_util.h"
#include "fuzz/fuzz_input.h"
#include "server/request_decoding.h"

namespace json = boost::json;
using namespace chatstore;
using namespace chatstore::server;

namespace {

void CheckJsonText(std::string_view text, std::size_t max_depth) {
  auto parsed = chatstore::json::Parse(text, max_depth, "decoded");
  FUZZ_CHECK(parsed.ok(), text);
  FUZZ_CHECK(text.find('\n') == std::string_view::npos, text);
}

void DecodeBody(std::string_view body, const Limits& limits) {
  auto object = ParseJsonObject(body, limits);
  if (!object.ok()) return;
  FUZZ_CHECK(chatstore::json::Depth(*object) <= limits.max_json_depth, body);
  if (auto create = DecodeCreateSession(*object); create.ok()) {
    CheckJsonText(create->request.metadata, limits.max_json_depth);
    CheckJsonText(create->request.state, limits.max_json_depth);
  }
  if (auto patch = DecodeSessionPatch(*object); patch.ok()) {
    if (patch->metadata) CheckJsonText(*patch->metadata, limits.max_json_depth);
    if (patch->state) CheckJsonText(*patch->state, limits.max_json_depth);
  }
  if (auto message = DecodeNewMessage(*object); message.ok()) {
    CheckJsonText(message->metadata, limits.max_json_depth);
    FUZZ_CHECK(chatstore::json::IsValidUtf8(message->content), body);
  }
  (void)DecodeDelta(*object);
  (void)DecodeCompletion(*object);
  (void)DecodePreferences(*object);
  if (auto events = DecodeAppEvents(*object, limits); events.ok()) {
    FUZZ_CHECK(!events->empty(), body);
    FUZZ_CHECK(events->size() <= limits.max_events_per_batch, body);
    for (const AppEvent& e : *events) {
      CheckJsonText(e.data, limits.max_json_depth);
    }
  }
}

// The query reaches the decoders the way Api::Handle gives it to them: the
// request target parsed by parse_origin_form, then its params(). (Boost
// 1.81's parse_query must not be used on an empty view: it measures it with
// strlen, reading past the end of a buffer that is not NUL-terminated --
// the crash fuzz/crashes/json_request/crash-da39a3ee... recorded.)
void DecodeQuery(std::string_view query, const Limits& limits) {
  std::string target = "/v1/sessions?";
  target += query;
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return;
  const boost::urls::params_view view = url->params();
  if (auto limit = QueryLimit(view, limits); limit.ok()) {
    FUZZ_CHECK(*limit >= 0 && *limit <= limits.max_page, query);
  }
  if (auto seq = QuerySeq(view, "after_seq"); seq.ok()) {
    FUZZ_CHECK(*seq >= 0, query);
  }
  if (auto cursor = QueryString(view, "cursor")) {
    if (auto session = DecodeSessionCursor(*cursor); session.ok()) {
      auto again = DecodeSessionCursor(EncodeSessionCursor(*session));
      FUZZ_CHECK(again.ok() && again->id == session->id &&
                     again->updated_at == session->updated_at,
                 *cursor);
    }
    if (auto search = DecodeSearchCursor(*cursor); search.ok()) {
      auto again = DecodeSearchCursor(EncodeSearchCursor(*search));
      FUZZ_CHECK(again.ok() && again->message_id == search->message_id &&
                     again->created_at == search->created_at,
                 *cursor);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  chatstore::fuzz::FuzzInput input(data, size);
  Limits limits;
  limits.max_events_per_batch = 8;  // reachable by small inputs
  const std::string_view query = input.Until('\n');
  DecodeQuery(query, limits);
  DecodeBody(input.Rest(), limits);
  return 0;
}
