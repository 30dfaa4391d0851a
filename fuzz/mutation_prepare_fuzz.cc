// Change preparation (core/mutations, Mutation::Prepare): every kind of
// write against fuzzed current rows. Preparation is a pure function (the
// same answer twice), never writes another user's session, and an accepted
// batch keeps the log's invariants: events numbered last_seq+1.. without a
// gap, the session's last_seq on the last of them, one-line JSON data,
// object-valued metadata and state within the limits, message rows of this
// session with valid UTF-8 content and tokens exactly when complete.
#include <boost/json.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/json_util.h"
#include "core/mutations.h"
#include "core/wire_format.h"
#include "fuzz/fuzz_input.h"

using namespace chatstore;

namespace {

constexpr std::string_view kSession = "01a24600-0000-7000-8000-000000000001";
constexpr std::string_view kMessage = "01a24600-0000-7000-8000-000000000002";
constexpr std::string_view kUser = "fuzz-user";
const Timestamp kNow = FromMillis(1'796'083'200'000);

// `text` serialized when it is a JSON object within the depth limit and,
// serialized, within `max_bytes`; else "{}".
std::string ObjectOrEmpty(std::string_view text,
                          std::size_t max_bytes = std::string::npos) {
  auto parsed = chatstore::json::ParseObject(text, 32, "x");
  if (!parsed.ok()) return "{}";
  std::string serialized = chatstore::json::Serialize(*parsed);
  return serialized.size() <= max_bytes ? serialized : "{}";
}

bool Utf8Within(std::string_view text, std::size_t max) {
  return text.size() <= max && chatstore::json::IsValidUtf8(text);
}

std::string Describe(const Result<WriteBatch>& r) {
  if (!r.ok()) return "error " + r.status().ToString();
  std::string out = wire::SessionJson(r->session);
  out += r->creates_session ? " creates" : "";
  for (const MessageWrite& m : r->messages) {
    out += " " + wire::MessageJson(m.row) + (m.created ? "+" : "");
  }
  for (const Event& e : r->events) out += " " + wire::EventJson(e);
  return out;
}

void CheckBatch(const WriteBatch& batch, const Session* before,
                const core::WriteContext& ctx, const std::string& text) {
  FUZZ_CHECK(!batch.events.empty(), text);
  const std::int64_t first =
      before != nullptr && !batch.creates_session ? before->last_seq + 1 : 1;
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    const Event& e = batch.events[i];
    FUZZ_CHECK(e.seq == first + static_cast<std::int64_t>(i), text);
    FUZZ_CHECK(e.session_id == batch.session.id, text);
    FUZZ_CHECK(!e.type.empty(), text);
    FUZZ_CHECK(e.data.find_first_of("\r\n") == std::string::npos, text);
    FUZZ_CHECK(chatstore::json::Parse(e.data, 1000, "data").ok(), text);
  }
  FUZZ_CHECK(batch.session.last_seq == batch.events.back().seq, text);
  // State scopes (docs/context-and-state.md): the stored state.delta holds
  // no temp: key, a live form names an event of the batch, and the user
  // patch is an object of user: keys only.
  for (const Event& e : batch.events) {
    if (e.type != "state.delta") continue;
    auto data = chatstore::json::ParseObject(e.data, 1000, "data");
    FUZZ_CHECK(
        data.ok() && data->contains("delta") && data->at("delta").is_object(),
        text);
    if (!data.ok() || !data->contains("delta")) continue;
    for (const auto& [key, value] : data->at("delta").as_object()) {
      FUZZ_CHECK(!std::string_view(key).starts_with("temp:"), text);
    }
  }
  for (const WriteBatch::LiveData& live : batch.live_data) {
    FUZZ_CHECK(live.seq >= first && live.seq <= batch.session.last_seq, text);
    FUZZ_CHECK(chatstore::json::Parse(live.data, 1000, "live").ok(), text);
  }
  if (batch.user_state_patch) {
    auto user =
        chatstore::json::ParseObject(*batch.user_state_patch, 1000, "u");
    FUZZ_CHECK(user.ok(), text);
    if (user.ok()) {
      for (const auto& [key, value] : *user) {
        FUZZ_CHECK(std::string_view(key).starts_with("user:"), text);
      }
    }
    FUZZ_CHECK(batch.user_state_max_bytes == ctx.max_state_bytes, text);
  }
  FUZZ_CHECK(batch.session.user_id == ctx.user_id, text);
  FUZZ_CHECK(batch.session.id == kSession, text);
  FUZZ_CHECK(batch.session.state.size() <= ctx.max_state_bytes, text);
  FUZZ_CHECK(chatstore::json::ParseObject(batch.session.state, 1000, "s").ok(),
             text);
  FUZZ_CHECK(
      chatstore::json::ParseObject(batch.session.metadata, 1000, "m").ok(),
      text);
  std::int64_t created = 0;
  for (const MessageWrite& m : batch.messages) {
    created += m.created;
    FUZZ_CHECK(m.row.session_id == batch.session.id, text);
    FUZZ_CHECK(chatstore::json::IsValidUtf8(m.row.content), text);
    FUZZ_CHECK(m.row.content.size() <= ctx.max_content_bytes, text);
    FUZZ_CHECK(
        m.row.tokens.has_value() == (m.row.status == MessageStatus::kComplete),
        text);
    FUZZ_CHECK(m.row.seq >= 1 && m.row.seq <= batch.session.last_seq, text);
    // A precount is reused only when it still matches the content.
    if (m.row.tokens) {
      FUZZ_CHECK(*m.row.tokens == core::CountTokens(m.row.content), text);
    }
  }
  const std::int64_t count_before =
      before != nullptr && !batch.creates_session ? before->message_count : 0;
  FUZZ_CHECK(batch.session.message_count == count_before + created, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  chatstore::fuzz::FuzzInput input(data, size);
  core::WriteContext ctx;
  ctx.user_id = std::string(kUser);
  ctx.max_content_bytes = 64;  // limits small inputs can reach
  ctx.max_state_bytes = 96;
  ctx.max_metadata_bytes = 96;

  // The current rows.
  const std::uint8_t flags = input.Byte();
  Session session;
  session.id = std::string(kSession);
  session.user_id = flags & 1 ? "someone-else" : std::string(kUser);
  session.status = static_cast<SessionStatus>(input.Byte() % 5);
  session.persistent = flags & 2;
  if (!session.persistent) session.expires_at = kNow;
  session.last_seq = 1 + input.Byte();
  session.message_count = input.Byte() % (session.last_seq + 1);
  // Stored rows hold what earlier writes were allowed to store.
  session.state = ObjectOrEmpty(input.Until('\0'), ctx.max_state_bytes);
  session.metadata = ObjectOrEmpty(input.Until('\0'), ctx.max_metadata_bytes);
  session.created_at = session.updated_at = kNow - std::chrono::hours(1);
  Message message;
  message.id = std::string(kMessage);
  message.session_id = session.id;
  message.seq = 1 + input.Byte() % session.last_seq;
  message.role = static_cast<Role>(input.Byte() % 4);
  message.status =
      flags & 4 ? MessageStatus::kStreaming : MessageStatus::kComplete;
  message.content = std::string(input.Until('\0'));
  if (!Utf8Within(message.content, ctx.max_content_bytes)) return 0;
  if (message.status == MessageStatus::kComplete) {
    message.tokens = core::CountTokens(message.content);
  }
  message.created_at = message.updated_at = session.created_at;
  const Session* current_session = flags & 8 ? nullptr : &session;
  const Message* current_message = flags & 16 ? nullptr : &message;

  // The write, with inputs as the service validates them (SessionService
  // checks contents and deltas against max_content_bytes before it builds
  // the mutation; a delta is checked again with the streamed text by
  // Prepare).
  std::shared_ptr<const Mutation> mutation;
  const std::string text(input.Until('\0'));
  const std::string json_text = ObjectOrEmpty(input.Until('\0'));
  switch (input.Byte() % 6) {
    case 0: {
      Session row;
      row.id = std::string(kSession);
      row.user_id = ctx.user_id;
      if (!Utf8Within(text, 1024)) return 0;
      row.title = text;
      row.metadata = json_text;
      row.state = ObjectOrEmpty(input.Rest());
      row.persistent = flags & 32;
      mutation = core::CreateSession(ctx, row);
      break;
    }
    case 1: {
      core::ParsedPatch patch;
      const std::uint8_t which = input.Byte();
      if (which & 1) {
        if (!Utf8Within(text, 1024)) return 0;
        patch.title = text;
      }
      if (which & 2) patch.status = static_cast<SessionStatus>(which % 5);
      if (which & 4) patch.metadata = boost::json::parse(json_text).as_object();
      if (which & 8) {
        patch.state =
            boost::json::parse(ObjectOrEmpty(input.Rest())).as_object();
      }
      mutation =
          core::UpdateSession(ctx, std::string(kSession), std::move(patch));
      break;
    }
    case 2: {
      Message draft;
      draft.id = "01a24600-0000-7000-8000-000000000003";
      draft.role = static_cast<Role>(flags % 4);
      if (!Utf8Within(text, ctx.max_content_bytes)) return 0;
      draft.content = text;
      draft.metadata = json_text;
      draft.status =
          flags & 32 ? MessageStatus::kStreaming : MessageStatus::kComplete;
      if (draft.status == MessageStatus::kComplete) {
        draft.tokens = core::CountTokens(draft.content);
      }
      mutation = core::AddMessage(ctx, std::string(kSession), draft);
      break;
    }
    case 3:
      if (!Utf8Within(text, ctx.max_content_bytes)) return 0;
      mutation = core::AppendDelta(ctx, std::string(kSession),
                                   std::string(kMessage), text);
      break;
    case 4: {
      std::optional<std::string> content;
      if (flags & 32) {
        if (!Utf8Within(text, ctx.max_content_bytes)) return 0;
        content = text;
      }
      std::optional<core::TokenCount> precount;
      const std::string_view counted =
          content ? std::string_view(*content) : message.content;
      if (flags & 64) {
        precount = core::TokenCount{counted.size(), core::CountTokens(counted)};
      }
      mutation = core::CompleteMessage(
          ctx, std::string(kSession), std::string(kMessage), content, precount);
      break;
    }
    default: {
      std::vector<Event> events;
      const int n = 1 + flags % 3;
      for (int i = 0; i < n; ++i) {
        Event e;
        e.type = i == 0 ? text : "app.event";
        if (!core::IsValidAppEventType(e.type)) return 0;
        e.data = json_text;
        events.push_back(e);
      }
      mutation = core::AppendEvents(ctx, std::string(kSession), events);
    }
  }

  const Result<WriteBatch> first =
      mutation->Prepare(current_session, current_message, kNow);
  const Result<WriteBatch> second =
      mutation->Prepare(current_session, current_message, kNow);
  const std::string described = Describe(first);
  if (std::getenv("CHATSTORE_FUZZ_VERBOSE") != nullptr) {  // corpus curation
    std::fprintf(stderr, "%s\n", described.substr(0, 300).c_str());
  }
  FUZZ_CHECK(described == Describe(second), described);
  if (!first.ok()) return 0;
  // Another user's session is never written (it answers as missing).
  FUZZ_CHECK(current_session == nullptr || first->creates_session ||
                 session.user_id == ctx.user_id,
             described);
  CheckBatch(*first, current_session, ctx, described);
  return 0;
}
