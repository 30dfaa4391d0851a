#include "core/json_util.h"

// basic_parser<Handler> is a template whose definition lives here.
#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <string>
#include <system_error>

namespace chatstore::json {
namespace {

// The handler boost::json::parser uses (a value_stack fed by each event),
// with doubles re-converted from their text. basic_parser hands a number's
// text over in parts when it spans input buffers; ParseExact gives it the
// whole input at once, but the parts are collected all the same.
class ExactNumberHandler {
 public:
  static constexpr std::size_t max_object_size =
      boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size =
      boost::json::string::max_size();

  using ec_t = boost::system::error_code;
  using sv_t = boost::json::string_view;

  boost::json::value_stack stack;

  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_object_begin(ec_t&) { return true; }
  bool on_object_end(std::size_t n, ec_t&) {
    stack.push_object(n);
    return true;
  }
  bool on_array_begin(ec_t&) { return true; }
  bool on_array_end(std::size_t n, ec_t&) {
    stack.push_array(n);
    return true;
  }
  bool on_key_part(sv_t s, std::size_t, ec_t&) {
    stack.push_chars(s);
    return true;
  }
  bool on_key(sv_t s, std::size_t, ec_t&) {
    stack.push_key(s);
    return true;
  }
  bool on_string_part(sv_t s, std::size_t, ec_t&) {
    stack.push_chars(s);
    return true;
  }
  bool on_string(sv_t s, std::size_t, ec_t&) {
    stack.push_string(s);
    return true;
  }
  bool on_number_part(sv_t s, ec_t&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, sv_t, ec_t&) {
    number_.clear();
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, sv_t, ec_t&) {
    number_.clear();
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double d, sv_t s, ec_t&) {
    std::string_view text(s.data(), s.size());
    if (!number_.empty()) text = number_.append(s.data(), s.size());
    double exact = 0;
    const auto [end, err] =
        std::from_chars(text.data(), text.data() + text.size(), exact);
    // Out of range (1e400) keeps Boost's value, as it would without us.
    if (err == std::errc() && end == text.data() + text.size()) d = exact;
    number_.clear();
    stack.push_double(d);
    return true;
  }
  bool on_bool(bool b, ec_t&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(ec_t&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(sv_t, ec_t&) { return true; }
  bool on_comment(sv_t, ec_t&) { return true; }

 private:
  std::string number_;
};

}  // namespace

boost::json::value ParseExact(std::string_view text,
                              boost::system::error_code& ec,
                              const boost::json::parse_options& options) {
  boost::json::basic_parser<ExactNumberHandler> parser(options);
  parser.handler().stack.reset();
  const std::size_t used =
      parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && used < text.size()) ec = boost::json::error::extra_data;
  if (ec) return nullptr;
  return parser.handler().stack.release();
}

Result<boost::json::value> Parse(std::string_view text, std::size_t max_depth,
                                 std::string_view field) {
  boost::json::parse_options opts;
  // One more than the caller's limit so that "too deep" can be told apart
  // from "not JSON" below; Boost.JSON refuses invalid UTF-8 by default.
  opts.max_depth = max_depth + 1;
  boost::system::error_code ec;
  boost::json::value v = ParseExact(text, ec, opts);
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
  boost::json::value current = ParseExact(stored, ec);
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
  boost::json::value p = ParseExact(patch, ec);
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
