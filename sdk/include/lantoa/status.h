// Status and Result: how expected failures travel through Lantoa.
//
// A Status is a code from the one error table (proto/lantoa/v1/errors.proto)
// plus a human message naming the field or value at fault. Result<T> holds
// either a T or a non-OK Status. Neither throws; exceptions are reserved for
// process edges (main, config loading) and for wrapping third-party calls
// that throw.
//
// Both types are plain values: copyable, movable, and safe to use from any
// thread as long as each object is used by one thread at a time.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "lantoa/v1/errors.pb.h"

namespace lantoa {

using Code = v1::Error::Code;

// The name of a code as written in errors.proto ("BAD_SIGNATURE").
std::string_view code_name(Code code);

// A broker's refusal that says "not now" rather than "never" (RATE_LIMITED,
// OVERLOADED, STORAGE_FULL, STORAGE_ERROR, SHUTTING_DOWN, UNAVAILABLE,
// TIMEOUT): what was refused is sent again later; any other refusal is final.
bool is_passing_refusal(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == v1::Error::OK; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "BAD_SIGNATURE: signature does not verify for key 3f2a-91bc-04de-7710".
  std::string to_string() const;

  // The wire form, for result and error frames.
  v1::Error to_proto() const;
  static Status from_proto(const v1::Error& error);

 private:
  Code code_ = v1::Error::OK;
  std::string message_;
};

// A value or the reason there is none. Construct from a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result needs a value or a failed Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  // The failure; Status::Ok() when there is a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lantoa

// Return early from a function returning Status or Result<T>.
#define LANTOA_RETURN_IF_ERROR(expr)        \
  do {                                      \
    ::lantoa::Status lantoa_status_ = (expr); \
    if (!lantoa_status_.ok()) return lantoa_status_; \
  } while (0)
