// A raw Redis client for tests that look at what a store wrote: every key
// with everything it holds, as one searchable string.
#ifndef CHATSTORE_TESTS_SUPPORT_REDIS_INSPECTOR_H_
#define CHATSTORE_TESTS_SUPPORT_REDIS_INSPECTOR_H_

#include <hiredis/hiredis.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "store/redis/redis_connection.h"

namespace chatstore::testing {

class RedisInspector {
 public:
  explicit RedisInspector(int port) : conn_(Endpoint(port)) {}

  redis::Reply Run(const redis::Command& command) {
    Result<redis::Reply> r = conn_.Run(command);
    if (!r.ok()) throw std::runtime_error(r.status().ToString());
    return std::move(r).value();
  }

  std::vector<std::string> Keys(const std::string& pattern = "*") {
    std::vector<std::string> keys;
    std::string cursor = "0";
    do {
      redis::Reply r = Run({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      cursor.assign(r->element[0]->str, r->element[0]->len);
      for (std::size_t i = 0; i < r->element[1]->elements; ++i) {
        keys.emplace_back(r->element[1]->element[i]->str,
                          r->element[1]->element[i]->len);
      }
    } while (cursor != "0");
    return keys;
  }

  // Every key with everything it holds, as one string to search.
  std::string DumpAll() {
    std::string out;
    for (const std::string& key : Keys()) {
      redis::Reply type = Run({"TYPE", key});
      const std::string t(type->str, type->len);
      redis::Command read;
      if (t == "string") read = {"GET", key};
      if (t == "hash") read = {"HGETALL", key};
      if (t == "zset") read = {"ZRANGE", key, "0", "-1", "WITHSCORES"};
      if (t == "set") read = {"SMEMBERS", key};
      if (t == "list") read = {"LRANGE", key, "0", "-1"};
      out += key + " => ";
      if (!read.empty()) Append(Run(read).get(), out);
      out += "\n";
    }
    return out;
  }

  long long Ttl(const std::string& key) { return Run({"TTL", key})->integer; }

  // How many times EVALSHA ran on the server (INFO commandstats).
  long long EvalshaCalls() {
    redis::Reply info = Run({"INFO", "commandstats"});
    const std::string text(info->str, info->len);
    const std::string key = "cmdstat_evalsha:calls=";
    const auto at = text.find(key);
    return at == std::string::npos ? 0
                                   : std::stoll(text.substr(at + key.size()));
  }

 private:
  static redis::Endpoint Endpoint(int port) {
    redis::Endpoint e;
    e.port = port;
    return e;
  }
  static void Append(const redisReply* r, std::string& out) {
    if (r->type == REDIS_REPLY_ARRAY) {
      for (std::size_t i = 0; i < r->elements; ++i) {
        Append(r->element[i], out);
        out += ' ';
      }
    } else if (r->str) {
      out.append(r->str, r->len);
    }
  }

  redis::Connection conn_;
};

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_SUPPORT_REDIS_INSPECTOR_H_
