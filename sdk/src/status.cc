#include "lantoa/status.h"

namespace lantoa {

std::string_view code_name(Code code) {
  const std::string& name = v1::Error::Code_Name(code);
  return name.empty() ? std::string_view("UNKNOWN_CODE") : std::string_view(name);
}

std::string Status::to_string() const {
  if (ok()) return "OK";
  std::string out(code_name(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

v1::Error Status::to_proto() const {
  v1::Error error;
  error.set_code(code_);
  error.set_message(message_);
  return error;
}

Status Status::from_proto(const v1::Error& error) {
  if (error.code() == v1::Error::OK) return Status::Ok();
  return Status(error.code(), error.message());
}

bool is_passing_refusal(Code code) {
  switch (code) {
    case v1::Error::RATE_LIMITED:
    case v1::Error::OVERLOADED:
    case v1::Error::STORAGE_FULL:
    case v1::Error::STORAGE_ERROR:
    case v1::Error::SHUTTING_DOWN:
    case v1::Error::UNAVAILABLE:
    case v1::Error::TIMEOUT:
      return true;
    default:
      return false;
  }
}

}  // namespace lantoa
