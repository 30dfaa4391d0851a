// Development mode (--dev): a JWT secret made on first start and kept in the
// data directory, and a ready-to-use token, so a newcomer can call the API
// within a minute. Never for production: anyone who can read the data
// directory can mint tokens.
#ifndef CHATSTORE_SERVER_DEV_MODE_H_
#define CHATSTORE_SERVER_DEV_MODE_H_

#include <ostream>
#include <string>

#include "chatstore/status.h"

namespace chatstore::server {

// Reads `<directory>/dev-jwt-secret`, or creates it (mode 0600, 32 random
// bytes hex encoded) together with the directory.
Result<std::string> LoadOrCreateDevSecret(const std::string& directory);

// Prints the dev token and a curl line that creates a session.
void PrintDevBanner(std::ostream& out, const std::string& base_url,
                    const std::string& token);

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_DEV_MODE_H_
