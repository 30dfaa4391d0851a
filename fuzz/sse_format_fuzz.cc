// The SSE writer's escaping: whatever bytes an event's data holds, the frame
// FormatSseEvent writes must parse (as the WHATWG HTML standard's
// EventSource parser does) into exactly one event with the same id, type and
// data (line breaks normalised to LF, which is all SSE can carry).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_input.h"
#include "server/sse.h"

namespace {

struct ParsedEvent {
  std::string id;
  std::string type;
  std::string data;
};

// The WHATWG "interpret an event stream" algorithm, for one buffer.
std::vector<ParsedEvent> ParseStream(std::string_view text) {
  std::vector<ParsedEvent> events;
  ParsedEvent current;
  bool has_data = false;
  while (!text.empty()) {
    const std::size_t end = text.find_first_of("\r\n");
    if (end == std::string_view::npos) break;  // an unterminated line
    const std::string_view line = text.substr(0, end);
    const bool crlf =
        text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n';
    text.remove_prefix(end + (crlf ? 2 : 1));
    if (line.empty()) {
      if (has_data) {
        current.data.pop_back();  // the last LF
        events.push_back(current);
      }
      current.type.clear();
      current.data.clear();
      has_data = false;
      continue;
    }
    if (line.front() == ':') continue;
    const std::size_t colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
      current.data.append(value).push_back('\n');
      has_data = true;
    } else if (field == "event") {
      current.type = value;
    } else if (field == "id") {
      current.id = value;
    }
  }
  return events;
}

std::string NormaliseLineBreaks(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  chatstore::fuzz::FuzzInput input(data, size);
  std::int64_t seq = 0;
  for (int i = 0; i < 4; ++i) seq = seq << 8 | input.Byte();
  // Event types are validated before they are stored (no line breaks).
  std::string type(input.Until('\0'));
  if (type.empty() || type.find_first_of("\r\n") != std::string::npos) {
    type = "app.x";
  }
  const std::string_view payload = input.Rest();
  const std::string frame =
      chatstore::server::FormatSseEvent(seq, type, payload);
  const std::vector<ParsedEvent> events = ParseStream(frame);
  FUZZ_CHECK(events.size() == 1, frame);
  FUZZ_CHECK(events[0].id == std::to_string(seq), frame);
  FUZZ_CHECK(events[0].type == type, frame);
  FUZZ_CHECK(events[0].data == NormaliseLineBreaks(payload), frame);
  return 0;
}
