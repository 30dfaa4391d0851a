// RFC 7396 merge patch (core/json_util): for any target and patch the
// parser accepts, applying the patch never crashes, the result holds none of
// the patch's nulls as members, applying it again changes nothing
// (idempotence), and the result survives a serialize/parse round trip.
#include <boost/json.hpp>
#include <cstdint>
#include <string>

#include "core/json_util.h"
#include "fuzz/fuzz_input.h"

namespace json = boost::json;

namespace {

// Every member the patch sets to null is absent from the result.
bool NullsRemoved(const json::value& result, const json::value& patch) {
  if (!patch.is_object()) return true;
  if (!result.is_object()) return false;
  for (const auto& [key, value] : patch.get_object()) {
    const json::value* member = result.get_object().if_contains(key);
    if (value.is_null()) {
      if (member != nullptr) return false;
    } else if (value.is_object()) {
      if (member == nullptr || !NullsRemoved(*member, value)) return false;
    } else if (member == nullptr || *member != value) {
      return false;  // a non-object value replaces the member as it is
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  chatstore::fuzz::FuzzInput input(data, size);
  constexpr std::size_t kDepth = 32;
  auto target = chatstore::json::Parse(input.Until('\0'), kDepth, "target");
  auto patch = chatstore::json::Parse(input.Rest(), kDepth, "patch");
  if (!target.ok() || !patch.ok()) return 0;

  json::value once = *target;
  chatstore::json::MergePatch(once, *patch);
  const std::string text = chatstore::json::Serialize(once);
  FUZZ_CHECK(NullsRemoved(once, *patch), text);
  if (!patch->is_object()) FUZZ_CHECK(once == *patch, text);

  json::value twice = once;
  chatstore::json::MergePatch(twice, *patch);
  FUZZ_CHECK(twice == once, text);

  FUZZ_CHECK(text.find('\n') == std::string::npos, text);
  // A patch can deepen the target by its own depth at most.
  auto reparsed = chatstore::json::Parse(text, 2 * kDepth + 1, "result");
  FUZZ_CHECK(reparsed.ok(), text);
  FUZZ_CHECK(*reparsed == once, text);
  return 0;
}
