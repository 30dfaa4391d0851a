#include "store/postgres/conninfo.h"

#include <charconv>
#include <string>
#include <utility>
#include <vector>

#include "store/uri_query.h"

namespace chatstore::postgres {
namespace {

// Parameters added when the URI does not set them. `options` carries server
// settings for the session; "-c statement_timeout=5000 -c lock_timeout=5000"
// percent-encoded, as the URI syntax requires.
constexpr std::pair<std::string_view, std::string_view> kDefaults[] = {
    {"connect_timeout", "2"},
    {"options", "-c%20statement_timeout%3D5000%20-c%20lock_timeout%3D5000"},
    {"keepalives", "1"},
    {"keepalives_idle", "10"},
    {"keepalives_interval", "3"},
    {"keepalives_count", "3"},
    {"tcp_user_timeout", "10000"},
    {"fallback_application_name", "chatstore"},
};

constexpr std::string_view kPoolSize = "pool_size";

}  // namespace

Result<ConnSettings> ParseUri(std::string_view uri) {
  if (!uri.starts_with("postgresql://") && !uri.starts_with("postgres://")) {
    return Status::InvalidArgument(
        "postgres: URI must start with "
        "postgresql:// or postgres://, got '" +
        std::string(uri) + "'");
  }
  ConnSettings out;
  const std::size_t q = uri.find('?');
  std::string_view query =
      q == std::string_view::npos ? std::string_view() : uri.substr(q + 1);
  std::vector<std::string_view> kept;
  std::vector<std::string_view> names;
  for (const UriParam& param : SplitUriQuery(query)) {
    if (param.name == kPoolSize) {
      const std::string_view value = param.value;
      std::size_t n = 0;
      const auto [end, ec] =
          std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 1 ||
          n > 1000) {
        return Status::InvalidArgument(
            "postgres: pool_size must be a number in [1, 1000], got '" +
            std::string(value) + "'");
      }
      out.pool_size = n;
      continue;
    }
    kept.push_back(param.text);
    names.push_back(param.name);
  }
  out.conninfo = std::string(uri.substr(0, q));
  char sep = '?';
  const auto append = [&](std::string_view param) {
    out.conninfo += sep;
    out.conninfo.append(param);
    sep = '&';
  };
  for (std::string_view param : kept) append(param);
  for (const auto& [name, value] : kDefaults) {
    bool set = false;
    for (std::string_view n : names) set = set || n == name;
    if (!set) append(std::string(name) + "=" + std::string(value));
  }
  return out;
}

}  // namespace chatstore::postgres
