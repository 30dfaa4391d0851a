#include "core/json_util.h"

#include <algorithm>
#include <string>

namespace chatstore::json {

Result<boost::json::value> Parse(std::string_view text, std::size_t max_depth,
                                 std::string_view field) {
  boost::json::parse_options opts;
  // One more than the caller's limit so that "too deep" can be told apart
  // from "not JSON" below; Boost.JSON refuses invalid UTF-8 by default.
  opts.max_depth = max_depth + 1;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec, {}, opts);
  if (ec == boost::json::error::too_deep) {
    return Status::Unprocessable(std::string(field) + ": nested deeper than " +
                                 std::to_string(max_depth) + " levels");
  }
  if (ec) {
    return Status::InvalidArgument(std::string(field) + ": not valid JSON (" +
                                   ec.message() + ")");
  }
  if (Depth(v) > max_depth) {
    return Status::Unprocessable(std::string(field) + ": nested deeper than " +
                                 std::to_string(max_depth) + " levels");
  }
  return v;
}

Result<boost::json::object> ParseObject(std::string_view text,
                                        std::size_t max_depth,
                                        std::string_view field) {
  CHATSTORE_ASSIGN_OR_RETURN(boost::json::value v,
                             Parse(text, max_depth, field));
  if (!v.is_object()) {
    return Status::Unprocessable(std::string(field) +
                                 ": must be a JSON object");
  }
  return std::move(v.get_object());
}

std::size_t Depth(const boost::json::value& v) {
  std::size_t inner = 0;
  if (const auto* o = v.if_object()) {
    for (const auto& kv : *o) inner = std::max(inner, Depth(kv.value()));
    return inner + 1;
  }
  if (const auto* a = v.if_array()) {
    for (const auto& e : *a) inner = std::max(inner, Depth(e));
    return inner + 1;
  }
  return 0;
}

void MergePatch(boost::json::value& target, const boost::json::value& patch) {
  const auto* patch_obj = patch.if_object();
  if (patch_obj == nullptr) {
    target = patch;  // a non-object patch replaces the target wholesale
    return;
  }
  if (!target.is_object()) target = boost::json::object();
  auto& obj = target.get_object();
  for (const auto& [key, value] : *patch_obj) {
    if (value.is_null()) {
      obj.erase(key);
    } else {
      MergePatch(obj[key], value);
    }
  }
}

Result<std::string> MergeStateText(std::string_view stored,
                                   const boost::json::object& patch,
                                   std::string_view field,
                                   std::size_t max_bytes) {
  boost::system::error_code ec;
  boost::json::value current = boost::json::parse(stored, ec);
  if (ec || !current.is_object()) current = boost::json::object();
  MergePatch(current, patch);
  std::string out = Serialize(current);
  if (out.size() > max_bytes) {
    return Status::Unprocessable(std::string(field) + ": would exceed " +
                                 std::to_string(max_bytes) +
                                 " bytes after the patch");
  }
  return out;
}

Result<std::string> MergeStateText(std::string_view stored,
                                   std::string_view patch,
                                   std::string_view field,
                                   std::size_t max_bytes) {
  boost::system::error_code ec;
  boost::json::value p = boost::json::parse(patch, ec);
  if (ec || !p.is_object()) {
    return Status::Internal(std::string(field) + ": patch is not an object");
  }
  return MergeStateText(stored, p.as_object(), field, max_bytes);
}

std::string Serialize(const boost::json::value& v) {
  return boost::json::serialize(v);
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    unsigned int cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    static constexpr unsigned int kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

}  // namespace chatstore::json
