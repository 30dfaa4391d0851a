#include "store/postgres/postgres_change_notifier.h"

#include <chrono>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <utility>

#include "store/postgres/conninfo.h"
#include "store/postgres/error_translation.h"
#include "store/reconnecting_notifier.h"

namespace chatstore {
namespace {

// The channel postgres_store.cc's notify statements name.
constexpr char kChannel[] = "cs_changes";

// Issues LISTEN when constructed; libpqxx calls it from await_notification.
class ChangeReceiver final : public pqxx::notification_receiver {
 public:
  ChangeReceiver(pqxx::connection& conn,
                 std::function<void(const std::string&)> on_payload)
      : pqxx::notification_receiver(conn, kChannel),
        on_payload_(std::move(on_payload)) {}
  void operator()(const std::string& payload, int /*backend_pid*/) override {
    on_payload_(payload);
  }

 private:
  std::function<void(const std::string&)> on_payload_;
};

class PostgresChangeNotifier final : public ReconnectingNotifier {
 public:
  explicit PostgresChangeNotifier(std::string conninfo)
      : conninfo_(std::move(conninfo)) {}
  ~PostgresChangeNotifier() override { Stop(); }

 protected:
  Status Connect() override {
    try {
      conn_ = std::make_unique<pqxx::connection>(conninfo_);
      receiver_ = std::make_unique<ChangeReceiver>(
          *conn_, [this](const std::string& payload) {
            Report(ParseChangePayload(payload));
          });
      return Status::Ok();
    } catch (...) {
      return postgres::TranslateCurrentException("LISTEN cs_changes").status;
    }
  }

  Status Listen(std::chrono::milliseconds slice) override {
    try {
      const auto us =
          std::chrono::duration_cast<std::chrono::microseconds>(slice).count();
      conn_->await_notification(us / 1000000, us % 1000000);
      // A server that closed the connection leaves nothing to wait on.
      if (!conn_->is_open()) {
        return Status::Unavailable("postgres: the LISTEN connection closed");
      }
      return Status::Ok();
    } catch (...) {
      return postgres::TranslateCurrentException("await notifications").status;
    }
  }

  void Disconnect() override {
    // The receiver unregisters from its connection, so it goes first.
    receiver_.reset();
    conn_.reset();
  }

 private:
  const std::string conninfo_;
  // Listening thread only.
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<ChangeReceiver> receiver_;
};

}  // namespace

Result<std::unique_ptr<ChangeNotifier>> OpenPostgresChangeNotifier(
    std::string_view uri) {
  CHATSTORE_ASSIGN_OR_RETURN(postgres::ConnSettings settings,
                             postgres::ParseUri(uri));
  return std::unique_ptr<ChangeNotifier>(
      std::make_unique<PostgresChangeNotifier>(std::move(settings.conninfo)));
}

}  // namespace chatstore
