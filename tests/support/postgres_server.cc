#include "support/postgres_server.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace chatstore::testing {
namespace {

constexpr char kBin[] = "/usr/lib/postgresql/15/bin/";
constexpr int kStartAttempts = 5;

// Runs argv[0] (searched in PATH) with stdout and stderr appended to
// `output`, and returns its exit status (-1 when it could not be run).
// fork+exec rather than system(): no shell, so no quoting of paths or SQL.
int RunCommand(const std::vector<std::string>& argv,
               const std::string& output) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    const int null_in = open("/dev/null", O_RDONLY);
    if (null_in >= 0) dup2(null_in, STDIN_FILENO);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The command run as the postgres OS user: the server binaries refuse root.
std::vector<std::string> AsPostgres(std::vector<std::string> argv) {
  std::vector<std::string> out = {"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ChownToPostgres(const std::string& path) {
  const passwd* pw = getpwnam("postgres");
  if (pw == nullptr) {
    throw std::runtime_error("PostgresServer: no 'postgres' OS user");
  }
  if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    throw std::runtime_error("PostgresServer: chown " + path + " failed");
  }
}

// The path of a cluster fresh from initdb (trust authentication, UTF8, C
// locale), made once per machine and reused by every test process: a
// server's data directory starts as a copy of it. Never started itself.
// Built in a scratch directory and renamed into place, so a process never
// sees half of one; when two processes race, the loser drops its copy.
std::string PristineCluster() {
  const char* base = std::getenv("TMPDIR");
  const std::string path = std::string(base && *base ? base : "/tmp") +
                           "/chatstore-pg15-pristine-cluster";
  struct stat st {};
  if (stat((path + "/PG_VERSION").c_str(), &st) == 0) return path;
  TempDir scratch;
  ChownToPostgres(scratch.path());
  const std::string data = scratch.File("data");
  const std::string log = scratch.File("initdb.log");
  const int rc = RunCommand(
      AsPostgres({std::string(kBin) + "initdb", "-D", data, "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"}),
      log);
  if (rc != 0) {
    throw std::runtime_error("PostgresServer: initdb failed:\n" +
                             ReadFile(log));
  }
  // Fails when another process got there first; theirs is as good.
  (void)rename(data.c_str(), path.c_str());
  if (stat((path + "/PG_VERSION").c_str(), &st) != 0) {
    throw std::runtime_error("PostgresServer: no pristine cluster at " + path);
  }
  return path;
}

// "postgresql://.../name?x" -> "name"; a bare name stays as it is.
std::string DatabaseName(const std::string& name_or_uri) {
  const std::size_t slash = name_or_uri.rfind('/');
  if (name_or_uri.find("://") == std::string::npos ||
      slash == std::string::npos) {
    return name_or_uri;
  }
  std::string name = name_or_uri.substr(slash + 1);
  return name.substr(0, name.find('?'));
}

}  // namespace

PostgresServer::PostgresServer() {
  ChownToPostgres(dir_.path());
  data_dir_ = dir_.File("data");
  // A copy of a pristine cluster costs a fraction of an initdb, which
  // matters because CTest runs every test case in a process of its own.
  const std::string pristine = PristineCluster();
  const std::string log = dir_.File("copy.log");
  if (RunCommand({"cp", "-a", pristine, data_dir_}, log) != 0) {
    throw std::runtime_error("PostgresServer: copying " + pristine +
                             " failed:\n" + ReadFile(log));
  }
  for (int attempt = 0; attempt < kStartAttempts && !running_; ++attempt) {
    port_ = PickFreePort();
    running_ = TryStart();
  }
  if (!running_) {
    throw std::runtime_error("PostgresServer: could not start:\n" + ReadLog());
  }
  Query("postgres", "CREATE DATABASE chatstore");
}

PostgresServer::~PostgresServer() { Stop(); }

std::string PostgresServer::UriFor(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

bool PostgresServer::TryStart() {
  // The socket directory is ours (not /var/run/postgresql), and fsync and
  // full-page writes are off: durability is not what tests measure.
  const std::string options =
      "-p " + std::to_string(port_) + " -k " + dir_.path() +
      " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
      " -c full_page_writes=off -c max_connections=400";
  const int rc = RunCommand(
      AsPostgres({std::string(kBin) + "pg_ctl", "-D", data_dir_, "-o", options,
                  "-l", dir_.File("server.log"), "-w", "-t", "60", "start"}),
      dir_.File("pg_ctl.log"));
  return rc == 0;
}

std::string PostgresServer::ReadLog() const {
  return ReadFile(dir_.File("pg_ctl.log")) + ReadFile(dir_.File("server.log"));
}

void PostgresServer::Stop() {
  if (!running_) return;
  RunCommand(AsPostgres({std::string(kBin) + "pg_ctl", "-D", data_dir_, "-m",
                         "fast", "-w", "-t", "60", "stop"}),
             dir_.File("pg_ctl.log"));
  running_ = false;
}

void PostgresServer::Start() {
  if (running_) return;
  // The port was ours a moment ago; a clash is unlikely but retried, since
  // connections in TIME_WAIT do not block a listening socket.
  for (int attempt = 0; attempt < kStartAttempts && !running_; ++attempt) {
    running_ = TryStart();
  }
  if (!running_) {
    throw std::runtime_error("PostgresServer: could not restart on port " +
                             std::to_string(port_) + ":\n" + ReadLog());
  }
}

std::string PostgresServer::CreateDatabase() {
  std::string name;
  {
    std::lock_guard lock(mu_);
    name = "t" + std::to_string(getpid()) + "_" + std::to_string(++next_db_);
  }
  Query("postgres", "CREATE DATABASE " + name);
  return UriFor(name);
}

void PostgresServer::DropDatabase(const std::string& name_or_uri) {
  try {
    Query("postgres", "DROP DATABASE IF EXISTS \"" + DatabaseName(name_or_uri) +
                          "\" WITH (FORCE)");
  } catch (const std::exception&) {
    // Best effort: the database goes with the server's directory anyway.
  }
}

std::string PostgresServer::Query(const std::string& db,
                                  const std::string& sql) {
  int n = 0;
  {
    std::lock_guard lock(mu_);
    n = ++next_query_;
  }
  const std::string file = dir_.File("query" + std::to_string(n) + ".sql");
  const std::string out = dir_.File("query" + std::to_string(n) + ".out");
  {
    std::ofstream f(file);
    f << sql << "\n";
  }
  const int rc = RunCommand(
      {std::string(kBin) + "psql", "-X", "-q", "-A", "-t", "-v",
       "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", std::to_string(port_), "-U",
       "postgres", "-d", db, "-f", file},
      out);
  std::string output = ReadFile(out);
  unlink(file.c_str());
  unlink(out.c_str());
  if (rc != 0) {
    throw std::runtime_error("PostgresServer: psql failed in " + db + ": " +
                             output);
  }
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return output;
}

PostgresServer& SharedPostgresServer() {
  // Destroyed at exit, which stops the server and removes its files.
  static PostgresServer server;
  return server;
}

}  // namespace chatstore::testing
