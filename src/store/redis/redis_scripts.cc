#include "store/redis/redis_scripts.h"

#include <hiredis/hiredis.h>

#include <utility>

#include "store/redis/redis_errors.h"

namespace chatstore::redis {

// Scripts read only the keys they are given and write nothing before the
// check passes, so a refused CAS leaves the data untouched. Redis does not
// roll back a script that fails half-way, so nothing after the check may
// fail: every argument is produced by this file's callers, and numbers
// handed from Lua to Redis are never -0 (which Lua formats as "-0", not an
// integer to Redis). Seqs, scores and counters travel as decimal strings;
// Lua compares the stored last_seq with the expected one as strings, both
// written by std::to_string.
//
// The user's `user:` state document (KEYS[13]) rides on the same CAS: the
// last three ARGV are a flag, the document the caller merged into ('' when
// absent) and the merged result ('' to delete). The caller merges with the
// core's json::MergeStateText, so Lua does no JSON; when another session of
// the user changed the document meanwhile, the check fails and the caller
// merges again, so no patch is lost.
const char kApplyScript[] = R"lua(
local gen, last = ARGV[1], ARGV[2]
if gen == '' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
else
  local cur = redis.call('HMGET', KEYS[1], 'gen', 'last_seq')
  if cur[1] ~= gen or cur[2] ~= last then return 0 end
end
local un = #ARGV
local user = ARGV[un - 2] == '1'
if user and (redis.call('GET', KEYS[13]) or '') ~= ARGV[un - 1] then
  return 0
end
local sid = ARGV[4]
local i = 9
local nf = tonumber(ARGV[8])
if nf > 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, i, i + 2 * nf - 1))
end
i = i + 2 * nf
local nm = tonumber(ARGV[i]); i = i + 1
local created = 0
for _ = 1, nm do
  local id = ARGV[i]
  redis.call('HSET', KEYS[3], id, ARGV[i + 2])
  if ARGV[i + 3] == '1' then
    redis.call('ZADD', KEYS[4], ARGV[i + 1], id)
    created = created + 1
  end
  if ARGV[i + 4] ~= '' then
    redis.call('ZADD', KEYS[8], ARGV[i + 4], id .. '|' .. sid)
  end
  i = i + 5
end
local ne = tonumber(ARGV[i]); i = i + 1
for _ = 1, ne do
  redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
-- Wake other instances' followers (keys::kChangesChannel): sid, last seq.
if ne > 0 then redis.call('PUBLISH', 'cs:changes', sid .. ' ' .. ARGV[i - 2]) end
if KEYS[6] ~= KEYS[7] then redis.call('ZREM', KEYS[6], sid) end
redis.call('ZADD', KEYS[5], ARGV[3], sid)
redis.call('ZADD', KEYS[7], ARGV[3], sid)
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[9], ARGV[5], sid)
  for k = 1, 4 do redis.call('EXPIRE', KEYS[k], ARGV[6]) end
end
-- The sweeper's work lists: activity of persistent sessions, and sessions
-- still without a message, read back from the row as written.
local row = redis.call('HMGET', KEYS[1], 'message_count', 'created_at')
if ARGV[5] == '' then
  redis.call('ZADD', KEYS[11], ARGV[3], sid)
else
  redis.call('ZREM', KEYS[11], sid)
end
if row[1] == '0' then
  redis.call('ZADD', KEYS[12], row[2], sid)
else
  redis.call('ZREM', KEYS[12], sid)
end
if ARGV[7] ~= '0' then redis.call('HINCRBY', KEYS[10], 'sessions', ARGV[7]) end
if created > 0 then redis.call('HINCRBY', KEYS[10], 'messages', created) end
redis.call('HINCRBY', KEYS[10], 'events', ne)
if user then
  if ARGV[un] == '' then redis.call('DEL', KEYS[13])
  else redis.call('SET', KEYS[13], ARGV[un]) end
end
return 1
)lua";

const char kDeleteScript[] = R"lua(
local cur = redis.call('HMGET', KEYS[1], 'gen', 'last_seq')
if cur[1] ~= ARGV[1] then return false end
-- The sweeper deletes only the version it checked: any write moves last_seq.
if ARGV[3] ~= nil and ARGV[3] ~= '' and cur[2] ~= ARGV[3] then
  return false
end
local sid = ARGV[2]
local mids = redis.call('ZRANGE', KEYS[4], 0, -1)
for k = 1, #mids do redis.call('ZREM', KEYS[6], mids[k] .. '|' .. sid) end
local nm = #mids
local ne = redis.call('ZCARD', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[5], sid)
redis.call('ZREM', KEYS[7], sid)
for k = 9, #KEYS do redis.call('ZREM', KEYS[k], sid) end
redis.call('HINCRBY', KEYS[8], 'sessions', -1)
redis.call('PUBLISH', 'cs:changes', sid)
if nm > 0 then redis.call('HINCRBY', KEYS[8], 'messages', -nm) end
if ne > 0 then redis.call('HINCRBY', KEYS[8], 'events', -ne) end
return {nm, ne}
)lua";

Status Script::Load(Connection& conn) {
  CHATSTORE_ASSIGN_OR_RETURN(Reply reply,
                             conn.Run({"SCRIPT", "LOAD", source_}));
  CHATSTORE_RETURN_IF_ERROR(CheckReply(reply.get(), "SCRIPT LOAD"));
  if (reply->type != REDIS_REPLY_STRING) {
    return Status::Internal("redis: SCRIPT LOAD did not answer a SHA1");
  }
  sha_.assign(reply->str, reply->len);
  return Status::Ok();
}

Result<Reply> Script::Eval(Connection& conn,
                           const std::vector<std::string>& keys,
                           const std::vector<std::string>& args) const {
  Command command;
  command.reserve(3 + keys.size() + args.size());
  command.push_back("EVALSHA");
  command.push_back(sha_);
  command.push_back(std::to_string(keys.size()));
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  CHATSTORE_ASSIGN_OR_RETURN(Reply reply, conn.Run(command));
  if (IsNoScript(reply.get())) {
    // The script cache is empty after a restart; loading yields the same
    // SHA1, so the command can be repeated as it is.
    CHATSTORE_ASSIGN_OR_RETURN(Reply loaded,
                               conn.Run({"SCRIPT", "LOAD", source_}));
    CHATSTORE_RETURN_IF_ERROR(CheckReply(loaded.get(), "SCRIPT LOAD"));
    CHATSTORE_ASSIGN_OR_RETURN(reply, conn.Run(command));
  }
  CHATSTORE_RETURN_IF_ERROR(CheckReply(reply.get(), "EVALSHA"));
  return reply;
}

}  // namespace chatstore::redis
