#include "store/sqlite/data_version_notifier.h"

#include <cstdint>
#include <optional>
#include <utility>

#include "store/reconnecting_notifier.h"
#include "store/sqlite/sqlite_db.h"

namespace chatstore::sqlite {
namespace {

class DataVersionNotifier final : public ReconnectingNotifier {
 public:
  explicit DataVersionNotifier(std::string path) : path_(std::move(path)) {}
  ~DataVersionNotifier() override { Stop(); }

 protected:
  Status Connect() override {
    CHATSTORE_ASSIGN_OR_RETURN(
        Db db, Db::Open(path_, /*create=*/false, std::chrono::seconds(1)));
    CHATSTORE_ASSIGN_OR_RETURN(version_, db.QueryInt("PRAGMA data_version"));
    db_ = std::move(db);
    return Status::Ok();
  }

  Status Listen(std::chrono::milliseconds /*slice*/) override {
    if (!PauseFor(kDataVersionPollInterval)) return Status::Ok();  // stopping
    CHATSTORE_ASSIGN_OR_RETURN(const std::int64_t version,
                               db_->QueryInt("PRAGMA data_version"));
    if (version != version_) {
      version_ = version;
      Report(LogChange{});
    }
    return Status::Ok();
  }

  void Disconnect() override { db_.reset(); }

 private:
  const std::string path_;
  // Listening thread only.
  std::optional<Db> db_;
  std::int64_t version_ = 0;
};

}  // namespace

std::unique_ptr<ChangeNotifier> NewDataVersionNotifier(std::string path) {
  return std::make_unique<DataVersionNotifier>(std::move(path));
}

}  // namespace chatstore::sqlite
