// Errors as values, after LevelDB's Status. Every fallible call in chatstore
// returns a Status or a Result<T>; nothing in the public API throws.
#ifndef CHATSTORE_STATUS_H_
#define CHATSTORE_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace chatstore {

class [[nodiscard]] Status {
 public:
  // The few codes a caller can act on. The server maps each to one HTTP
  // status (src/server/problem.cc) and the CLI to one exit code.
  enum class Code {
    kOk = 0,
    kNotFound,           // 404: no such session/message, or not the caller's
    kAlreadyExists,      // 409: id already taken
    kInvalidArgument,    // 400: malformed input (the message names the field)
    kUnprocessable,      // 422: well-formed but not allowed (role, type, limit)
    kConflict,           // 409: state forbids it (completed message, key reuse)
    kUnavailable,        // 503: a backend is down or overloaded; retryable
    kResourceExhausted,  // 429/413: a limit was hit
    kCorruption,         // stored data is unreadable
    kInternal,           // a bug
  };

  Status() = default;  // OK
  Status(Code code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status NotFound(std::string m) {
    return {Code::kNotFound, std::move(m)};
  }
  static Status AlreadyExists(std::string m) {
    return {Code::kAlreadyExists, std::move(m)};
  }
  static Status InvalidArgument(std::string m) {
    return {Code::kInvalidArgument, std::move(m)};
  }
  static Status Unprocessable(std::string m) {
    return {Code::kUnprocessable, std::move(m)};
  }
  static Status Conflict(std::string m) {
    return {Code::kConflict, std::move(m)};
  }
  static Status Unavailable(std::string m) {
    return {Code::kUnavailable, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {Code::kResourceExhausted, std::move(m)};
  }
  static Status Corruption(std::string m) {
    return {Code::kCorruption, std::move(m)};
  }
  static Status Internal(std::string m) {
    return {Code::kInternal, std::move(m)};
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsConflict() const { return code_ == Code::kConflict; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }

  // "NotFound: session 0193... not found"
  std::string ToString() const;
  static std::string_view CodeName(Code code);

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
// REQUIRES: a Result is never built from an OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  // The error; Status::Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace chatstore

// Returns early from the enclosing function when `expr` is not OK.
#define CHATSTORE_RETURN_IF_ERROR(expr)  \
  do {                                   \
    ::chatstore::Status _cs_st = (expr); \
    if (!_cs_st.ok()) return _cs_st;     \
  } while (0)

#define CHATSTORE_CONCAT_INNER_(a, b) a##b
#define CHATSTORE_CONCAT_(a, b) CHATSTORE_CONCAT_INNER_(a, b)
// `CHATSTORE_ASSIGN_OR_RETURN(auto x, Foo());` binds x or returns the error.
#define CHATSTORE_ASSIGN_OR_RETURN(lhs, expr)                                \
  CHATSTORE_ASSIGN_OR_RETURN_IMPL_(CHATSTORE_CONCAT_(_cs_r_, __LINE__), lhs, \
                                   expr)
#define CHATSTORE_ASSIGN_OR_RETURN_IMPL_(r, lhs, expr) \
  auto r = (expr);                                     \
  if (!r.ok()) return r.status();                      \
  lhs = std::move(r).value()

#endif  // CHATSTORE_STATUS_H_
