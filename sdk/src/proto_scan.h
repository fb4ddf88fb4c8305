// Walks protobuf wire bytes before they are parsed (internal, not installed).
//
// protobuf's own parser rejects invalid UTF-8 in proto3 string fields with a
// bare "parse failed" (and a log line on stderr). Scanning first lets Lantoa
// name the problem: INVALID_UTF8 with the field's path, or the given
// malformed-code with what is wrong (truncated field, bad varint, nesting too
// deep). The scan follows the message descriptor into nested messages; bytes
// fields (such as signed event bytes) are not entered.
#pragma once

#include <google/protobuf/descriptor.h>

#include <string_view>

#include "lantoa/status.h"

namespace lantoa::internal {

Status scan_protobuf(const google::protobuf::Descriptor* descriptor, std::string_view bytes,
                     Code malformed_code);

// scan_protobuf, then ParseFromArray into `message`.
Status parse_protobuf(google::protobuf::Message& message, std::string_view bytes, Code malformed_code);

}  // namespace lantoa::internal
