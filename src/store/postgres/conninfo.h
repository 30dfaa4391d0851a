// Turns a chatstore postgres URI into a libpq connection URI with bounded
// timeouts, plus the settings chatstore itself reads from the URI.
#ifndef CHATSTORE_STORE_POSTGRES_CONNINFO_H_
#define CHATSTORE_STORE_POSTGRES_CONNINFO_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "chatstore/status.h"

namespace chatstore::postgres {

struct ConnSettings {
  // What libpq receives: the URI without chatstore's own parameters, plus
  // defaults for every timeout the caller did not set.
  std::string conninfo;
  // `?pool_size=N`: the most connections the store opens (default 8).
  std::size_t pool_size = 8;
};

// `uri` is "postgresql://..." or "postgres://..." (libpq's URI syntax).
// Defaults added when absent, so that an outage answers quickly instead of
// hanging: connect_timeout=2 (seconds), statement_timeout=5 s and
// lock_timeout=5 s (through `options`), TCP keepalives after 10 s idle
// (3 probes 3 s apart) and tcp_user_timeout=10 s, which bound a read from a
// server that vanished without closing the connection.
// InvalidArgument for another scheme or a pool_size outside [1, 1000].
Result<ConnSettings> ParseUri(std::string_view uri);

}  // namespace chatstore::postgres

#endif  // CHATSTORE_STORE_POSTGRES_CONNINFO_H_
