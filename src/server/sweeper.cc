#include "server/sweeper.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace chatstore::server {

Sweeper::Sweeper(std::shared_ptr<Store> primary,
                 std::shared_ptr<Store> ephemeral, Metrics& metrics,
                 SweeperOptions options, RemovedCallback on_removed)
    : primary_(std::move(primary)),
      ephemeral_(std::move(ephemeral)),
      metrics_(metrics),
      options_(std::move(options)),
      on_removed_(std::move(on_removed)) {}

Sweeper::~Sweeper() { Stop(); }

void Sweeper::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Loop(); });
}

void Sweeper::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Sweeper::Stopping() {
  std::lock_guard lock(mu_);
  return stop_;
}

void Sweeper::Loop() {
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, options_.interval, [this] { return stop_; })) {
    lock.unlock();
    RunOnce();
    lock.lock();
  }
}

SweepRun Sweeper::RunOnce() {
  const auto started = std::chrono::steady_clock::now();
  const Timestamp now = options_.clock->Now();
  SweepRun run;
  auto sweep = [&](Store& store, const SweepRequest& rule) {
    Result<EraseCounts> swept = SweepInBatches(
        store, rule, options_.limits,
        [this](const SweepResult& batch) {
          if (!on_removed_) return;
          for (const std::string& id : batch.session_ids) on_removed_(id);
        },
        // Between batches: writers queued behind the last one go first,
        // and a shutdown does not wait for the whole run.
        [this] {
          std::this_thread::yield();
          return !Stopping();
        });
    EraseCounts& total = run.by_rule[static_cast<int>(rule.rule)];
    if (!swept.ok()) {
      run.failed = true;
      spdlog::warn("sweeper: {} sessions of the {} store: {}",
                   ToString(rule.rule), store.kind(),
                   swept.status().ToString());
      return;
    }
    total.sessions += swept->sessions;
    total.messages += swept->messages;
    total.events += swept->events;
  };
  for (const SweepRequest& rule : RetentionRules(options_.policy, now)) {
    // Every session of the ephemeral store expires, so the inactive rule
    // (persistent sessions only) would find nothing there.
    if (ephemeral_ && ephemeral_ != primary_ &&
        rule.rule != SweepRule::kInactive && !Stopping()) {
      sweep(*ephemeral_, rule);
    }
    if (Stopping()) break;
    sweep(*primary_, rule);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  std::array<std::int64_t, 3> sessions{};
  std::int64_t removed = 0;
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    sessions[i] = run.by_rule[i].sessions;
    removed += sessions[i];
  }
  metrics_.SweeperRan(sessions, run.failed, seconds);
  if (removed > 0) {
    spdlog::info(
        "sweeper: removed {} sessions ({} expired, {} inactive, {} never "
        "used) in {:.3f}s",
        removed, sessions[0], sessions[1], sessions[2], seconds);
  }
  return run;
}

}  // namespace chatstore::server
