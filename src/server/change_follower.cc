#include "server/change_follower.h"

#include <string>
#include <vector>

#include "chatstore/ids.h"

namespace chatstore::server {

void ChangeFollower::Start() {
  notifier_->Start([this](const LogChange& change) { OnChange(change); });
}

void ChangeFollower::OnChange(const LogChange& change) {
  if (!change.AnySession()) {
    hub_.NoteLogGrew(change.session_id, change.last_seq);
    return;
  }
  // Which sessions changed is unknown (SQLite, or a reconnect that may have
  // missed notifications): compare each followed session's last_seq, one
  // primary-key read each, so that only streams that really are behind
  // read their log.
  for (const std::string& id : hub_.FollowedSessions()) {
    // Ephemeral sessions live in this process's memory store: only this
    // process writes them, and its own commits reach the Hub directly.
    if (IsEphemeralSessionId(id)) continue;
    Result<Session> session = store_->GetSession(id);
    if (session.ok()) {
      hub_.NoteLogGrew(id, session->last_seq);
    } else if (session.status().IsNotFound()) {
      hub_.NoteLogGrew(id, 0);  // deleted: the streams end themselves
    }
    // Unavailable: the store is down; the reconnect that follows the
    // outage reports AnySession again.
  }
}

}  // namespace chatstore::server
